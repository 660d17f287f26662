import Foundation
import Testing
@testable import MtorCore

@Suite("Task lifecycle: attempts, evidence and the end")
struct TaskLifecycleAttemptTests {
    let one = TaskLifecycle.Plan(chain: ["a"], retries: 0, verifies: false, integrates: true)

    @Test("a succeeded attempt settles, is reviewed, integrated and concludes succeeded")
    func success() {
        var (m, _) = running(one)
        #expect(end(&m, one, .ok, target: 0) == .settle)
        #expect(m.evidenceSettled(missing: nil) == .review(.succeeded))
        #expect(m.reviewed(branch: "mtor/t-1", hasCommits: true) == .integrate)
        guard case .conclude(let c) = m.integrated() else { Issue.record("no conclusion"); return }
        #expect(c.status == .succeeded && c.verdict.failureClass == .ok && c.integratedReason == nil && c.attempts.count == 1)
        #expect(m.concluded() == .end(.ok))
    }

    @Test("a branch without commits of its own has nothing to integrate")
    func nothingToIntegrate() {
        var (m, _) = running(one)
        _ = end(&m, one, .ok, target: 0)
        _ = m.evidenceSettled(missing: nil)
        guard case .conclude(let c) = m.reviewed(branch: "mtor/t-1", hasCommits: false) else { Issue.record("no conclusion"); return }
        #expect(c.integratedReason == "nothing to integrate: mtor/t-1 has no commit of its own")
    }

    @Test("only a succeeded task with a branch and 'integrate:' other than branch integrates", arguments: [
        (true, "mtor/t-1", FailureClass.ok, true),
        (false, "mtor/t-1", .ok, false),
        (true, nil, .ok, false),
        (true, "mtor/t-1", .agentFailed, false),
    ] as [(Bool, String?, FailureClass, Bool)])
    func integrateRule(_ integrates: Bool, branch: String?, cls: FailureClass, integrate: Bool) {
        let plan = TaskLifecycle.Plan(chain: ["a"], retries: 0, integrates: integrates)
        var (m, _) = running(plan)
        if end(&m, plan, cls, target: 0) == .settle { _ = m.evidenceSettled(missing: nil) }
        let action = m.reviewed(branch: branch, hasCommits: true)
        #expect((action == .integrate) == integrate)
    }

    @Test("missing evidence makes the attempt no_changes, retried while the budget allows", arguments: [(0, false), (1, true)])
    func missingEvidence(_ retries: Int, retried: Bool) {
        let plan = TaskLifecycle.Plan(chain: ["a"], retries: retries)
        var (m, _) = running(plan)
        _ = end(&m, plan, .ok, target: 0)
        let action = m.evidenceSettled(missing: "the branch has no commit")
        #expect(m.verdict.failureClass == .noChanges && m.attempts.last?.class == .noChanges)
        #expect(m.attempts.last?.reason == "the branch has no commit" && m.attempts.last?.retryable == true)
        if retried {
            guard case .backoff(_, let target) = action else { Issue.record("not retried: \(action)"); return }
            #expect(target == 0 && m.backoffFinished() == .runAttempt(n: 2, target: 0))
        } else {
            #expect(action == .review(.failed))
        }
    }

    @Test("verify runs only after evidence of success, and its failure on the last attempt ends the task")
    func verifyFailsLast() {
        let plan = TaskLifecycle.Plan(chain: ["a"], retries: 0, verifies: true)
        var (m, _) = running(plan)
        _ = end(&m, plan, .ok, target: 0)
        #expect(m.evidenceSettled(missing: nil) == .verify)
        #expect(m.verifyFinished(command: "make test", exitCode: 2) == .review(.failed))
        #expect(m.verdict.reason == "the agent exited 0 but 'verify: make test' exited 2" && m.attempts.last?.class == .verifyFailed)
        #expect(m.attempts.last?.retryable == false)
    }

    @Test("verify's verdict names a timeout and an OOM kill at the cap", arguments: [
        (nil, nil, "the agent exited 0 but 'verify: t' did not finish"),
        (137, 1 << 30, "the agent exited 0 but 'verify: t' exited 137 — a process of it was killed by the kernel's out-of-memory killer at the 1 GiB cap ('memory:')"),
    ] as [(Int32?, Int64?, String)])
    func verifyReason(_ code: Int32?, oomCap: Int64?, reason: String) {
        let plan = TaskLifecycle.Plan(chain: ["a"], retries: 0, verifies: true)
        var (m, _) = running(plan)
        _ = end(&m, plan, .ok, target: 0)
        _ = m.evidenceSettled(missing: nil)
        _ = m.verifyFinished(command: "t", exitCode: code, oomCap: oomCap)
        #expect(m.verdict.reason == reason)
    }

    @Test("a passing verify keeps the success")
    func verifyPasses() {
        let plan = TaskLifecycle.Plan(chain: ["a"], retries: 0, verifies: true)
        var (m, _) = running(plan)
        _ = end(&m, plan, .ok, target: 0)
        _ = m.evidenceSettled(missing: nil)
        #expect(m.verifyFinished(command: "true", exitCode: 0) == .review(.succeeded))
    }

    @Test("missing evidence skips verify")
    func noVerifyWithoutEvidence() {
        let plan = TaskLifecycle.Plan(chain: ["a"], retries: 0, verifies: true)
        var (m, _) = running(plan)
        _ = end(&m, plan, .ok, target: 0)
        #expect(m.evidenceSettled(missing: "no commit") == .review(.failed))
    }

    @Test("the status follows the final class", arguments: [
        (FailureClass.ok, TaskResult.Status.succeeded), (.cancelled, .cancelled), (.interrupted, .failed), (.noChanges, .failed), (.unknown, .failed),
    ])
    func status(_ cls: FailureClass, status: TaskResult.Status) {
        #expect(TaskLifecycle.status(cls) == status)
    }

    @Test("an attempt without a provider reports no health")
    func noProviderNoHealth() {
        let plan = TaskLifecycle.Plan(chain: [nil], retries: 0)
        var (m, _) = running(plan)
        #expect(m.attemptEnded(attempt(1, nil, .agentFailed), verdict: Verdict(.agentFailed, "x")) == .review(.failed))
    }

    @Test("a deterministic failure moves to the next provider at once")
    func fallback() {
        let plan = TaskLifecycle.Plan(chain: ["a", "b"], retries: 0)
        var (m, _) = running(plan)
        #expect(end(&m, plan, .authFailed, target: 0) == .backoff(after: 0, target: 1))
        #expect(m.backoffFinished() == .runAttempt(n: 2, target: 1))
        #expect(end(&m, plan, .authFailed, target: 1) == .review(.failed))
    }
}
