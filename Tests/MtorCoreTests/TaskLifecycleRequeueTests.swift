import Foundation
import Testing
@testable import MtorCore

@Suite("Task lifecycle: holds, requeues, backoff and triage")
struct TaskLifecycleRequeueTests {
    let two = TaskLifecycle.Plan(chain: ["a", "b"], retries: 1)

    @Test("a provider reset at or past the threshold holds the provider and requeues without the attempt", arguments: [30.0, 600])
    func hold(_ reset: Double) {
        var (m, _) = running(two, prior: [attempt(1, "a", .interrupted)])
        let verdict = Verdict(.rateLimited, "429", retryAfter: reset)
        let action = m.attemptEnded(attempt(2, "a", .rateLimited), verdict: verdict)
        #expect(action == .requeue([attempt(1, "a", .interrupted)], .rateLimitHold(provider: "a", verdict: verdict)))
        #expect(m.requeued() == .end(nil))
    }

    @Test("a short reset, or no provider health, is an ordinary retry", arguments: [(29.0, 30.0), (600, nil)] as [(Double, Double?)])
    func noHold(_ reset: Double, threshold: Double?) {
        var (m, _) = running(two, holdThreshold: threshold)
        let action = m.attemptEnded(attempt(1, "a", .rateLimited), verdict: Verdict(.rateLimited, "429", retryAfter: reset))
        #expect(action == .reportHealth(provider: "a", verdict: Verdict(.rateLimited, "429", retryAfter: reset), hung: false))
        guard case .backoff(let after, let target) = m.healthReported() else { Issue.record("not retried"); return }
        #expect(after >= reset && target == 0)
    }

    @Test("a harness without a provider has nothing to hold: a long reset is an ordinary retry")
    func noProviderNoHold() {
        let plan = TaskLifecycle.Plan(chain: [nil], retries: 1)
        var (m, _) = running(plan)
        guard case .backoff(let after, _) = m.attemptEnded(attempt(1, nil, .rateLimited), verdict: Verdict(.rateLimited, "429", retryAfter: 600)) else {
            Issue.record("not retried"); return
        }
        #expect(after == 600)
    }

    @Test("a hold whose requeue fails reports health and goes on to the retry decision")
    func holdRequeueFails() {
        var (m, _) = running(two)
        let verdict = Verdict(.rateLimited, "429", retryAfter: 120)
        _ = m.attemptEnded(attempt(1, "a", .rateLimited), verdict: verdict)
        #expect(m.requeueFailed() == .reportHealth(provider: "a", verdict: verdict, hung: false))
        guard case .backoff = m.healthReported() else { Issue.record("no retry"); return }
        #expect(m.attempts.count == 1)
    }

    @Test("an interrupted attempt requeues while retries plus fallbacks allow another", arguments: [
        // (retries, chain, attempts before this one, requeued)
        (0, 1, 0, false), (1, 1, 0, true), (1, 1, 1, false), (0, 2, 0, true), (0, 2, 1, false), (2, 3, 3, true), (2, 3, 4, false),
    ])
    func interrupted(_ retries: Int, chain: Int, prior: Int, requeued: Bool) {
        let plan = TaskLifecycle.Plan(chain: (0..<chain).map { "p\($0)" }, retries: retries)
        var (m, _) = running(plan, prior: (0..<prior).map { attempt($0 + 1, "p0", .interrupted) })
        let action = end(&m, plan, .interrupted, target: 0)
        if requeued {
            #expect(action == .requeue(m.attempts, .workerStopping) && m.requeued() == .end(nil))
        } else {
            #expect(action == .review(.failed))
        }
    }

    @Test("an interrupted task whose requeue fails concludes interrupted")
    func interruptedRequeueFails() {
        let plan = TaskLifecycle.Plan(chain: ["a"], retries: 2)
        var (m, _) = running(plan)
        guard case .requeue = end(&m, plan, .interrupted, target: 0) else { Issue.record("no requeue"); return }
        #expect(m.requeueFailed() == .review(.failed))
        #expect(m.reviewed(branch: nil, hasCommits: false) == .conclude(.init(status: .failed, verdict: Verdict(.interrupted, "interrupted"),
                                                                                  attempts: m.attempts, spec: .checked)))
    }

    @Test("a provider triage found hung is never retried: its fallback runs, or the task ends", arguments: [
        (["a", "b"], true, TaskLifecycle.Action.backoff(after: 0, target: 1)),
        (["a"], true, .review(.failed)),
        (["a", "a"], true, .review(.failed)),
    ] as [([String?], Bool, TaskLifecycle.Action)])
    func triageOverride(_ chain: [String?], _ silence: Bool, expected: TaskLifecycle.Action) {
        let plan = TaskLifecycle.Plan(chain: chain, retries: 2)
        var (m, _) = running(plan)
        #expect(end(&m, plan, .providerUnavailable, target: 0, stoppedBy: .silence) == expected)
    }

    @Test("without triage the same failure retries on the same provider")
    func noTriageRetriesSame() {
        let plan = TaskLifecycle.Plan(chain: ["a"], retries: 2)
        var (m, _) = running(plan)
        guard case .backoff(let after, let target) = end(&m, plan, .providerUnavailable, target: 0, stoppedBy: .stall) else {
            Issue.record("not retried"); return
        }
        #expect(after > 0 && target == 0)
    }

    @Test("a cancel during backoff ends the task cancelled, naming the class it waited after")
    func cancelledInBackoff() {
        let plan = TaskLifecycle.Plan(chain: ["a"], retries: 2)
        var (m, _) = running(plan)
        _ = end(&m, plan, .stalled, target: 0)
        #expect(m.backoffCancelled() == .review(.cancelled))
        #expect(m.verdict == Verdict(.cancelled, "cancelled by a user while waiting to retry after stalled"))
        #expect(m.reviewed(branch: "mtor/t", hasCommits: true) != .integrate)
    }

    @Test("a shutdown during backoff requeues every attempt; if that fails, the task ends cancelled")
    func shutdownInBackoff() {
        let plan = TaskLifecycle.Plan(chain: ["a"], retries: 2)
        var (m, _) = running(plan)
        _ = end(&m, plan, .stalled, target: 0)
        var failing = m
        #expect(m.backoffShutdown() == .requeue(m.attempts, .shutdownDuringBackoff))
        #expect(m.requeued() == .end(nil))
        _ = failing.backoffShutdown()
        #expect(failing.requeueFailed() == .review(.cancelled) && failing.verdict.failureClass == .cancelled)
    }

    @Test("a spent daily budget after backoff requeues every attempt to wait in inbox/; if that fails, the task ends as it stands")
    func budgetHeldAfterBackoff() {
        let plan = TaskLifecycle.Plan(chain: ["a"], retries: 2)
        var (m, _) = running(plan)
        _ = end(&m, plan, .stalled, target: 0)
        var failing = m
        #expect(m.backoffHeld(reason: "spent") == .requeue(m.attempts, .budgetHold("spent")))
        #expect(m.requeued() == .end(nil))
        _ = failing.backoffHeld(reason: "spent")
        #expect(failing.requeueFailed() == .review(.failed) && failing.verdict.failureClass == .stalled)
    }

    @Test("retries run until the policy finishes, numbering attempts on")
    func retriesToTheEnd() {
        let plan = TaskLifecycle.Plan(chain: ["a"], retries: 2)
        var (m, first) = running(plan)
        var runs = [first]
        while case .backoff = end(&m, plan, .stalled, target: 0) { runs.append(m.backoffFinished()) }
        #expect(runs == [.runAttempt(n: 1, target: 0), .runAttempt(n: 2, target: 0)])
        #expect(m.attempts.map(\.class) == [.stalled, .stalled])
    }
}
