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
    /// Checks a silent attempt's provider directly after `silenceProbe` seconds without activity.
    var triage: SilenceTriage?
    var silenceProbe: Double = 60

    struct Outcome {
        var attempt: TaskResult.Attempt
        var verdict: Verdict
        /// The model's final answer (structured harnesses) or the tail of stdout.
        var answer: String
        /// Processes still running when the attempt ended, killed by its containment.
        var leftoversKilled = 0
    }

    func run(id: String, n: Int, spec: Spec, target: Settings.Target) -> Outcome {
        let started = Date()
        let startedMono = now()
        control.update {
            $0.attempt = n
            $0.provider = target.providerName
            $0.attemptStartedAt = Stamp.iso(started)
            $0.lastActivityAt = Stamp.iso(started)
            $0.phase = "running"
            $0.providerAnsweredAt = nil
            $0.nextAttemptAt = nil
        }
        log.note("attempt \(n): provider \(target.providerName ?? "-"), harness \(target.harnessName), model \(target.model ?? "-")")
        var evidence = AttemptEvidence(structured: target.harness.stream.map(StreamScanner.formats.contains) ?? false, authEnv: target.provider?.authEnv,
                                       timeoutLimit: spec.timeout, stallLimit: spec.stall)
        evidence.expectsModel = target.harness.needsProvider
        var exitCode: Int32? = nil, signal: Int32? = nil
        execute: do {
            var environment: [String: String]
            do {
                environment = try settings.environment(for: target)
                sandbox?.adjust(&environment)
            } catch {
                let verdict = Verdict(.authFailed, error.description, hint: "add \(target.provider?.secretEnv ?? "the secret") to the env file, then send the worker SIGHUP")
                return finish(n: n, target: target, started: started, startedMono: startedMono, exit: nil, signal: nil, evidence: evidence, verdict: verdict)
            }
            let program = target.harness.argv[0]
            guard let executable = ChildProcess.resolve(program, searchPath: environment["PATH"] ?? "") else {
                evidence.spawnFailure = "harness '\(target.harnessName)': '\(program)' was not found\(program.contains("/") ? " or is not executable" : " on PATH (\(environment["PATH"] ?? ""))")"
                break execute
            }
            let prompt = Array(spec.prompt.utf8)
            var promptFile: String? = nil
            var stdinFD: Int32? = nil
            do {
                if target.harness.promptInFile {
                    promptFile = try PrivateFile.create(bytes: prompt, directory: sandbox?.home ?? spool.tmp, name: "\(id).prompt")
                } else {
                    stdinFD = try PrivateFile.readable(bytes: prompt, directory: spool.tmp)
                }
            } catch {
                let verdict = Verdict(.internalError, "could not stage the prompt in \(spool.tmp): \(error)")
                return finish(n: n, target: target, started: started, startedMono: startedMono, exit: nil, signal: nil, evidence: evidence, verdict: verdict)
            }
            defer {
                if let stdinFD { FileSystem.closeDescriptor(stdinFD) }
                if let promptFile { FileSystem.remove(promptFile) }
            }
            let argv = settings.argv(for: target, repo: spec.repo, promptFile: promptFile)
            let child: ChildProcess
            do {
                child = try ChildProcess(executable: executable, argv: argv, environment: environment, directory: spec.repo, stdinFD: stdinFD,
                                         containment: containment, gated: true, holdFD: sandbox == nil ? holdFD : nil, sandbox: sandbox?.box)
            } catch {
                evidence.spawnFailure = "harness '\(target.harnessName)' could not be started: \(error)"
                break execute
            }
            // The attempt's own memory peak and OOM kills, from the moment before it may exec.
            let memoryMark = containment?.memory?.begin()
            TestHooks.pause("MTOR_TEST_PAUSE_AFTER_SPAWN")
            do {
                try onSpawn(child.pid)
            } catch {
                child.abandon()
                let verdict = Verdict(.internalError, "could not record the claim before starting the agent: \(error)", hint: "check that the spool's disk is writable and has space")
                return finish(n: n, target: target, started: started, startedMono: startedMono, exit: nil, signal: nil, evidence: evidence, verdict: verdict)
            }
            do {
                try child.release()
            } catch {
                evidence.spawnFailure = "harness '\(target.harnessName)' could not be started: \(error)"
                break execute
            }
            control.update { $0.pid = child.pid }
            var output = RedactedOutput(settings.redactor)
            var outTail = Tail(), errTail = Tail()
            var scanner = StreamScanner(format: target.harness.stream)
            // Only redacted bytes go on: every tail, log line and stream fact is cut from them.
            func take(_ clean: [UInt8], isStdout: Bool) {
                log.append(redacted: clean)
                if isStdout {
                    outTail.append(clean)
                    if evidence.structured { scanner.feed(clean) }
                } else {
                    errTail.append(clean)
                }
            }
            var lastActivity = now()
            var lastPublished = 0.0
            let deadline = startedMono + spec.timeout
            let cancelFile = "\(spool.cancel)/\(id)"
            var stopReason: AttemptEvidence.Stop? = nil
            var lastCancelCheck = 0.0
            // Well before the stall limit, so the direct check can answer first.
            let probeAfter = min(silenceProbe, spec.stall / 2)
            var lastAnswerPublished: Date? = nil
            let termination = child.drive(grace: grace, onOutput: { stream, bytes in
                take(output.feed(bytes, isStdout: stream == .stdout), isStdout: stream == .stdout)
                lastActivity = now()
                if lastActivity - lastPublished > 1 {
                    lastPublished = lastActivity
                    control.update { $0.lastActivityAt = Stamp.iso() }
                }
            }, stop: {
                let t = now()
                if evidence.structured, FailureClassifier.earlyAbort(scanner, authEnv: target.provider?.authEnv) != nil { stopReason = .earlyAbort }
                else if t >= deadline { stopReason = .timeout }
                else if t - lastActivity >= spec.stall { stopReason = .stall }
                else if t - lastActivity >= probeAfter, let triage, let provider = target.providerName, target.harness.needsProvider,
                        let found = triage.finding(provider, settings: settings, since: lastActivity, freshFor: probeAfter, silentFor: t - lastActivity) {
                    switch found {
                    case .failed(let verdict):
                        evidence.silenceVerdict = verdict
                        stopReason = .silence
                    case .answered(let at) where at != lastAnswerPublished:
                        lastAnswerPublished = at
                        control.update { $0.providerAnsweredAt = Stamp.iso(at) }
                    case .answered:
                        break
                    }
                }
                else if control.cancelRequested { stopReason = .cancel }
                else if control.shutdownRequested { stopReason = .shutdown }
                else if t - lastCancelCheck > 0.5 {
                    lastCancelCheck = t
                    if FileSystem.exists(cancelFile) { stopReason = .cancel }
                }
                return stopReason != nil
            })
            let held = output.finish()
            take(held.stdout, isStdout: true)
            take(held.stderr, isStdout: false)
            scanner.finish()
            // Nothing the attempt started outlives it (setsid, double forks, daemons).
            evidence.leftoversKilled = child.leftoversKilled + (containment?.killAll() ?? 0)
            if let memory = containment?.memory, let memoryMark {
                let used = memory.end(memoryMark)
                evidence.peakMemoryBytes = used.peakBytes
                if let cap = memory.cap { evidence.memory = .init(cap: cap, oomKills: used.oomKills, peakBytes: used.peakBytes) }
            }
            control.update { $0.pid = nil }
            exitCode = termination.exitCode
            signal = termination.signal
            evidence.exitCode = exitCode
            evidence.signal = signal
            evidence.stoppedBy = stopReason
            evidence.stdoutBytes = output.stdoutBytes
            evidence.stdoutTail = outTail.text
            evidence.stderrTail = errTail.text
            if sandbox != nil, exitCode == 1, evidence.stderrTail.hasPrefix("bwrap: ") {
                // bwrap itself failed: nothing of the harness ran.
                let said = evidence.stderrTail.trimmingCharacters(in: .whitespacesAndNewlines)
                if said.hasPrefix("bwrap: execvp") {
                    evidence.spawnFailure = "harness '\(target.harnessName)': '\(executable)' could not be run inside the sandbox (\(said))"
                } else {
                    evidence.sandboxFailure = "the sandbox could not be set up for harness '\(target.harnessName)': \(said)"
                }
            }
            evidence.stream = scanner
        }
        evidence.duration = now() - startedMono
        let verdict = FailureClassifier.classify(evidence)
        return finish(n: n, target: target, started: started, startedMono: startedMono, exit: exitCode, signal: signal, evidence: evidence, verdict: verdict)
    }

    private func finish(n: Int, target: Settings.Target, started: Date, startedMono: Double, exit: Int32?, signal: Int32?,
                        evidence: AttemptEvidence, verdict: Verdict) -> Outcome {
        let redactor = settings.redactor
        var verdict = verdict
        verdict.reason = redactor.redact(verdict.reason)
        var attempt = TaskResult.Attempt(
            n: n, provider: target.providerName, harness: target.harnessName, model: target.model,
            startedAt: Stamp.iso(started), endedAt: Stamp.iso(), durationS: ((now() - startedMono) * 1000).rounded() / 1000,
            exitCode: exit, signal: signal, stdoutBytes: evidence.stdoutBytes,
            stderrTail: String(evidence.stderrTail.suffix(1000)), class: verdict.failureClass,
            retryable: verdict.failureClass.isTransient || verdict.failureClass.movesToFallback, reason: verdict.reason,
            stoppedBy: evidence.stoppedBy?.rawValue, apiRetries: evidence.stream.retries.isEmpty ? nil : evidence.stream.retries,
            usage: evidence.stream.usage)
        attempt.peakMemoryBytes = evidence.peakMemoryBytes
        log.note("attempt \(n) ended: \(verdict.failureClass.rawValue) — \(verdict.reason)")
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

    static func pause(_ variable: String) {
        guard let value = getenv(variable), let seconds = Double(String(cString: value)), seconds > 0 else { return }
        Thread.sleep(forTimeInterval: seconds)
    }
}
