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
    /// The tokens the attempt used so far, as they arrive (for pricing and caps): Claude Code's
    /// assistant messages (each message id once, its newest usage), Codex's `turn.completed` running
    /// total (its cached input tokens split out of `input_tokens`), Aider's `Tokens:` lines summed.
    public internal(set) var live = Budget.Tokens()
    /// Model turns seen so far: Claude Code's assistant messages, Codex's completed turns, Aider's answers.
    public internal(set) var liveTurns = 0
    /// Whether the stream reported any token counts at all.
    public internal(set) var sawTokens = false
    /// Claude Code: each assistant message's newest usage, by message id.
    private var messageTokens: [String: Budget.Tokens] = [:]
    /// Claude Code with `--include-partial-messages`: the message whose `message_delta` comes next.
    private var currentMessage: String?
    /// Claude Code: the `result` event's usage, the session's final totals.
    private var resultTokens: Budget.Tokens?
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
            if text.hasPrefix("API Error") || (object["error"] != nil)
                || (object["isApiErrorMessage"] as? Bool ?? false) || (object["is_api_error_message"] as? Bool ?? false) {
                errorTexts.append(text.isEmpty ? String(describing: object["error"] ?? "") : text)
            } else {
                assistantMessages += 1
                countClaudeMessage(id: message?["id"] as? String, usage: message?["usage"] as? [String: Any])
            }
        case ("stream_event", _):
            // `--include-partial-messages`: a message's real output count arrives in its `message_delta`
            // (its assistant event repeats `message_start`'s figures, 1 output token).
            let event = object["event"] as? [String: Any]
            if event?["type"] as? String == "message_start", let message = event?["message"] as? [String: Any] {
                currentMessage = message["id"] as? String
                countClaudeMessage(id: currentMessage, usage: message["usage"] as? [String: Any])
            } else if event?["type"] as? String == "message_delta", let id = currentMessage {
                countClaudeMessage(id: id, usage: event?["usage"] as? [String: Any])
            }
        case ("result", _):
            let text = object["result"] as? String ?? ""
            let u = object["usage"] as? [String: Any]
            if let u {
                resultTokens = Budget.Tokens(input: StreamScanner.int(u["input_tokens"]) ?? 0, output: StreamScanner.int(u["output_tokens"]) ?? 0,
                                             cacheRead: StreamScanner.int(u["cache_read_input_tokens"]) ?? 0,
                                             cacheWrite: StreamScanner.int(u["cache_creation_input_tokens"]) ?? 0)
            }
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
                let input = StreamScanner.int(u["input_tokens"]) ?? 0, cached = StreamScanner.int(u["cached_input_tokens"]) ?? 0
                live = Budget.Tokens(input: max(0, input - cached), output: StreamScanner.int(u["output_tokens"]) ?? 0,
                                     cacheRead: cached, cacheWrite: StreamScanner.int(u["cache_write_input_tokens"]) ?? 0)
                sawTokens = true
            }
            liveTurns += 1
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

    /// Claude Code prints one assistant event per content block, each with its message's usage so far:
    /// a message counts once, each field at its highest figure seen (`message_delta` raises the output).
    private mutating func countClaudeMessage(id: String?, usage u: [String: Any]?) {
        guard let u else { return }
        let id = id ?? "#\(messageTokens.count)"
        let old = messageTokens[id]
        let was = old ?? Budget.Tokens()
        let tokens = Budget.Tokens(input: max(was.input, StreamScanner.int(u["input_tokens"]) ?? 0),
                                   output: max(was.output, StreamScanner.int(u["output_tokens"]) ?? 0),
                                   cacheRead: max(was.cacheRead, StreamScanner.int(u["cache_read_input_tokens"]) ?? 0),
                                   cacheWrite: max(was.cacheWrite, StreamScanner.int(u["cache_creation_input_tokens"]) ?? 0))
        messageTokens[id] = tokens
        if old == nil { liveTurns += 1 }
        live = Budget.Tokens(input: live.input - was.input + tokens.input, output: live.output - was.output + tokens.output,
                             cacheRead: live.cacheRead - was.cacheRead + tokens.cacheRead,
                             cacheWrite: live.cacheWrite - was.cacheWrite + tokens.cacheWrite)
        sawTokens = true
    }

    /// The tokens to price the whole attempt at: Claude Code's final `result` totals when it printed
    /// them (they also count output the stream did not show), else those counted as they arrived.
    public var finalTokens: Budget.Tokens {
        guard let resultTokens else { return live }
        return Budget.Tokens(input: max(resultTokens.input, live.input), output: max(resultTokens.output, live.output),
                             cacheRead: max(resultTokens.cacheRead, live.cacheRead), cacheWrite: max(resultTokens.cacheWrite, live.cacheWrite))
    }

    /// The harness's own usage report when it made one, else the tokens counted from the stream so far
    /// (an attempt stopped before its final event).
    public var usageSoFar: TaskResult.Usage? {
        if let usage { return usage }
        guard sawTokens else { return nil }
        return TaskResult.Usage(inputTokens: live.input, outputTokens: live.output, cacheReadTokens: live.cacheRead,
                                cacheWriteTokens: live.cacheWrite,
                                costUSD: nil, numTurns: liveTurns, apiDurationS: nil, sessionID: nil)
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
