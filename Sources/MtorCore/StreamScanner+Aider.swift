import Foundation

/// Aider's stdout (`--no-pretty`), read as the evidence it is. Observed with aider-chat 0.86.2
/// (Tests/Fixtures/OBSERVED.md): Aider exits 0 even when the provider refused every call, so
/// its own lines are the only proof of what happened:
///
/// - `litellm.AuthenticationError: AuthenticationError: OpenAIException - Incorrect` (a 401),
///   then `The API provider is not able to authenticate you. Check your API key.`, exit 0;
/// - `litellm.RateLimitError: RateLimitError: …` then `Retrying in 0.2 seconds...` per retry
///   (0.2, 0.5, 1 … 32 s: about 64 s in all), exit 0;
/// - `Tokens: 594 sent, 21 received.` after each model answer.
extension StreamScanner {
    /// The lockfile `stream` value for Aider's plain text.
    public static let aiderText = "aider-text"

    /// The HTTP status behind each litellm exception Aider prints (nil: no answer at all).
    static let aiderErrorStatus: [String: Int?] = [
        "AuthenticationError": 401, "PermissionDeniedError": 403, "RateLimitError": 429,
        "InternalServerError": 500, "BadGatewayError": 502, "ServiceUnavailableError": 503,
        "APIConnectionError": nil, "Timeout": nil,
    ]

    /// Banner lines Aider prints before the model's reply.
    static let aiderBanner = ["Aider v", "Model: ", "Main model: ", "Git repo: ", "Repo-map: ", "Weak model: ", "Editor model: "]

    /// Reads one line of Aider's stdout; returns whether it was evidence.
    mutating func scanAider(line raw: String) -> Bool {
        let line = raw.trimmingCharacters(in: .whitespacesAndNewlines)
        if line.hasPrefix("litellm.") {
            aiderReply.removeAll()
            let name = line.dropFirst("litellm.".count).prefix { $0 != ":" }
            if let status = StreamScanner.aiderErrorStatus[String(name)] {
                retries.append(APIRetry(attempt: retries.count + 1, status: status, error: line, delayMs: nil))
            } else {
                errorTexts.append(line)
            }
            return true
        }
        if line.hasPrefix("Retrying in "), let last = retries.indices.last {
            let seconds = line.dropFirst("Retrying in ".count).prefix { $0.isNumber || $0 == "." }
            retries[last].delayMs = Double(seconds).map { $0 * 1000 }
            aiderReply.removeAll()  // the error's wrapped lines are not the model's reply
            return true
        }
        if line.hasPrefix("Tokens: ") {
            assistantMessages += 1
            live = live + StreamScanner.aiderTokens(line)
            liveTurns += 1
            sawTokens = true
            let reply = aiderReply.joined(separator: "\n").trimmingCharacters(in: .whitespacesAndNewlines)
            result = ResultEvent(isError: false, subtype: "success", text: reply)
            aiderReply.removeAll()
            return true
        }
        if StreamScanner.aiderBanner.contains(where: line.hasPrefix) {
            aiderReply.removeAll()
            return true
        }
        if aiderReply.count < 10_000 { aiderReply.append(raw) }
        return false
    }

    /// `Tokens: 2.6k sent, 1.0k cache write, 20 cache hit, 48 received. Cost: …` as counts (`k` and `M` multiply).
    static func aiderTokens(_ line: String) -> Budget.Tokens {
        var t = Budget.Tokens()
        // "2.6k" has a dot too: the counts are the comma-separated parts before " Cost:".
        let text = String(line.dropFirst("Tokens: ".count)).components(separatedBy: " Cost:")[0]
        for part in text.split(separator: ",") {
            let words = part.trimmingCharacters(in: .whitespaces).trimmingCharacters(in: CharacterSet(charactersIn: "."))
                .split(separator: " ", maxSplits: 1)
            guard words.count == 2 else { continue }
            var number = String(words[0])
            var scale = 1.0
            if number.hasSuffix("k") { scale = 1e3; number.removeLast() } else if number.hasSuffix("M") { scale = 1e6; number.removeLast() }
            guard let value = Double(number) else { continue }
            let n = Int((value * scale).rounded())
            switch words[1] {
            case "sent": t.input += n
            case "received": t.output += n
            case "cache write": t.cacheWrite += n
            case "cache hit": t.cacheRead += n
            default: break
            }
        }
        return t
    }
}
