import Testing
@testable import MtorCore

/// Claude Code `stream-json` lines as the real CLI prints them (Tests/Fixtures/OBSERVED.md).
enum ClaudeLine {
    static let initEvent = #"{"type":"system","subtype":"init","cwd":"/srv/widget","session_id":"d159fb20-3641-4a92-85e5-47e534e7e0cd","tools":["Task","Bash","Edit","Read","Write"],"model":"glm-5.1","permissionMode":"acceptEdits","apiKeySource":"none"}"#

    static func apiRetry(_ attempt: Int, status: Int?, error: String, delayMs: Int = 600) -> String {
        #"{"type":"system","subtype":"api_retry","attempt":\#(attempt),"max_retries":10,"retry_delay_ms":\#(delayMs),"error_status":\#(status.map(String.init) ?? "null"),"error":"\#(error)","session_id":"d159fb20-3641-4a92-85e5-47e534e7e0cd","uuid":"a75f7b8b-d81d-40b3-8aa9-1e229d587342"}"#
    }

    static func assistantText(_ text: String) -> String {
        #"{"type":"assistant","message":{"id":"msg_0002a27524f7c2774137","type":"message","role":"assistant","model":"glm-5.1","content":[{"type":"text","text":"\#(text)"}],"stop_reason":null,"usage":{"input_tokens":10,"output_tokens":5}},"parent_tool_use_id":null,"session_id":"d159fb20"}"#
    }

    static let toolUse = #"{"type":"assistant","message":{"id":"msg_0002a567b226f6a54815","type":"message","role":"assistant","model":"glm-5.1","content":[{"type":"tool_use","id":"toolu_1","name":"Write","input":{"file_path":"/srv/widget/hello.txt","content":"hi"}}]},"session_id":"d159fb20"}"#

    static func syntheticError(_ text: String, error: String, status: Int?) -> String {
        #"{"type":"assistant","message":{"diagnostics":null,"id":"2f794940","container":null,"model":"<synthetic>","role":"assistant","stop_reason":"stop_sequence","type":"message","content":[{"type":"text","text":"\#(text)"}]},"parent_tool_use_id":null,"session_id":"977a68cc","error":"\#(error)","is_api_error_message":true,"api_error_status":\#(status.map(String.init) ?? "null")}"#
    }

    /// The `result` event; note that its first key is not `type`.
    static func result(_ text: String, isError: Bool, subtype: String = "success") -> String {
        #"{"duration_api_ms":28,"stop_reason":"end_turn","session_id":"3b3c68f9","total_cost_usd":0.000105,"type":"result","subtype":"\#(subtype)","is_error":\#(isError),"result":"\#(text)","num_turns":1,"terminal_reason":"\#(isError ? "api_error" : "completed")","permission_denials":[]}"#
    }

    static let success = result("done", isError: false)
}

/// A scanner that has read `lines`, each ending in a newline.
func scanned(_ lines: String...) -> StreamScanner {
    var s = StreamScanner()
    for line in lines { s.feed(Array((line + "\n").utf8)) }
    return s
}
