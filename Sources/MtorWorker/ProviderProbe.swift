import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import MtorCore

/// One real API call to a provider, made with the exact variable and header its harness uses.
public struct ProviderProbe: Sendable {
    /// What the provider's answer means.
    public enum Verdict: String, Codable, Sendable {
        case ok, auth, quota, rate, connection, config
    }

    public struct Outcome: Codable, Sendable {
        public var verdict: Verdict
        public var status: Int?
        public var latencyMs: Int
        public var header: String
        public var detail: String
        enum CodingKeys: String, CodingKey {
            case verdict, status, header, detail, latencyMs = "latency_ms"
        }
    }

    public var timeout: Double = 15

    public init(timeout: Double = 15) { self.timeout = timeout }

    /// The header name a harness sends for an auth variable, per `auth_headers`.
    public static func header(for authEnv: String, harness: Lockfile.Harness, api: String) -> String {
        let kind = harness.authHeaders?[authEnv] ?? (api == "openai" ? "bearer" : authEnv.hasSuffix("API_KEY") && api == "anthropic" ? "x-api-key" : "bearer")
        return kind == "x-api-key" ? "x-api-key" : "Authorization: Bearer"
    }

    /// Sends the smallest request the provider's API accepts and classifies the answer.
    public func call(baseURL: String, api: String, model: String, secret: String, header: String) -> Outcome {
        let trimmed = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        let path = api == "openai" ? "/responses" : "/v1/messages"
        guard let url = URL(string: trimmed + path) else {
            return Outcome(verdict: .config, status: nil, latencyMs: 0, header: header, detail: "base_url '\(baseURL)' is not a URL")
        }
        var request = URLRequest(url: url, timeoutInterval: timeout)
        request.httpMethod = "POST"
        request.setValue("application/json", forHTTPHeaderField: "content-type")
        if header == "x-api-key" {
            request.setValue(secret, forHTTPHeaderField: "x-api-key")
        } else {
            request.setValue("Bearer \(secret)", forHTTPHeaderField: "Authorization")
        }
        let body: [String: Any]
        if api == "openai" {
            body = ["model": model, "input": "ping", "max_output_tokens": 16]
        } else {
            request.setValue("2023-06-01", forHTTPHeaderField: "anthropic-version")
            body = ["model": model, "max_tokens": 1, "messages": [["role": "user", "content": "ping"]]]
        }
        request.httpBody = try? JSONSerialization.data(withJSONObject: body)
        let start = Date()
        let box = ResponseBox()
        let session = URLSession(configuration: .ephemeral)
        let task = session.dataTask(with: request) { data, response, error in
            box.set(data, response as? HTTPURLResponse, error)
        }
        task.resume()
        let finished = box.wait(timeout + 2)
        session.invalidateAndCancel()
        let latency = Int(Date().timeIntervalSince(start) * 1000)
        guard finished, let response = box.response else {
            let why = finished ? (box.error.map { "\($0.localizedDescription)" } ?? "no response") : "no answer within \(Int(timeout)) s"
            return Outcome(verdict: .connection, status: nil, latencyMs: latency, header: header, detail: "\(url.absoluteString): \(why)")
        }
        let text = String(decoding: (box.data ?? Data()).prefix(400), as: UTF8.self)
        let lower = text.lowercased()
        let status = response.statusCode
        let verdict: Verdict
        switch status {
        case 200..<300: verdict = .ok
        case 402: verdict = .quota
        case 401, 403: verdict = lower.contains("billing") || lower.contains("credit balance") || lower.contains("quota") ? .quota : .auth
        case 429: verdict = lower.contains("insufficient_quota") || lower.contains("billing") ? .quota : .rate
        default: verdict = lower.contains("credit balance") || lower.contains("insufficient_quota") || lower.contains("billing") ? .quota : .connection
        }
        return Outcome(verdict: verdict, status: status, latencyMs: latency, header: header, detail: "HTTP \(status) from \(url.absoluteString)\(verdict == .ok ? "" : ": " + text.replacingOccurrences(of: "\n", with: " "))")
    }
}

/// Carries a URLSession answer back to the waiting thread.
private final class ResponseBox: @unchecked Sendable {
    private let semaphore = DispatchSemaphore(value: 0)
    private let lock = NSLock()
    private(set) var data: Data?
    private(set) var response: HTTPURLResponse?
    private(set) var error: (any Error)?

    func set(_ d: Data?, _ r: HTTPURLResponse?, _ e: (any Error)?) {
        lock.withLock {
            data = d
            response = r
            error = e
        }
        semaphore.signal()
    }

    func wait(_ seconds: Double) -> Bool {
        semaphore.wait(timeout: .now() + seconds) == .success
    }
}
