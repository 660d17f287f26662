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
