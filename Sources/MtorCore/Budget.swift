import Foundation

/// Prices, running cost and the spending limits of a task, a provider and the whole worker (CONTRACT.md §12).
///
/// Usage events in, a verdict out: a running attempt's tokens priced at the lockfile's rates, checked
/// against the spec's `max_cost_usd:` and `max_turns:`; a day's spend checked against the daily budgets.
/// Fails closed: a task with a cap whose cost mtor cannot compute is refused before it starts.
public enum Budget {
    /// Dollars per million tokens of one model (`prices` under a provider in the lockfile).
    /// A missing `cache_read` or `cache_write` rate prices those tokens at the `input` rate.
    public struct Price: Codable, Equatable, Sendable {
        public var input: Double
        public var output: Double
        public var cacheRead: Double?
        public var cacheWrite: Double?

        enum CodingKeys: String, CodingKey {
            case input, output, cacheRead = "cache_read", cacheWrite = "cache_write"
        }

        public init(input: Double, output: Double, cacheRead: Double? = nil, cacheWrite: Double? = nil) {
            self.input = input
            self.output = output
            self.cacheRead = cacheRead
            self.cacheWrite = cacheWrite
        }

        /// The dollars `tokens` cost at these rates.
        public func cost(_ tokens: Tokens) -> Double {
            let micro = Double(tokens.input) * input + Double(tokens.output) * output
                + Double(tokens.cacheRead) * (cacheRead ?? input) + Double(tokens.cacheWrite) * (cacheWrite ?? input)
            return micro / 1_000_000
        }
    }

    /// Token counts of an attempt so far.
    public struct Tokens: Equatable, Sendable {
        public var input = 0
        public var output = 0
        public var cacheRead = 0
        public var cacheWrite = 0

        public init(input: Int = 0, output: Int = 0, cacheRead: Int = 0, cacheWrite: Int = 0) {
            self.input = input
            self.output = output
            self.cacheRead = cacheRead
            self.cacheWrite = cacheWrite
        }

        public static func + (a: Tokens, b: Tokens) -> Tokens {
            Tokens(input: a.input + b.input, output: a.output + b.output, cacheRead: a.cacheRead + b.cacheRead,
                   cacheWrite: a.cacheWrite + b.cacheWrite)
        }
    }

    /// The stream formats that report token counts as they arrive (`StreamScanner.live`).
    public static let countingFormats: Set<String> = ["claude-stream-json", "codex-json", StreamScanner.aiderText]

    /// A task's caps and what it spent in earlier attempts (`max_cost_usd:`, `max_turns:`).
    public struct TaskLimits: Equatable, Sendable {
        public var maxCostUSD: Double?
        public var maxTurns: Int?
        /// Dollars and turns of the task's earlier attempts: the caps hold for the whole task.
        public var spentBefore: Double = 0
        public var turnsBefore: Int = 0

        public init(maxCostUSD: Double? = nil, maxTurns: Int? = nil, spentBefore: Double = 0, turnsBefore: Int = 0) {
            self.maxCostUSD = maxCostUSD
            self.maxTurns = maxTurns
            self.spentBefore = spentBefore
            self.turnsBefore = turnsBefore
        }

        public var isEmpty: Bool { maxCostUSD == nil && maxTurns == nil }

        /// Why the attempt must stop now, having spent `cost` dollars in `turns` model turns, or nil.
        public func exceeded(cost: Double?, turns: Int) -> String? {
            if let cap = maxCostUSD, let cost, spentBefore + cost > cap {
                return "the task spent \(Budget.dollars(spentBefore + cost)), over its cap max_cost_usd: \(Budget.dollars(cap))"
            }
            if let cap = maxTurns, turnsBefore + turns > cap {
                return "the agent began model turn \(turnsBefore + turns), over its cap max_turns: \(cap)"
            }
            return nil
        }
    }

    /// Why a task with caps cannot start on `harness`/`model`: mtor could not tell what it spends.
    public static func refusal(_ limits: TaskLimits, stream: String?, harness: String, price: Price?, provider: String?, model: String?,
                               dailyBudget: Bool) -> String? {
        guard !limits.isEmpty || dailyBudget else { return nil }
        let asked = limits.maxCostUSD != nil ? "'max_cost_usd'" : limits.maxTurns != nil ? "'max_turns'" : "a daily budget (budget_usd_per_day)"
        guard let stream, countingFormats.contains(stream) else {
            return "the spec asks for \(asked), but harness '\(harness)' reports no token counts (its lockfile 'stream' is "
                + "\(stream.map { "'\($0)'" } ?? "unset")), so mtor cannot tell what it spends; it was not started"
        }
        if limits.maxCostUSD != nil || dailyBudget, price == nil {
            let what = limits.maxCostUSD != nil ? asked : "provider \(provider ?? "-") has \(asked)"
            return "\(limits.maxCostUSD != nil ? "the spec asks for \(what)" : what), but the lockfile has no price for model "
                + "'\(model ?? "-")' under providers.\(provider ?? "-").prices, so mtor cannot price what it spends; it was not started"
        }
        return nil
    }

    /// `$0.0123` for a sentence: enough digits to tell two small figures apart.
    public static func dollars(_ value: Double) -> String {
        "$" + String(format: value < 1 ? "%.6f" : "%.4f", value)
            .replacingOccurrences(of: #"0+$"#, with: "", options: .regularExpression)
            .replacingOccurrences(of: #"\.$"#, with: ".00", options: .regularExpression)
    }

    // MARK: - Daily budgets

    /// The UTC day (`2026-12-04`) of a time.
    public static func day(_ t: Double) -> String { String(Stamp.iso(Date(timeIntervalSince1970: t)).prefix(10)) }

    /// The start of the UTC day after the one holding `t`.
    public static func nextDay(after t: Double) -> Double { (t / 86400).rounded(.down) * 86400 + 86400 }

    /// One daily budget and what was spent against it today.
    public struct DailyUse: Equatable, Sendable {
        /// A provider's name, or nil for the whole worker.
        public var provider: String?
        public var limit: Double
        public var spent: Double
        public init(provider: String?, limit: Double, spent: Double) {
            self.provider = provider
            self.limit = limit
            self.spent = spent
        }
        public var exhausted: Bool { spent >= limit }
        /// What is held, as a sentence.
        public func holdReason(day: String, until: Double) -> String {
            let whose = provider.map { "provider \($0)" } ?? "the worker"
            let key = provider.map { "providers.\($0).budget_usd_per_day" } ?? "budget_usd_per_day"
            return "\(whose) spent \(Budget.dollars(spent)) of its daily budget \(Budget.dollars(limit)) (\(key)) on \(day) UTC; no new task "
                + "starts on it until \(Scheduler.clock(until))"
        }
    }
}
