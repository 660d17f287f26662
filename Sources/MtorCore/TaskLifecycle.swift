import Foundation

/// A task's life from claim to sidecar as a pure state machine: each event the executor reports returns the next `Action`.
///
/// The executor performs exactly the action it was given and reports its matching event; any
/// other event is a programming error and stops the process with a precondition failure that
/// names the event and the state (an ignored event would hide a task stuck in `claimed/`).
public struct TaskLifecycle: Sendable {
    private enum State: Sendable {
        case claimed
        case checkingSpec
        case containing
        case preparingWorkspace
        case running
        case requeueing(onFailure: AfterFailedRequeue)
        case reportingHealth
        case settling
        case verifying
        case backoff(next: Int)
        case reviewing(TaskResult.Status)
        case integrating(TaskResult.Status)
        case concluding(FailureClass)
        case concluded
        case requeued
    }

    /// Where the task goes when a requeue fails: it cannot stay unowned in `claimed/`.
    private enum AfterFailedRequeue: Sendable {
        case reportHealth, review, cancelBackoff
    }

    private var state = State.claimed
    private var plan = Plan(chain: [nil], retries: 0)
    private let policy: RetryPolicy
    private let holdThreshold: Double?
    private let jitter: @Sendable () -> Double
    /// Every attempt so far, the prior ones (from earlier claims) first.
    public private(set) var attempts: [TaskResult.Attempt]
    /// The verdict the task would end with now.
    public private(set) var verdict = Verdict(.unknown, "no attempt was made")
    /// The index in the chain of the provider the current (or last) attempt ran on.
    public private(set) var target = 0

    /// A task that has `attempts` from earlier claims; `holdThreshold` is the shortest provider reset that holds
    /// the provider and requeues the task for free (nil: no provider health is kept, so nothing is held).
    public init(attempts: [TaskResult.Attempt] = [], policy: RetryPolicy = RetryPolicy(), holdThreshold: Double? = nil,
                jitter: @escaping @Sendable () -> Double = { Double.random(in: 0...1) }) {
        self.attempts = attempts
        self.policy = policy
        self.holdThreshold = holdThreshold
        self.jitter = jitter
    }

    // MARK: - Before the first attempt

    /// The task was claimed, with an outcome already decided or none.
    public mutating func start(_ preset: Preset?) -> Action {
        guard case .claimed = state else { illegal("start") }
        switch preset {
        case nil:
            state = .checkingSpec
            return .checkSpec
        case .cancelled:
            return conclude(.cancelled, Verdict(.cancelled, "cancelled by a user before it ran"), spec: .asClaimed)
        case .tooLarge(let size):
            return conclude(.failed, Verdict(.specInvalid, "the spec is \(size) bytes; the limit is 1 MiB (\(Spec.maxBytes) bytes)",
                                             hint: "put large context in the repository and refer to it from the spec"), spec: .fileName)
        case .interruptedTooOften(let all):
            attempts = all
            return conclude(.failed, Verdict(.interrupted, "the worker died during each of \(all.count) attempts; giving up",
                                             hint: "read the worker's own log (journalctl -u mtor-worker) for why it died"), spec: .fileName)
        case .refused(let cls, let reason, let hint):
            return conclude(.failed, Verdict(cls, reason, hint: hint), spec: .asReceived, note: "refused before it ran: \(reason)")
        }
    }

    /// The spec passed its checks; `plan` is what it fixes for the task's life.
    public mutating func specChecked(_ plan: Plan) -> Action {
        guard case .checkingSpec = state else { illegal("specChecked") }
        self.plan = plan
        target = plan.chain.firstIndex { $0 != nil && $0 == plan.startProvider } ?? 0
        state = .containing
        return .contain
    }

    /// The spec failed a check (`mtor validate` runs the same ones).
    public mutating func specRefused(_ cls: FailureClass, reason: String) -> Action {
        guard case .checkingSpec = state else { illegal("specRefused") }
        let hint = cls == .workdirMissing ? "clone the repository on the worker or fix 'repo:'" : "fix the spec; `mtor validate` runs the same checks"
        return conclude(.failed, Verdict(cls, reason, hint: hint), spec: .asReceived, note: "spec refused: \(reason)")
    }

    /// `base: after` names no branch to start from.
    public mutating func baseFailed(reason: String, hint: String) -> Action {
        guard case .checkingSpec = state else { illegal("baseFailed") }
        return conclude(.failed, Verdict(.setupFailed, reason, hint: hint), spec: .checked, note: "base: after: \(reason)")
    }

    /// The containment holds (with its memory cap, if one was asked for).
    public mutating func contained() -> Action {
        guard case .containing = state else { illegal("contained") }
        state = .preparingWorkspace
        return .prepareWorkspace
    }

    /// The memory cap `asked` (the spec's or the worker's) could not be set, for the reason `error`.
    public mutating func memoryCapFailed(asked: String, error: String) -> Action {
        guard case .containing = state else { illegal("memoryCapFailed") }
        return conclude(.failed, Verdict(.specInvalid, "\(asked), but \(error)",
                                         hint: "remove 'memory:' from the spec, or run it on a worker whose start line says it has memory caps"),
                        spec: .checked, note: "memory cap: \(error)")
    }

    /// The workspace is ready for the agent.
    public mutating func workspaceReady() -> Action {
        guard case .preparingWorkspace = state else { illegal("workspaceReady") }
        return runAttempt()
    }

    /// The workspace could not be prepared.
    public mutating func workspaceFailed(reason: String, hint: String) -> Action {
        guard case .preparingWorkspace = state else { illegal("workspaceFailed") }
        return conclude(.failed, Verdict(.setupFailed, reason, hint: hint), spec: .checked, note: "workspace: \(reason)")
    }

    // MARK: - Attempts

    /// An attempt ended with `verdict` (already in `attempt`).
    public mutating func attemptEnded(_ attempt: TaskResult.Attempt, verdict: Verdict) -> Action {
        guard case .running = state else { illegal("attemptEnded") }
        attempts.append(attempt)
        self.verdict = verdict
        // A reset the provider named holds the whole provider; the task waits in inbox/ without spending the attempt.
        if verdict.failureClass == .rateLimited, let reset = verdict.retryAfter, let holdThreshold, reset >= holdThreshold,
           let provider = attempt.provider {
            state = .requeueing(onFailure: .reportHealth)
            return .requeue(Array(attempts.dropLast()), .rateLimitHold(provider: provider, verdict: verdict))
        }
        return reportHealth()
    }

    /// Provider health knows how the attempt ended.
    public mutating func healthReported() -> Action {
        guard case .reportingHealth = state else { illegal("healthReported") }
        return afterHealth()
    }

    /// The workspace settled: `missing` says what evidence the spec expected and did not get.
    public mutating func evidenceSettled(missing: String?) -> Action {
        guard case .settling = state else { illegal("evidenceSettled") }
        if let missing {
            verdict = Verdict(.noChanges, missing,
                              hint: "make sure the prompt asks for a change the agent can make; for questions and reviews use 'expect: answer'")
            amendLastAttempt(.noChanges, retryable: true)
        }
        guard verdict.failureClass == .ok, plan.verifies else { return decide() }
        state = .verifying
        return .verify
    }

    /// `verify: command` exited `exitCode` (nil: it did not finish); `oomCap` is the memory cap it was OOM-killed at.
    public mutating func verifyFinished(command: String, exitCode: Int32?, oomCap: Int64? = nil) -> Action {
        guard case .verifying = state else { illegal("verifyFinished") }
        if exitCode != 0 {
            let oom = oomCap.map { " — a process of it was killed by the kernel's out-of-memory killer at the \(ByteSize.format($0)) cap "
                + "('memory:')" } ?? ""
            verdict = Verdict(.verifyFailed,
                              "the agent exited 0 but 'verify: \(command)' \(exitCode.map { "exited \($0)" } ?? "did not finish")\(oom)",
                              hint: "read the verify output tail in the sidecar or the task log")
            amendLastAttempt(.verifyFailed, retryable: nil)
        }
        return decide()
    }

    // MARK: - Backoff and requeue

    /// The backoff ran out: the next attempt starts.
    public mutating func backoffFinished() -> Action {
        guard case .backoff(let next) = state else { illegal("backoffFinished") }
        target = next
        return runAttempt()
    }

    /// A user cancelled the task while it waited to retry.
    public mutating func backoffCancelled() -> Action {
        guard case .backoff = state else { illegal("backoffCancelled") }
        return cancelBackoff()
    }

    /// The worker is stopping while the task waits to retry: it goes back to inbox/.
    public mutating func backoffShutdown() -> Action {
        guard case .backoff = state else { illegal("backoffShutdown") }
        state = .requeueing(onFailure: .cancelBackoff)
        return .requeue(attempts, .shutdownDuringBackoff)
    }

    /// The backoff ran out but the next attempt's daily budget is spent (`reason`): the task goes back to
    /// inbox/ with its attempts and waits there, held, for the next UTC day. If that fails it ends as it stands.
    public mutating func backoffHeld(reason: String) -> Action {
        guard case .backoff = state else { illegal("backoffHeld") }
        state = .requeueing(onFailure: .review)
        return .requeue(attempts, .budgetHold(reason))
    }

    /// The spec is back in inbox/: this claim is over.
    public mutating func requeued() -> Action {
        guard case .requeueing = state else { illegal("requeued") }
        state = .requeued
        return .end(nil)
    }

    /// The spec could not be put back: the task goes on as if no requeue had been asked for.
    public mutating func requeueFailed() -> Action {
        guard case .requeueing(let then) = state else { illegal("requeueFailed") }
        switch then {
        case .reportHealth: return reportHealth()
        case .review: return review()
        case .cancelBackoff: return cancelBackoff()
        }
    }

    // MARK: - The end

    /// The branch was reviewed: `branch` is the task's own (nil when it worked in place), `hasCommits` whether it has commits of its own.
    public mutating func reviewed(branch: String?, hasCommits: Bool) -> Action {
        guard case .reviewing(let status) = state else { illegal("reviewed") }
        guard status == .succeeded, plan.integrates, let branch else { return conclude(status, verdict) }
        guard hasCommits else { return conclude(status, verdict, integratedReason: "nothing to integrate: \(branch) has no commit of its own") }
        state = .integrating(status)
        return .integrate
    }

    /// The branch was integrated (or the attempt to was recorded).
    public mutating func integrated() -> Action {
        guard case .integrating(let status) = state else { illegal("integrated") }
        return conclude(status, verdict)
    }

    /// The sidecar is written and the spec moved.
    public mutating func concluded() -> Action {
        guard case .concluding(let cls) = state else { illegal("concluded") }
        state = .concluded
        return .end(cls)
    }

    // MARK: - Helpers

    private mutating func reportHealth() -> Action {
        guard let provider = attempts.last?.provider else { return afterHealth() }
        state = .reportingHealth
        return .reportHealth(provider: provider, verdict: verdict, hung: namedByTriage)
    }

    /// Whether the last attempt was stopped because a direct check found its provider hung or refusing.
    private var namedByTriage: Bool { attempts.last?.stoppedBy == AttemptEvidence.Stop.silence.rawValue }

    private mutating func afterHealth() -> Action {
        switch verdict.failureClass {
        case .interrupted:
            // The worker is stopping: requeue while the attempts (retries, plus one per fallback) allow another.
            guard attempts.count < 1 + plan.retries + plan.chain.count - 1 else { return review() }
            state = .requeueing(onFailure: .review)
            return .requeue(attempts, .workerStopping)
        case .ok:
            state = .settling
            return .settle
        default:
            return decide()
        }
    }

    private mutating func decide() -> Action {
        // Only the newest attempt's reset time matters to the next delay.
        let history = attempts.enumerated().map { i, a in
            (provider: a.provider, failureClass: a.class, retryAfter: i == attempts.count - 1 ? verdict.retryAfter : nil)
        }
        var decision = policy.decide(history: history, chain: plan.chain, retries: plan.retries, jitter: jitter())
        let current = plan.chain[target]
        if namedByTriage, case .retry(let provider, _) = decision, provider == current {
            // Never again on a provider a direct check just found hung: its fallback, or the end.
            let later = plan.chain.drop { $0 != current }.dropFirst().first { $0 != current }
            decision = later.map { .retry(provider: $0, after: 0) } ?? .finish
        }
        guard case .retry(let provider, let after) = decision else { return review() }
        let next = plan.chain.firstIndex { $0 == provider } ?? target
        state = .backoff(next: next)
        return .backoff(after: after, target: next)
    }

    private mutating func cancelBackoff() -> Action {
        verdict = Verdict(.cancelled, "cancelled by a user while waiting to retry after \(verdict.failureClass.rawValue)")
        return review()
    }

    private mutating func review() -> Action {
        let status = Self.status(verdict.failureClass)
        state = .reviewing(status)
        return .review(status)
    }

    private mutating func amendLastAttempt(_ cls: FailureClass, retryable: Bool?) {
        attempts[attempts.count - 1].class = cls
        attempts[attempts.count - 1].reason = verdict.reason
        if let retryable { attempts[attempts.count - 1].retryable = retryable }
    }

    private mutating func runAttempt() -> Action {
        state = .running
        return .runAttempt(n: attempts.count + 1, target: target)
    }

    private mutating func conclude(_ status: TaskResult.Status, _ verdict: Verdict, spec: SpecRecord = .checked, note: String? = nil,
                           integratedReason: String? = nil) -> Action {
        self.verdict = verdict
        state = .concluding(verdict.failureClass)
        return .conclude(Conclusion(status: status, verdict: verdict, attempts: attempts, spec: spec, note: note, integratedReason: integratedReason))
    }

    private func illegal(_ event: String) -> Never {
        preconditionFailure("TaskLifecycle: '\(event)' cannot happen in state \(state)")
    }
}
