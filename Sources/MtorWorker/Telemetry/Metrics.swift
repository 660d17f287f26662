import Foundation
import MtorCore
import MtorPlatform

/// The worker's Prometheus metrics, in node_exporter's textfile format. Counters are fed by
/// the ledger lines this worker appends; gauges are read when the file is written.
final class Metrics: Sendable {
    /// Upper bounds of the task duration histogram, in seconds.
    static let buckets: [Double] = [1, 5, 15, 60, 300, 900, 1800, 3600, 7200, 14400]
    /// Bounds for a scheduling turn, in seconds: a turn should stay under 5 ms whatever is queued.
    static let turnBuckets: [Double] = [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1]

    /// The counters, fed from task threads and read by the loop.
    private let counters = LockBox(Counters())

    struct Counters {
        var finished: [Label: Int] = [:]
        var attempts: [String: Int] = [:]
        var durationCounts = [Int](repeating: 0, count: Metrics.buckets.count)
        var durationSum = 0.0
        var durationCount = 0
        var turnCounts = [Int](repeating: 0, count: Metrics.turnBuckets.count)
        var turnSum = 0.0
        var turnCount = 0
        var tokens: [TokenLabel: Int] = [:]
        var cost: [String: Double] = [:]
        /// mtor's priced spend (the ledger's `spent` lines), by provider and model.
        var priced: [ModelLabel: Double] = [:]
    }

    struct ModelLabel: Hashable { var provider: String; var model: String }

    struct Label: Hashable { var cls: String; var provider: String }
    struct TokenLabel: Hashable { var provider: String; var kind: String }

    /// What is read at write time.
    struct Gauges {
        var queue: [String: Int]
        var running: Int
        var providers: [ProviderHealthEntry]
        var retryReserved: Int
        var retryPerMinute: Int
        var startTime: Date
        /// Daily budgets with today's spend.
        var budgets: [Budget.DailyUse] = []
    }

    func observe(_ entry: LedgerEntry) {
        counters.withLock { c in
            switch entry.event {
            case .attempt:
                c.attempts[entry.provider ?? "", default: 0] += 1
            case .spent:
                if let cost = entry.costUSD { c.priced[ModelLabel(provider: entry.provider ?? "", model: entry.model ?? ""), default: 0] += cost }
            case .succeeded, .failed, .cancelled:
                c.finished[Label(cls: entry.class?.rawValue ?? "unknown", provider: entry.provider ?? ""), default: 0] += 1
                if let d = entry.durationS {
                    c.durationSum += d
                    c.durationCount += 1
                    for (i, bound) in Metrics.buckets.enumerated() where d <= bound { c.durationCounts[i] += 1 }
                }
            default:
                break
            }
        }
    }

    /// One scheduling turn of the worker's loop (reading new specs, deciding, handing out starts) took `seconds`.
    func observeTurn(_ seconds: Double) {
        counters.withLock { c in
            c.turnSum += seconds
            c.turnCount += 1
            for (i, bound) in Metrics.turnBuckets.enumerated() where seconds <= bound { c.turnCounts[i] += 1 }
        }
    }

    /// Adds one finished task's token and cost use.
    func addUsage(provider: String, input: Int?, output: Int?, cacheRead: Int?, cacheWrite: Int?, costUSD: Double?) {
        counters.withLock { c in
            for (kind, n) in [("input", input), ("output", output), ("cache_read", cacheRead), ("cache_write", cacheWrite)] {
                if let n { c.tokens[TokenLabel(provider: provider, kind: kind), default: 0] += n }
            }
            if let costUSD { c.cost[provider, default: 0] += costUSD }
        }
    }

    /// The whole file.
    func render(_ g: Gauges) -> String {
        var out = ""
        func family(_ name: String, _ type: String, _ help: String) {
            out += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
        }
        func line(_ name: String, _ labels: [(String, String)], _ value: String) {
            let text = labels.isEmpty ? "" : "{" + labels.map { "\($0.0)=\"\(Metrics.escape($0.1))\"" }.joined(separator: ",") + "}"
            out += "\(name)\(text) \(value)\n"
        }
        let s = counters.withLock { $0 }  // a copy: the file is rendered outside the lock
        family("mtor_tasks_total", "counter", "Tasks this worker finished, by failure class (ok for success) and provider.")
        for (l, n) in s.finished.sorted(by: { ($0.key.cls, $0.key.provider) < ($1.key.cls, $1.key.provider) }) {
            line("mtor_tasks_total", [("class", l.cls), ("provider", l.provider)], String(n))
        }
        family("mtor_attempts_total", "counter", "Attempts this worker started, by provider.")
        for (p, n) in s.attempts.sorted(by: { $0.key < $1.key }) { line("mtor_attempts_total", [("provider", p)], String(n)) }
        family("mtor_task_duration_seconds", "histogram", "Time from claim to result of the tasks this worker finished.")
        for (i, bound) in Metrics.buckets.enumerated() {
            line("mtor_task_duration_seconds_bucket", [("le", Metrics.number(bound))], String(s.durationCounts[i]))
        }
        line("mtor_task_duration_seconds_bucket", [("le", "+Inf")], String(s.durationCount))
        line("mtor_task_duration_seconds_sum", [], Metrics.number(s.durationSum))
        line("mtor_task_duration_seconds_count", [], String(s.durationCount))
        family("mtor_dispatch_seconds", "histogram",
               "Time the worker's loop spent in one scheduling turn (reading new specs, deciding, handing out starts).")
        for (i, bound) in Metrics.turnBuckets.enumerated() {
            line("mtor_dispatch_seconds_bucket", [("le", Metrics.number(bound))], String(s.turnCounts[i]))
        }
        line("mtor_dispatch_seconds_bucket", [("le", "+Inf")], String(s.turnCount))
        line("mtor_dispatch_seconds_sum", [], Metrics.number(s.turnSum))
        line("mtor_dispatch_seconds_count", [], String(s.turnCount))
        family("mtor_tokens_total", "counter", "Tokens the harnesses reported, by provider and kind (input, output, cache_read, cache_write).")
        for (l, n) in s.tokens.sorted(by: { ($0.key.provider, $0.key.kind) < ($1.key.provider, $1.key.kind) }) {
            line("mtor_tokens_total", [("provider", l.provider), ("kind", l.kind)], String(n))
        }
        family("mtor_cost_usd_total", "counter",
               "What this worker's attempts cost in US dollars, priced by mtor at the lockfile's prices, by provider and model.")
        for (l, c) in s.priced.sorted(by: { ($0.key.provider, $0.key.model) < ($1.key.provider, $1.key.model) }) {
            line("mtor_cost_usd_total", [("provider", l.provider), ("model", l.model)], Metrics.number(c))
        }
        family("mtor_harness_cost_usd_total", "counter",
               "Cost in US dollars the harnesses themselves reported (Claude Code's total_cost_usd), by provider.")
        for (p, c) in s.cost.sorted(by: { $0.key < $1.key }) { line("mtor_harness_cost_usd_total", [("provider", p)], Metrics.number(c)) }
        family("mtor_budget_usd", "gauge", "Each daily budget (budget_usd_per_day) in US dollars; provider=\"\" is the whole worker's.")
        for b in g.budgets { line("mtor_budget_usd", [("provider", b.provider ?? "")], Metrics.number(b.limit)) }
        family("mtor_budget_spent_usd", "gauge", "US dollars spent against each daily budget today (UTC), all hosts of the spool.")
        for b in g.budgets { line("mtor_budget_spent_usd", [("provider", b.provider ?? "")], Metrics.number(b.spent)) }
        family("mtor_queue_depth", "gauge", "Specs in each spool directory.")
        for (dir, n) in g.queue.sorted(by: { $0.key < $1.key }) { line("mtor_queue_depth", [("dir", dir)], String(n)) }
        family("mtor_running_tasks", "gauge", "Tasks this worker is running now.")
        line("mtor_running_tasks", [], String(g.running))
        family("mtor_provider_healthy", "gauge",
               "1 when the provider passed its last check, 0 when it failed; the label class is the last check's class.")
        for e in g.providers where e.state != .unknown && e.state != .probing {
            line("mtor_provider_healthy", [("provider", e.provider), ("class", e.class?.rawValue ?? "")], e.state == .healthy ? "1" : "0")
        }
        family("mtor_retry_budget_reserved", "gauge", "Retry starts reserved within a minute of now.")
        line("mtor_retry_budget_reserved", [], String(g.retryReserved))
        family("mtor_retry_budget_per_minute", "gauge", "The worker-wide cap on retries per minute (--retries-per-minute).")
        line("mtor_retry_budget_per_minute", [], String(g.retryPerMinute))
        family("mtor_worker_start_time_seconds", "gauge", "When this worker started, in seconds since the Unix epoch.")
        line("mtor_worker_start_time_seconds", [], Metrics.number(g.startTime.timeIntervalSince1970.rounded()))
        return out
    }

    static func number(_ v: Double) -> String {
        v == v.rounded() && abs(v) < 1e15 ? String(Int64(v)) : String(v)
    }

    /// A label value as the text format wants it: backslash, quote and newline escaped.
    static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"").replacingOccurrences(of: "\n", with: "\\n")
    }
}
