import Foundation
import MtorCore
import MtorPlatform

// MARK: - Watching the agent

extension Runner {
    /// Drives the agent to its end under the stop rules of `AttemptWatch`, filling `evidence` with what it did.
    func watch(_ child: ChildProcess, id: String, spec: Spec, target: Settings.Target, start: Start, evidence: inout AttemptEvidence) {
        control.update { $0.pid = child.pid }
        var output = RedactedOutput(settings.redactor)
        var outTail = Tail(), errTail = Tail()
        var scanner = StreamScanner(format: target.harness.stream)
        let structured = evidence.structured
        // Only redacted bytes go on: every tail, log line and stream fact is cut from them.
        func take(_ clean: [UInt8], isStdout: Bool) {
            log.append(redacted: clean)
            if isStdout {
                outTail.append(clean)
                if structured { scanner.feed(clean) }
            } else {
                errTail.append(clean)
            }
        }
        var rules = AttemptWatch(deadline: start.mono + spec.timeout, stall: spec.stall, silenceProbe: silenceProbe, since: now())
        let cancelFile = "\(spool.cancel)/\(id)"
        var lastAnswer: Date? = nil
        let price = target.provider?.price(target.model)
        var budgetReason: String?
        // Fails closed: a cap is checked against what the stream shows so far, after every read.
        func overBudget() -> String? {
            budgetReason = budgetReason ?? limits.exceeded(cost: price.map { $0.cost(scanner.live) }, turns: scanner.liveTurns)
            return budgetReason
        }
        let termination = child.drive(grace: grace, onOutput: { stream, bytes in
            take(output.feed(bytes, isStdout: stream == .stdout), isStdout: stream == .stdout)
            if rules.output(at: now()) {
                let cost = price.map { limits.spentBefore + $0.cost(scanner.live) }
                control.update { $0.lastActivityAt = Stamp.iso(); $0.costUSD = cost; $0.attemptCostUSD = price?.cost(scanner.live) }
            }
        }, stop: {
            let t = now()
            var facts = AttemptWatch.Facts(earlyAbort: structured && FailureClassifier.earlyAbort(scanner, authEnv: target.provider?.authEnv) != nil,
                                           cancelRequested: control.cancelRequested, shutdownRequested: control.shutdownRequested)
            facts.budgetExceeded = structured && overBudget() != nil
            if !facts.budgetExceeded, structured,
               let why = dailyStop(target, price.map { $0.cost(scanner.live) } ?? 0) { budgetReason = why; facts.budgetExceeded = true }
            if !facts.earlyAbort, rules.probeDue(at: t) { facts.providerFailed = providerCheck(target, rules: rules, at: t, lastAnswer: &lastAnswer) }
            facts.cancelFileSeen = rules.cancelFileDue(at: t) && FileSystem.exists(cancelFile)
            return rules.check(now: t, facts) != nil
        })
        let held = output.finish()
        take(held.stdout, isStdout: true)
        take(held.stderr, isStdout: false)
        scanner.finish()
        // An agent that crossed its cap in its last lines, before a look could stop it, crossed it all the same.
        if structured { _ = overBudget() }
        // Said as it happened: stopped at once, or crossed by the stream's last report as the agent ended on its own (Codex's turn.completed).
        evidence.budgetReason = budgetReason.map {
            rules.stop == .budget ? $0 + ", so the agent was stopped at once" : $0 + " (reported as the agent ended)"
        }
        if let price { control.update { $0.costUSD = limits.spentBefore + price.cost(scanner.finalTokens) } }
        // Nothing the attempt started outlives it (setsid, double forks, daemons).
        evidence.leftoversKilled = child.leftoversKilled + (containment?.killAll() ?? 0)
        evidence.exitCode = termination.exitCode
        evidence.signal = termination.signal
        evidence.stoppedBy = rules.stop
        evidence.silenceVerdict = rules.silenceVerdict
        evidence.stdoutBytes = output.stdoutBytes
        evidence.stdoutTail = outTail.text
        evidence.stderrTail = errTail.text
        evidence.stream = scanner
    }

    /// What a direct check of a silent attempt's provider found wrong, if anything; an answer is
    /// published once per check so `status` can say the provider is alive.
    private func providerCheck(_ target: Settings.Target, rules: AttemptWatch, at t: Double, lastAnswer: inout Date?) -> Verdict? {
        guard let triage, let provider = target.providerName, target.harness.needsProvider else { return nil }
        switch triage.finding(provider, settings: settings, since: rules.lastActivity, freshFor: rules.probeAfter, silentFor: rules.silence(at: t)) {
        case .failed(let verdict)?:
            return verdict
        case .answered(let at)? where at != lastAnswer:
            lastAnswer = at
            control.update { $0.providerAnsweredAt = Stamp.iso(at) }
            return nil
        case .answered?, nil:
            return nil
        }
    }
}

// MARK: - The prompt

/// The prompt where the harness reads it: a private file named on the command line, or an unlinked file on stdin.
struct StagedPrompt {
    /// The file the harness is told to read, when it reads one.
    var file: String?
    /// The descriptor the harness reads the prompt from on stdin, when it does.
    var stdinFD: Int32?

    init(_ prompt: [UInt8], inFile: Bool, directory: String, id: String) throws {
        if inFile {
            file = try PrivateFile.create(bytes: prompt, directory: directory, name: "\(id).prompt")
        } else {
            stdinFD = try PrivateFile.readable(bytes: prompt, directory: directory)
        }
    }

    /// Closes the descriptor and removes the file, whichever there is.
    func remove() {
        if let stdinFD { FileSystem.closeDescriptor(stdinFD) }
        if let file { FileSystem.remove(file) }
    }
}
