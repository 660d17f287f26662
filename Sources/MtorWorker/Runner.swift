import Foundation
import MtorCore
import MtorPlatform

/// Runs one attempt of a task: the harness in the repo, the prompt on stdin or in a
/// private file, output into the task log, and the stop rules (timeout, stall, cancel,
/// early abort). Returns what happened; a failed agent is a result, not an error.
struct Runner {
    let settings: Settings
    let spool: Spool
    let control: TaskControl
    let log: TaskLog
    let grace: Double
    /// Keeps every process of the attempt together; all of them are gone when `run` returns.
    var containment: Containment?
    /// The task's claim lock. Under `--sandbox none` the agent inherits it as fd 3: on a shared
    /// spool another host recovers the claim only once no process of the task holds it. A
    /// sandboxed agent inherits no descriptor but stdin, stdout and stderr: the lock stays with
    /// the worker, and the agent (its whole PID namespace) is killed when the worker dies, so a
    /// free lock still means no process of the task runs.
    var holdFD: Int32?
    /// What the agent may see and touch; nil only under `--sandbox none`.
    var sandbox: TaskSandbox?
    /// Told the agent's pid (= its process group) after spawn and before it may exec: it records
    /// the claim, so a worker killed at any instant leaves nothing running unseen. A throw means
    /// the claim could not be recorded, and the agent never runs.
    var onSpawn: (Int32) throws -> Void = { _ in }
    /// Called once the agent has exec'd: work that must not delay its start goes here.
    var onStarted: () -> Void = {}
    /// Checks a silent attempt's provider directly after `silenceProbe` seconds without activity.
    var triage: SilenceTriage?
    var silenceProbe: Double = 60
    /// The task's spending caps and what its earlier attempts spent.
    var limits = Budget.TaskLimits()
    /// Whether a daily budget covers the provider (its own or the worker's): the attempt must be priceable.
    var dailyBudget: (Settings.Target) -> Bool = { _ in false }
    /// Why a running attempt must stop now because a daily budget ran out (`--budget-stop`), or nil.
    var dailyStop: (Settings.Target, Double) -> String? = { _, _ in nil }

    struct Outcome {
        var attempt: TaskResult.Attempt
        var verdict: Verdict
        /// The model's final answer (structured harnesses) or the tail of stdout.
        var answer: String
        /// Processes still running when the attempt ended, killed by its containment.
        var leftoversKilled = 0
    }

    /// When an attempt started, on the wall clock and the monotonic one.
    struct Start {
        var wall = Date()
        var mono = now()
    }

    func run(id: String, n: Int, spec: Spec, target: Settings.Target) -> Outcome {
        let start = Start()
        control.update {
            $0.attempt = n
            $0.provider = target.providerName
            $0.attemptStartedAt = Stamp.iso(start.wall)
            $0.lastActivityAt = Stamp.iso(start.wall)
            $0.phase = "running"
            $0.providerAnsweredAt = nil
            $0.nextAttemptAt = nil
        }
        log.note("attempt \(n): provider \(target.providerName ?? "-"), harness \(target.harnessName), model \(target.model ?? "-")")
        var evidence = AttemptEvidence(structured: target.harness.stream.map(StreamScanner.formats.contains) ?? false,
                                       authEnv: target.provider?.authEnv,
                                       timeoutLimit: spec.timeout, stallLimit: spec.stall)
        evidence.expectsModel = target.harness.needsProvider
        if let verdict = execute(id: id, spec: spec, target: target, start: start, evidence: &evidence) {
            return finish(n: n, target: target, start: start, evidence: evidence, verdict: verdict)
        }
        evidence.duration = now() - start.mono
        return finish(n: n, target: target, start: start, evidence: evidence, verdict: FailureClassifier.classify(evidence))
    }

    // MARK: - Steps

    /// Stages the prompt, spawns the agent and watches it to its end, filling `evidence`; a verdict
    /// when the attempt ends before the agent could run, for a reason the classifier does not judge.
    private func execute(id: String, spec: Spec, target: Settings.Target, start: Start, evidence: inout AttemptEvidence) -> Verdict? {
        var environment: [String: String]
        do {
            environment = try settings.environment(for: target)
            sandbox?.adjust(&environment)
        } catch {
            return Verdict(.authFailed, error.description,
                           hint: "add \(target.provider?.secretEnv ?? "the secret") to the env file, then send the worker SIGHUP")
        }
        let price = target.provider?.price(target.model)
        if let why = Budget.refusal(limits, stream: target.harness.stream, harness: target.harnessName, price: price,
                                    provider: target.providerName, model: target.model,
                                    dailyBudget: target.harness.needsProvider && dailyBudget(target)) {
            return Verdict(.specInvalid, why,
                           hint: "give the model a price under the provider's 'prices' in \(settings.lockPath), or run the task on a harness "
                               + "that reports token counts (claude-stream-json, codex-json, aider-text)")
        }
        let program = target.harness.argv[0]
        guard let executable = ChildProcess.resolve(program, searchPath: environment["PATH"] ?? "") else {
            evidence.spawnFailure = "harness '\(target.harnessName)': '\(program)' was not "
                + "found\(program.contains("/") ? " or is not executable" : " on PATH (\(environment["PATH"] ?? ""))")"
            return nil
        }
        let prompt: StagedPrompt
        do {
            // A sandboxed agent sees no spool: a prompt file waits in its own HOME.
            prompt = try StagedPrompt(Array(spec.prompt.utf8), inFile: target.harness.promptInFile, directory: sandbox?.home ?? spool.tmp, id: id)
        } catch {
            return Verdict(.internalError, "could not stage the prompt in \(sandbox?.home ?? spool.tmp): \(error)")
        }
        defer { prompt.remove() }
        let argv = settings.argv(for: target, repo: spec.repo, promptFile: prompt.file)
        let child: ChildProcess
        do {
            child = try ChildProcess(executable: executable, argv: argv, environment: environment, directory: spec.repo, stdinFD: prompt.stdinFD,
                                     containment: containment, gated: true, holdFD: sandbox == nil ? holdFD : nil, sandbox: sandbox?.box)
        } catch {
            evidence.spawnFailure = "harness '\(target.harnessName)' could not be started: \(error)"
            return nil
        }
        // The attempt's own memory peak and OOM kills, from the moment before it may exec.
        let memoryMark = containment?.memory?.begin()
        TestHooks.pause("MTOR_TEST_PAUSE_AFTER_SPAWN")
        do {
            try onSpawn(child.pid)
        } catch {
            child.abandon()
            return Verdict(.internalError, "could not record the claim before starting the agent: \(error)",
                           hint: "check that the spool's disk is writable and has space")
        }
        do {
            try child.release()
        } catch {
            evidence.spawnFailure = "harness '\(target.harnessName)' could not be started: \(error)"
            return nil
        }
        onStarted()
        watch(child, id: id, spec: spec, target: target, start: start, evidence: &evidence)
        if sandbox != nil, evidence.exitCode == 1, evidence.stderrTail.hasPrefix("bwrap: ") {
            // bwrap itself failed: nothing of the harness ran.
            let said = evidence.stderrTail.trimmingCharacters(in: .whitespacesAndNewlines)
            if said.hasPrefix("bwrap: execvp") {
                evidence.spawnFailure = "harness '\(target.harnessName)': '\(executable)' could not be run inside the sandbox (\(said))"
            } else {
                evidence.sandboxFailure = "the sandbox could not be set up for harness '\(target.harnessName)': \(said)"
            }
        }
        if let memory = containment?.memory, let memoryMark {
            let used = memory.end(memoryMark)
            evidence.peakMemoryBytes = used.peakBytes
            if let cap = memory.cap { evidence.memory = .init(cap: cap, oomKills: used.oomKills, peakBytes: used.peakBytes) }
        }
        control.update { $0.pid = nil }
        return nil
    }

    private func finish(n: Int, target: Settings.Target, start: Start, evidence: AttemptEvidence, verdict: Verdict) -> Outcome {
        let redactor = settings.redactor
        var verdict = verdict
        verdict.reason = redactor.redact(verdict.reason)
        var attempt = TaskResult.Attempt(
            n: n, provider: target.providerName, harness: target.harnessName, model: target.model,
            startedAt: Stamp.iso(start.wall), endedAt: Stamp.iso(), durationS: ((now() - start.mono) * 1000).rounded() / 1000,
            exitCode: evidence.exitCode, signal: evidence.signal, stdoutBytes: evidence.stdoutBytes,
            stderrTail: String(evidence.stderrTail.suffix(1000)), class: verdict.failureClass,
            retryable: verdict.failureClass.isTransient || verdict.failureClass.movesToFallback, reason: verdict.reason,
            stoppedBy: evidence.stoppedBy?.rawValue, apiRetries: evidence.stream.retries.isEmpty ? nil : evidence.stream.retries,
            usage: evidence.stream.usageSoFar)
        if attempt.usage != nil, let price = target.provider?.price(target.model) {
            attempt.usage?.pricedCostUSD = (price.cost(evidence.stream.finalTokens) * 1e9).rounded() / 1e9
        }
        attempt.peakMemoryBytes = evidence.peakMemoryBytes
        // An agent that exited 0 has no verdict yet: its work (changes, answer, verify) decides it, and says so once.
        log.note(verdict.failureClass == .ok ? "attempt \(n): the agent exited 0; its work is checked next" : "attempt \(n) ended: "
            + "\(verdict.failureClass.rawValue) — \(verdict.reason)")
        let answer = evidence.structured ? (evidence.stream.result.flatMap { $0.isError ? nil : $0.text } ?? "") : evidence.stdoutTail
        return Outcome(attempt: attempt, verdict: verdict, answer: answer, leftoversKilled: evidence.leftoversKilled)
    }
}

/// Pauses for tests only: `MTOR_TEST_PAUSE_AFTER_SPAWN=<seconds>` holds the worker at the
/// instant named, so a test's SIGKILL lands there every time. Unset in production.
enum TestHooks {
    /// `MTOR_TEST_BLOCK_LOOP_FILE=<path>`: the caller blocks while that file exists (a main loop
    /// stuck on purpose, so a test can see the watchdog pings stop).
    static func blockWhileExists(_ variable: String) {
        // getenv, not ProcessInfo's dictionary: the main loop asks on every turn.
        guard let value = getenv(variable) else { return }
        let path = String(cString: value)
        guard !path.isEmpty else { return }
        while FileSystem.exists(path) { Thread.sleep(forTimeInterval: 0.05) }
    }

    /// `MTOR_TEST_HOLD_RESULT_DIR=<dir>`: a task blocks while `<dir>/<id>` exists (a result write held
    /// on purpose, so a test can see what its slot does meanwhile).
    static func holdWhileExists(_ variable: String, name: String) {
        guard let value = getenv(variable) else { return }
        let dir = String(cString: value)
        guard !dir.isEmpty else { return }
        while FileSystem.exists(dir + "/" + name) { Thread.sleep(forTimeInterval: 0.05) }
    }

    static func pause(_ variable: String) {
        guard let value = getenv(variable), let seconds = Double(String(cString: value)), seconds > 0 else { return }
        Thread.sleep(forTimeInterval: seconds)
    }
}
