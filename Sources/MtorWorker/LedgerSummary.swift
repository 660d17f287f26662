import Foundation
import MtorCore

/// Outcomes of the last hours, read by streaming `state/ledger.jsonl` once, without opening
/// any sidecar: fast on a spool with 100,000 finished tasks.
public struct LedgerSummary: Codable, Sendable, Equatable {
    /// Failures of one class, with the latest task that ended that way.
    public struct ClassCount: Codable, Sendable, Equatable {
        public var `class`: String
        public var count: Int
        public var latest: String
    }

    public var windowHours: Double
    public var since: String
    /// Tasks whose last outcome in the window was each status (a retried task counts once, as it ended).
    public var succeeded = 0
    /// Successes whose review raised a flag (auto_committed, file_shrunk, ...): read them first.
    public var flagged = 0
    public var failed = 0
    public var cancelled = 0
    /// succeeded / (succeeded + failed); nil when nothing finished.
    public var successRate: Double?
    /// Most frequent first.
    public var failureClasses: [ClassCount] = []
    public var ledgerLines = 0
    public var unreadableLines = 0
    /// Tokens and cost per provider of the tasks that ended in the window (null where no harness reported them).
    public var usage: [ProviderUsage]? = nil

    /// One provider's use in the window.
    public struct ProviderUsage: Codable, Sendable, Equatable {
        public var provider: String
        public var tasks: Int
        public var inputTokens: Int?
        public var outputTokens: Int?
        public var costUSD: Double?
        enum CodingKeys: String, CodingKey {
            case provider, tasks, inputTokens = "input_tokens", outputTokens = "output_tokens", costUSD = "cost_usd"
        }
    }

    enum CodingKeys: String, CodingKey {
        case since, succeeded, failed, cancelled, usage, flagged
        case windowHours = "window_h", successRate = "success_rate", failureClasses = "failure_classes"
        case ledgerLines = "ledger_lines", unreadableLines = "unreadable_lines"
    }

    /// Streams the ledger at `path` and summarises the terminal events at or after `since`.
    public static func scan(_ path: String, since: Date, windowHours: Double) -> LedgerSummary {
        scan([path], since: since, windowHours: windowHours)
    }

    /// Streams several ledgers (one per host on a shared spool) as one: a task's outcome is its
    /// latest terminal event by time, whichever ledger holds it.
    public static func scan(_ paths: [String], since: Date, windowHours: Double) -> LedgerSummary {
        let sinceText = Stamp.iso(since)
        var summary = LedgerSummary(windowHours: windowHours, since: sinceText)
        var tally = Tally(cutoff: Array(sinceText.utf8.prefix(19)))
        for path in paths {
            guard let handle = FileHandle(forReadingAtPath: path) else { continue }
            defer { try? handle.close() }
            var carry: [UInt8] = []
            while let chunk = try? handle.read(upToCount: 1 << 20), !chunk.isEmpty {
                carry.append(contentsOf: chunk)
                let consumed = carry.withUnsafeBufferPointer { tally.feed($0, final: false) }
                carry.removeFirst(consumed)
            }
            _ = carry.withUnsafeBufferPointer { tally.feed($0, final: true) }
            tally.lineBase = tally.lines
        }
        summary.ledgerLines = tally.lines
        summary.unreadableLines = tally.unreadable
        var classes: [String: (count: Int, latestLine: Int, latest: String)] = [:]
        var perProvider: [String: ProviderUsage] = [:]
        for outcome in tally.outcomes.values where outcome.event != .retried {
            let name = outcome.provider ?? "-"
            var u = perProvider[name] ?? ProviderUsage(provider: name, tasks: 0)
            u.tasks += 1
            if let n = outcome.inputTokens { u.inputTokens = (u.inputTokens ?? 0) + n }
            if let n = outcome.outputTokens { u.outputTokens = (u.outputTokens ?? 0) + n }
            if let c = outcome.cost { u.costUSD = (u.costUSD ?? 0) + c }
            perProvider[name] = u
        }
        summary.usage = perProvider.values.sorted { $0.provider < $1.provider }
        for (id, outcome) in tally.outcomes {
            switch outcome.event {
            case .succeeded:
                summary.succeeded += 1
                if outcome.flagged { summary.flagged += 1 }
            case .cancelled: summary.cancelled += 1
            case .failed:
                summary.failed += 1
                let c = outcome.class ?? "unknown"
                var entry = classes[c] ?? (0, -1, id)
                entry.count += 1
                if outcome.line > entry.latestLine { entry.latestLine = outcome.line; entry.latest = id }
                classes[c] = entry
            default: break
            }
        }
        let decided = summary.succeeded + summary.failed
        summary.successRate = decided == 0 ? nil : (Double(summary.succeeded) / Double(decided) * 1000).rounded() / 1000
        summary.failureClasses = classes.map { ClassCount(class: $0.key, count: $0.value.count, latest: $0.value.latest) }
            .sorted { $0.count != $1.count ? $0.count > $1.count : $0.class < $1.class }
        return summary
    }
}

// MARK: - Line scanning

/// The last terminal event of each task in the window, fed raw ledger bytes.
private struct Tally {
    struct Outcome {
        var event: LedgerEntry.Event
        var `class`: String?
        var line: Int
        /// Its `t`, to keep the latest when several ledgers are merged.
        var t: String
        var provider: String?
        var inputTokens: Int?
        var outputTokens: Int?
        var cost: Double?
        var flagged = false
    }

    let cutoff: [UInt8]
    var outcomes: [String: Outcome] = [:]
    var lines = 0
    var lineBase = 0
    var unreadable = 0

    init(cutoff: [UInt8]) { self.cutoff = cutoff }

    /// Handles every complete line (all of them when `final`); returns the bytes consumed.
    mutating func feed(_ b: UnsafeBufferPointer<UInt8>, final: Bool) -> Int {
        var start = 0
        var i = 0
        while i < b.count {
            if b[i] == 10 {
                line(b, start, i)
                start = i + 1
            }
            i += 1
        }
        if final, start < b.count {
            line(b, start, b.count)
            start = b.count
        }
        return start
    }

    /// One JSON object on one line, read in a single pass over its top-level string fields.
    private mutating func line(_ b: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int) {
        guard end > start else { return }
        lines += 1
        var t: Range<Int>?, event: Range<Int>?, id: Range<Int>?, cls: Range<Int>?, provider: Range<Int>?, flags: Range<Int>?
        var inTokens: Double?, outTokens: Double?, cost: Double?
        var i = start
        while i < end {
            guard b[i] == 34 else { i += 1; continue } // "
            let key = string(b, from: i + 1, end: end)
            i = key.upperBound + 1
            while i < end, b[i] == 32 { i += 1 }
            guard i < end, b[i] == 58 else { continue } // :
            i += 1
            while i < end, b[i] == 32 { i += 1 }
            guard i < end, b[i] == 34 else {
                // A number: only the usage fields are read.
                var j = i
                while j < end, (b[j] >= 48 && b[j] <= 57) || b[j] == 46 || b[j] == 45 || b[j] == 43 || b[j] == 101 || b[j] == 69 { j += 1 }
                if j > i {
                    let number = Double(String(decoding: UnsafeBufferPointer(rebasing: b[i..<j]), as: UTF8.self))
                    if equals(b, key, "input_tokens") { inTokens = number }
                    else if equals(b, key, "output_tokens") { outTokens = number }
                    else if equals(b, key, "cost_usd") { cost = number }
                }
                i = max(j, i + 1)
                continue
            }
            let value = string(b, from: i + 1, end: end)
            i = value.upperBound + 1
            switch key.count {
            case 1 where b[key.lowerBound] == 116: t = value // t
            case 2 where equals(b, key, "id"): id = value
            case 5 where equals(b, key, "event"): event = value
            case 5 where equals(b, key, "class"): cls = value
            case 5 where equals(b, key, "flags"): flags = value
            case 8 where equals(b, key, "provider"): provider = value
            default: break
            }
        }
        guard let t, let event, let id else { unreadable += 1; return }
        let kind: LedgerEntry.Event
        if equals(b, event, "succeeded") { kind = .succeeded }
        else if equals(b, event, "failed") { kind = .failed }
        else if equals(b, event, "cancelled") { kind = .cancelled }
        else if equals(b, event, "retried") { kind = .retried }
        else { return }
        guard !before(b, t) else { return }
        let name = String(decoding: UnsafeBufferPointer(rebasing: b[id]), as: UTF8.self)
        let stamp = String(decoding: UnsafeBufferPointer(rebasing: b[t]), as: UTF8.self)
        // Within one ledger lines are in order; across ledgers the later time wins.
        if lineBase > 0, let known = outcomes[name], known.t > stamp { return }
        outcomes[name] = Outcome(event: kind, class: cls.map { String(decoding: UnsafeBufferPointer(rebasing: b[$0]), as: UTF8.self) },
                                 line: lines, t: stamp,
                                 provider: provider.map { String(decoding: UnsafeBufferPointer(rebasing: b[$0]), as: UTF8.self) },
                                 inputTokens: inTokens.map { Int($0) }, outputTokens: outTokens.map { Int($0) }, cost: cost,
                                 flagged: !(flags?.isEmpty ?? true))
    }

    /// The range of a JSON string's contents starting at `from`, up to its closing quote.
    private func string(_ b: UnsafeBufferPointer<UInt8>, from: Int, end: Int) -> Range<Int> {
        var i = from
        while i < end, b[i] != 34 {
            i += b[i] == 92 ? 2 : 1 // backslash escapes the next byte
        }
        return from..<min(i, end)
    }

    private func equals(_ b: UnsafeBufferPointer<UInt8>, _ r: Range<Int>, _ text: StaticString) -> Bool {
        guard r.count == text.utf8CodeUnitCount else { return false }
        let p = text.utf8Start
        for k in 0..<r.count where b[r.lowerBound + k] != p[k] { return false }
        return true
    }

    /// Whether the timestamp is before the cutoff: UTC ISO-8601 compares as text to the second.
    private func before(_ b: UnsafeBufferPointer<UInt8>, _ r: Range<Int>) -> Bool {
        for k in 0..<min(cutoff.count, r.count) where b[r.lowerBound + k] != cutoff[k] {
            return b[r.lowerBound + k] < cutoff[k]
        }
        return r.count < cutoff.count
    }
}
