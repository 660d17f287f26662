import Foundation
import MtorCore
import MtorPlatform

/// One claimed task from start to sidecar: the executor of `TaskLifecycle`, which decides every
/// step; this class only performs them (check, contain, prepare, run, settle, verify, back off,
/// requeue, review, integrate, conclude) and reports back what happened.
// No lock: its `var`s are touched only by the task's own thread; others reach it through `control` (locked).
final class TaskRun: @unchecked Sendable {
    /// An outcome decided before any attempt runs.
    typealias Preset = TaskLifecycle.Preset

    let id: String
    let file: String
    let bytes: [UInt8]
    /// The spec as the dispatcher parsed it from `bytes` (nil: `checkSpec` parses them): parsed once on its way to running.
    let parsed: Spec?
    let context: TaskContext
    let preset: Preset?
    /// The provider of the chain to start on (a healthy fallback when the first is not).
    let startProvider: String?
    /// The flock on the claimed spec, taken at claim time; held until the task ends.
    let claimLock: Int32?
    /// Called once the task's processes are gone and only its result is left to record (see `RunningTasks.recording`).
    var onRecording: (() -> Void)?
    let control: TaskControl
    let claimedAt = Date()

    // MARK: - What the steps gathered (each set by the step named, read by the later ones and the sidecar)

    var machine = TaskLifecycle()
    /// Opened when the task starts running.
    var log: TaskLog!
    /// The checked spec with its base resolved (checkSpec).
    var spec: Spec!
    var targets: [Settings.Target] = []
    var summary: TaskResult.SpecSummary
    /// Every process the task starts stays in it (contain).
    var box: Containment!
    /// The task's worktree, or its repo in place (prepareWorkspace).
    var workspace: Workspace!
    /// The spec as the agent sees it: its repo is the workspace (prepareWorkspace).
    var agentSpec: Spec!
    var runner: Runner!
    var claim: ClaimRecord!
    /// The newest attempt's outcome (runAttempt).
    var outcome: Runner.Outcome?
    var extras = Extras()
    var verify: TaskResult.Verify?
    var git: TaskResult.Git?
    var leftovers = 0
    var autoCommitted = false
    /// How the task's processes were contained, for the sidecar (review).
    var containmentSummary: TaskResult.Containment?
    /// What the agent, `setup:`, `verify:` and every command in its clone can see and touch
    /// (prepareWorkspace; nil under `--sandbox none`).
    var sandbox: TaskSandbox?

    /// The sidecar's parts that come from the workspace and the agent's answer.
    struct Extras {
        var setup: TaskResult.Verify?
        var review: Review?
        var answer: String?
    }

    init(id: String, file: String, bytes: [UInt8], spec parsed: Spec? = nil, context: TaskContext, preset: Preset? = nil,
         startProvider: String? = nil, claimLock: Int32? = nil) {
        self.id = id
        self.file = file
        self.bytes = bytes
        self.parsed = parsed
        self.context = context
        self.preset = preset
        self.startProvider = startProvider
        self.claimLock = claimLock
        control = TaskControl(id: id, wake: context.wake)
        summary = TaskResult.SpecSummary(file: file)
    }

    var spool: Spool { context.spool }
    var settings: Settings { context.settings }
    var options: WorkerOptions { context.options }
    var logger: Logger { context.logger }
    var cancelFile: String { "\(spool.cancel)/\(id)" }

    /// Runs the task to its end; returns the class it ended with (nil when requeued).
    func run() -> FailureClass? {
        // Held for the task's life: a worker that finds this lock free knows the owner is gone.
        let lockFD = claimLock ?? FileSystem.tryLock(spool.spec(in: spool.claimed, id))
        defer { lockFD.map(FileSystem.closeDescriptor) }
        // No process of the task outlives it, however it ends.
        defer { box?.dispose() }
        log = TaskLog(spool: spool, id: id, cap: options.logCap, redactor: settings.redactor)
        machine = TaskLifecycle(attempts: spool.priorAttempts(id), policy: RetryPolicy(baseDelay: options.backoffBase),
                                holdThreshold: context.health == nil ? nil : ProviderHealth.holdThreshold)
        var action = machine.start(preset)
        while true {
            switch action {
            case .checkSpec: action = checkSpec()
            case .contain: action = contain()
            case .prepareWorkspace: action = prepareWorkspace()
            case .runAttempt(let n, let target): action = runAttempt(n, on: targets[target])
            case .requeue(let attempts, let why): action = requeue(attempts, why)
            case .reportHealth(let provider, let verdict, let hung): action = reportHealth(provider, verdict, hung: hung)
            case .settle: action = settle()
            case .verify: action = runVerify()
            case .backoff(let after, let target): action = backoff(after, then: targets[target])
            case .review: action = review()
            case .integrate: action = integrate()
            case .conclude(let conclusion):
                conclude(conclusion)
                action = machine.concluded()
            case .end(let cls):
                // Requeued: its clone stays for the next claim, which gives it back to the pool; this one no longer has it out.
                if cls == nil, let workspace, workspace.poolCounted { context.pool?.returned(repo: spec.repo) }
                return cls
            }
        }
    }

    // MARK: - Verify

    /// Runs `command` in the agent's workspace under the task's containment, keeping the redacted tail of its output.
    func verifyCommand(_ command: String) -> TaskResult.Verify {
        let start = now()
        log.note("verify: \(command)")
        control.update { $0.phase = "verify" }
        let limit = max(60, agentSpec.timeout)
        let child: ChildProcess
        do {
            var environment = settings.baseEnvironment
            sandbox?.adjust(&environment)
            child = try ChildProcess(executable: "/bin/sh", argv: ["/bin/sh", "-c", command], environment: environment,
                                     directory: agentSpec.repo, containment: box, sandbox: sandbox?.box)
        } catch {
            return TaskResult.Verify(command: command, exitCode: nil, durationS: now() - start, outputTail: "could not start /bin/sh: \(error)")
        }
        // Output in arrival order through the redaction stream; only redacted bytes are kept and cut.
        var redaction = settings.redactor.stream()
        var tail = Tail(limit: 8000)
        let deadline = now() + limit
        var timedOut = false
        let t = child.drive(grace: 2, onOutput: { _, bytes in tail.append(redaction.feed(bytes)) }, stop: {
            if now() >= deadline { timedOut = true }
            return timedOut
        })
        tail.append(redaction.finish())
        let output = tail.text
        log.note("verify output:\n\(output)")
        let code: Int32? = timedOut ? nil : (t.exitCode ?? 128 + (t.signal ?? 0))
        log.note(code == 0 ? "attempt \(machine.attempts.count) ended: ok — the agent finished and `verify` passed"
                 : "attempt \(machine.attempts.count) ended: \(FailureClass.verifyFailed.rawValue) — "
                    + "`verify` \(code.map { "exited \($0)" } ?? "timed out")")
        return TaskResult.Verify(command: command, exitCode: code, durationS: ((now() - start) * 1000).rounded() / 1000,
                                 outputTail: String(output.suffix(2000)))
    }

    // MARK: - The end

    /// The spec as the sidecar describes it.
    private func summary(_ record: TaskLifecycle.SpecRecord) -> TaskResult.SpecSummary {
        switch record {
        case .fileName: return TaskResult.SpecSummary(file: file)
        case .asReceived: return .asWritten(file: file, bytes: bytes, home: context.home, settings: settings)
        case .asClaimed:
            let written = (try? FileSystem.read(spool.spec(in: spool.claimed, id), limit: Spec.maxBytes)) ?? bytes
            return .asWritten(file: file, bytes: written, home: context.home, settings: settings)
        case .checked: return summary
        }
    }

    /// Removes the task's worktree (its branch stays), then writes the sidecar and moves the spec,
    /// retried while the disk refuses (ENOSPC, read-only).
    private func conclude(_ c: TaskLifecycle.Conclusion) {
        if let note = c.note { log.note(note) }
        if let reason = c.integratedReason { git?.integratedReason = reason }
        let r = settings.redactor
        var result = TaskResult(
            id: id, status: c.status, class: c.verdict.failureClass, reason: r.redact(c.verdict.reason), hint: r.redact(c.verdict.hint),
            spec: summary(c.spec), attempts: c.attempts, git: git, verify: verify, log: "logs/\(id).log",
            worker: TaskResult.Worker(host: options.host, pid: ProcessControl.pid, version: mtorVersion),
            containment: containmentSummary,
            claimedAt: Stamp.iso(claimedAt), finishedAt: Stamp.iso())
        if containmentSummary != nil { result.sandbox = sandbox?.summary ?? TaskResult.SandboxSummary(method: Sandbox.Method.none.rawValue) }
        result.setup = extras.setup.map { var s = $0; s.outputTail = r.redact(s.outputTail); return s }
        result.review = extras.review
        result.answer = extras.answer
        // The worktree goes before the result appears (the branch stays); a kill in between reruns the task on its branch.
        // A branch this task made that carries no commit of its own (failed, cancelled, no_changes, an answer) goes with it.
        workspace?.dropEmptyBranch()
        // Every process of the task goes now, where that can be proven: a cgroup proves it, and so does the
        // sandbox (the kernel ends its PID namespace with the agent); the marker method alone cannot (a
        // process that dropped its marker is not seen).
        let provable = box.map { $0.method != .marker || sandbox != nil } ?? false
        if provable { _ = box?.killAll() }
        if !options.keepWorkspaces {
            if let pool = context.pool, let workspace, workspace.isWorktree {
                // Back to the pool only when no process of the task is left to write into it; unprovable: the clone goes.
                let quiet = provable && box?.members().isEmpty == true
                if quiet, workspace.record != nil, workspace.cloneIsIntact,
                   pool.give(tree: workspace.directory, repo: spec.repo, id: id, counted: workspace.poolCounted) {
                    log.note("workspace: the clone went back to the worktree pool, to be cleaned and proven before another task gets it")
                } else if workspace.poolCounted {
                    pool.returned(repo: spec.repo)
                }
            }
            Workspace.discard(root: context.workspaces, id: id, shell: GitShell(base: settings.baseEnvironment, containment: nil))
            TaskSandbox.removeHome(root: context.workspaces, id: id)
        }
        // The task's processes are gone: its slot may take the next task while the result is written,
        // fsynced and renamed (it keeps its in-place repo until it ends).
        control.update { $0.phase = "recording the result" }
        onRecording?()
        TestHooks.holdWhileExists("MTOR_TEST_HOLD_RESULT_DIR", name: id)
        var delay = 1.0
        while true {
            do {
                try spool.finish(result)
                logger.info("\(id): \(c.status.rawValue) (\(c.verdict.failureClass.rawValue)) after \(c.attempts.count) attempt(s): \(result.reason)")
                return
            } catch {
                logger.error("\(id): cannot write its result yet (\(error)); the spec stays in claimed/ and mtor tries again in \(Int(delay))s")
                control.update { $0.phase = "waiting for disk: \(error)" }
                Thread.sleep(forTimeInterval: delay)
                delay = min(delay * 2, 30)
                if control.shutdownRequested { return }
            }
        }
    }
}

/// The worker-wide bound on retries per minute, so no input can spin.
public final class RetryGate: @unchecked Sendable {  // `lock` guards `budget`
    private let lock = NSLock()
    private var budget: RetryBudget

    public init(perMinute: Int) { budget = RetryBudget(perMinute: perMinute) }

    /// Reserves a retry start no earlier than `after` seconds from now; returns the wait.
    /// Retry starts reserved within the last and next minute, and the cap, for the metrics.
    var use: (reserved: Int, perMinute: Int) { lock.withLock { (budget.reservedNear(now()), budget.perMinute) } }

    func reserve(after: Double) -> Double {
        lock.withLock {
            let t = now()
            return budget.reserve(now: t, earliest: t + after) - t
        }
    }
}

public let mtorVersion = "0.1.0"
