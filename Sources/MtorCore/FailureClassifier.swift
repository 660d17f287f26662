import Foundation

/// How an attempt ended, as the runner observed it; the classifier's only input.
public struct AttemptEvidence: Sendable {
    /// Why the runner itself stopped the process, if it did.
    public enum Stop: String, Sendable {
        case timeout, stall, cancel, shutdown, earlyAbort = "early_abort"
        /// The task's running cost or turns crossed its cap (`max_cost_usd:`, `max_turns:`), or a daily budget ran out.
        case budget
        /// The attempt was silent and a direct check found its provider hung or refusing.
        case silence = "silence_probe"
    }

    public var spawnFailure: String?
    /// The sandbox could not be built around the harness (bwrap refused), so nothing of it ran.
    public var sandboxFailure: String?
    public var exitCode: Int32?
    public var signal: Int32?
    public var stoppedBy: Stop?
    public var stdoutBytes: Int
    public var stdoutTail: String
    public var stderrTail: String
    public var duration: Double
    /// Whether the harness writes a structured stream the scanner understood.
    public var structured: Bool
    /// Whether a model sits behind this harness (false for plain commands like `sh`).
    public var expectsModel: Bool = true
    public var stream: StreamScanner
    /// The variable the provider's secret was put in, for hints (`ANTHROPIC_AUTH_TOKEN`).
    public var authEnv: String?
    public var timeoutLimit: Double
    public var stallLimit: Double
    /// What the direct provider check found, when `stoppedBy` is `silence`.
    public var silenceVerdict: Verdict?
    /// Which cap the attempt crossed and by how much, when `stoppedBy` is `budget` (or it crossed one as it ended).
    public var budgetReason: String?
    /// Processes the attempt started that were still running when it ended, and were killed.
    public var leftoversKilled = 0
    /// The attempt's memory cap and what happened under it; nil when it ran uncapped.
    public var memory: MemoryEvidence?
    /// The attempt's highest memory use in bytes, capped or not; nil when unknown.
    public var peakMemoryBytes: Int64?

    /// What the kernel reported about an attempt's memory cgroup.
    public struct MemoryEvidence: Equatable, Sendable {
        /// The cap in bytes (`memory:` or `--task-memory`).
        public var cap: Int64
        /// Processes the OOM killer killed inside the cap during the attempt; nil when the kernel does not count them.
        public var oomKills: Int?
        /// The attempt's highest memory use in bytes; nil when unknown.
        public var peakBytes: Int64?

        public init(cap: Int64, oomKills: Int?, peakBytes: Int64?) {
            self.cap = cap
            self.oomKills = oomKills
            self.peakBytes = peakBytes
        }
    }

    public init(spawnFailure: String? = nil, exitCode: Int32? = nil, signal: Int32? = nil, stoppedBy: Stop? = nil,
                stdoutBytes: Int = 0, stdoutTail: String = "", stderrTail: String = "", duration: Double = 0,
                structured: Bool = false, stream: StreamScanner = StreamScanner(), authEnv: String? = nil,
                timeoutLimit: Double = Spec.defaultTimeout, stallLimit: Double = Spec.defaultStall) {
        self.spawnFailure = spawnFailure
        self.exitCode = exitCode
        self.signal = signal
        self.stoppedBy = stoppedBy
        self.stdoutBytes = stdoutBytes
        self.stdoutTail = stdoutTail
        self.stderrTail = stderrTail
        self.duration = duration
        self.structured = structured
        self.stream = stream
        self.authEnv = authEnv
        self.timeoutLimit = timeoutLimit
        self.stallLimit = stallLimit
    }
}

/// The classifier's answer for one attempt.
public struct Verdict: Equatable, Sendable {
    public var failureClass: FailureClass
    public var reason: String
    public var hint: String
    /// Seconds the provider asked us to wait (`Retry-After`, `reset at …`), when it said.
    public var retryAfter: Double?

    public init(_ failureClass: FailureClass, _ reason: String, hint: String = "", retryAfter: Double? = nil) {
        self.failureClass = failureClass
        self.reason = reason
        self.hint = hint
        self.retryAfter = retryAfter
    }
}

/// Turns what an attempt did into a `FailureClass`: exit code and signal first, then only
/// positive evidence (structured stream events, known error texts).
public enum FailureClassifier {
    /// Attempts that end sooner than this with no model output never reached a model.
    public static let fastFailure = 2.0

    public static func classify(_ e: AttemptEvidence) -> Verdict {
        var verdict = decide(e)
        if verdict.failureClass != .ok, verdict.failureClass != .outOfMemory, e.expectsModel, e.duration < fastFailure, !e.stream.modelReached,
           e.spawnFailure == nil, e.sandboxFailure == nil, e.stoppedBy == nil {
            if !verdict.reason.hasSuffix(".") { verdict.reason += "." }
            verdict.reason += String(format: " It ended after %.2f s, faster than any model answers: the model was never reached.", e.duration)
        }
        return verdict
    }

    /// A deterministic provider failure proven by the stream so far, so the attempt can stop now.
    public static func earlyAbort(_ stream: StreamScanner, authEnv: String?) -> Verdict? {
        guard let last = stream.retries.last else { return nil }
        // Only the trailing run of the same status counts as "in a row".
        let count = stream.retries.reversed().prefix { $0.status == last.status }.count
        switch last.status {
        case 401?, 403?:
            return Verdict(.authFailed,
                           "the provider rejected the credentials: HTTP \(last.status!) "
                               + "(\(last.error ?? "authentication_failed")) on the harness's first API call", hint: authHint(authEnv))
        case 402?:
            return Verdict(.quotaExhausted, "the provider answered HTTP 402: the plan or balance is exhausted",
                           hint: "top up the provider account or move specs to a fallback provider")
        case 429? where (last.delayMs ?? 0) >= 30_000:
            // The provider named a reset far off: the harness would sleep through it in silence.
            let wait = (last.delayMs ?? 0) / 1000
            return Verdict(.rateLimited,
                           "the provider answered HTTP 429 and asked the harness to wait \(DurationText.format(wait.rounded())) "
                               + "before retrying", hint: "mtor holds the provider until then; tasks wait in inbox/ without "
                               + "spending attempts", retryAfter: wait)
        case 429? where count >= 4:
            return Verdict(.rateLimited, "the provider answered HTTP 429 (rate limited) \(count) times in a row",
                           hint: "mtor retries with backoff; lower the provider's concurrency if "
                               + "this persists", retryAfter: last.delayMs.map { $0 / 1000 })
        case let status? where status >= 500 && count >= 3:
            return Verdict(.providerUnavailable,
                           "the provider answered HTTP \(status) "
                               + "(\(last.error ?? "server error")) \(count) times in a row",
                           hint: "the provider is overloaded or down; mtor backs off and then uses the fallback")
        case nil where count >= 3 || (count >= 2 && last.error?.contains("waiting for network") == true):
            let said = last.error ?? "connection error"
            if said.lowercased().contains("high demand") || said.lowercased().contains("overloaded") {
                return Verdict(.providerUnavailable, "the provider answered that it is overloaded \(count) times in a row (\(said))",
                               hint: "the provider is overloaded or down; mtor backs off and then uses the fallback")
            }
            return Verdict(.providerUnavailable, "the harness could not connect to the provider (\(said), \(count) tries)",
                           hint: "check the provider's base_url and the network (`mtor doctor`)")
        default:
            return nil
        }
    }

    // MARK: - Decision

    private static func decide(_ e: AttemptEvidence) -> Verdict {
        if let failure = e.sandboxFailure {
            return Verdict(.internalError, failure,
                           hint: "run `mtor doctor` on the worker: it says whether the sandbox works here and how to enable it")
        }
        if let failure = e.spawnFailure {
            return Verdict(.harnessMissing, failure, hint: "install the harness or fix its argv[0] / PATH in etc/providers.json")
        }
        if let reason = e.budgetReason {
            return Verdict(.budgetExceeded, reason,
                           hint: "raise the cap in the spec (or the daily budget in the lockfile) if the task needs more, then `mtor retry` it")
        }
        switch e.stoppedBy {
        case .budget?:
            return Verdict(.budgetExceeded, "the agent was stopped at a spending limit")
        case .cancel?:
            return Verdict(.cancelled, "cancelled by a user while the agent was running")
        case .shutdown?:
            return Verdict(.interrupted, "the worker was stopped while the agent was running; the task is requeued")
        case .timeout?:
            return Verdict(.timedOut,
                           "the agent ran for the whole wall-clock limit of \(DurationText.format(e.timeoutLimit)) "
                               + "and was killed", hint: "raise 'timeout:' in the spec or split the task")
        case .stall?:
            if let evidence = streamVerdict(e) { return evidence }
            let seen = e.stdoutBytes == 0 ? "no output at all" : "no output"
            return Verdict(.stalled, "\(seen) for \(DurationText.format(e.stallLimit)) ('stall:'), so the agent was killed",
                           hint: "check that the provider answers (`mtor doctor`); raise 'stall:' only if the agent legitimately works silently")
        case .earlyAbort?:
            if let evidence = streamVerdict(e) { return evidence }
        case .silence?:
            if let evidence = streamVerdict(e) { return evidence }
            if let found = e.silenceVerdict { return found }
        case nil:
            if let verdict = memoryVerdict(e) { return verdict }
        }
        if e.exitCode == 0 && e.signal == nil {
            if e.structured {
                guard let result = e.stream.result else {
                    if let evidence = streamVerdict(e) { return evidence }
                    return Verdict(.agentFailed, "the harness exited 0 without its final result event", hint: "read the task log")
                }
                if result.isError {
                    return textVerdict(result.text, e) ?? Verdict(.agentFailed, "the agent reported an error: \(trim(result.text))")
                }
            }
            return Verdict(.ok, "the agent finished successfully")
        }
        if let signal = e.signal {
            return Verdict(.unknown, "the agent was killed by signal "
                + "\(signal)\(signal == 9 ? " (SIGKILL from outside mtor; the kernel's OOM killer does this)" : "")",
            hint: "check `dmesg` and the machine's memory")
        }
        let code = e.exitCode ?? -1
        if code == 127 {
            return Verdict(.harnessMissing, "exit 127: the harness or a program it runs was not found (\(trim(e.stderrTail)))",
                           hint: "install it or fix PATH in etc/providers.json")
        }
        if code == 126 {
            return Verdict(.harnessMissing, "exit 126: the harness is not executable (\(trim(e.stderrTail)))", hint: "chmod +x the harness binary")
        }
        if let evidence = streamVerdict(e) { return evidence }
        // A structured stdout carries the model's own words; only stderr is error text there.
        if let evidence = textVerdict(e.structured ? e.stderrTail : e.stderrTail + "\n" + e.stdoutTail, e) { return evidence }
        // A plain command that printed something ran and failed on its own terms.
        let said = trim(e.stderrTail)
        // A plain command (`sh`, no model behind it): its exit status is its own verdict, output or not; a
        // retry would run its side effects twice.
        if !e.expectsModel {
            return Verdict(.agentFailed,
                           "the command exited \(code)\(said.isEmpty ? " (it printed nothing on stderr)" : "; stderr: \(said)")",
                           hint: "read the task log; a plain command's exit status is its verdict, so it is not retried")
        }
        if e.stream.modelReached || (!e.structured && (e.stdoutBytes > 0 || !said.isEmpty)) {
            return Verdict(.agentFailed,
                           "the agent exited \(code)\(e.stream.result.map { ": " + trim($0.text) } ?? (said.isEmpty ? "" : "; stderr: \(said)"))",
                           hint: "read the task log")
        }
        return Verdict(.unknown, "the harness exited \(code) with "
            + "\(e.stdoutBytes == 0 ? "empty stdout" : "no recognisable output")\(said.isEmpty ? " and empty stderr" : "; stderr said: \(said)")",
                       hint: "run the harness by hand with the same argv to see what it says")
    }

    /// A failed attempt inside which the kernel's OOM killer killed a process: killed at its cap, whoever died.
    /// An agent that survived such a kill and exited 0 succeeded.
    private static func memoryVerdict(_ e: AttemptEvidence) -> Verdict? {
        guard let memory = e.memory, let kills = memory.oomKills, kills > 0, !(e.exitCode == 0 && e.signal == nil) else { return nil }
        let cap = ByteSize.format(memory.cap)
        let who = e.signal == 9 ? "the agent was" : kills == 1 ? "a process of the attempt was" : "\(kills) processes of the attempt were"
        var reason = "\(who) killed by the kernel's out-of-memory killer at the \(cap) cap"
        if e.signal != 9 { reason += "; the agent then \(e.signal.map { "died of signal \($0)" } ?? "exited \(e.exitCode ?? -1)")" }
        if let peak = memory.peakBytes { reason += " (peak use \(ByteSize.format(peak)))" }
        return Verdict(.outOfMemory, reason,
                       hint: "raise 'memory:' in the spec (or the worker's --task-memory) above \(cap), or make the task need less; it is "
                           + "not retried at the same cap")
    }

    /// What the structured stream proves on its own.
    private static func streamVerdict(_ e: AttemptEvidence) -> Verdict? {
        if let abort = earlyAbort(e.stream, authEnv: e.authEnv) { return abort }
        for text in e.stream.errorTexts.reversed() {
            if let v = textVerdict(text, e) { return v }
        }
        if let result = e.stream.result, result.isError, let v = textVerdict(result.text, e) { return v }
        if let last = e.stream.retries.last {
            if last.status == 429 {
                return Verdict(.rateLimited, "the provider answered HTTP 429 (rate limited) \(e.stream.retries.count) time(s)",
                               retryAfter: last.delayMs.map { $0 / 1000 })
            }
            if let s = last.status, s >= 500 {
                return Verdict(.providerUnavailable, "the provider answered HTTP \(s) \(e.stream.retries.count) time(s)")
            }
            if last.status == nil || last.error?.contains("connection") == true || last.error == "unknown" {
                return Verdict(.providerUnavailable,
                               "the harness could not connect to the provider "
                                   + "(\(last.error ?? "connection error"), \(e.stream.retries.count) retries)",
                               hint: "check the provider's base_url and the network (`mtor doctor`)")
            }
        }
        return nil
    }

    /// Known error texts from harnesses and providers.
    static func textVerdict(_ text: String, _ e: AttemptEvidence) -> Verdict? {
        let lower = text.lowercased()
        func has(_ needles: String...) -> Bool { needles.contains { lower.contains($0) } }
        let excerpt = trim(firstLine(matching: lower, in: text))
        if has("unknown option", "unknown flag", "unrecognized option", "unexpected argument", "invalid option", "unrecognized arguments",
               "error: option") {
            return Verdict(.harnessUsage, "the harness rejected its own arguments: \(excerpt)",
                           hint: "fix the harness argv in etc/providers.json or the spec's model/harness; the prompt never goes on argv")
        }
        if has("command not found") {
            return Verdict(.harnessMissing, "a program was not found: \(excerpt)", hint: "install it or fix PATH in etc/providers.json")
        }
        if has("not logged in", "please run /login", "authentication_error", "authentication_failed", "invalid api key", "invalid x-api-key",
               "invalid_api_key", "401 unauthorized", "status 401", "api error: 401", "api error: 403", "permission_error",
               // Aider (litellm): "litellm.AuthenticationError: …" + "The API provider is not able to authenticate you."
               "litellm.authenticationerror", "not able to authenticate you") {
            return Verdict(.authFailed, "the provider rejected the credentials: \(excerpt)", hint: authHint(e.authEnv))
        }
        if has("credit balance is too low", "insufficient_quota", "billing", "quota exceeded", "exceeded your current quota",
               "payment required", "api error: 402",
               "insufficient credits with the api provider") {
            return Verdict(.quotaExhausted, "the provider's plan or balance is exhausted: \(excerpt)",
                           hint: "top up the provider account or use a fallback provider")
        }
        // Claude Code 2.1.332 prints a refused 429 as "API Error: Request rejected (429) · Usage limit reached …; resets at T".
        if has("rate_limit", "rate limit", "too many requests", "api error: 429", "rejected (429)", "usage limit reached") {
            return Verdict(.rateLimited, "the provider rate-limited the harness: \(excerpt)", retryAfter: RetryPolicy.resetDelay(in: text))
        }
        if has("overloaded", "currently experiencing high demand", "connection failed", "error sending request", "connection refused",
               "econnrefused", "econnreset", "connection error", "unable to connect", "etimedout", "socket hang up", "fetch failed",
               "api error: 5", "request timed out", "service unavailable", "bad gateway") {
            return Verdict(.providerUnavailable, "the provider could not be reached or is overloaded: \(excerpt)",
                           hint: "check the provider's base_url and status (`mtor doctor`)")
        }
        return nil
    }

    static func authHint(_ authEnv: String?) -> String {
        guard let authEnv else { return "check the provider's key with `mtor doctor`" }
        let other = authEnv == "ANTHROPIC_AUTH_TOKEN" ? "ANTHROPIC_API_KEY (sent as x-api-key)"
            : authEnv == "ANTHROPIC_API_KEY" ? "ANTHROPIC_AUTH_TOKEN (sent as Authorization: Bearer)" : nil
        var hint = "the harness sent the secret in \(authEnv); check the key with `mtor doctor`"
        if let other { hint += ", and whether the provider expects \(other) instead (auth_env in etc/providers.json)" }
        return hint
    }

    /// The line that says what went wrong: an error line first, never a warning a harness prints
    /// before its real complaint (codex: "WARNING: … could not create PATH aliases").
    private static func firstLine(matching lower: String, in text: String) -> String {
        let lines = text.split(separator: "\n").map(String.init).filter { !$0.trimmingCharacters(in: .whitespaces).isEmpty }
        let telling = lines.filter { !$0.trimmingCharacters(in: .whitespaces).lowercased().hasPrefix("warning") }
        for needles in [["error"], ["unknown", "invalid", "denied", "unexpected", "not "]] {
            if let line = telling.first(where: { l in needles.contains { l.lowercased().contains($0) } }) { return line }
        }
        return telling.first ?? lines.first ?? ""
    }

    static func trim(_ text: String, limit: Int = 300) -> String {
        let flat = text.trimmingCharacters(in: .whitespacesAndNewlines).replacingOccurrences(of: "\n", with: " | ")
        return flat.count > limit ? String(flat.prefix(limit)) + "…" : flat
    }
}
