import Foundation

/// Reads a harness's structured output line by line and keeps the positive evidence the
/// classifier needs. Two formats, told apart by their event types: Claude Code's
/// `stream-json` (`system`/`assistant`/`result`) and Codex CLI's `exec --json`
/// (`thread.started`, `item.completed`, `turn.completed`/`turn.failed`, `error`); Aider's plain
/// text (`aider-text`, see `StreamScanner+Aider.swift`) is read only when the scanner is made for it.
public struct StreamScanner: Sendable {
    /// The `stream` values of the lockfile this scanner understands.
    public static let formats: Set<String> = ["claude-stream-json", "codex-json", aiderText]

    /// One `api_retry` event: the harness failed to reach the model and will try again.
    public struct APIRetry: Equatable, Codable, Sendable {
        public var attempt: Int?
        public var status: Int?
        public var error: String?
        public var delayMs: Double?

        enum CodingKeys: String, CodingKey {
            case attempt, status = "error_status", error, delayMs = "retry_delay_ms"
        }
    }

    /// The final `result` event.
    public struct ResultEvent: Equatable, Sendable {
        public var isError: Bool
        public var subtype: String
        public var text: String
    }

    /// Token and cost figures the harness reported: Claude Code's `result` event, or the last
    /// of Codex's `turn.completed` running totals. Fields it did not report stay nil.
    public internal(set) var usage: TaskResult.Usage?
    public private(set) var events = 0
    public private(set) var sawInit = false
    public internal(set) var assistantMessages = 0
    public internal(set) var retries: [APIRetry] = []
    public internal(set) var result: ResultEvent?
    public private(set) var permissionDenials: [String] = []
    /// Error texts found in the stream (assistant "API Error" messages and the like).
    public internal(set) var errorTexts: [String] = []
    private var pending: [UInt8] = []
    /// Codex: the text of the newest agent message, the answer when the turn completes.
    private var lastMessage = ""
    /// Codex: the session's id, from `thread.started`.
    private var threadID: String?
    /// The lockfile's `stream` value; only `aider-text` changes how lines are read.
    let format: String?
    /// Aider: the lines printed since its banner or its last `Tokens:` line (the model's reply).
    var aiderReply: [String] = []

    public init(format: String? = nil) { self.format = format }

    /// Whether the model itself answered at least once.
    public var modelReached: Bool { assistantMessages > 0 || (result.map { !$0.isError } ?? false) }

    /// Feeds raw stdout bytes; returns how many complete events were read.
    @discardableResult
    public mutating func feed<C: Collection>(_ bytes: C) -> Int where C.Element == UInt8 {
        var count = 0
        for byte in bytes {
            if byte == UInt8(ascii: "\n") {
                if scan(line: pending) { count += 1 }
                pending.removeAll(keepingCapacity: true)
            } else if pending.count < 4 << 20 {
                pending.append(byte)
            }
        }
        return count
    }

    /// Reads whatever is left after the stream ends without a newline.
    public mutating func finish() {
        if !pending.isEmpty { scan(line: pending) }
        pending.removeAll()
    }

    @discardableResult
    private mutating func scan(line: [UInt8]) -> Bool {
        if format == StreamScanner.aiderText { return scanAider(line: String(decoding: line, as: UTF8.self)) }
        let body = line.drop { $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\t") || $0 == UInt8(ascii: "\r") }
        guard body.first == UInt8(ascii: "{"),
              let object = try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any],
              let type = object["type"] as? String else { return false }
        events += 1
        let subtype = object["subtype"] as? String ?? ""
        switch (type, subtype) {
        case ("system", "init"):
            sawInit = true
        case ("system", "api_retry"):
            retries.append(APIRetry(
                attempt: object["attempt"] as? Int,
                status: object["error_status"] as? Int,
                error: object["error"] as? String,
                delayMs: object["retry_delay_ms"] as? Double))
        case ("assistant", _):
            let message = object["message"] as? [String: Any]
            let content = message?["content"] as? [[String: Any]] ?? []
            let text = content.compactMap { $0["text"] as? String }.joined(separator: " ")
            if text.hasPrefix("API Error") || (object["error"] != nil) || (object["isApiErrorMessage"] as? Bool ?? false) || (object["is_api_error_message"] as? Bool ?? false) {
                errorTexts.append(text.isEmpty ? String(describing: object["error"] ?? "") : text)
            } else {
                assistantMessages += 1
            }
        case ("result", _):
            let text = object["result"] as? String ?? ""
            let u = object["usage"] as? [String: Any]
            usage = TaskResult.Usage(inputTokens: StreamScanner.int(u?["input_tokens"]), outputTokens: StreamScanner.int(u?["output_tokens"]),
                                     cacheReadTokens: StreamScanner.int(u?["cache_read_input_tokens"]),
                                     cacheWriteTokens: StreamScanner.int(u?["cache_creation_input_tokens"]),
                                     costUSD: object["total_cost_usd"] as? Double ?? StreamScanner.int(object["total_cost_usd"]).map(Double.init),
                                     numTurns: StreamScanner.int(object["num_turns"]),
                                     apiDurationS: StreamScanner.int(object["duration_api_ms"]).map { Double($0) / 1000 },
                                     sessionID: object["session_id"] as? String)
            result = ResultEvent(isError: object["is_error"] as? Bool ?? (subtype != "success"), subtype: subtype, text: text)
            if let denials = object["permission_denials"] as? [[String: Any]] {
                permissionDenials = denials.compactMap { $0["tool_name"] as? String }
            }
        case ("item.completed", _):
            // Codex: anything the model produced (a message, reasoning, a command it chose) proves it answered.
            let item = object["item"] as? [String: Any]
            let kind = item?["type"] as? String ?? ""
            if kind == "error" {
                errorTexts.append(item?["message"] as? String ?? "")
            } else if !kind.isEmpty {
                assistantMessages += 1
                if kind == "agent_message", let text = item?["text"] as? String { lastMessage = text }
            }
        case ("turn.completed", _):
            result = ResultEvent(isError: false, subtype: "success", text: lastMessage)
            // A running total over the session: the last one is the attempt's use, never a sum.
            if let u = object["usage"] as? [String: Any] {
                usage = TaskResult.Usage(inputTokens: StreamScanner.int(u["input_tokens"]), outputTokens: StreamScanner.int(u["output_tokens"]),
                                         cacheReadTokens: StreamScanner.int(u["cached_input_tokens"]),
                                         cacheWriteTokens: StreamScanner.int(u["cache_write_input_tokens"]),
                                         costUSD: nil, numTurns: nil, apiDurationS: nil, sessionID: threadID)
            }
        case ("thread.started", _):
            threadID = object["thread_id"] as? String
        case ("turn.failed", _):
            let message = (object["error"] as? [String: Any])?["message"] as? String ?? ""
            result = ResultEvent(isError: true, subtype: "turn.failed", text: message)
        case ("error", _):
            // Codex: "Reconnecting... 2/5 (unexpected status 401 Unauthorized: …)" is its api_retry;
            // "Reconnecting... waiting for network (Connection failed: …)" a connection failure.
            let message = object["message"] as? String ?? ""
            if message.hasPrefix("Reconnecting") {
                retries.append(APIRetry(attempt: StreamScanner.retryNumber(message), status: StreamScanner.httpStatus(message),
                                        error: message, delayMs: nil))
            } else {
                errorTexts.append(message)
            }
        default:
            break
        }
        return true
    }

    /// A JSON number as an Int (JSONSerialization gives Int, Double or NSNumber).
    static func int(_ value: Any?) -> Int? {
        if let i = value as? Int { return i }
        if let d = value as? Double, d.isFinite, abs(d) < 9e15 { return Int(d) }
        return nil
    }

    /// `N` of "Reconnecting... N/M".
    static func retryNumber(_ message: String) -> Int? {
        guard let r = message.range(of: #"\d+/\d+"#, options: .regularExpression) else { return nil }
        return Int(message[r].split(separator: "/")[0])
    }

    /// The status of "unexpected status 401 Unauthorized" or "last status: 429".
    static func httpStatus(_ message: String) -> Int? {
        guard let r = message.range(of: #"status:? (\d{3})"#, options: .regularExpression) else { return nil }
        return Int(message[r].suffix(3))
    }
}
