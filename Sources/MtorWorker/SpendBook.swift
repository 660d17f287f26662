import Foundation
import MtorCore
import MtorPlatform

/// What was spent per UTC day and provider, read from every ledger of the spool (`spent` lines, one
/// per attempt): counted across restarts and across hosts sharing the spool. Read incrementally.
final class SpendBook: Sendable {
    private struct State {
        /// Bytes of each ledger already read (always up to a newline).
        var offsets: [String: UInt64] = [:]
        /// day → provider ("" for none) → model → dollars.
        var spent: [String: [String: [String: Double]]] = [:]
        var readAt = -Double.infinity
    }

    private let state = LockBox(State())

    /// `MTOR_TEST_NOW_FILE`: for tests only, a file holding an ISO-8601 time the daily budgets take
    /// as "now" (to move to the next UTC day without waiting for it). Unset in production.
    static let testClockVariable = "MTOR_TEST_NOW_FILE"

    /// The wall-clock time daily budgets count days by.
    static func now() -> Double {
        // getenv, not ProcessInfo's dictionary: asked for every spec the scheduler places.
        if let value = getenv(testClockVariable), case let path = String(cString: value), !path.isEmpty,
           let bytes = try? FileSystem.read(path, limit: 100),
           let t = Stamp.date(String(decoding: bytes, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)) {
            return t.timeIntervalSince1970
        }
        return Date().timeIntervalSince1970
    }

    /// Reads what the spool's ledgers gained since the last look (at most every `interval` seconds).
    func refresh(_ spool: Spool, interval: Double = 1) {
        let t = MtorPlatform.now()
        let due = state.withLock { s -> Bool in
            guard t - s.readAt >= interval else { return false }
            s.readAt = t
            return true
        }
        guard due else { return }
        // One reader at a time (the loop and task threads both ask): no segment is counted twice.
        state.withLock { s in
            for path in spool.allLedgers { Self.read(path, into: &s) }
        }
    }

    private static func read(_ path: String, into s: inout State) {
        guard let handle = FileHandle(forReadingAtPath: path) else { return }
        defer { try? handle.close() }
        let offset = s.offsets[path] ?? 0
        guard let size = try? handle.seekToEnd() else { return }
        if size < offset {
            // Truncated or replaced: count everything again at the next look.
            s = State()
            return
        }
        guard size > offset, (try? handle.seek(toOffset: offset)) != nil, let data = try? handle.read(upToCount: Int(size - offset)) else { return }
        guard let lastNewline = data.lastIndex(of: 10) else { return }
        let complete = data[data.startIndex...lastNewline]
        var found: [LedgerEntry] = []
        let marker = Array(#""event":"spent""#.utf8)
        for line in complete.split(separator: 10) where line.count > marker.count && Self.contains(line, marker) {
            if let entry = try? JSONDecoder().decode(LedgerEntry.self, from: Data(line)), entry.event == .spent { found.append(entry) }
        }
        s.offsets[path] = offset + UInt64(complete.count)
        for e in found {
            guard let cost = e.costUSD, let t = Stamp.date(e.t) else { continue }
            s.spent[Budget.day(t.timeIntervalSince1970), default: [:]][e.provider ?? "", default: [:]][e.model ?? "", default: 0] += cost
        }
    }

    private static func contains(_ line: Data.SubSequence, _ marker: [UInt8]) -> Bool {
        line.withUnsafeBytes { raw in
            let b = raw.bindMemory(to: UInt8.self)
            guard b.count >= marker.count else { return false }
            outer: for i in 0...(b.count - marker.count) {
                for k in 0..<marker.count where b[i + k] != marker[k] { continue outer }
                return true
            }
            return false
        }
    }

    /// Dollars spent on `day` on `provider` (nil: all providers together).
    func spent(day: String, provider: String?) -> Double {
        state.withLock { s in
            let byProvider = s.spent[day] ?? [:]
            if let provider { return (byProvider[provider] ?? [:]).values.reduce(0, +) }
            return byProvider.values.flatMap(\.values).reduce(0, +)
        }
    }

    /// The daily budgets covering `provider` (its own, then the worker's; nil: only the worker's) with
    /// today's spend from the ledgers plus `running` (dollars of attempts not in the ledger yet).
    func uses(_ lock: Lockfile, provider: String?, running: (String?) -> Double, now: Double) -> [Budget.DailyUse] {
        let day = Budget.day(now)
        var uses: [Budget.DailyUse] = []
        if let provider, let limit = lock.providers[provider]?.budgetUSDPerDay {
            uses.append(Budget.DailyUse(provider: provider, limit: limit, spent: spent(day: day, provider: provider) + running(provider)))
        }
        if let limit = lock.budgetUSDPerDay {
            uses.append(Budget.DailyUse(provider: nil, limit: limit, spent: spent(day: day, provider: nil) + running(nil)))
        }
        return uses
    }

    /// Why nothing new may start on `provider` today, or nil.
    func hold(_ lock: Lockfile, provider: String?, running: (String?) -> Double) -> String? {
        let t = Self.now()
        return uses(lock, provider: provider, running: running,
                    now: t).first(where: \.exhausted)?.holdReason(day: Budget.day(t), until: Budget.nextDay(after: t))
    }
}
