import Foundation
import MtorCore
import MtorPlatform

/// Warnings and `state/worker.json`: what `status`, `show` and systemd read of this worker.
extension Worker {
    func warnIfShared() {
        if let why = loop.sharing.workspaceWarning(Workspace.root(options, spool), spool: spool) { warn(why) }
        // A setgid spool is shared with its group on purpose (etc/install-worker.sh): only world-writable is news there.
        if let mode = FileSystem.mode(spool.root), mode & (mode & 0o2000 != 0 ? 0o002 : 0o022) != 0 {
            warn("the spool \(spool.root) is group- or world-writable (mode \(String(mode, radix: 8))); anyone who can write it can make "
                + "this worker run commands")
        }
    }

    func warnOnce(_ name: String, _ message: String) {
        loop.queue.ignore(name)
        warn(message)
    }

    func warn(_ message: String) {
        remember(warning: message)
        writeState(force: true)
    }

    private func remember(warning message: String) {
        logger.warn(message)
        loop.warnings.append("\(Stamp.iso()) \(message)")
        if loop.warnings.count > 50 { loop.warnings.removeFirst(loop.warnings.count - 50) }
    }

    /// One line for systemd's STATUS=: "3 running, 12 queued, zhipu unhealthy: auth_failed".
    func summary() -> String {
        var parts = ["\(loop.running.count) running", "\(loop.queue.count + loop.book.count) queued"]
        parts += health.unhealthy().map { "\($0.provider) unhealthy: \($0.class?.rawValue ?? "?")" }
        if loop.stopping { parts.append("stopping") }
        return parts.joined(separator: ", ")
    }

    /// Writes `state/worker.json`: heartbeat and live status.
    func writeState(force: Bool = false) {
        let t = now()
        guard force || t - loop.lastStateWrite >= 1 else { return }
        loop.lastStateWrite = t
        defer { loop.stateWriteCost = now() - t }
        absorbGateReports()
        let budgets = budgetUses()
        telemetry.writeMetrics(running: loop.running.count, queued: loop.queue.count + loop.book.count, providers: health.snapshot(),
                               retry: retryGate.use, startedAt: startedAt, budgets: budgets, force: force)
        writeStateFile(budgets)
        // Writing it may have moved a bad worker.json aside: that is told at once too.
        if absorbGateReports() { writeStateFile(budgets) }
    }

    /// Spool entries the gate moved aside (a FIFO log, a symlinked ledger, ...) become warnings.
    @discardableResult
    private func absorbGateReports() -> Bool {
        let reports = spool.gate?.takeReports() ?? []
        for report in reports { remember(warning: report) }
        return !reports.isEmpty
    }

    /// Each worker keeps its own file that `status` lists. A single worker on a local spool also
    /// keeps worker.json; on a shared (network) spool nothing has two writers, so it does not.
    var statePaths: [String] {
        let own = spool.workerFile(host: options.host, pid: ProcessControl.pid)
        return loop.sharing.isNetwork ? [own] : [spool.state + "/worker.json", own]
    }

    /// Removes the spares `Spool.writeState` kept, when the worker stops.
    func removeStateSpares() {
        for path in statePaths + [telemetry.metricsPath] { FileSystem.remove(spool.stateSpare(path)) }
    }

    private func writeStateFile(_ budgets: [Budget.DailyUse]) {
        let live = loop.running.tasks.values.map { $0.control.live }.sorted { $0.id < $1.id }
        let held = loop.waiting.sorted { $0.key < $1.key }.map { "inbox/\($0.key): \($0.value)" }
        var state = WorkerState(host: options.host, pid: ProcessControl.pid, version: mtorVersion, startedAt: Stamp.iso(startedAt),
                                heartbeatAt: Stamp.iso(), spool: spool.root, concurrency: options.concurrency, stopping: loop.stopping,
                                queued: loop.queue.count + loop.book.count, deferred: loop.waiting.count, running: live, waiting: held,
                                warnings: loop.warnings, providers: FileSystem.realPath(loop.settings.lockPath),
                                envFile: loop.settings.envPath.flatMap(FileSystem.realPath), allowedRepos: options.allowedRepos,
                                home: loop.settings.baseEnvironment["HOME"], exitedAt: loop.exited ? Stamp.iso() : nil)
        notify.status(summary())
        state.hooks = telemetry.hooks.snapshot
        state.filesystem = loop.sharing.mount?.description
        state.missingRepos = loop.repos.current(spool).nilIfEmpty
        state.pollS = loop.sharing.poll.interval
        state.pollSummary = loop.sharing.poll.summary
        state.sandbox = options.sandboxSummary
        let day = Budget.day(SpendBook.now())
        state.budgets = budgets.isEmpty ? nil : budgets.map { WorkerState.BudgetState(provider: $0.provider, day: day, limitUSD: $0.limit,
                                                                                      spentUSD: ($0.spent * 1e6).rounded() / 1e6) }
        state.nextStarts = loop.nextStarts.isEmpty ? nil : loop.nextStarts.mapValues { Stamp.iso(Date(timeIntervalSince1970: $0)) }
        state.providerHealth = health.snapshot()
        state.metrics = telemetry.metricsPath
        let data = spool.encode(state)
        for path in statePaths {
            do {
                // Disk is set aside beyond the file's size, so it can still be told when the disk is full.
                try spool.writeState(data, to: path, reserve: WorkerState.reserve)
            } catch where error.isNoSpace {
                if data.count <= WorkerState.reserve { try? FileSystem.overwriteInPlace(data, to: path) }
            } catch {}
        }
    }
}

/// `state/worker.json`.
public struct WorkerState: Codable, Sendable {
    /// Bytes of disk kept for worker.json beyond its size: room to say "the disk is full".
    static let reserve = 64 << 10

    public var host: String
    public var pid: Int32
    public var version: String
    public var startedAt: String
    public var heartbeatAt: String
    public var spool: String
    public var concurrency: Int
    public var stopping: Bool
    public var queued: Int
    public var deferred: Int
    public var running: [TaskControl.LiveTask]
    /// Specs held in inbox/ and why (e.g. their provider failed preflight).
    public var waiting: [String]
    public var warnings: [String]
    /// The lockfile, env file and allow-list this worker checks specs with (`mtor validate` uses them too).
    public var providers: String?
    public var envFile: String?
    public var allowedRepos: [String]?
    public var home: String?
    /// When the worker exited; nil while it runs.
    public var exitedAt: String?
    /// `--on-finish` / `--on-attention` runs, failures and the last error, when hooks are set.
    var hooks: Hooks.Counts?
    /// The spool's filesystem as `statfs` found it, the inbox poll interval (nil: inotify only) and why.
    public var filesystem: String?
    public var pollS: Double?
    public var pollSummary: String?
    /// inbox/ specs whose repo is missing on this host (name → repo), left for other hosts.
    public var missingRepos: [String: String]?
    /// inbox/ specs held by `not_before`, name → when they may start.
    public var nextStarts: [String: String]?
    /// How agents are confined (`--sandbox`) and what that does not cover.
    public var sandbox: String?
    /// Each daily budget (`budget_usd_per_day`) with today's spend; nil when there is none.
    public var budgets: [BudgetState]?

    /// One daily budget: a provider's (or, with no provider, the whole worker's) and what today's UTC day spent against it.
    public struct BudgetState: Codable, Sendable, Equatable {
        public var provider: String?
        public var day: String
        public var limitUSD: Double
        public var spentUSD: Double
        enum CodingKeys: String, CodingKey { case provider, day, limitUSD = "limit_usd", spentUSD = "spent_usd" }
    }
    /// The heartbeat is rewritten at least this often; `status` calls a worker stale after 3× this.
    public var heartbeatIntervalS: Double? = WorkerState.heartbeatInterval
    public static let heartbeatInterval = 10.0
    /// This worker's provider verdicts (what `state/providers.json` holds on a local spool).
    public var providerHealth: [ProviderHealthEntry]? = nil
    /// The Prometheus textfile it keeps, on its own host.
    public var metrics: String? = nil

    enum CodingKeys: String, CodingKey {
        case host, pid, version, spool, concurrency, stopping, queued, deferred, running, waiting, warnings, hooks, providers
        case nextStarts = "next_starts"
        case sandbox, budgets, filesystem, missingRepos = "missing_repos", pollS = "poll_s", pollSummary = "poll"
        case heartbeatIntervalS = "heartbeat_interval_s"
        case providerHealth = "provider_health", metrics
        case home, startedAt = "started_at", heartbeatAt = "heartbeat_at", envFile = "env_file", allowedRepos = "allowed_repos"
        case exitedAt = "exited_at"
    }
}

extension Dictionary {
    var nilIfEmpty: Self? { isEmpty ? nil : self }
}
