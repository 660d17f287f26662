import Foundation

/// Decides what happens after an attempt: finish, retry on the same provider after a delay,
/// or move to the next fallback provider.
public struct RetryPolicy: Sendable {
    public var baseDelay: Double = 2
    public var maxDelay: Double = 300
    /// The longest provider-requested wait mtor honours before moving to a fallback instead.
    public var maxHonouredReset: Double = 3600

    public init(baseDelay: Double = 2, maxDelay: Double = 300) {
        self.baseDelay = baseDelay
        self.maxDelay = maxDelay
    }

    public enum Decision: Equatable, Sendable {
        case finish
        case retry(provider: String?, after: Double)
    }

    /// The decision after `history` (all attempts so far, newest last) for a task whose
    /// provider chain is `chain` (provider, then fallbacks) and whose spec allows `retries`.
    public func decide(history: [(provider: String?, failureClass: FailureClass, retryAfter: Double?)],
                       chain: [String?], retries: Int, jitter: Double = 0.5) -> Decision {
        guard let last = history.last, last.failureClass != .ok else { return .finish }
        let cls = last.failureClass
        let onThisProvider = history.filter { $0.provider == last.provider }
        let sameClass = onThisProvider.filter { $0.failureClass == cls }.count
        let transientSoFar = history.filter { $0.failureClass.isTransient }.count
        if cls.isTransient, sameClass < cls.attemptLimit(retries: retries), transientSoFar <= retries {
            return .retry(provider: last.provider, after: delay(attempt: sameClass, requested: last.retryAfter, jitter: jitter))
        }
        if cls.movesToFallback, let index = chain.firstIndex(where: { $0 == last.provider }), index + 1 < chain.count {
            let tried = Set(history.map { $0.provider ?? "" })
            if let next = chain[(index + 1)...].first(where: { !tried.contains($0 ?? "") }) {
                return .retry(provider: next, after: 0)
            }
        }
        return .finish
    }

    /// Capped exponential backoff with jitter, never shorter than what the provider asked for.
    public func delay(attempt: Int, requested: Double?, jitter: Double) -> Double {
        let exponential = min(maxDelay, baseDelay * pow(2, Double(max(0, attempt - 1))))
        let jittered = min(maxDelay, exponential * (0.8 + 0.4 * min(max(jitter, 0), 1)))
        if let requested, requested > 0 { return max(min(requested, maxHonouredReset), jittered) }
        return jittered
    }

    /// Seconds until the reset time a provider's error text names (`Retry-After: 30`,
    /// `retry after 20s`, `reset at 2026-11-21T10:15:00Z`, `resets in 5m`).
    public static func resetDelay(in text: String, now: Date = Date()) -> Double? {
        // Ranges come from `text` itself: indices of `text.lowercased()` do not fit `text` when
        // lowercasing changes a character's length (e.g. "İ"), and slicing with them traps.
        for marker in ["retry-after:", "retry after", "try again in", "resets in", "reset in"] {
            if let range = text.range(of: marker, options: .caseInsensitive) {
                let rest = text[range.upperBound...].trimmingCharacters(in: .whitespaces).lowercased()
                let token = rest.prefix { $0.isNumber || $0 == "." || "smhd".contains($0) }
                var number = String(token)
                while number.hasSuffix(".") { number.removeLast() }
                if let n = Double(number), let unit = spelledUnit(rest.dropFirst(token.count)) { return n * unit }
                if let seconds = DurationText.parse(number) { return seconds }
            }
        }
        if let range = text.range(of: "reset at", options: .caseInsensitive) ?? text.range(of: "resets at", options: .caseInsensitive) {
            let rest = text[range.upperBound...].trimmingCharacters(in: .whitespaces)
            var token = String(rest.prefix { !$0.isWhitespace && $0 != "," && $0 != ")" && $0 != "\"" })
            while token.hasSuffix(".") { token.removeLast() }
            if let date = Stamp.date(token) { return max(0, date.timeIntervalSince(now)) }
            if let epoch = Double(token) { return max(0, epoch - now.timeIntervalSince1970) }
        }
        return nil
    }

    /// Seconds per unit for a spelled-out unit after a number (`5 minutes`), if there is one.
    private static func spelledUnit(_ text: Substring) -> Double? {
        let word = text.drop(while: { $0 == " " }).prefix(while: \.isLetter)
        switch word {
        case "second", "seconds", "sec", "secs": return 1
        case "minute", "minutes", "min", "mins": return 60
        case "hour", "hours", "hr", "hrs": return 3600
        case "day", "days": return 86400
        default: return nil
        }
    }
}

/// The worker-wide cap on retries: at most `perMinute` retries start in any 60-second window,
/// whatever the input, so no spec (or thousand of them) can make the worker spin.
///
/// A retry reserves its start time when it is scheduled, so tasks backing off at the same
/// moment get successive slots instead of all seeing a free window at once.
public struct RetryBudget: Sendable {
    public let perMinute: Int
    public let window: Double = 60
    private var starts: [Double] = []   // reserved start times, ascending

    public init(perMinute: Int) { self.perMinute = max(1, perMinute) }

    /// Reserves the earliest start at or after `earliest` that keeps every window within the cap;
    /// returns that start. `now` drops reservations that can no longer matter.
    ///
    /// A new start must fit in every 60 s window that would contain it, including windows
    /// that end at reservations made earlier for later times. The earliest such start is
    /// `earliest` itself or a moment when an existing reservation leaves the window (its time + 60 s).
    public mutating func reserve(now: Double, earliest: Double) -> Double {
        starts.removeAll { $0 <= now - window }
        let base = max(now, earliest)
        let candidates = [base] + starts.map { $0 + window }.filter { $0 > base }.sorted()
        let at = candidates.first(where: fits) ?? (starts.last ?? base) + window
        starts.insert(at, at: starts.firstIndex { $0 > at } ?? starts.count)
        return at
    }

    /// Reservations within one window of `now`, either side: how much of the budget is in use.
    public func reservedNear(_ now: Double) -> Int {
        starts.filter { abs($0 - now) < window }.count
    }

    /// Whether one more start at `c` keeps every window (e − 60, e] that contains it within the cap.
    private func fits(_ c: Double) -> Bool {
        let ends = [c] + starts.filter { $0 >= c && $0 < c + window }
        return ends.allSatisfy { e in starts.filter { $0 > e - window && $0 <= e }.count + 1 <= perMinute }
    }
}
