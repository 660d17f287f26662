import Foundation
import MtorCore
import MtorPlatform

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
        let guessed = api.hasPrefix("openai") ? "bearer" : authEnv.hasSuffix("API_KEY") && api == "anthropic" ? "x-api-key" : "bearer"
        let kind = harness.authHeaders?[authEnv] ?? guessed
        return kind == "x-api-key" ? "x-api-key" : "Authorization: Bearer"
    }

    /// Sends the smallest request the provider's API accepts and classifies the answer.
    public func call(baseURL: String, api: String, model: String, secret: String, header: String) -> Outcome {
        let trimmed = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        let path = api == "openai" ? "/responses" : api == "openai-chat" ? "/chat/completions" : "/v1/messages"
        guard let url = URL(string: trimmed + path) else {
            return Outcome(verdict: .config, status: nil, latencyMs: 0, header: header, detail: "base_url '\(baseURL)' is not a URL")
        }
        var headers = ["content-type": "application/json"]
        if header == "x-api-key" {
            headers["x-api-key"] = secret
        } else {
            headers["Authorization"] = "Bearer \(secret)"
        }
        let body: [String: Any]
        if api == "openai" {
            body = ["model": model, "input": "ping", "max_output_tokens": 16]
        } else if api == "openai-chat" {
            // Aider's litellm names ("openai/deepseek-chat") carry a routing prefix the API never sees.
            let name = model.hasPrefix("openai/") ? String(model.dropFirst("openai/".count)) : model
            body = ["model": name, "messages": [["role": "user", "content": "ping"]], "max_tokens": 1]
        } else {
            headers["anthropic-version"] = "2023-06-01"
            body = ["model": model, "max_tokens": 1, "messages": [["role": "user", "content": "ping"]]]
        }
        let bodyText = (try? JSONSerialization.data(withJSONObject: body)).map { String(decoding: $0, as: UTF8.self) }
        let answer: ProbeAnswer
        switch send(ProbeRequest(url: url.absoluteString, method: "POST", headers: headers, body: bodyText, timeout: timeout)) {
        case .success(let a): answer = a
        case .failure(.notInstalled(let path, let fromEnvironment)):
            return Outcome(verdict: .config, status: nil, latencyMs: 0, header: header, detail: fromEnvironment
                ? "\(Self.notInstalled) at $MTOR_PROBE: \(path) is not an executable file"
                : "\(Self.notInstalled) next to mtor: \(path) is missing (it makes doctor's HTTP call)")
        case .failure(.failed(let why, let latency)):
            return Outcome(verdict: .connection, status: nil, latencyMs: latency, header: header, detail: "\(url.absoluteString): \(why)")
        }
        let latency = answer.latencyMs
        guard let status = answer.status else {
            return Outcome(verdict: .connection, status: nil, latencyMs: latency, header: header,
                           detail: "\(url.absoluteString): \(answer.error ?? "no response")")
        }
        let text = answer.body
        let lower = text.lowercased()
        let verdict: Verdict
        switch status {
        case 200..<300: verdict = .ok
        case 402: verdict = .quota
        case 401, 403: verdict = lower.contains("billing") || lower.contains("credit balance") || lower.contains("quota") ? .quota : .auth
        case 429: verdict = lower.contains("insufficient_quota") || lower.contains("billing") ? .quota : .rate
        default:
            let billing = lower.contains("credit balance") || lower.contains("insufficient_quota") || lower.contains("billing")
            verdict = billing ? .quota : .connection
        }
        return Outcome(verdict: verdict, status: status, latencyMs: latency, header: header,
                       detail: "HTTP \(status) from "
                           + "\(url.absoluteString)\(verdict == .ok ? "" : ": " + text.replacingOccurrences(of: "\n", with: " "))")
    }
}

// MARK: - mtor-probe

extension ProviderProbe {
    /// Start of the detail when the helper executable is missing.
    public static let notInstalled = "mtor-probe is not installed"

    /// Whether `outcome` says the helper is missing, not that the provider failed.
    public static func probeMissing(_ outcome: Outcome) -> Bool {
        outcome.verdict == .config && outcome.detail.hasPrefix(notInstalled)
    }

    enum ProbeFailure: Error {
        case notInstalled(String, fromEnvironment: Bool)
        case failed(String, latencyMs: Int)
    }

    /// `$MTOR_PROBE`, else `mtor-probe` in the directory of the running executable.
    public static func probeExecutable(environment: [String: String] = ProcessInfo.processInfo.environment) -> (path: String, fromEnvironment: Bool) {
        if let override = environment["MTOR_PROBE"], !override.isEmpty { return (override, true) }
        let dir = executablePath().map { String($0[..<($0.lastIndex(of: "/") ?? $0.startIndex)]) } ?? "."
        return (dir + "/mtor-probe", false)
    }

    /// The running executable, symlinks resolved.
    static func executablePath() -> String? {
        #if os(Linux)
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let n = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        if n > 0 { return String(decoding: buffer[..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self) }
        #elseif canImport(Darwin)
        var size: UInt32 = 0
        _ = _NSGetExecutablePath(nil, &size)
        var buffer = [CChar](repeating: 0, count: Int(size) + 1)
        if _NSGetExecutablePath(&buffer, &size) == 0, let real = realpath(buffer, nil) {
            defer { free(real) }
            return String(cString: real)
        }
        #endif
        guard let arg0 = CommandLine.arguments.first, arg0.contains("/") else { return nil }
        return URL(fileURLWithPath: arg0).resolvingSymlinksInPath().path
    }

    /// Runs `mtor-probe` with `request` on stdin and reads its answer.
    func send(_ request: ProbeRequest) -> Result<ProbeAnswer, ProbeFailure> {
        let environment = ProcessInfo.processInfo.environment
        let (exe, fromEnvironment) = Self.probeExecutable(environment: environment)
        guard ChildProcess.isExecutableFile(exe) else {
            return .failure(.notInstalled(exe, fromEnvironment: fromEnvironment))
        }
        guard let input = try? JSONEncoder().encode(request) else { return .failure(.failed("cannot encode the request", latencyMs: 0)) }
        let start = Date()
        let run: (Termination, stdout: [UInt8], stderr: [UInt8], timedOut: Bool)
        do {
            run = try ChildProcess.run([exe], environment: environment, stdin: Array(input), timeout: request.timeout + 5)
        } catch {
            return .failure(.failed("cannot run \(exe): \(error)", latencyMs: 0))
        }
        let latency = Int(Date().timeIntervalSince(start) * 1000)
        if run.timedOut { return .failure(.failed("no answer within \(Int(request.timeout)) s", latencyMs: latency)) }
        let line = run.stdout.split(separator: UInt8(ascii: "\n")).last.map { Array($0) } ?? []
        guard run.0.succeeded, let answer = try? JSONDecoder().decode(ProbeAnswer.self, from: Data(line)) else {
            let said = String(decoding: run.stderr, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            let how = run.0.signal.map { "killed by signal \($0)" } ?? "exit \(run.0.exitCode ?? -1)"
            return .failure(.failed("\(exe) failed (\(how))\(said.isEmpty ? "" : ": " + said)", latencyMs: latency))
        }
        return .success(answer)
    }
}

extension Settings {
    /// The direct API call for `provider` that `doctor` and the silence check both make: its base
    /// URL, secret, and the header its harness sends for `auth_env` (or `headerOverride`). Nil
    /// when the provider has no API behind it.
    func directCall(_ provider: String, probe: ProviderProbe, headerOverride: String? = nil) -> ProviderProbe.Outcome? {
        guard let p = lock.providers[provider], let harness = lock.harnesses[p.harness], let baseURL = p.baseURL,
              let authEnv = p.authEnv else { return nil }
        guard let secret = secret(for: p) else {
            return ProviderProbe.Outcome(verdict: .config, status: nil, latencyMs: 0, header: "", detail: "\(p.secretEnv ?? "its secret") is not set")
        }
        let api = p.api ?? "anthropic"
        let header = headerOverride ?? ProviderProbe.header(for: authEnv, harness: harness, api: api)
        return probe.call(baseURL: baseURL, api: api, model: p.model ?? "", secret: secret, header: header)
    }
}
