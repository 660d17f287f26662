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
        let jittered = exponential * (0.8 + 0.4 * min(max(jitter, 0), 1))
        if let requested, requested > 0 { return max(min(requested, maxHonouredReset), jittered) }
        return jittered
    }

    /// Seconds until the reset time a provider's error text names (`Retry-After: 30`,
    /// `retry after 20s`, `reset at 2026-11-21T10:15:00Z`, `resets in 5m`).
    public static func resetDelay(in text: String, now: Date = Date()) -> Double? {
        let lower = text.lowercased()
        for marker in ["retry-after:", "retry after", "try again in", "resets in", "reset in"] {
            if let range = lower.range(of: marker) {
                let rest = lower[range.upperBound...].trimmingCharacters(in: .whitespaces)
                let token = rest.prefix { $0.isNumber || $0 == "." || "smhd".contains($0) }
                if let seconds = DurationText.parse(String(token)) { return seconds }
            }
        }
        if let range = lower.range(of: "reset at") ?? lower.range(of: "resets at") {
            let rest = text[range.upperBound...].trimmingCharacters(in: .whitespaces)
            let token = String(rest.prefix { !$0.isWhitespace && $0 != "," && $0 != ")" && $0 != "\"" })
            if let date = ISO8601DateFormatter().date(from: token) { return max(0, date.timeIntervalSince(now)) }
            if let epoch = Double(token) { return max(0, epoch - now.timeIntervalSince1970) }
        }
        return nil
    }
}
