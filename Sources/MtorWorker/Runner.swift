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
    /// Tracks spawned pids so the orphan reaper leaves them to us.
    let tracker: PidTracker?
    /// Told the agent's pid (= its process group) right after spawn.
    var onSpawn: (Int32) -> Void = { _ in }

    struct Outcome {
        var attempt: TaskResult.Attempt
        var verdict: Verdict
        /// The model's final answer (structured harnesses) or the tail of stdout.
        var answer: String
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
            $0.nextAttemptAt = nil
        }
        log.note("attempt \(n): provider \(target.providerName ?? "-"), harness \(target.harnessName), model \(target.model ?? "-")")
        var evidence = AttemptEvidence(structured: target.harness.stream.map(StreamScanner.formats.contains) ?? false, authEnv: target.provider?.authEnv,
                                       timeoutLimit: spec.timeout, stallLimit: spec.stall)
        evidence.expectsModel = target.harness.needsProvider
        var exitCode: Int32? = nil, signal: Int32? = nil
        execute: do {
            let environment: [String: String]
            do {
                environment = try settings.environment(for: target)
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
                    promptFile = try PrivateFile.create(bytes: prompt, directory: spool.tmp, name: "\(id).prompt")
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
                child = try tracker.track { () throws(SystemError) in
                    try ChildProcess(executable: executable, argv: argv, environment: environment, directory: spec.repo, stdinFD: stdinFD)
                }
            } catch {
                evidence.spawnFailure = "harness '\(target.harnessName)' could not be started: \(error)"
                break execute
            }
            defer { tracker?.untrack(child.pid) }
            control.update { $0.pid = child.pid }
            onSpawn(child.pid)
            var outTail = Tail(), errTail = Tail()
            var scanner = StreamScanner()
            var lastActivity = now()
            var lastPublished = 0.0
            let deadline = startedMono + spec.timeout
            let cancelFile = "\(spool.cancel)/\(id)"
            var stopReason: AttemptEvidence.Stop? = nil
            var lastCancelCheck = 0.0
            let termination = child.drive(grace: grace, onOutput: { stream, bytes in
                log.append(bytes)
                lastActivity = now()
                if stream == .stdout {
                    outTail.append(bytes)
                    if evidence.structured { scanner.feed(bytes) }
                } else {
                    errTail.append(bytes)
                }
                if lastActivity - lastPublished > 1 {
                    lastPublished = lastActivity
                    control.update { $0.lastActivityAt = Stamp.iso() }
                }
            }, stop: {
                let t = now()
                if evidence.structured, FailureClassifier.earlyAbort(scanner, authEnv: target.provider?.authEnv) != nil { stopReason = .earlyAbort }
                else if t >= deadline { stopReason = .timeout }
                else if t - lastActivity >= spec.stall { stopReason = .stall }
                else if control.cancelRequested { stopReason = .cancel }
                else if control.shutdownRequested { stopReason = .shutdown }
                else if t - lastCancelCheck > 0.5 {
                    lastCancelCheck = t
                    if FileSystem.exists(cancelFile) { stopReason = .cancel }
                }
                return stopReason != nil
            })
            scanner.finish()
            log.flush()
            control.update { $0.pid = nil }
            exitCode = termination.exitCode
            signal = termination.signal
            evidence.exitCode = exitCode
            evidence.signal = signal
            evidence.stoppedBy = stopReason
            evidence.stdoutBytes = outTail.total
            evidence.stdoutTail = settings.redactor.redact(outTail.text)
            evidence.stderrTail = settings.redactor.redact(errTail.text)
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
        let attempt = TaskResult.Attempt(
            n: n, provider: target.providerName, harness: target.harnessName, model: target.model,
            startedAt: Stamp.iso(started), endedAt: Stamp.iso(), durationS: ((now() - startedMono) * 1000).rounded() / 1000,
            exitCode: exit, signal: signal, stdoutBytes: evidence.stdoutBytes,
            stderrTail: String(evidence.stderrTail.suffix(1000)), class: verdict.failureClass,
            retryable: verdict.failureClass.isTransient || verdict.failureClass.movesToFallback, reason: verdict.reason,
            stoppedBy: evidence.stoppedBy?.rawValue, apiRetries: evidence.stream.retries.isEmpty ? nil : evidence.stream.retries)
        log.note("attempt \(n) ended: \(verdict.failureClass.rawValue) — \(verdict.reason)")
        let answer = evidence.structured ? (evidence.stream.result.flatMap { $0.isError ? nil : $0.text } ?? "") : evidence.stdoutTail
        return Outcome(attempt: attempt, verdict: verdict, answer: answer)
    }
}

/// The pids runners reap themselves; the worker's orphan reaper skips them.
public final class PidTracker: @unchecked Sendable {
    private let lock = NSLock()
    private var pids: Set<Int32> = []

    public init() {}

    /// Spawns under the lock so the reaper never sees an untracked runner child.
    func track(_ spawn: () throws(SystemError) -> ChildProcess) throws(SystemError) -> ChildProcess {
        lock.lock()
        defer { lock.unlock() }
        let child = try spawn()
        pids.insert(child.pid)
        return child
    }

    func untrack(_ pid: Int32) { lock.withLock { _ = pids.remove(pid) } }

    /// Runs the reaper while no runner can spawn.
    public func reap() {
        lock.lock()
        defer { lock.unlock() }
        ProcessControl.reapOrphans { pids.contains($0) }
    }
}

extension Optional where Wrapped == PidTracker {
    func track(_ spawn: () throws(SystemError) -> ChildProcess) throws(SystemError) -> ChildProcess {
        switch self {
        case .some(let t): return try t.track(spawn)
        case .none: return try spawn()
        }
    }
    func untrack(_ pid: Int32) { self?.untrack(pid) }
}
