import Foundation
import MtorCore
import MtorPlatform

// MARK: - Before the first attempt

extension TaskRun {
    /// Checks the spec as `mtor validate` does, within the repos this worker may touch, and resolves `base: after`.
    func checkSpec() -> TaskLifecycle.Action {
        let checked: (Spec, [Settings.Target])
        do {
            if let parsed {
                checked = (parsed, try SpecCheck.check(parsed, settings: settings, checkRepo: true))
            } else {
                checked = try SpecCheck.check(bytes, home: context.home, settings: settings, checkRepo: true)
            }
            try SpecCheck.boundary(checked.0, allowed: options.allowedRepos)
        } catch {
            return machine.specRefused(error.failureClass, reason: error.description)
        }
        (spec, targets) = checked
        summary.repo = spec.repo
        summary.provider = targets[0].providerName
        summary.harness = targets[0].harnessName
        summary.model = targets[0].model
        summary.meta = spec.meta
        if spec.work.base == ScheduleRules.baseAfter {
            switch dependencyBranch(spec) {
            case .success(let branch): spec.work.base = branch
            case .failure(let why): return machine.baseFailed(reason: why.reason, hint: why.hint)
            }
        }
        return machine.specChecked(TaskLifecycle.Plan(chain: targets.map(\.providerName), retries: spec.retries, verifies: spec.verify != nil,
                                                      integrates: spec.work.integrate != .branch, startProvider: startProvider))
    }

    /// Creates the containment every process of the task (set-up, agent, verify, and all they start) stays in.
    func contain() -> TaskLifecycle.Action {
        box = Containment.create(name: "w\(ProcessControl.pid)-\(id)", preference: options.containment, pool: context.cgroups)
        // Recorded just before the first process of the task starts: a worker killed at any later
        // instant (a set-up or git command half way, a sandbox being built) leaves a claim that names
        // the containment, so the next worker ends everything in it. When the agent is the first
        // process, the claim is written once, at its spawn (`runAttempt`): one file fewer made and
        // deleted per task.
        claim = ClaimRecord(id: id, host: options.host, pid: ProcessControl.pid, attempt: machine.attempts.count + 1,
                            startedAt: Stamp.iso(claimedAt), file: file)
        claim.bootID = ProcessTable.bootID
        claim.containment = box.method.rawValue
        claim.cgroup = box.path
        claim.marker = box.marker
        defer {
            claim.memoryCapBytes = box.memory?.cap
            claim.memoryCgroup = box.memory?.path
            box.beforeFirstProcess = { [unowned self] in try? spool.writeClaim(claim) }
        }
        // The cap holds before the first process of the task starts (set-up included); never dropped silently.
        guard let cap = spec.memory ?? options.taskMemory else {
            box.measureMemory()
            return machine.contained()
        }
        do {
            try box.capMemory(cap)
        } catch {
            let asked = spec.memory != nil ? "the spec asks for 'memory: \(ByteSize.format(cap))'" : "--task-memory asks for \(ByteSize.format(cap))"
            return machine.memoryCapFailed(asked: asked, error: error.description)
        }
        return machine.contained()
    }

    /// Prepares the task's worktree (or its repo in place): Workspace owns every git call.
    func prepareWorkspace() -> TaskLifecycle.Action {
        // What the agent, set-up, verify and every command in its clone may see and touch.
        do {
            sandbox = try TaskSandbox.make(id: id, spec: spec, directory: Workspace.directory(id: id, spec: spec, root: context.workspaces),
                                           workspaces: context.workspaces, spool: spool, settings: settings, options: options,
                                           programs: targets.map { $0.harness.argv[0] })
        } catch {
            return machine.workspaceFailed(reason: error.description, hint: "check that the workspaces directory is writable")
        }
        let workspace = Workspace(id: id, spec: spec, root: context.workspaces,
                                  shell: GitShell(base: settings.baseEnvironment, containment: box, sandbox: sandbox), log: log, pool: context.pool)
        self.workspace = workspace
        control.update { $0.phase = "preparing workspace" }
        do {
            extras.setup = try workspace.prepare(timeout: spec.timeout)
        } catch {
            extras.setup = error.setup
            git = workspace.record.map { _ in workspace.gitSection(diffstat: nil) }
            return machine.workspaceFailed(reason: error.reason, hint: error.hint)
        }
        agentSpec = spec
        agentSpec.repo = workspace.directory
        runner = Runner(context, control: control, log: log, containment: box, holdFD: claimLock)
        runner.sandbox = sandbox
        runner.onStarted = { [spool] in spool.spares?.refill() }  // the claim and log it took, made again off its path
        return machine.workspaceReady()
    }
}

// MARK: - Attempts

extension TaskRun {
    /// Runs attempt `n` on `target`, recording the claim as the agent is spawned.
    func runAttempt(_ n: Int, on target: Settings.Target) -> TaskLifecycle.Action {
        // Written after the agent is spawned and before it may exec, with its process group and
        // start time: a worker killed at any instant leaves no agent running unrecorded.
        claim.attempt = n
        claim.provider = target.providerName
        claim.nextAttemptAt = nil
        // The claim is written at the spawn, with the agent's group: no earlier write is needed.
        box?.beforeFirstProcess = nil
        runner.onSpawn = { [unowned self] pgid in
            claim.agentPgid = pgid
            claim.agentStart = ProcessTable.startTime(pgid)
            try spool.writeClaim(claim)
        }
        spool.record(LedgerEntry(t: Stamp.iso(), id: id, event: .attempt, provider: target.providerName, attempt: n, pid: ProcessControl.pid))
        logger.info("\(id): attempt \(n) on \(target.providerName ?? target.harnessName)")
        let prior = machine.attempts.compactMap(\.usage)
        runner.limits = Budget.TaskLimits(maxCostUSD: spec.maxCostUSD, maxTurns: spec.maxTurns,
                                          spentBefore: prior.compactMap(\.pricedCostUSD).reduce(0, +),
                                          turnsBefore: prior.compactMap(\.numTurns).reduce(0, +))
        let outcome = runner.run(id: id, n: n, spec: agentSpec, target: target)
        if let cost = outcome.attempt.usage?.pricedCostUSD {
            // Daily budgets count every attempt's spend, on every host sharing the spool, across restarts.
            var line = LedgerEntry(t: Stamp.iso(), id: id, event: .spent, provider: target.providerName, attempt: n, pid: ProcessControl.pid)
            line.model = target.model
            line.costUSD = cost
            line.inputTokens = outcome.attempt.usage?.inputTokens
            line.outputTokens = outcome.attempt.usage?.outputTokens
            spool.record(line)
        }
        control.update { $0.attemptCostUSD = nil }
        leftovers += outcome.leftoversKilled
        self.outcome = outcome
        return machine.attemptEnded(outcome.attempt, verdict: outcome.verdict)
    }

    /// Tells provider health how the attempt ended, so queued specs wait or fall back.
    func reportHealth(_ provider: String, _ verdict: Verdict, hung: Bool) -> TaskLifecycle.Action {
        // A direct check found the provider hung or refusing: it is unhealthy now.
        if hung { context.health?.record(provider, verdict: verdict) } else { context.health?.taskEnded(provider, verdict.failureClass) }
        return machine.healthReported()
    }

    /// Commits the agent's leftovers and looks for the change (or answer) the spec expects.
    func settle() -> TaskLifecycle.Action {
        let evidence = workspace.settle()
        autoCommitted = autoCommitted || evidence.autoCommitted
        let answer = outcome?.answer ?? ""
        extras.answer = answer.isEmpty ? nil : settings.redactor.redact(TaskResult.capAnswer(answer))
        let missing = spec.work.missingEvidence(changed: evidence.changed, answer: answer)
        if let missing {
            log.note("attempt \(machine.attempts.count) ended: \(FailureClass.noChanges.rawValue) — \(missing)")
        } else if spec.verify == nil {
            log.note("attempt \(machine.attempts.count) ended: ok — \(outcome?.verdict.reason ?? "the agent finished successfully")")
        }
        return machine.evidenceSettled(missing: missing)
    }

    /// Runs `verify:` in the workspace under the task's containment and memory cap.
    func runVerify() -> TaskLifecycle.Action {
        let command = spec.verify ?? "true"
        let memoryMark = box.memory?.begin()
        verify = verifyCommand(command)
        leftovers += box.killAll()
        // A verify killed at the task's memory cap says so (the cap covers verify too).
        let oom = memoryMark.flatMap { box.memory?.end($0).oomKills }.map { $0 > 0 } == true
        return machine.verifyFinished(command: command, exitCode: verify?.exitCode, oomCap: oom ? box.memory?.cap : nil)
    }

    /// Waits for the next attempt on `next` under the worker's retry budget, waking for a cancel or a shutdown.
    func backoff(_ after: Double, then next: Settings.Target) -> TaskLifecycle.Action {
        let wait = context.retryGate.reserve(after: after)
        let at = Date().addingTimeInterval(wait)
        logger.info("\(id): \(machine.verdict.failureClass.rawValue); "
                    + "next attempt on \(next.providerName ?? next.harnessName) in \(DurationText.format(wait))")
        log.note("next attempt on \(next.providerName ?? next.harnessName) at \(Stamp.iso(at))")
        control.update { $0.phase = "backoff"; $0.nextAttemptAt = Stamp.iso(at) }
        claim.agentPgid = nil
        claim.agentStart = nil
        claim.nextAttemptAt = Stamp.iso(at)
        claim.provider = next.providerName
        try? spool.writeClaim(claim)
        if control.sleep(wait, cancelFile: cancelFile) {
            // A retry is spending too: on a spent daily budget the task waits in inbox/ for the next UTC day.
            if let why = context.budgetHold(next) { return machine.backoffHeld(reason: why) }
            return machine.backoffFinished()
        }
        if control.shutdownRequested && !control.cancelRequested && !FileSystem.exists(cancelFile) { return machine.backoffShutdown() }
        return machine.backoffCancelled()
    }

    /// Puts the spec back in inbox/ with `attempts`; a rate-limit hold first holds the provider.
    func requeue(_ attempts: [TaskResult.Attempt], _ why: TaskLifecycle.Requeue) -> TaskLifecycle.Action {
        if case .rateLimitHold(let provider, let verdict) = why {
            context.health?.record(provider, verdict: verdict)
            log.note("provider \(provider) is rate-limited for \(DurationText.format((verdict.retryAfter ?? 0).rounded())) (from the provider); "
                     + "the task waits in inbox/ and this attempt does not count")
        }
        do {
            if case .rateLimitHold = why {
                try spool.requeue(id, attempts: attempts, because: .rateLimited)
            } else {
                try spool.requeue(id, attempts: attempts)
            }
        } catch {
            logger.error("\(id): could not requeue: \(error)")
            return machine.requeueFailed()
        }
        switch why {
        case .rateLimitHold(let provider, let verdict):
            let until = Stamp.iso(Date().addingTimeInterval(verdict.retryAfter ?? 0))
            logger.info("\(id): provider \(provider) rate-limited until \(until); requeued without spending an attempt")
        case .workerStopping:
            logger.info("\(id): requeued (worker stopping)")
        case .shutdownDuringBackoff:
            break
        case .budgetHold(let why):
            logger.info("\(id): requeued before its next attempt: \(why)")
            log.note("requeued before the next attempt: \(why)")
        }
        return machine.requeued()
    }
}

// MARK: - After the last attempt

extension TaskRun {
    /// Ends every process of the task, then reviews its branch for the sidecar.
    func review() -> TaskLifecycle.Action {
        // The branch comes back from the clone (verified) while the task's containment still holds.
        workspace.bringBack()
        // Every process the task started is gone before its result is written.
        box.dispose()
        containmentSummary = TaskResult.Containment(method: box.method.rawValue, leftoversKilled: leftovers, memoryCapBytes: box.memory?.cap,
                                                    memoryController: box.memory?.cap == nil ? nil : box.memory?.controller.rawValue)
        control.update { $0.phase = "reviewing" }
        extras.review = workspace.review(maxLines: options.reviewMaxLines, autoCommitted: autoCommitted)
        let section = workspace.gitSection(diffstat: extras.review?.diffstat)
        git = section
        return machine.reviewed(branch: workspace.record?.branch, hasCommits: !section.commits.isEmpty)
    }

    /// Integrates the task's branch into its base as `integrate:` asks.
    func integrate() -> TaskLifecycle.Action {
        control.update { $0.phase = "integrating" }
        if let record = workspace.record {
            var done = Workspace.integrate(spec.work.integrate, repo: spec.repo, branch: record.branch, shell: workspace.shell)
            if spec.work.integrate == .merge, let after = git?.headAfter {
                // The merge queue, as `mtor merge` runs it: rebased onto the base as it is now, verified, fast-forwarded.
                var candidate = MergeQueue.Candidate(id: id, repo: spec.repo, branch: record.branch, base: record.baseBranch,
                                                     headAfter: after, verify: spec.verify)
                if case .string(let origin)? = spec.meta[MergePlan.originKey], let o = spool.result(origin),
                   let b = o.git?.branch, let h = o.git?.headAfter {
                    candidate.replaces = (origin, b, h)
                }
                let landing = MergeQueue(mergeSetup).land(candidate, spool: spool)
                if landing.state == .conflict, spec.work.onConflict == .agent, spec.meta[MergePlan.originKey] == nil,
                   let text = Optional(String(decoding: bytes, as: UTF8.self)), let front = try? Frontmatter.split(text),
                   let follow = MergeQueue(mergeSetup).queueFollowUp(front, candidate: candidate, record: landing, spool: spool) {
                    let files = landing.files?.joined(separator: ", ") ?? "?"
                    log.note("integrate: conflict in \(files); follow-up \(follow) queued (on_conflict: agent)")
                }
                done = Workspace.Integration(integrated: landing.state == .landed ? "merged" : "branch",
                                             reason: landing.state == .landed ? nil : landing.reason)
            }
            git?.integrated = done.integrated
            git?.integratedReason = done.reason
            log.note("integrate: \(done.integrated)\(done.reason.map { " — \($0)" } ?? "")")
        }
        return machine.integrated()
    }
}

extension TaskRun {
    /// How this worker's merge queue runs verify: the task's kind of sandbox and containment.
    var mergeSetup: MergeQueue.Setup {
        var setup = MergeQueue.Setup(environment: settings.baseEnvironment, workspaces: context.workspaces, spool: spool.root,
                                     bwrap: options.bwrap, envFile: settings.envPath)
        setup.sandboxWritable = options.sandboxWritable
        setup.containment = options.containment
        setup.verifyTimeout = max(60, spec.timeout)
        return setup
    }
}
