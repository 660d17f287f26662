import Foundation
import Testing
@testable import MtorCore

/// An attempt on `provider` that ended with `cls` (stopped by `stoppedBy`, when the runner stopped it).
func attempt(_ n: Int, _ provider: String?, _ cls: FailureClass, stoppedBy: AttemptEvidence.Stop? = nil) -> TaskResult.Attempt {
    TaskResult.Attempt(n: n, provider: provider, harness: "claude", model: nil, startedAt: "t", endedAt: "t", durationS: 1,
                       exitCode: cls == .ok ? 0 : 1, signal: nil, stdoutBytes: 0, stderrTail: "", class: cls,
                       retryable: cls.isTransient, reason: cls.rawValue, stoppedBy: stoppedBy?.rawValue)
}

/// A machine past its spec check and workspace, about to run its first attempt.
func running(_ plan: TaskLifecycle.Plan, prior: [TaskResult.Attempt] = [], holdThreshold: Double? = 30) -> (TaskLifecycle, TaskLifecycle.Action) {
    var machine = TaskLifecycle(attempts: prior, policy: RetryPolicy(baseDelay: 2), holdThreshold: holdThreshold, jitter: { 0.5 })
    #expect(machine.start(nil) == .checkSpec)
    #expect(machine.specChecked(plan) == .contain)
    #expect(machine.contained() == .prepareWorkspace)
    let first = machine.workspaceReady()
    return (machine, first)
}

/// Ends the current attempt with `cls` on the provider of `target`, answering a health report if one comes.
func end(_ machine: inout TaskLifecycle, _ plan: TaskLifecycle.Plan, _ cls: FailureClass, target: Int,
         stoppedBy: AttemptEvidence.Stop? = nil, retryAfter: Double? = nil) -> TaskLifecycle.Action {
    let provider = plan.chain[target]
    let verdict = Verdict(cls, cls.rawValue, retryAfter: retryAfter)
    let action = machine.attemptEnded(attempt(machine.attempts.count + 1, provider, cls, stoppedBy: stoppedBy), verdict: verdict)
    guard case .reportHealth(let p, let v, let hung) = action else { return action }
    #expect(p == provider && v == verdict && hung == (stoppedBy == .silence))
    return machine.healthReported()
}

@Suite("Task lifecycle: before the first attempt")
struct TaskLifecycleStartTests {
    @Test("a preset concludes at once with its status, class, spec record and attempts", arguments: [
        (TaskLifecycle.Preset.cancelled, TaskResult.Status.cancelled, FailureClass.cancelled, TaskLifecycle.SpecRecord.asClaimed, 1),
        (.tooLarge(2 << 20), .failed, .specInvalid, .fileName, 1),
        (.interruptedTooOften([attempt(1, "a", .interrupted), attempt(2, "a", .interrupted), attempt(3, "a", .interrupted)]), .failed, .interrupted, .fileName, 3),
        (.refused(.dependencyFailed, reason: "dep failed", hint: "h"), .failed, .dependencyFailed, .asReceived, 1),
    ])
    func preset(_ preset: TaskLifecycle.Preset, status: TaskResult.Status, cls: FailureClass, spec: TaskLifecycle.SpecRecord, attempts: Int) {
        var machine = TaskLifecycle(attempts: [attempt(1, "a", .interrupted)])
        guard case .conclude(let c) = machine.start(preset) else { Issue.record("no conclusion"); return }
        #expect(c.status == status && c.verdict.failureClass == cls && c.spec == spec && c.attempts.count == attempts)
        #expect(machine.concluded() == .end(cls))
    }

    @Test("a refused preset notes why in the task log")
    func refusedNote() {
        var machine = TaskLifecycle()
        guard case .conclude(let c) = machine.start(.refused(.dependencyFailed, reason: "same as t-1", hint: "")) else { Issue.record("no conclusion"); return }
        #expect(c.note == "refused before it ran: same as t-1")
    }

    @Test("a refused spec gets the hint its class calls for", arguments: [
        (FailureClass.workdirMissing, "clone the repository on the worker or fix 'repo:'"),
        (.specInvalid, "fix the spec; `mtor validate` runs the same checks"),
    ])
    func specRefused(_ cls: FailureClass, hint: String) {
        var machine = TaskLifecycle()
        _ = machine.start(nil)
        guard case .conclude(let c) = machine.specRefused(cls, reason: "bad") else { Issue.record("no conclusion"); return }
        #expect(c.verdict == Verdict(cls, "bad", hint: hint) && c.status == .failed && c.spec == .asReceived && c.note == "spec refused: bad")
    }

    @Test("set-up failures before the agent runs conclude failed with the checked spec", arguments: [0, 1, 2])
    func setupFailures(_ which: Int) {
        var machine = TaskLifecycle()
        _ = machine.start(nil)
        let action: TaskLifecycle.Action
        switch which {
        case 0: action = machine.baseFailed(reason: "no branch", hint: "name one")
        case 1:
            _ = machine.specChecked(.init(chain: ["a"], retries: 2))
            action = machine.memoryCapFailed(asked: "the spec asks for 'memory: 1G'", error: "no memory controller")
        default:
            _ = machine.specChecked(.init(chain: ["a"], retries: 2))
            _ = machine.contained()
            action = machine.workspaceFailed(reason: "clone failed", hint: "check the repo")
        }
        guard case .conclude(let c) = action else { Issue.record("no conclusion"); return }
        #expect(c.status == .failed && c.spec == .checked && c.attempts.isEmpty)
        #expect([FailureClass.setupFailed, .specInvalid, .setupFailed][which] == c.verdict.failureClass)
        #expect(["base: after: no branch", "memory cap: no memory controller", "workspace: clone failed"][which] == c.note)
    }

    @Test("the memory cap failure says what was asked and why it cannot hold")
    func memoryCapReason() {
        var machine = TaskLifecycle()
        _ = machine.start(nil)
        _ = machine.specChecked(.init(chain: [nil], retries: 0))
        guard case .conclude(let c) = machine.memoryCapFailed(asked: "--task-memory asks for 1 GiB", error: "cgroup v1") else { Issue.record("no conclusion"); return }
        #expect(c.verdict.reason == "--task-memory asks for 1 GiB, but cgroup v1")
    }

    @Test("the first attempt runs on the start provider when it is in the chain, else on the first", arguments: [
        ("b", 1), ("zz", 0), (nil, 0),
    ] as [(String?, Int)])
    func startProvider(_ start: String?, target: Int) {
        let (machine, first) = running(.init(chain: ["a", "b"], retries: 1, startProvider: start))
        #expect(first == .runAttempt(n: 1, target: target) && machine.target == target)
    }

    @Test("attempts from earlier claims count in the attempt number")
    func priorAttempts() {
        let (_, first) = running(.init(chain: ["a"], retries: 3), prior: [attempt(1, "a", .interrupted)])
        #expect(first == .runAttempt(n: 2, target: 0))
    }
}
