import Testing
@testable import MtorCore

/// Aider's stdout as aider-chat 0.86.2 printed it with `--no-pretty` against the scripted provider
/// (Tests/Fixtures/OBSERVED.md, "Aider"): Rich wraps at 80 columns even without a terminal.
enum AiderOutput {
    static let banner = """
        Aider v0.86.2
        Model: openai/mtor-scripted with whole edit format
        Git repo: .git with 1 files
        Repo-map: disabled

        """

    static let success = banner + """
        I will create hello.txt.

        hello.txt
        ```
        hello from the mtor scripted provider
        ```

        Tokens: 594 sent, 21 received.

        hello.txt
        Applied edit to hello.txt
        Commit 4e05255 Add hello.txt

        """

    static let unauthorized = banner + """
        litellm.AuthenticationError: AuthenticationError: OpenAIException - Incorrect 
        API key provided.
        The API provider is not able to authenticate you. Check your API key.

        """

    static func rateLimited(_ delays: [String]) -> String {
        banner + delays.map { """
            litellm.RateLimitError: RateLimitError: OpenAIException - Rate limit reached. 
            Please try again in 1s.
            The API provider has rate limited you. Try again later or check your quotas.
            Retrying in \($0) seconds...

            """ }.joined()
    }

    static let badFlag = """
        usage: aider [-h] [--model MODEL] [--openai-api-key OPENAI_API_KEY]
                     [FILE ...]
        aider: error: unrecognized arguments: --no-such-flag

        """

    static func scanner(_ text: String, chunk: Int = 7) -> StreamScanner {
        var s = StreamScanner(format: StreamScanner.aiderText)
        let bytes = Array(text.utf8)
        for start in stride(from: 0, to: bytes.count, by: chunk) { s.feed(bytes[start..<min(start + chunk, bytes.count)]) }
        s.finish()
        return s
    }

    static func evidence(exit: Int32, stdout: String, stderr: String = "", duration: Double = 9) -> AttemptEvidence {
        AttemptEvidence(exitCode: exit, stdoutBytes: stdout.utf8.count, stdoutTail: stdout, stderrTail: stderr, duration: duration,
                        structured: true, stream: scanner(stdout), authEnv: "OPENAI_API_KEY")
    }
}

@Suite("Aider's plain output as evidence")
struct AiderEvidenceTests {
    @Test("a run that committed: the model answered, the answer is its reply without the banner")
    func success() {
        let s = AiderOutput.scanner(AiderOutput.success)
        #expect(s.modelReached)
        #expect(s.retries.isEmpty)
        #expect(s.result == .init(isError: false, subtype: "success", text: "I will create hello.txt.\n\nhello.txt\n```\nhello from the mtor scripted provider\n```"))
        #expect(FailureClassifier.classify(AiderOutput.evidence(exit: 0, stdout: AiderOutput.success)).failureClass == .ok)
    }

    @Test("401: Aider exits 0, yet its AuthenticationError line is a 401 that aborts at once")
    func unauthorized() {
        let s = AiderOutput.scanner(AiderOutput.unauthorized)
        #expect(s.retries.map(\.status) == [401])
        #expect(!s.modelReached)
        #expect(FailureClassifier.earlyAbort(s, authEnv: "OPENAI_API_KEY")?.failureClass == .authFailed)
        let v = FailureClassifier.classify(AiderOutput.evidence(exit: 0, stdout: AiderOutput.unauthorized))
        #expect(v.failureClass == .authFailed, "\(v.reason)")
        #expect(v.hint.contains("OPENAI_API_KEY"))
    }

    @Test("429: each RateLimitError is a retry with the delay Aider names; four in a row abort as rate_limited")
    func rateLimited() {
        let three = AiderOutput.scanner(AiderOutput.rateLimited(["0.2", "0.5", "1.0"]))
        #expect(three.retries.map(\.status) == [429, 429, 429])
        #expect(three.retries.map(\.delayMs) == [200, 500, 1000])
        #expect(FailureClassifier.earlyAbort(three, authEnv: nil) == nil, "three retries are not yet proof")
        let four = AiderOutput.rateLimited(["0.2", "0.5", "1.0", "2.0"])
        #expect(FailureClassifier.earlyAbort(AiderOutput.scanner(four), authEnv: nil)?.failureClass == .rateLimited)
        // Aider gives up after ~64 s and still exits 0: the retries decide.
        let v = FailureClassifier.classify(AiderOutput.evidence(exit: 0, stdout: AiderOutput.rateLimited(["0.2", "0.5"]), duration: 64))
        #expect(v.failureClass == .rateLimited, "\(v.reason)")
    }

    @Test("a 429 then an answer is ok: the retry was transient")
    func rateLimitedThenAnswered() {
        let text = AiderOutput.rateLimited(["0.2"]) + "ok\n\nTokens: 12 sent, 1 received.\n"
        let v = FailureClassifier.classify(AiderOutput.evidence(exit: 0, stdout: text))
        #expect(v.failureClass == .ok, "\(v.reason)")
        #expect(AiderOutput.scanner(text).result?.text == "ok")
    }

    @Test("an unknown flag: exit 2, harness_usage quoting argparse's error line, never reached")
    func badFlag() {
        let v = FailureClassifier.classify(AiderOutput.evidence(exit: 2, stdout: "", stderr: AiderOutput.badFlag, duration: 2.9))
        #expect(v.failureClass == .harnessUsage)
        #expect(v.reason.contains("aider: error: unrecognized arguments: --no-such-flag"), "\(v.reason)")
    }

    @Test("exit 0 with neither an answer nor an error line is not ok")
    func silentExit() {
        let v = FailureClassifier.classify(AiderOutput.evidence(exit: 0, stdout: AiderOutput.banner))
        #expect(v.failureClass == .agentFailed, "\(v.reason)")
    }

    @Test("Aider's sentences classify as text too (a harness run without `stream: aider-text`)", arguments: [
        ("litellm.AuthenticationError: AuthenticationError: OpenAIException - Incorrect", FailureClass.authFailed),
        ("The API provider is not able to authenticate you. Check your API key.", .authFailed),
        ("The API provider has rate limited you. Try again later or check your quotas.", .rateLimited),
        ("Insufficient credits with the API provider. Please add credits.", .quotaExhausted),
        ("aider: error: unrecognized arguments: --no-such-flag", .harnessUsage),
    ])
    func sentences(_ text: String, _ expected: FailureClass) {
        let e = AttemptEvidence(exitCode: 1, stdoutBytes: text.utf8.count, stdoutTail: text, duration: 9)
        #expect(FailureClassifier.textVerdict(text, e)?.failureClass == expected)
    }

    @Test("JSON lines mean nothing to the aider scanner, and aider lines nothing to the JSON one")
    func formatsApart() {
        #expect(AiderOutput.scanner(ClaudeLine.success + "\n").result?.isError != true)
        var json = StreamScanner()
        json.feed(Array(AiderOutput.unauthorized.utf8))
        #expect(json.retries.isEmpty && json.events == 0)
    }
}
