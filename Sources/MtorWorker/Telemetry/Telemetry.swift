import Foundation
import MtorCore
import MtorPlatform

/// The worker's outward signals, fed by the ledger lines it appends: the metrics file, the
/// finish and attention hooks. Nothing else in the worker calls them directly.
final class Telemetry: LedgerSink, Sendable {
    let metrics = Metrics()
    let hooks: Hooks
    private let spool: Spool
    /// Where the Prometheus textfile goes (`--metrics`, else see `defaultMetricsPath`).
    let metricsPath: String
    private let tmp: String
    /// Fed by task threads (`observe`) and read by the loop (`writeMetrics`).
    private let state = LockBox(State())

    private struct State {
        var lastWrite = 0.0
        var lastListing = -Double.infinity
        var listed: [String: Int] = [:]
        /// The newest finished tasks' outcomes (true = succeeded), for the success-rate warning.
        var recent: [Bool] = []
        var rateWarned = false
    }

    init(spool: Spool, metricsPath: String?, hooks: Hooks, home: String? = nil) {
        self.spool = spool
        self.hooks = hooks
        self.metricsPath = metricsPath ?? Telemetry.defaultMetricsPath(spool, home: home)
        tmp = FileSystem.directory(of: self.metricsPath)
        if metricsPath == nil { try? FileSystem.makeDirectories(tmp) }
    }

    /// `state/metrics.prom` on a local spool. On a network filesystem metrics stay on the host:
    /// `$XDG_STATE_HOME/mtor/metrics.prom` (default `~/.local/state/mtor/metrics.prom`), so no spool
    /// file has a writer on every host and node_exporter reads a local file.
    static func defaultMetricsPath(_ spool: Spool, home: String?, environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        guard spool.networked else { return spool.state + "/metrics.prom" }
        if let xdg = environment["XDG_STATE_HOME"], xdg.hasPrefix("/") { return xdg + "/mtor/metrics.prom" }
        if let home, home.hasPrefix("/"), home != "/" { return home + "/.local/state/mtor/metrics.prom" }
        return "/var/lib/mtor/metrics.prom"
    }

    func observe(_ entry: LedgerEntry, result given: TaskResult?) {
        metrics.observe(entry)
        if [.succeeded, .failed, .cancelled].contains(entry.event) {
            state.withLock { $0.listed[entry.event == .succeeded ? "done" : "failed", default: 0] += 1 }
        }
        guard [.succeeded, .failed, .cancelled].contains(entry.event),
              let result = given ?? spool.result(entry.id, completingMove: true) else { return }
        if let u = result.usage {
            metrics.addUsage(provider: result.spec.provider ?? "", input: u.inputTokens, output: u.outputTokens,
                             cacheRead: u.cacheReadTokens, cacheWrite: u.cacheWriteTokens, costUSD: u.costUSD)
        }
        noteOutcome(result)
        guard hooks.onFinish != nil else { return }
        let dir = result.status == .succeeded ? spool.done : spool.failed
        hooks.finished(result, sidecar: (try? FileSystem.read(spool.sidecar(in: dir, entry.id))) ?? [])
    }

    /// Trips `--on-attention` once when fewer than half of the last 20 (at least 5) decided tasks
    /// succeeded: "partially working" is the most expensive state. Re-arms when the rate recovers.
    private func noteOutcome(_ result: TaskResult) {
        guard result.status != .cancelled else { return }
        let trip: (Int, Int)? = state.withLock { s in
            s.recent.append(result.status == .succeeded)
            if s.recent.count > 20 { s.recent.removeFirst(s.recent.count - 20) }
            let ok = s.recent.filter { $0 }.count
            let low = s.recent.count >= 5 && ok * 2 < s.recent.count
            defer { s.rateWarned = low }
            return low && !s.rateWarned ? (ok, s.recent.count) : nil
        }
        if let (ok, n) = trip {
            hooks.attention(event: "success_rate", provider: nil, cls: result.class,
                            reason: "only \(ok) of the last \(n) tasks succeeded; the latest failed with \(result.class.rawValue): \(result.reason)")
        }
    }

    /// Writes the metrics file atomically, at most once a second.
    func writeMetrics(running: Int, queued: Int, providers: [ProviderHealthEntry], retry: (reserved: Int, perMinute: Int), startedAt: Date,
                      budgets: [Budget.DailyUse] = [], force: Bool = false) {
        let t = now()
        let (due, list): (Bool, Bool) = state.withLock { s in
            guard force || t - s.lastWrite >= 1 else { return (false, false) }
            s.lastWrite = t
            guard t - s.lastListing >= 60 else { return (true, false) }
            s.lastListing = t
            return (true, true)
        }
        guard due else { return }
        // done/ and failed/ may hold many thousands of files: counted once a minute (other workers'
        // results show up then) and kept current in between from this worker's own ledger lines.
        if list {
            let counts = [("done", spool.done),
                          ("failed", spool.failed)].map { ($0.0, ((try? FileSystem.list($0.1)) ?? []).filter { $0.hasSuffix(".md") }.count) }
            state.withLock { s in for (name, n) in counts { s.listed[name] = n } }
        }
        let finished = state.withLock { $0.listed }
        let queue = ["inbox": queued, "claimed": running, "done": finished["done"] ?? 0, "failed": finished["failed"] ?? 0]
        let text = metrics.render(Metrics.Gauges(queue: queue, running: running, providers: providers, retryReserved: retry.reserved,
                                                 retryPerMinute: retry.perMinute, startTime: startedAt, budgets: budgets))
        // Inside the spool it is private like every spool file; a --metrics file elsewhere is for node_exporter to read.
        if metricsPath.hasPrefix(spool.root + "/") {
            try? spool.writeState(Array(text.utf8), to: metricsPath, mode: 0o600)
        } else {
            try? FileSystem.writeAtomically(Array(text.utf8), to: metricsPath, tmpDir: tmp, mode: 0o644, durable: false)
        }
    }
}
