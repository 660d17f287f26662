import Testing
@testable import MtorCore

struct ClassifierCase: Sendable, CustomTestStringConvertible {
    var name: String
    var evidence: AttemptEvidence
    var expected: FailureClass
    var reasonMentions: [String] = []
    var hintMentions: [String] = []
    var neverReached: Bool? = nil
    var testDescription: String { name }
}

func evidence(exit: Int32? = nil, signal: Int32? = nil, stoppedBy: AttemptEvidence.Stop? = nil, spawnFailure: String? = nil,
              stdout: String = "", stderr: String = "", duration: Double = 30, structured: Bool = true,
              stream: StreamScanner = StreamScanner(), authEnv: String? = "ANTHROPIC_AUTH_TOKEN",
              expectsModel: Bool = true) -> AttemptEvidence {
    var e = AttemptEvidence(spawnFailure: spawnFailure, exitCode: exit, signal: signal, stoppedBy: stoppedBy,
                            stdoutBytes: stdout.utf8.count, stdoutTail: stdout, stderrTail: stderr, duration: duration,
                            structured: structured, stream: stream, authEnv: authEnv)
    e.expectsModel = expectsModel
    return e
}

/// A structured run: the lines go both through the scanner and into the stdout tail, as the runner does.
func streamed(exit: Int32? = nil, signal: Int32? = nil, stoppedBy: AttemptEvidence.Stop? = nil, stderr: String = "",
              duration: Double = 30, authEnv: String? = "ANTHROPIC_AUTH_TOKEN", _ lines: String...) -> AttemptEvidence {
    var s = StreamScanner()
    for line in lines { s.feed(Array((line + "\n").utf8)) }
    return evidence(exit: exit, signal: signal, stoppedBy: stoppedBy, stdout: lines.map { $0 + "\n" }.joined(), stderr: stderr,
                    duration: duration, structured: true, stream: s, authEnv: authEnv)
}

@Suite("Failure classifier")
struct ClassifierTests {
    static let cases: [ClassifierCase] = [
        ClassifierCase(name: "exit 0 from a plain command is ok",
                       evidence: evidence(exit: 0, stdout: "ok\n", duration: 0.1, structured: false), expected: .ok,
                       neverReached: false),
        ClassifierCase(name: "exit 0 with a structured success result is ok",
                       evidence: streamed(exit: 0, ClaudeLine.initEvent, ClaudeLine.toolUse, ClaudeLine.success), expected: .ok),
        ClassifierCase(name: "429 retries then success is ok",
                       evidence: streamed(exit: 0, ClaudeLine.initEvent, ClaudeLine.apiRetry(1, status: 429, error: "rate_limit"),
                                          ClaudeLine.apiRetry(2, status: 429, error: "rate_limit"), ClaudeLine.assistantText("ok"),
                                          ClaudeLine.result("ok", isError: false)), expected: .ok),
        ClassifierCase(name: "structured exit 0 without a result event is agent_failed",
                       evidence: streamed(exit: 0, ClaudeLine.initEvent, ClaudeLine.assistantText("working")),
                       expected: .agentFailed, reasonMentions: ["result"]),
        ClassifierCase(name: "structured exit 0 with an error result naming no known text is agent_failed",
                       evidence: streamed(exit: 0, ClaudeLine.initEvent, ClaudeLine.assistantText("hmm"),
                                          ClaudeLine.result("the tool crashed", isError: true, subtype: "error_during_execution")),
                       expected: .agentFailed, reasonMentions: ["the tool crashed"]),
        ClassifierCase(name: "error: unknown option '---' on stderr is harness_usage that never reached a model",
                       evidence: evidence(exit: 1, stderr: "error: unknown option '---'\n", duration: 0.17),
                       expected: .harnessUsage, reasonMentions: ["unknown option '---'"], hintMentions: ["argv"], neverReached: true),
        ClassifierCase(name: "exit 1 with empty stdout and stderr is unknown, never rate_limited",
                       evidence: evidence(exit: 1, duration: 0.05), expected: .unknown,
                       reasonMentions: ["exited 1", "empty stdout"], neverReached: true),
        ClassifierCase(name: "exit 1 with empty output after a long run is unknown and not called fast",
                       evidence: evidence(exit: 1, duration: 95, structured: false), expected: .unknown, neverReached: false),
        ClassifierCase(name: "exit 127 is harness_missing",
                       evidence: evidence(exit: 127, stderr: "/bin/sh: 1: claude: not found\n", duration: 0.01),
                       expected: .harnessMissing, reasonMentions: ["127", "claude: not found"]),
        ClassifierCase(name: "exit 126 is harness_missing",
                       evidence: evidence(exit: 126, stderr: "permission denied\n", duration: 0.01),
                       expected: .harnessMissing, reasonMentions: ["126"]),
        ClassifierCase(name: "a spawn failure is harness_missing",
                       evidence: evidence(spawnFailure: "cannot run 'claude': No such file or directory", duration: 0),
                       expected: .harnessMissing, reasonMentions: ["No such file or directory"], neverReached: false),
        ClassifierCase(name: "plain stdout 'Not logged in · Please run /login' with exit 1 is auth_failed",
                       evidence: evidence(exit: 1, stdout: "Not logged in · Please run /login\n", duration: 0.6, structured: false),
                       expected: .authFailed, reasonMentions: ["Not logged in"], hintMentions: ["ANTHROPIC_AUTH_TOKEN"]),
        ClassifierCase(name: "stream-json synthetic 'Not logged in' and error result with exit 1 is auth_failed",
                       evidence: streamed(exit: 1, duration: 0.6, ClaudeLine.initEvent,
                                          ClaudeLine.syntheticError("Not logged in · Please run /login", error: "authentication_failed", status: 401),
                                          ClaudeLine.result("Not logged in · Please run /login", isError: true)),
                       expected: .authFailed, hintMentions: ["ANTHROPIC_AUTH_TOKEN"], neverReached: true),
        ClassifierCase(name: "an api_retry 401 stopped early is auth_failed and the hint names the auth variable",
                       evidence: streamed(signal: 15, stoppedBy: .earlyAbort, duration: 0.6, authEnv: "ANTHROPIC_API_KEY",
                                          ClaudeLine.initEvent, ClaudeLine.apiRetry(1, status: 401, error: "authentication_failed")),
                       expected: .authFailed, reasonMentions: ["401"],
                       hintMentions: ["ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "auth_env"], neverReached: false),
        ClassifierCase(name: "api_retry 401 events and then a timeout kill are still auth_failed evidence on exit",
                       evidence: streamed(exit: 143, duration: 40, ClaudeLine.initEvent,
                                          ClaudeLine.apiRetry(1, status: 401, error: "authentication_failed"),
                                          ClaudeLine.apiRetry(2, status: 401, error: "authentication_failed")),
                       expected: .authFailed, hintMentions: ["ANTHROPIC_AUTH_TOKEN"]),
        ClassifierCase(name: "an api_retry 402 is quota_exhausted",
                       evidence: streamed(signal: 15, stoppedBy: .earlyAbort, duration: 7,
                                          ClaudeLine.initEvent, ClaudeLine.apiRetry(1, status: 402, error: "billing_error")),
                       expected: .quotaExhausted, reasonMentions: ["402"]),
        ClassifierCase(name: "the synthetic 'Credit balance is too low' message is quota_exhausted",
                       evidence: streamed(exit: 1, duration: 7.6, ClaudeLine.initEvent,
                                          ClaudeLine.syntheticError("Credit balance is too low", error: "billing_error", status: 402),
                                          ClaudeLine.result("Credit balance is too low", isError: true)),
                       expected: .quotaExhausted, reasonMentions: ["Credit balance is too low"]),
        ClassifierCase(name: "provider billing text on stderr is quota_exhausted",
                       evidence: evidence(exit: 1, stderr: #"API Error: 400 {"type":"error","error":{"type":"invalid_request_error","message":"Your credit balance is too low to access the Anthropic API. Please go to Plans & Billing to upgrade or purchase credits."}}"#, structured: false),
                       expected: .quotaExhausted),
        ClassifierCase(name: "OpenAI insufficient_quota text is quota_exhausted",
                       evidence: evidence(exit: 1, stderr: "Error: 429 You exceeded your current quota, please check your plan and billing details. (insufficient_quota)", structured: false),
                       expected: .quotaExhausted),
        ClassifierCase(name: "429 rate-limit text is rate_limited",
                       evidence: evidence(exit: 1, stderr: #"API Error: 429 {"type":"error","error":{"type":"rate_limit_error","message":"Number of request tokens has exceeded your per-minute rate limit"}}"#, structured: false),
                       expected: .rateLimited),
        ClassifierCase(name: "Claude Code's refused usage limit (observed, 2.1.332) is rate_limited",
                       evidence: streamed(exit: 1, ClaudeLine.initEvent,
                                          ClaudeLine.result("API Error: Request rejected (429) · Usage limit reached for this account; resets at 2026-11-30T19:29:04Z", isError: true)),
                       expected: .rateLimited),
        ClassifierCase(name: "an api_retry 429 whose retry delay is 40 s ends the attempt at once: rate_limited",
                       evidence: streamed(signal: 15, stoppedBy: .earlyAbort, duration: 1, ClaudeLine.initEvent,
                                          ClaudeLine.apiRetry(1, status: 429, error: "rate_limit", delayMs: 40_000)),
                       expected: .rateLimited),
        ClassifierCase(name: "429 api_retry events then a stall kill are rate_limited",
                       evidence: streamed(signal: 15, stoppedBy: .stall, duration: 900, ClaudeLine.initEvent,
                                          ClaudeLine.apiRetry(1, status: 429, error: "rate_limit", delayMs: 1161)),
                       expected: .rateLimited),
        ClassifierCase(name: "Connection refused is provider_unavailable",
                       evidence: evidence(exit: 1, stderr: "Error: connect ECONNREFUSED 127.0.0.1:9\nConnection refused\n", structured: false),
                       expected: .providerUnavailable, hintMentions: ["base_url"]),
        ClassifierCase(name: "529 overloaded api_retry events then a stall kill are provider_unavailable, not stalled",
                       evidence: streamed(signal: 15, stoppedBy: .stall, duration: 900, ClaudeLine.initEvent,
                                          ClaudeLine.apiRetry(1, status: 529, error: "overloaded"),
                                          ClaudeLine.apiRetry(2, status: 529, error: "overloaded")),
                       expected: .providerUnavailable, reasonMentions: ["529"]),
        ClassifierCase(name: "api_retry with a null status (connection refused / API timeout) is provider_unavailable",
                       evidence: streamed(signal: 15, stoppedBy: .stall, duration: 900, ClaudeLine.initEvent,
                                          ClaudeLine.apiRetry(1, status: nil, error: "unknown")),
                       expected: .providerUnavailable),
        ClassifierCase(name: "stopped by the wall-clock timeout is timed_out",
                       evidence: streamed(signal: 15, stoppedBy: .timeout, duration: 7200, ClaudeLine.initEvent, ClaudeLine.toolUse),
                       expected: .timedOut, reasonMentions: ["2h"], neverReached: false),
        ClassifierCase(name: "stopped for silence is stalled",
                       evidence: streamed(signal: 15, stoppedBy: .stall, duration: 900, ClaudeLine.initEvent),
                       expected: .stalled, reasonMentions: ["15m"]),
        ClassifierCase(name: "stopped by a user is cancelled",
                       evidence: streamed(signal: 15, stoppedBy: .cancel, duration: 0.5, ClaudeLine.initEvent),
                       expected: .cancelled, neverReached: false),
        ClassifierCase(name: "stopped by worker shutdown is interrupted",
                       evidence: streamed(signal: 15, stoppedBy: .shutdown, duration: 12, ClaudeLine.initEvent),
                       expected: .interrupted),
        ClassifierCase(name: "killed by signal 9 from outside is unknown and mentions the OOM killer",
                       evidence: streamed(signal: 9, duration: 300, ClaudeLine.initEvent, ClaudeLine.toolUse),
                       expected: .unknown, reasonMentions: ["signal 9", "OOM"]),
        ClassifierCase(name: "a model that answered and then the agent exited non-zero is agent_failed",
                       evidence: streamed(exit: 1, duration: 300, ClaudeLine.initEvent, ClaudeLine.toolUse,
                                          ClaudeLine.result("", isError: true, subtype: "error_max_turns")),
                       expected: .agentFailed, neverReached: false),
        ClassifierCase(name: "a plain command that printed output and exited 2 is agent_failed",
                       evidence: evidence(exit: 2, stdout: "make: *** [all] Error 2\n", duration: 0.3, structured: false, expectsModel: false),
                       expected: .agentFailed, reasonMentions: ["exited 2"], neverReached: false),
    ]

    @Test("evidence → class", arguments: cases)
    func classify(_ c: ClassifierCase) {
        let v = FailureClassifier.classify(c.evidence)
        #expect(v.failureClass == c.expected, "reason: \(v.reason)")
        for word in c.reasonMentions {
            #expect(v.reason.contains(word), "reason \(v.reason.debugDescription) does not mention \(word)")
        }
        for word in c.hintMentions {
            #expect(v.hint.contains(word), "hint \(v.hint.debugDescription) does not mention \(word)")
        }
        if let never = c.neverReached {
            #expect(v.reason.contains("never reached") == never, "reason: \(v.reason)")
        }
        #expect(!v.reason.isEmpty)
    }

    @Test("an empty stdout with a non-zero exit is never rate_limited", arguments: [1, 2, 3, 42, 255] as [Int32])
    func emptyIsNotRateLimited(_ code: Int32) {
        for structured in [true, false] {
            for duration in [0.01, 5, 600] {
                let v = FailureClassifier.classify(evidence(exit: code, duration: duration, structured: structured))
                #expect(v.failureClass == .unknown)
                #expect(v.failureClass != .rateLimited)
            }
        }
    }

    @Test("a rate-limit text carries the reset delay it names")
    func rateLimitRetryAfter() {
        let v = FailureClassifier.classify(evidence(exit: 1, stderr: "Error: 429 Rate limit reached. Please try again in 20s", structured: false))
        #expect(v.failureClass == .rateLimited)
        #expect(v.retryAfter == 20)
    }

    @Test("the auth hint names the variable used and the other Anthropic variable", arguments: [
        ("ANTHROPIC_AUTH_TOKEN", "ANTHROPIC_API_KEY"), ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN"),
    ])
    func authHint(_ used: String, _ other: String) {
        let hint = FailureClassifier.authHint(used)
        #expect(hint.contains(used))
        #expect(hint.contains(other))
        #expect(FailureClassifier.authHint("OPENAI_API_KEY").contains("OPENAI_API_KEY"))
        #expect(!FailureClassifier.authHint(nil).isEmpty)
    }

    @Test("an agent whose own work mentions provider errors still exited as agent_failed")
    func agentTextIsNotProviderEvidence() {
        let e = streamed(exit: 1, duration: 300, ClaudeLine.initEvent,
                         ClaudeLine.assistantText("The client now retries on Connection refused and on rate limit errors."),
                         ClaudeLine.result("", isError: true, subtype: "error_max_turns"))
        // The model's own words on a structured stdout are not error texts.
        #expect(FailureClassifier.classify(e).failureClass == .agentFailed)
    }
}

@Suite("Early abort")
struct EarlyAbortTests {
    @Test("no api_retry events: nothing to abort on")
    func noRetries() {
        #expect(FailureClassifier.earlyAbort(StreamScanner(), authEnv: "ANTHROPIC_AUTH_TOKEN") == nil)
        #expect(FailureClassifier.earlyAbort(scanned(ClaudeLine.initEvent, ClaudeLine.toolUse), authEnv: nil) == nil)
    }

    @Test("one 401 event is enough for auth_failed, with the auth variable in the hint", arguments: [401, 403])
    func auth(_ status: Int) throws {
        let s = scanned(ClaudeLine.initEvent, ClaudeLine.apiRetry(1, status: status, error: "authentication_failed"))
        let v = try #require(FailureClassifier.earlyAbort(s, authEnv: "ANTHROPIC_AUTH_TOKEN"))
        #expect(v.failureClass == .authFailed)
        #expect(v.reason.contains("\(status)"))
        #expect(v.hint.contains("ANTHROPIC_AUTH_TOKEN"))
    }

    @Test("one 402 event is enough for quota_exhausted")
    func quota() {
        let s = scanned(ClaudeLine.initEvent, ClaudeLine.apiRetry(1, status: 402, error: "billing_error"))
        #expect(FailureClassifier.earlyAbort(s, authEnv: nil)?.failureClass == .quotaExhausted)
    }

    @Test("429, 5xx and connection errors abort only after several events in a row", arguments: [
        (429, FailureClass.rateLimited, "rate_limit", 4), (529, .providerUnavailable, "overloaded", 3),
        (500, .providerUnavailable, "api_error", 3), (nil, .providerUnavailable, "unknown", 3),
    ] as [(Int?, FailureClass, String, Int)])
    func transient(_ status: Int?, _ cls: FailureClass, _ error: String, _ threshold: Int) {
        var s = scanned(ClaudeLine.initEvent)
        for attempt in 1..<threshold {
            s.feed(Array((ClaudeLine.apiRetry(attempt, status: status, error: error, delayMs: 1200) + "\n").utf8))
            #expect(FailureClassifier.earlyAbort(s, authEnv: nil) == nil, "after \(attempt)")
        }
        s.feed(Array((ClaudeLine.apiRetry(threshold, status: status, error: error, delayMs: 1200) + "\n").utf8))
        let v = FailureClassifier.earlyAbort(s, authEnv: nil)
        #expect(v?.failureClass == cls)
        #expect(v?.reason.contains("\(threshold)") == true)
        if status == 429 { #expect(v?.retryAfter == 1.2) }
    }

    @Test("a 401 after transient errors still aborts at once")
    func authAfterTransient() {
        let s = scanned(ClaudeLine.initEvent, ClaudeLine.apiRetry(1, status: 529, error: "overloaded"),
                        ClaudeLine.apiRetry(2, status: 401, error: "authentication_failed"))
        #expect(FailureClassifier.earlyAbort(s, authEnv: "ANTHROPIC_AUTH_TOKEN")?.failureClass == .authFailed)
    }
}
