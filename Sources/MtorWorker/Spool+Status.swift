import Foundation
import MtorCore
import MtorPlatform

/// What `mtor status` reports: counts per directory, running tasks, provider health and the
/// recent outcomes read from `state/ledger.jsonl`.
public struct SpoolStatus: Codable, Sendable {
    public struct Counts: Codable, Sendable {
        public var inbox = 0, claimed = 0, done = 0, failed = 0, tmp = 0, cancel = 0
    }

    /// One claimed task, from its claim record and the worker's live state.
    public struct Running: Codable, Sendable {
        public var id: String
        public var provider: String?
        public var attempt: Int?
        public var phase: String?
        public var startedAt: String?
        public var elapsedS: Double?
        public var lastActivityAt: String?
        public var idleS: Double?
        public var nextAttemptAt: String?
        /// Seconds since the provider last answered a direct check made while the agent was silent.
        public var providerAnsweredAgoS: Double?
        /// The task's memory cap, and what its processes use now (read on the worker's host only).
        public var memoryCapBytes: Int64? = nil
        public var memoryBytes: Int64? = nil

        enum CodingKeys: String, CodingKey {
            case id, provider, attempt, phase, providerAnsweredAgoS = "provider_answered_ago_s"
            case memoryCapBytes = "memory_cap_bytes", memoryBytes = "memory_bytes"
            case startedAt = "started_at", elapsedS = "elapsed_s", lastActivityAt = "last_activity_at", idleS = "idle_s", nextAttemptAt = "next_attempt_at"
        }
    }

    /// The worker's heartbeat from `state/worker.json`.
    public struct WorkerInfo: Codable, Sendable {
        public var host: String
        public var pid: Int32
        public var version: String
        public var heartbeatAt: String
        public var heartbeatAgeS: Double?
        public var alive: Bool
        public var stopping: Bool
        /// Silent for over 3× its heartbeat interval (or exited): its claims are recovered once their locks are free.
        public var stale: Bool? = nil
        public var running: Int? = nil
        public var concurrency: Int? = nil
        /// How it watches the spool: its filesystem and inbox poll (`--poll`).
        public var poll: String? = nil
        /// How its agents are confined (`--sandbox`), and what that leaves open.
        public var sandbox: String? = nil
        /// The Prometheus textfile it keeps (on its own host when the spool is on a network filesystem).
        public var metrics: String? = nil

        enum CodingKeys: String, CodingKey {
            case host, pid, version, alive, stopping, stale, running, concurrency, poll, sandbox, metrics
            case heartbeatAt = "heartbeat_at", heartbeatAgeS = "heartbeat_age_s"
        }
    }

    public var spool: String
    public var generatedAt: String
    public var counts: Counts
    public var worker: WorkerInfo?
    /// Every worker with a file in `state/workers/` (several when hosts share the spool).
    public var workers: [WorkerInfo]? = nil
    public var running: [Running]
    /// `state/providers.json` as the worker wrote it.
    public var providers: [ProviderHealthEntry]?
    public var recent: LedgerSummary
    public var warnings: [String]
    /// Specs the live worker holds in inbox/, each with why (worker.json's `waiting`).
    public var waiting: [String] = []
    /// `state/paused` and `state/paused-<provider>`: what is paused, since when, by whom.
    public var paused: [PauseMarker] = []
    /// inbox/ specs held by `not_before`, name → when they may start (from the live worker).
    public var nextStarts: [String: String]? = nil
    /// The live worker's daily budgets with today's spend (worker.json's `budgets`).
    public var budgets: [WorkerState.BudgetState]? = nil

    enum CodingKeys: String, CodingKey {
        case paused, budgets, nextStarts = "next_starts"
        case spool, counts, worker, workers, running, providers, recent, warnings, waiting
        case generatedAt = "generated_at"
    }
}

extension Spool {
    /// Seconds without a heartbeat after which the worker is taken to be gone.
    public static let heartbeatTimeout = 30.0

    /// Collects the status of this spool; `window` is how far back the ledger summary looks.
    public func status(window: Double = 86400, at date: Date = Date()) throws(WorkerError) -> SpoolStatus {
        guard case .directory = FileSystem.kind(inbox) else {
            throw .environment("no spool at \(root) (no inbox/); pass --spool DIR or set MTOR_SPOOL")
        }
        var counts = SpoolStatus.Counts()
        counts.inbox = specCount(inbox)
        counts.claimed = specCount(claimed)
        counts.done = specCount(done)
        counts.failed = specCount(failed)
        counts.tmp = ((try? FileSystem.list(tmp)) ?? []).filter { $0 != ".gitkeep" }.count
        counts.cancel = ((try? FileSystem.list(cancel)) ?? []).filter { !$0.hasPrefix(".") }.count

        // One worker: state/worker.json. Several on a shared spool: each its own file, merged here.
        let single = singleWorkerState()
        let states = workerStates()
        let state = Spool.speaker(single: single, perWorker: states, at: date)
        let worker = state.map { workerInfo($0, at: date) }
        let workers = states.map { workerInfo($0, at: date) }
        let alive = Spool.merge(single: single, perWorker: states).filter { Spool.isAlive($0, at: date) }
        let live = Dictionary(alive.flatMap(\.running).map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        let running = runningTasks(live: live, at: date)
        let providers = providerHealth(live: alive)
        let recent = LedgerSummary.scan(allLedgers, since: date.addingTimeInterval(-window), windowHours: window / 3600)
        var status = SpoolStatus(spool: root, generatedAt: Stamp.iso(date), counts: counts, worker: worker, running: running,
                                 providers: providers, recent: recent, warnings: [])
        status.workers = workers.isEmpty ? nil : workers
        status.warnings = warnings(status)
        for s in alive {
            let who = s.host == state?.host && s.pid == state?.pid ? "worker" : "worker \(s.host)-\(s.pid)"
            status.warnings += s.warnings.map { "\(who): \($0)" }
        }
        let odd = ((try? FileSystem.list(inbox)) ?? []).filter { !$0.hasSuffix(".md") && !TaskID.isTemporary($0) && $0 != ".gitkeep" }.sorted()
        status.warnings += RepoPresence.notes(alive, spool: self)
        if !odd.isEmpty {
            status.warnings.append("inbox/ holds \(odd.count) file(s) that are not .md specs and are never run: \(odd.prefix(10).joined(separator: ", "))\(odd.count > 10 ? ", …" : "")")
        }
        // Each live worker says which inbox/ specs it holds and why.
        status.waiting = alive.count == 1 ? alive[0].waiting : Array(Set(alive.flatMap(\.waiting))).sorted()
        status.paused = PauseMarker.all(self)
        let starts = alive.compactMap(\.nextStarts).reduce(into: [String: String]()) { all, one in all.merge(one) { min($0, $1) } }
        status.nextStarts = starts.isEmpty ? nil : starts
        // Every worker counts the spend of all hosts (their ledgers): the freshest one says it.
        status.budgets = alive.first(where: { $0.budgets != nil })?.budgets
        return status
    }

    /// What a worker's state file says of it: alive unless it exited, its pid is gone (same host),
    /// or it has been silent for 3× its heartbeat interval.
    private func workerInfo(_ s: WorkerState, at date: Date) -> SpoolStatus.WorkerInfo {
        let age = Stamp.date(s.heartbeatAt).map { date.timeIntervalSince($0) }
        let alive = Spool.isAlive(s, at: date)
        var info = SpoolStatus.WorkerInfo(host: s.host, pid: s.pid, version: s.version, heartbeatAt: s.heartbeatAt, heartbeatAgeS: age.map(round1),
                                          alive: alive, stopping: s.stopping)
        info.stale = !alive
        info.running = s.running.count
        info.concurrency = s.concurrency
        info.poll = s.pollSummary
        info.sandbox = s.sandbox
        info.metrics = s.metrics
        return info
    }

    /// Whether a worker's state file speaks for a running worker: it has not exited, its pid still
    /// exists when it ran on this host, and its heartbeat is younger than 3× its interval.
    static func isAlive(_ s: WorkerState, at date: Date = Date()) -> Bool {
        let age = Stamp.date(s.heartbeatAt).map { date.timeIntervalSince($0) }
        // Gone for sure: it wrote that it exited, or it ran here and its pid no longer exists.
        let gone = s.exitedAt != nil || (s.host == FileSystem.hostName() && !ProcessControl.isAlive(s.pid))
        let limit = s.heartbeatIntervalS.map { 3 * $0 } ?? Spool.heartbeatTimeout
        return !gone && (age ?? .infinity) < limit
    }

    /// `state/workers/*.json`, newest heartbeat first.
    ///
    /// A file listed but not readable as a whole state is being rewritten (on a FUSE mount a
    /// rename onto it can make the name fail to open for a moment, and an in-place rewrite can
    /// be read half done): it is listed and read again for up to `patience` seconds, so a live
    /// worker is never missed because its heartbeat was in flight. A name no longer listed was
    /// removed (a clean exit) and is not waited for.
    func workerStates(patience: Double = 3) -> [WorkerState] {
        var found: [String: WorkerState] = [:]
        let deadline = Date().addingTimeInterval(patience)
        var pause = 0.02
        while true {
            let names = ((try? FileSystem.list(workers)) ?? []).filter { $0.hasSuffix(".json") && !$0.hasPrefix(".") }
            var missed = false
            for name in names where found[name] == nil {
                if let state = (try? FileSystem.read("\(workers)/\(name)", limit: 4 << 20)).flatMap({ try? JSONDecoder().decode(WorkerState.self, from: Data($0)) }) {
                    found[name] = state
                } else {
                    missed = true
                }
            }
            guard missed, Date() < deadline else { break }
            Thread.sleep(forTimeInterval: pause)
            pause = min(pause * 2, 0.25)
        }
        return found.values.sorted { $0.heartbeatAt > $1.heartbeatAt }
    }

    private func specCount(_ dir: String) -> Int {
        ((try? FileSystem.list(dir)) ?? []).reduce(0) { $0 + ($1.hasSuffix(".md") && !TaskID.isTemporary($1) ? 1 : 0) }
    }

    private func runningTasks(live: [String: TaskControl.LiveTask], at date: Date) -> [SpoolStatus.Running] {
        let ids = ((try? FileSystem.list(claimed)) ?? []).filter { $0.hasSuffix(".md") }.map { String($0.dropLast(3)) }.sorted()
        return ids.map { id in
            let claim = self.claim(id)
            let l = live[id]
            let started = claim?.startedAt ?? l?.startedAt
            let activity = l?.lastActivityAt
            var running = SpoolStatus.Running(
                id: id, provider: l?.provider ?? claim?.provider, attempt: l.flatMap { $0.attempt > 0 ? $0.attempt : nil } ?? claim?.attempt, phase: l?.phase ?? (claim == nil ? "claimed" : nil),
                startedAt: started, elapsedS: started.flatMap(Stamp.date).map { round1(date.timeIntervalSince($0)) },
                lastActivityAt: activity, idleS: activity.flatMap(Stamp.date).map { round1(date.timeIntervalSince($0)) },
                nextAttemptAt: l?.nextAttemptAt ?? claim?.nextAttemptAt,
                providerAnsweredAgoS: l?.providerAnsweredAt.flatMap(Stamp.date).map { round1(date.timeIntervalSince($0)) })
            running.memoryCapBytes = claim?.memoryCapBytes
            running.memoryBytes = claim.flatMap(Spool.memoryInUse)
            return running
        }
    }

    /// The lines that should make a person look: "partially working" is the most expensive state.
    private func warnings(_ s: SpoolStatus) -> [String] {
        var out: [String] = []
        let r = s.recent
        let decided = r.succeeded + r.failed
        if decided >= 5, let rate = r.successRate, rate < 0.5 {
            let top = r.failureClasses.first.map { "; most failures are \($0.class) (\($0.count))" } ?? ""
            out.append("only \(r.succeeded) of \(decided) tasks succeeded in the last \(Int(r.windowHours)) h (\(Int((rate * 100).rounded()))%)\(top)")
        }
        if r.failed >= 3, r.failureClasses.count == 1, let only = r.failureClasses.first {
            out.append("every one of the \(r.failed) failures in the last \(Int(r.windowHours)) h is \(only.class): one cause, fix it once (latest: mtor show \(only.latest))")
        }
        if s.worker?.alive != true, !(s.workers ?? []).contains(where: \.alive), s.counts.inbox + s.counts.claimed > 0 {
            let when = s.worker?.heartbeatAgeS.map { "last heartbeat \(DurationText.format($0)) ago" } ?? "no state/worker.json"
            out.append("\(s.counts.inbox) queued and \(s.counts.claimed) claimed task(s) but no live worker (\(when))")
        }
        for p in s.providers ?? [] where p.state == .unhealthy {
            out.append("provider \(p.provider) is unhealthy (\(p.class?.rawValue ?? "?")): \(p.reason ?? "")")
        }
        return out
    }
}

private func round1(_ x: Double) -> Double { (x * 10).rounded() / 10 }

extension Spool {
    /// What a running task's memory cgroup uses now: only on the host that runs it, in this boot.
    public static func memoryInUse(_ claim: ClaimRecord) -> Int64? {
        guard let path = claim.memoryCgroup, claim.host == FileSystem.hostName(), claim.bootID == ProcessTable.bootID else { return nil }
        return MemoryCgroup.currentBytes(path)
    }
}
