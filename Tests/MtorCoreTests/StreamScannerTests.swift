import Testing
@testable import MtorCore

@Suite("Stream scanner")
struct StreamScannerTests {
    @Test("a successful run: init, tool use, text, result")
    func success() {
        let s = scanned(ClaudeLine.initEvent, ClaudeLine.toolUse, ClaudeLine.assistantText("done"), ClaudeLine.success)
        #expect(s.events == 4)
        #expect(s.sawInit)
        #expect(s.assistantMessages == 2)
        #expect(s.modelReached)
        #expect(s.retries.isEmpty)
        #expect(s.errorTexts.isEmpty)
        #expect(s.result == StreamScanner.ResultEvent(isError: false, subtype: "success", text: "done"))
    }

    @Test("api_retry events keep status, error and delay, including a null status")
    func retries() {
        let s = scanned(ClaudeLine.initEvent,
                        ClaudeLine.apiRetry(1, status: 401, error: "authentication_failed", delayMs: 575),
                        ClaudeLine.apiRetry(2, status: nil, error: "unknown", delayMs: 1186))
        #expect(s.retries == [
            StreamScanner.APIRetry(attempt: 1, status: 401, error: "authentication_failed", delayMs: 575),
            StreamScanner.APIRetry(attempt: 2, status: nil, error: "unknown", delayMs: 1186),
        ])
        #expect(!s.modelReached)
        #expect(s.result == nil)
    }

    @Test("a synthetic API-error message is error text, not the model answering")
    func syntheticError() {
        let s = scanned(ClaudeLine.initEvent,
                        ClaudeLine.syntheticError("Not logged in · Please run /login", error: "authentication_failed", status: 401),
                        ClaudeLine.result("Not logged in · Please run /login", isError: true))
        #expect(s.assistantMessages == 0)
        #expect(s.errorTexts == ["Not logged in · Please run /login"])
        #expect(s.result?.isError == true)
        #expect(s.result?.subtype == "success")
        #expect(!s.modelReached)
    }

    @Test("lines split across reads at every byte are reassembled")
    func byteByByte() {
        var s = StreamScanner()
        let text = [ClaudeLine.initEvent, ClaudeLine.assistantText("ok"), ClaudeLine.success].joined(separator: "\n") + "\n"
        var complete = 0
        for byte in text.utf8 { complete += s.feed([byte]) }
        #expect(complete == 3)
        #expect(s.events == 3)
        #expect(s.result?.text == "done")
    }

    @Test("a last line without a newline is read by finish()")
    func finish() {
        var s = StreamScanner()
        s.feed(Array((ClaudeLine.initEvent + "\n" + ClaudeLine.success).utf8))
        #expect(s.result == nil)
        s.finish()
        #expect(s.result?.text == "done")
        #expect(s.events == 2)
    }

    @Test("text that is not a JSON event is ignored", arguments: [
        "plain text", "", "[1,2]", "{not json", #"{"no_type":1}"#, "error: unknown option '---'",
        "[claude-code:unrecognized_model] {\"model\":\"glm-5.1\"}",
    ])
    func ignored(_ line: String) {
        var s = StreamScanner()
        #expect(s.feed(Array((line + "\n").utf8)) == 0)
        #expect(s.events == 0)
    }

    @Test("CRLF line endings still parse")
    func crlf() {
        var s = StreamScanner()
        s.feed(Array((ClaudeLine.initEvent + "\r\n" + ClaudeLine.success + "\r\n").utf8))
        #expect(s.events == 2)
        #expect(s.result?.isError == false)
    }

    @Test("a result without is_error is an error unless its subtype is success")
    func resultSubtype() {
        let failed = scanned(#"{"type":"result","subtype":"error_max_turns","result":""}"#)
        #expect(failed.result?.isError == true)
        let ok = scanned(#"{"type":"result","subtype":"success","result":"x"}"#)
        #expect(ok.result?.isError == false)
    }

    @Test("permission denials are listed by tool name")
    func denials() {
        let s = scanned(#"{"type":"result","subtype":"success","is_error":false,"result":"done","permission_denials":[{"tool_name":"Bash","tool_use_id":"toolu_1"}]}"#)
        #expect(s.permissionDenials == ["Bash"])
    }
}

/// Codex CLI `exec --json` lines as codex-cli 0.163.0 printed them against the scripted provider.
enum CodexLine {
    static let threadStarted = #"{"type":"thread.started","thread_id":"01a1ff89-29fe-7ff3-9bbd-45667576c747"}"#
    static let metadataWarning = #"{"type":"item.completed","item":{"id":"item_0","type":"error","message":"Model metadata for `gpt-5-codex` not found. Defaulting to fallback metadata; this can degrade performance and cause issues."}}"#
    static let turnStarted = #"{"type":"turn.started"}"#
    static let message = #"{"type":"item.completed","item":{"id":"item_1","type":"agent_message","text":"ok"}}"#
    static let turnCompleted = #"{"type":"turn.completed","usage":{"input_tokens":10,"cached_input_tokens":0,"cache_write_input_tokens":0,"output_tokens":5,"reasoning_output_tokens":0}}"#
    static func reconnect401(_ n: Int) -> String {
        #"{"type":"error","message":"Reconnecting... \#(n)/5 (unexpected status 401 Unauthorized: Incorrect API key provided., url: http://127.0.0.1:40513/v1/responses)"}"#
    }
    static let waitingForNetwork = #"{"type":"error","message":"Reconnecting... waiting for network (Connection failed: error sending request)"}"#
    static func highDemand(_ n: Int) -> String {
        #"{"type":"error","message":"Reconnecting... \#(n)/5 (We’re currently experiencing high demand, which may cause temporary errors.)"}"#
    }
    static let turnFailed401 = #"{"type":"turn.failed","error":{"message":"unexpected status 401 Unauthorized: Incorrect API key provided., url: http://127.0.0.1:40513/v1/responses"}}"#
}

@Suite("Stream scanner: Codex CLI exec --json")
struct CodexStreamTests {
    @Test("a completed turn is the answer; a warning item is not the model speaking")
    func success() {
        let s = scanned(CodexLine.threadStarted, CodexLine.metadataWarning, CodexLine.turnStarted, CodexLine.message, CodexLine.turnCompleted)
        #expect(s.events == 5)
        #expect(s.assistantMessages == 1)
        #expect(s.modelReached)
        #expect(s.result == StreamScanner.ResultEvent(isError: false, subtype: "success", text: "ok"))
        #expect(FailureClassifier.earlyAbort(s, authEnv: "OPENAI_API_KEY") == nil)
    }

    @Test("the first 'Reconnecting... (unexpected status 401 ...)' aborts as auth_failed, naming the variable")
    func unauthorized() throws {
        let s = scanned(CodexLine.threadStarted, CodexLine.turnStarted, CodexLine.reconnect401(1))
        #expect(s.retries.map(\.status) == [401])
        #expect(s.retries.first?.attempt == 1)
        let v = try #require(FailureClassifier.earlyAbort(s, authEnv: "OPENAI_API_KEY"))
        #expect(v.failureClass == .authFailed)
        #expect(v.hint.contains("OPENAI_API_KEY"))
        #expect(!s.modelReached)
    }

    @Test("a failed turn with no reconnect events is still auth_failed from its text")
    func turnFailed() {
        let s = scanned(CodexLine.threadStarted, CodexLine.turnStarted, CodexLine.turnFailed401)
        #expect(s.result?.isError == true)
        let v = FailureClassifier.classify(evidence(exit: 1, structured: true, stream: s))
        #expect(v.failureClass == .authFailed, "\(v.reason)")
    }

    @Test("waiting for network twice: provider_unavailable; once is not yet proof")
    func network() throws {
        #expect(FailureClassifier.earlyAbort(scanned(CodexLine.turnStarted, CodexLine.waitingForNetwork), authEnv: nil) == nil)
        let v = try #require(FailureClassifier.earlyAbort(scanned(CodexLine.turnStarted, CodexLine.waitingForNetwork, CodexLine.waitingForNetwork), authEnv: nil))
        #expect(v.failureClass == .providerUnavailable)
        #expect(v.reason.contains("could not connect"))
    }

    @Test("'currently experiencing high demand' three times in a row: provider_unavailable, said as overloaded")
    func highDemand() throws {
        #expect(FailureClassifier.earlyAbort(scanned(CodexLine.highDemand(1), CodexLine.highDemand(2)), authEnv: nil) == nil)
        let v = try #require(FailureClassifier.earlyAbort(scanned(CodexLine.highDemand(1), CodexLine.highDemand(2), CodexLine.highDemand(3)), authEnv: nil))
        #expect(v.failureClass == .providerUnavailable)
        #expect(v.reason.contains("overloaded"))
    }

    @Test("the reason quotes codex's error line, not the warning it prints first")
    func reasonLine() {
        let stderr = """
            WARNING: proceeding, even though we could not create PATH aliases: Refusing to create helper binaries under temporary dir "/tmp"
            error: unexpected argument '--full-auto' found

              tip: to pass '--full-auto' as a value, use '-- --full-auto'
            """
        let v = FailureClassifier.classify(evidence(exit: 2, stderr: stderr, duration: 0.07, structured: true))
        #expect(v.failureClass == .harnessUsage)
        #expect(v.reason.contains("unexpected argument '--full-auto'"), "\(v.reason)")
        #expect(!v.reason.contains("PATH aliases"))
    }
}
