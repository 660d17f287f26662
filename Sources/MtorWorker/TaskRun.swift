import Foundation
import MtorCore
import MtorPlatform

/// One claimed task from start to sidecar: validate, run attempts under the retry policy,
/// verify, record git changes, and finish (or requeue when the worker stops).
final class TaskRun: @unchecked Sendable {
    let id: String
    let file: String
    let bytes: [UInt8]
    let spool: Spool
    let settings: Settings
    let options: WorkerOptions
    let control: TaskControl
    let retryGate: RetryGate
    let logger: Logger
    let preset: Preset?
    /// The provider of the chain to start on (a healthy fallback when the first is not).
    let startProvider: String?
    let health: ProviderHealth?
    let triage: SilenceTriage?
    /// The flock on the claimed spec, taken at claim time; held until the task ends.
    let claimLock: Int32?
    let claimedAt = Date()
    /// How the task's processes were contained, for the sidecar.
    private var containmentSummary: TaskResult.Containment?
    /// What the agent, `setup:` and `verify:` can see and touch (nil under `--sandbox none`).
    private var sandbox: TaskSandbox?

    /// An outcome decided before any attempt runs.
    enum Preset {
        /// `cancel/<id>` arrived while the spec was still queued.
        case cancelled
        /// The spec file is over the size limit; it was never read.
        case tooLarge(Int64)
        /// The worker died during every allowed attempt.
        case interruptedTooOften([TaskResult.Attempt])
        /// The scheduler refused it before it ran (a failed dependency, a cycle, a duplicate).
        case refused(FailureClass, reason: String, hint: String)
    }

    init(id: String, file: String, bytes: [UInt8], spool: Spool, settings: Settings, options: WorkerOptions,
         retryGate: RetryGate, logger: Logger, preset: Preset? = nil, startProvider: String? = nil,
         health: ProviderHealth? = nil, claimLock: Int32? = nil, triage: SilenceTriage? = nil) {
        self.triage = triage
        self.claimLock = claimLock
        self.preset = preset
        self.startProvider = startProvider
        self.health = health
        self.id = id
        self.file = file
        self.bytes = bytes
        self.spool = spool
        self.settings = settings
        self.options = options
        self.control = TaskControl(id: id)
        self.retryGate = retryGate
        self.logger = logger
    }

    /// Runs the task to its end; returns the class it ended with (nil when requeued).
    func run() -> FailureClass? {
        // Held for the task's life: a worker that finds this lock free knows the owner is gone.
        let lockFD = claimLock ?? FileSystem.tryLock(spool.spec(in: spool.claimed, id))
        defer { lockFD.map(FileSystem.closeDescriptor) }
        var attempts = spool.priorAttempts(id)
        var summary = TaskResult.SpecSummary(file: file)
        let log = TaskLog(spool: spool, id: id, cap: options.logCap, redactor: settings.redactor)
        switch preset {
        case .cancelled?:
            let written = (try? FileSystem.read(spool.spec(in: spool.claimed, id), limit: Spec.maxBytes)) ?? bytes
            summary = .asWritten(file: file, bytes: written, home: settings.baseEnvironment["HOME"] ?? "/", settings: settings)
            return conclude(status: .cancelled, verdict: Verdict(.cancelled, "cancelled by a user before it ran"), summary: summary, attempts: attempts, git: nil, verify: nil)
        case .tooLarge(let size)?:
            return conclude(status: .failed, verdict: Verdict(.specInvalid, "the spec is \(size) bytes; the limit is 1 MiB (\(Spec.maxBytes) bytes)", hint: "put large context in the repository and refer to it from the spec"), summary: summary, attempts: attempts, git: nil, verify: nil)
        case .interruptedTooOften(let all)?:
            return conclude(status: .failed, verdict: Verdict(.interrupted, "the worker died during each of \(all.count) attempts; giving up", hint: "read the worker's own log (journalctl -u mtor-worker) for why it died"), summary: summary, attempts: all, git: nil, verify: nil)
        case .refused(let cls, let reason, let hint)?:
            summary = .asWritten(file: file, bytes: bytes, home: settings.baseEnvironment["HOME"] ?? "/", settings: settings)
            log.note("refused before it ran: \(reason)")
            return conclude(status: .failed, verdict: Verdict(cls, reason, hint: hint), summary: summary, attempts: attempts, git: nil, verify: nil)
        case nil:
            break
        }
        var spec: Spec
        let targets: [Settings.Target]
        do {
            (spec, targets) = try SpecCheck.check(bytes, home: settings.baseEnvironment["HOME"] ?? "/", settings: settings, checkRepo: true)
            try SpecCheck.boundary(spec, allowed: options.allowedRepos)
        } catch {
            summary = .asWritten(file: file, bytes: bytes, home: settings.baseEnvironment["HOME"] ?? "/", settings: settings)
            log.note("spec refused: \(error.description)")
            return conclude(status: .failed, verdict: Verdict(error.failureClass, error.description, hint: error.failureClass == .workdirMissing ? "clone the repository on the worker or fix 'repo:'" : "fix the spec; `mtor validate` runs the same checks"), summary: summary, attempts: attempts, git: nil, verify: nil)
        }
        summary.repo = spec.repo
        summary.provider = targets[0].providerName
        summary.harness = targets[0].harnessName
        summary.model = targets[0].model
        summary.meta = spec.meta
        if spec.work.base == ScheduleRules.baseAfter {
            switch dependencyBranch(spec) {
            case .success(let branch): spec.work.base = branch
            case .failure(let why):
                log.note("base: after: \(why.reason)")
                return conclude(status: .failed, verdict: Verdict(.setupFailed, why.reason, hint: why.hint), summary: summary, attempts: attempts, git: nil, verify: nil)
            }
        }
        // Every process the task starts (set-up, agent, verify, and all they start) stays in this containment.
        let box = Containment.create(name: "w\(ProcessControl.pid)-\(id)", preference: options.containment)
        defer { box.dispose() }
        // The cap holds before the first process of the task starts (set-up included); never dropped silently.
        if let cap = spec.memory ?? options.taskMemory {
            do {
                try box.capMemory(cap)
            } catch {
                log.note("memory cap: \(error.description)")
                let asked = spec.memory != nil ? "the spec asks for 'memory: \(ByteSize.format(cap))'" : "--task-memory asks for \(ByteSize.format(cap))"
                return conclude(status: .failed, verdict: Verdict(.specInvalid, "\(asked), but \(error.description)", hint: "remove 'memory:' from the spec, or run it on a worker whose start line says it has memory caps"),
                                summary: summary, attempts: attempts, git: nil, verify: nil)
            }
        } else {
            box.measureMemory()
        }
        var leftovers = 0
        // The agent works in the task's worktree (or in place): Workspace owns every git call.
        // What the agent, set-up, verify and every command in its clone may see and touch.
        do {
            sandbox = try TaskSandbox.make(id: id, spec: spec, directory: spec.work.mode == .worktree ? "\(workspaces)/\(id)" : spec.repo,
                                           workspaces: workspaces, spool: spool, settings: settings, options: options,
                                           programs: targets.map { $0.harness.argv[0] })
        } catch {
            log.note("sandbox: \(error.description)")
            return conclude(status: .failed, verdict: Verdict(.internalError, error.description, hint: "check that the workspaces directory is writable"),
                            summary: summary, attempts: attempts, git: nil, verify: nil)
        }
        let workspace = Workspace(id: id, spec: spec, root: workspaces, shell: GitShell(base: settings.baseEnvironment, containment: box, sandbox: sandbox), log: log)
        var extras = Extras()
        control.update { $0.phase = "preparing workspace" }
        do {
            extras.setup = try workspace.prepare(timeout: spec.timeout)
        } catch {
            extras.setup = error.setup
            log.note("workspace: \(error.reason)")
            return conclude(status: .failed, verdict: Verdict(.setupFailed, error.reason, hint: error.hint), summary: summary, attempts: attempts,
                            git: workspace.record.map { _ in workspace.gitSection(diffstat: nil) }, verify: nil, extras: extras)
        }
        var agentSpec = spec
        agentSpec.repo = workspace.directory
        var autoCommitted = false
        var runner = Runner(settings: settings, spool: spool, control: control, log: log, grace: options.grace)
        runner.containment = box
        runner.sandbox = sandbox
        runner.holdFD = claimLock
        runner.triage = triage
        runner.silenceProbe = options.silenceProbe
        var claim = ClaimRecord(id: id, host: options.host, pid: ProcessControl.pid, attempt: attempts.count + 1, startedAt: Stamp.iso(claimedAt), file: file)
        claim.bootID = ProcessTable.bootID
        claim.containment = box.method.rawValue
        claim.cgroup = box.path
        claim.marker = box.marker
        claim.memoryCapBytes = box.memory?.cap
        claim.memoryCgroup = box.memory?.path
        let policy = RetryPolicy(baseDelay: options.backoffBase)
        let chain = targets.map(\.providerName)
        var target = targets.first { $0.providerName != nil && $0.providerName == startProvider } ?? targets[0]
        var verdict = Verdict(.unknown, "no attempt was made")
        var verify: TaskResult.Verify? = nil
        while true {
            let n = attempts.count + 1
            // Written after the agent is spawned and before it may exec, with its process group and
            // start time: a worker killed at any instant leaves no agent running unrecorded.
            claim.attempt = n
            claim.provider = target.providerName
            claim.nextAttemptAt = nil
            runner.onSpawn = { [spool] pgid in
                claim.agentPgid = pgid
                claim.agentStart = ProcessTable.startTime(pgid)
                try spool.writeClaim(claim)
            }
            spool.record(LedgerEntry(t: Stamp.iso(), id: id, event: .attempt, provider: target.providerName, attempt: n, pid: ProcessControl.pid))
            logger.info("\(id): attempt \(n) on \(target.providerName ?? target.harnessName)")
            let outcome = runner.run(id: id, n: n, spec: agentSpec, target: target)
            leftovers += outcome.leftoversKilled
            attempts.append(outcome.attempt)
            verdict = outcome.verdict
            // A reset the provider named holds the whole provider, and the task waits in inbox/
            // without spending the attempt or the retry budget.
            if verdict.failureClass == .rateLimited, let reset = verdict.retryAfter, reset >= ProviderHealth.holdThreshold,
               let p = target.providerName, let health {
                health.record(p, verdict: verdict)
                log.note("provider \(p) is rate-limited for \(DurationText.format(reset.rounded())) (from the provider); the task waits in inbox/ and this attempt does not count")
                do {
                    try spool.requeue(id, attempts: Array(attempts.dropLast()), because: .rateLimited)
                    logger.info("\(id): provider \(p) rate-limited until \(Stamp.iso(Date().addingTimeInterval(reset))); requeued without spending an attempt")
                    return nil
                } catch {
                    logger.error("\(id): could not requeue: \(error)")
                }
            }
            let namedByTriage = outcome.attempt.stoppedBy == AttemptEvidence.Stop.silence.rawValue
            if let p = target.providerName {
                // A direct check found the provider hung or refusing: it is unhealthy now, so queued specs wait or fall back.
                if namedByTriage { health?.record(p, verdict: verdict) } else { health?.taskEnded(p, verdict.failureClass) }
            }
            if verdict.failureClass == .interrupted {
                if attempts.count < 1 + spec.retries + targets.count - 1 {
                    do {
                        try spool.requeue(id, attempts: attempts)
                        logger.info("\(id): requeued (worker stopping)")
                        return nil
                    } catch {
                        logger.error("\(id): could not requeue: \(error)")
                    }
                }
                break
            }
            if verdict.failureClass == .ok {
                // Success needs evidence: leftovers are committed, then the branch must hold a change (expect:).
                let evidence = workspace.settle()
                autoCommitted = autoCommitted || evidence.autoCommitted
                extras.answer = outcome.answer.isEmpty ? nil : settings.redactor.redact(TaskResult.capAnswer(outcome.answer))
                if let missing = spec.work.missingEvidence(changed: evidence.changed, answer: outcome.answer) {
                    verdict = Verdict(.noChanges, missing, hint: "make sure the prompt asks for a change the agent can make; for questions and reviews use 'expect: answer'")
                    attempts[attempts.count - 1].class = .noChanges
                    attempts[attempts.count - 1].reason = verdict.reason
                    attempts[attempts.count - 1].retryable = true
                    log.note("attempt \(n): \(missing)")
                }
            }
            if verdict.failureClass == .ok, let command = spec.verify {
                let memoryMark = box.memory?.begin()
                verify = runVerify(command, spec: agentSpec, log: log, containment: box)
                leftovers += box.killAll()
                // A verify killed at the task's memory cap says so (the cap covers verify too).
                let oom = memoryMark.flatMap { box.memory?.end($0).oomKills }.map { $0 > 0 } == true
                if verify?.exitCode != 0 {
                    let cap = box.memory?.cap.map { " — a process of it was killed by the kernel's out-of-memory killer at the \(ByteSize.format($0)) cap ('memory:')" } ?? ""
                    verdict = Verdict(.verifyFailed, "the agent exited 0 but 'verify: \(command)' \(verify?.exitCode.map { "exited \($0)" } ?? "did not finish")\(oom ? cap : "")", hint: "read the verify output tail in the sidecar or the task log")
                    attempts[attempts.count - 1].class = .verifyFailed
                    attempts[attempts.count - 1].reason = verdict.reason
                }
            }
            // Only the newest attempt's reset time matters to the next delay.
            let history = attempts.enumerated().map { i, a in
                (provider: a.provider, failureClass: a.class, retryAfter: i == attempts.count - 1 ? verdict.retryAfter : nil)
            }
            var decision = policy.decide(history: history, chain: chain, retries: spec.retries, jitter: Double.random(in: 0...1))
            if namedByTriage, case .retry(let provider, _) = decision, provider == target.providerName {
                // Never again on a provider a direct check just found hung: its fallback, or the end.
                let later = chain.drop { $0 != target.providerName }.dropFirst().first { $0 != target.providerName }
                decision = later.map { .retry(provider: $0, after: 0) } ?? .finish
            }
            switch decision {
            case .finish:
                break
            case .retry(let provider, let after):
                let next = targets.first { $0.providerName == provider } ?? target
                let wait = retryGate.reserve(after: after)
                let at = Date().addingTimeInterval(wait)
                logger.info("\(id): \(verdict.failureClass.rawValue); next attempt on \(next.providerName ?? next.harnessName) in \(DurationText.format(wait))")
                log.note("next attempt on \(next.providerName ?? next.harnessName) at \(Stamp.iso(at))")
                control.update { $0.phase = "backoff"; $0.nextAttemptAt = Stamp.iso(at) }
                claim.agentPgid = nil
                claim.agentStart = nil
                claim.nextAttemptAt = Stamp.iso(at)
                claim.provider = next.providerName
                try? spool.writeClaim(claim)
                if control.sleep(wait, cancelFile: "\(spool.cancel)/\(id)") {
                    target = next
                    continue
                }
                if control.shutdownRequested && !control.cancelRequested && !FileSystem.exists("\(spool.cancel)/\(id)") {
                    do {
                        try spool.requeue(id, attempts: attempts)
                        return nil
                    } catch {
                        logger.error("\(id): could not requeue: \(error)")
                    }
                }
                verdict = Verdict(.cancelled, "cancelled by a user while waiting to retry after \(verdict.failureClass.rawValue)")
            }
            break
        }
        // The branch comes back from the clone (verified) while the task's containment still holds.
        workspace.bringBack()
        // Every process the task started is gone before its result is written.
        box.dispose()
        containmentSummary = TaskResult.Containment(method: box.method.rawValue, leftoversKilled: leftovers,
                                                    memoryCapBytes: box.memory?.cap, memoryController: box.memory?.cap == nil ? nil : box.memory?.controller.rawValue)
        let status: TaskResult.Status = verdict.failureClass == .ok ? .succeeded : verdict.failureClass == .cancelled ? .cancelled : .failed
        control.update { $0.phase = "reviewing" }
        extras.review = workspace.review(maxLines: options.reviewMaxLines, autoCommitted: autoCommitted)
        var git = workspace.gitSection(diffstat: extras.review?.diffstat)
        if status == .succeeded, let record = workspace.record, spec.work.integrate != .branch {
            if git.commits.isEmpty {
                git.integratedReason = "nothing to integrate: \(record.branch) has no commit of its own"
            } else {
                control.update { $0.phase = "integrating" }
                let done = Workspace.integrate(spec.work.integrate, repo: spec.repo, branch: record.branch, into: record.baseBranch, shell: workspace.shell)
                git.integrated = done.integrated
                git.integratedReason = done.reason
                log.note("integrate: \(done.integrated)\(done.reason.map { " — \($0)" } ?? "")")
            }
        }
        return conclude(status: status, verdict: verdict, summary: summary, attempts: attempts, git: git, verify: verify, extras: extras)
    }

    // MARK: - Steps

    private func runVerify(_ command: String, spec: Spec, log: TaskLog, containment: Containment) -> TaskResult.Verify {
        let start = now()
        log.note("verify: \(command)")
        control.update { $0.phase = "verify" }
        let limit = max(60, spec.timeout)
        let child: ChildProcess
        do {
            var environment = settings.baseEnvironment
            sandbox?.adjust(&environment)
            child = try ChildProcess(executable: "/bin/sh", argv: ["/bin/sh", "-c", command], environment: environment,
                                     directory: spec.repo, containment: containment, sandbox: sandbox?.box)
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
        return TaskResult.Verify(command: command, exitCode: code, durationS: ((now() - start) * 1000).rounded() / 1000, outputTail: String(output.suffix(2000)))
    }

    /// The sidecar's parts that come from the workspace and the agent's answer.
    struct Extras {
        var setup: TaskResult.Verify?
        var review: Review?
        var answer: String?
    }

    /// Where task worktrees live.
    var workspaces: String { Workspace.root(options, spool) }

    /// Removes the task's worktree (its branch stays), then writes the sidecar and moves the spec,
    /// retried while the disk refuses (ENOSPC, read-only).
    private func conclude(status: TaskResult.Status, verdict: Verdict, summary: TaskResult.SpecSummary, attempts: [TaskResult.Attempt],
                          git: TaskResult.Git?, verify: TaskResult.Verify?, extras: Extras = Extras()) -> FailureClass {
        let r = settings.redactor
        var result = TaskResult(
            id: id, status: status, class: verdict.failureClass, reason: r.redact(verdict.reason), hint: r.redact(verdict.hint),
            spec: summary, attempts: attempts, git: git, verify: verify, log: "logs/\(id).log",
            worker: TaskResult.Worker(host: options.host, pid: ProcessControl.pid, version: mtorVersion),
            containment: containmentSummary,
            claimedAt: Stamp.iso(claimedAt), finishedAt: Stamp.iso())
        if containmentSummary != nil { result.sandbox = sandbox?.summary ?? TaskResult.SandboxSummary(method: Sandbox.Method.none.rawValue) }
        result.setup = extras.setup.map { var s = $0; s.outputTail = r.redact(s.outputTail); return s }
        result.review = extras.review
        result.answer = extras.answer
        // The worktree goes before the result appears (the branch stays); a kill in between reruns the task on its branch.
        if !options.keepWorkspaces {
            Workspace.discard(root: workspaces, id: id, shell: GitShell(base: settings.baseEnvironment, containment: nil))
            TaskSandbox.removeHome(root: workspaces, id: id)
        }
        var delay = 1.0
        while true {
            do {
                try spool.finish(result)
                logger.info("\(id): \(status.rawValue) (\(verdict.failureClass.rawValue)) after \(attempts.count) attempt(s): \(result.reason)")
                return verdict.failureClass
            } catch {
                logger.error("\(id): cannot write its result yet (\(error)); the spec stays in claimed/ and mtor tries again in \(Int(delay))s")
                control.update { $0.phase = "waiting for disk: \(error)" }
                Thread.sleep(forTimeInterval: delay)
                delay = min(delay * 2, 30)
                if control.shutdownRequested { return verdict.failureClass }
            }
        }
    }
}

/// The worker-wide bound on retries per minute, so no input can spin.
public final class RetryGate: @unchecked Sendable {
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
