import Foundation
import Testing
@testable import MtorCore

typealias AttemptRecord = (provider: String?, failureClass: FailureClass, retryAfter: Double?)

/// Runs attempts until the policy says finish, each failing with `outcome(provider)`; returns the providers tried.
func simulate(_ policy: RetryPolicy = RetryPolicy(), chain: [String?], retries: Int,
              outcome: (String?) -> (FailureClass, Double?)) -> (providers: [String?], delays: [Double]) {
    var history: [AttemptRecord] = []
    var provider = chain.first ?? nil
    var delays: [Double] = []
    for _ in 0..<50 {
        let (cls, after) = outcome(provider)
        history.append((provider, cls, after))
        switch policy.decide(history: history, chain: chain, retries: retries) {
        case .finish:
            return (history.map(\.provider), delays)
        case .retry(let next, let after):
            provider = next
            delays.append(after)
        }
    }
    Issue.record("the policy never finished")
    return (history.map(\.provider), delays)
}

@Suite("Retry policy")
struct RetryPolicyTests {
    let chain: [String?] = ["zhipu", "infini", "volcano"]

    @Test("never-retried classes finish after one attempt, even with fallbacks", arguments: [
        FailureClass.harnessUsage, .harnessMissing, .specInvalid, .workdirMissing, .timedOut, .agentFailed, .verifyFailed,
        .cancelled, .internalError, .setupFailed, .dependencyFailed,
    ])
    func finishAtOnce(_ cls: FailureClass) {
        let run = simulate(chain: chain, retries: 5) { _ in (cls, nil) }
        #expect(run.providers == ["zhipu"])
    }

    @Test("ok and an empty history finish")
    func ok() {
        let p = RetryPolicy()
        #expect(p.decide(history: [("zhipu", .ok, nil)], chain: chain, retries: 2) == .finish)
        #expect(p.decide(history: [], chain: chain, retries: 2) == .finish)
    }

    @Test("rate_limited is retried on the same provider up to `retries` times", arguments: 0...5)
    func rateLimited(_ retries: Int) {
        let run = simulate(chain: ["zhipu"], retries: retries) { _ in (.rateLimited, nil) }
        #expect(run.providers == Array(repeating: "zhipu", count: 1 + retries))
    }

    @Test("stalled is retried once", arguments: 1...5)
    func stalled(_ retries: Int) {
        let run = simulate(chain: chain, retries: retries) { _ in (.stalled, nil) }
        #expect(run.providers == ["zhipu", "zhipu"])
    }

    @Test("unknown is retried at most once", arguments: 0...5)
    func unknown(_ retries: Int) {
        let run = simulate(chain: chain, retries: retries) { _ in (.unknown, nil) }
        #expect(run.providers == (retries == 0 ? ["zhipu"] : ["zhipu", "zhipu"]))
    }

    @Test("no_changes is retried at most once, on the same provider, never handed to a fallback", arguments: 0...5)
    func noChanges(_ retries: Int) {
        let run = simulate(chain: chain, retries: retries) { _ in (.noChanges, nil) }
        #expect(run.providers == (retries == 0 ? ["zhipu"] : ["zhipu", "zhipu"]))
    }

    @Test("no_changes after a rate-limited attempt: still at most one retry of its own")
    func noChangesAfterOthers() {
        let run = simulate(chain: ["zhipu"], retries: 3) { _ in (.noChanges, nil) }
        #expect(run.providers.count == 2)
        var n = 0
        let mixed = simulate(chain: ["zhipu"], retries: 3) { _ in
            n += 1
            return n == 1 ? (.rateLimited, nil) : (.noChanges, nil)
        }
        #expect(mixed.providers.count == 3, "one rate-limit retry, then no_changes retried once")
    }

    @Test("with retries: 0 nothing is retried on the same provider", arguments: [FailureClass.stalled, .unknown, .rateLimited, .providerUnavailable])
    func noRetries(_ cls: FailureClass) {
        let run = simulate(chain: ["zhipu"], retries: 0) { _ in (cls, nil) }
        #expect(run.providers == ["zhipu"])
    }

    @Test("auth_failed and quota_exhausted move to the next fallback at once", arguments: [FailureClass.authFailed, .quotaExhausted])
    func fallbackAtOnce(_ cls: FailureClass) {
        let p = RetryPolicy()
        #expect(p.decide(history: [("zhipu", cls, nil)], chain: chain, retries: 2) == .retry(provider: "infini", after: 0))
        let run = simulate(chain: chain, retries: 2) { _ in (cls, nil) }
        #expect(run.providers == ["zhipu", "infini", "volcano"])
        #expect(run.delays == [0, 0])
    }

    @Test("auth_failed with no fallback finishes")
    func authNoFallback() {
        let run = simulate(chain: ["zhipu"], retries: 5) { _ in (.authFailed, nil) }
        #expect(run.providers == ["zhipu"])
    }

    @Test("a fallback that works ends the chain")
    func fallbackSucceeds() {
        let run = simulate(chain: chain, retries: 2) { $0 == "zhipu" ? (.authFailed, nil) : (.ok, nil) }
        #expect(run.providers == ["zhipu", "infini"])
    }

    @Test("provider_unavailable exhausts the retries on the provider, then falls back")
    func unavailableThenFallback() {
        let run = simulate(chain: ["zhipu", "infini"], retries: 2) { $0 == "zhipu" ? (.providerUnavailable, nil) : (.ok, nil) }
        #expect(run.providers == ["zhipu", "zhipu", "zhipu", "infini"])
        #expect(run.delays.count == 3)
        #expect(run.delays.last == 0)
        #expect(run.delays[0] < run.delays[1])
    }

    @Test("a provider already tried is not tried again")
    func noRevisit() {
        let p = RetryPolicy()
        let history: [AttemptRecord] = [("zhipu", .authFailed, nil), ("infini", .authFailed, nil)]
        #expect(p.decide(history: history, chain: ["zhipu", "infini", "zhipu"], retries: 2) == .finish)
    }

    @Test("a default (nil) provider falls back to a named one")
    func nilProvider() {
        #expect(RetryPolicy().decide(history: [(nil, .quotaExhausted, nil)], chain: [nil, "infini"], retries: 2) == .retry(provider: "infini", after: 0))
    }

    @Test("the delay grows exponentially with the attempt")
    func grows() {
        let p = RetryPolicy(baseDelay: 2, maxDelay: 300)
        let delays = (1...6).map { p.delay(attempt: $0, requested: nil, jitter: 0.5) }
        #expect(delays == [2, 4, 8, 16, 32, 64])
        #expect(p.delay(attempt: 0, requested: nil, jitter: 0.5) == 2)
        let run = simulate(chain: ["zhipu"], retries: 5) { _ in (.rateLimited, nil) }
        #expect(run.delays.count == 5)
        #expect(zip(run.delays, run.delays.dropFirst()).allSatisfy { $0 < $1 })
    }

    @Test("jitter stays within ±20% of the backoff", arguments: [0.0, 0.25, 0.5, 0.75, 1.0, -3, 7])
    func jitter(_ j: Double) {
        let d = RetryPolicy(baseDelay: 2, maxDelay: 300).delay(attempt: 3, requested: nil, jitter: j)
        #expect(d >= 8 * 0.8 - 1e-9 && d <= 8 * 1.2 + 1e-9)
    }

    @Test("the delay is capped at maxDelay whatever the attempt and jitter", arguments: [9, 10, 20, 64, 1000])
    func capped(_ attempt: Int) {
        let p = RetryPolicy(baseDelay: 2, maxDelay: 300)
        for j in [0.0, 0.5, 1.0] {
            let d = p.delay(attempt: attempt, requested: nil, jitter: j)
            #expect(d <= 300, "attempt \(attempt) jitter \(j) gave \(d)")
            #expect(d >= 240)
        }
    }

    @Test("a requested retryAfter is honoured, up to an hour")
    func requested() {
        let p = RetryPolicy(baseDelay: 2, maxDelay: 300)
        #expect(p.delay(attempt: 1, requested: 30, jitter: 0.5) == 30)
        #expect(p.delay(attempt: 1, requested: 600, jitter: 0.5) == 600)
        #expect(p.delay(attempt: 4, requested: 1, jitter: 0.5) == 16)
        #expect(p.delay(attempt: 1, requested: 7200, jitter: 0.5) == 3600)
        #expect(p.delay(attempt: 1, requested: 0, jitter: 0.5) == 2)
        #expect(p.decide(history: [("zhipu", .rateLimited, 45)], chain: ["zhipu"], retries: 2) == .retry(provider: "zhipu", after: 45))
    }

    static let now = ISO8601DateFormatter().date(from: "2026-11-21T10:14:00Z")!

    @Test("resetDelay reads the wait a provider asks for", arguments: [
        ("Retry-After: 30", 30.0),
        ("HTTP 429 Too Many Requests\nretry-after: 7\n", 7),
        ("rate limited; retry after 20s", 20),
        ("Rate limit reached. Please try again in 1s.", 1),
        ("Please try again in 1.5s", 1.5),
        ("Please try again in 6m0s.", 360),
        ("quota resets in 5m", 300),
        ("try again in 5 minutes", 300),
        ("Retry after 2 hours.", 7200),
        ("limit reached, reset at 2026-11-21T10:15:00Z", 60),
        ("limit reached (reset at 2026-11-21T10:15:00Z).", 60),
        ("usage limit reached, resets at 2026-11-21T10:16:30.500Z", 150.5),
        ("reset at 2026-11-21T09:00:00Z", 0),
        ("resets at 1795256130", 90),
    ])
    func resetDelay(_ text: String, _ seconds: Double) {
        #expect(RetryPolicy.resetDelay(in: text, now: Self.now) == seconds)
    }

    @Test("resetDelay is nil when no wait is named", arguments: [
        "", "API Error: 429 rate_limit_error", "retry after a while", "reset at some point", "Retry-After: soon",
    ])
    func noResetDelay(_ text: String) {
        #expect(RetryPolicy.resetDelay(in: text, now: Self.now) == nil)
    }

    @Test("resetDelay survives text whose lowercase form has a different length")
    func unicodeText() {
        let text = String(repeating: "\u{130}", count: 40) + " reset at 2026-11-21T10:15:00Z"
        #expect(RetryPolicy.resetDelay(in: text, now: Self.now) == 60)
    }
}

@Suite("Failure classes")
struct FailureClassTests {
    @Test("raw values are the contract's class names")
    func rawValues() {
        #expect(FailureClass.allCases.map(\.rawValue) == [
            "ok", "spec_invalid", "workdir_missing", "harness_missing", "harness_usage", "auth_failed", "quota_exhausted",
            "rate_limited", "provider_unavailable", "stalled", "timed_out", "agent_failed", "verify_failed", "cancelled",
            "interrupted", "unknown", "internal_error", "no_changes", "setup_failed", "out_of_memory", "dependency_failed", "duplicate",
            "budget_exceeded",
        ])
    }

    @Test("which classes are transient and which move to a fallback")
    func flags() {
        #expect(Set(FailureClass.allCases.filter(\.isTransient)) == [.rateLimited, .providerUnavailable, .stalled, .unknown, .interrupted, .noChanges])
        #expect(Set(FailureClass.allCases.filter(\.movesToFallback)) == [.authFailed, .quotaExhausted, .rateLimited, .providerUnavailable])
    }
}

@Suite("The worker-wide retry budget")
struct RetryBudgetTests {
    @Test("retries scheduled at one instant get successive slots: never more than the cap in any minute")
    func burst() {
        var budget = RetryBudget(perMinute: 3)
        let starts = (0..<7).map { _ in budget.reserve(now: 100, earliest: 100) }
        #expect(starts == [100, 100, 100, 160, 160, 160, 220])
        for s in starts {
            #expect(starts.filter { $0 > s - 60 && $0 <= s }.count <= 3)
        }
    }

    @Test("a requested delay is honoured and counts in the window it lands in")
    func requestedDelay() {
        var budget = RetryBudget(perMinute: 2)
        #expect(budget.reserve(now: 0, earliest: 30) == 30)
        #expect(budget.reserve(now: 0, earliest: 0) == 0)
        // Both slots of the window ending at 45 are taken (0 and 30): the next start is 60.
        #expect(budget.reserve(now: 0, earliest: 45) == 60)
        // Window (30, 90] holds 60 only: 90 is free.
        #expect(budget.reserve(now: 0, earliest: 90) == 90)
    }

    @Test("old reservations expire: a quiet minute restores the whole budget")
    func expiry() {
        var budget = RetryBudget(perMinute: 2)
        _ = budget.reserve(now: 0, earliest: 0)
        _ = budget.reserve(now: 0, earliest: 0)
        #expect(budget.reserve(now: 61, earliest: 61) == 61)
        #expect(budget.reserve(now: 61, earliest: 61) == 61)
        #expect(budget.reserve(now: 61, earliest: 61) == 121)
    }

    @Test("a retry asked for sooner than one already reserved may not overfill that one's window")
    func earlierThanReserved() {
        var budget = RetryBudget(perMinute: 1)
        #expect(budget.reserve(now: 0, earliest: 2.5) == 2.5)
        // 1.1 would put two starts in (−57.5, 2.5]: the next free start is 2.5 + 60.
        #expect(budget.reserve(now: 0.1, earliest: 1.1) == 62.5)
        var three = RetryBudget(perMinute: 3)
        let starts = [30.0, 5, 40, 0, 10, 20, 35].map { three.reserve(now: 0, earliest: $0) }
        let all = starts.sorted()
        for e in all {
            #expect(all.filter { $0 > e - 60 && $0 <= e }.count <= 3, "window ending at \(e): \(all)")
        }
        #expect(starts == [30, 5, 40, 65, 90, 100, 125])
    }

    @Test("a cap below one is treated as one, never as a spin")
    func floor() {
        var budget = RetryBudget(perMinute: 0)
        #expect(budget.reserve(now: 0, earliest: 0) == 0)
        #expect(budget.reserve(now: 0, earliest: 0) == 60)
    }
}
