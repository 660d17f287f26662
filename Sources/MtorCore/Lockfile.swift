import Foundation

/// `etc/providers.json`: how each provider is reached and how each harness is run.
public struct Lockfile: Codable, Equatable, Sendable {
    public static let schemaName = "mtor.providers/1"

    /// How to run one agent CLI.
    public struct Harness: Codable, Equatable, Sendable {
        public var argv: [String]
        /// `stdin` or `file` (then `{prompt_file}` must appear in `argv`).
        public var prompt: String?
        /// The structured output format, e.g. `claude-stream-json`.
        public var stream: String?
        /// Which header the harness sends for each auth variable (`bearer`, `x-api-key`).
        public var authHeaders: [String: String]?
        /// The variable the harness reads its base URL from.
        public var baseURLEnv: String?
        /// Extra variables every run of this harness gets.
        public var env: [String: String]?
        /// argv that prints the harness's version, for `doctor`.
        public var versionArgv: [String]?
        /// A trivial prompt for preflight, and the answer text it must contain.
        public var preflightPrompt: String?
        public var tested: Bool?
        /// Free text for people: why the argv is what it is.
        public var notes: String?

        enum CodingKeys: String, CodingKey {
            case argv, prompt, stream, env, tested, notes
            case authHeaders = "auth_headers", baseURLEnv = "base_url_env", versionArgv = "version_argv"
            case preflightPrompt = "preflight_prompt"
        }

        public var promptInFile: Bool { prompt == "file" || argv.contains { $0.contains("{prompt_file}") } }
        /// Whether runs of this harness need a provider (a model behind an API).
        public var needsProvider: Bool { baseURLEnv != nil || stream != nil }
    }

    /// One model endpoint and the credentials to reach it.
    public struct Provider: Codable, Equatable, Sendable {
        public var harness: String
        public var api: String?
        public var baseURL: String?
        public var authEnv: String?
        public var secretEnv: String?
        public var model: String?
        public var models: [String]?
        public var concurrency: Int?
        public var env: [String: String]?
        public var tested: Bool?
        public var notes: String?
        /// Dollars per million tokens, by model name (`prices`).
        public var prices: [String: Budget.Price]?
        /// What tasks on this provider may spend per UTC day (`budget_usd_per_day`).
        public var budgetUSDPerDay: Double?

        enum CodingKeys: String, CodingKey {
            case harness, api, model, models, concurrency, env, tested, notes, prices
            case baseURL = "base_url", authEnv = "auth_env", secretEnv = "secret_env", budgetUSDPerDay = "budget_usd_per_day"
        }

        /// The price of `model` on this provider, if the lockfile names one.
        public func price(_ model: String?) -> Budget.Price? { model.flatMap { prices?[$0] } }
    }

    public var schema: String
    public var `default`: String?
    public var harnesses: [String: Harness]
    public var providers: [String: Provider]
    /// A command run after each task's sidecar is written (`mtor worker --on-finish` wins).
    public var onFinish: String?
    /// A command run when a provider turns unhealthy or the success rate drops (`--on-attention` wins).
    public var onAttention: String?
    /// What the whole worker may spend per UTC day, all providers together (`budget_usd_per_day`).
    public var budgetUSDPerDay: Double?

    enum CodingKeys: String, CodingKey {
        case schema, `default`, harnesses, providers, onFinish = "on_finish", onAttention = "on_attention", budgetUSDPerDay = "budget_usd_per_day"
    }

    /// Decodes and validates a lockfile; every error names the key and the file.
    public static func parse(_ data: Data, file: String) throws(LockfileError) -> Lockfile {
        let lock: Lockfile
        do {
            lock = try JSONDecoder().decode(Lockfile.self, from: data)
        } catch let DecodingError.keyNotFound(key, context) {
            throw LockfileError(file: file, "missing key '\(path(context.codingPath + [key]))'")
        } catch let DecodingError.typeMismatch(_, context) {
            throw LockfileError(file: file, "'\(path(context.codingPath))' has the wrong type: \(context.debugDescription)")
        } catch let DecodingError.valueNotFound(_, context) {
            throw LockfileError(file: file, "'\(path(context.codingPath))' is null")
        } catch let DecodingError.dataCorrupted(context) {
            throw LockfileError(file: file, "not valid JSON: \(context.underlyingError.map { "\($0)" } ?? context.debugDescription)")
        } catch {
            throw LockfileError(file: file, "cannot be read: \(error)")
        }
        try lock.validate(file: file)
        return lock
    }

    private static func path(_ keys: [any CodingKey]) -> String {
        keys.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
    }

    func validate(file: String) throws(LockfileError) {
        guard schema == Lockfile.schemaName else {
            throw LockfileError(file: file, "'schema' is '\(schema)'; this mtor reads '\(Lockfile.schemaName)'")
        }
        if let b = budgetUSDPerDay, !(b >= 0) {
            throw LockfileError(file: file, "budget_usd_per_day must be a number of dollars, at least 0, got \(b)")
        }
        if let d = `default`, providers[d] == nil {
            throw LockfileError(file: file, "'default' names provider '\(d)', which is not under 'providers'")
        }
        for (name, h) in harnesses.sorted(by: { $0.key < $1.key }) {
            guard let first = h.argv.first, !first.isEmpty else {
                throw LockfileError(file: file, "harnesses.\(name).argv is empty; it needs at least the program to run")
            }
            if let stream = h.stream, !StreamScanner.formats.contains(stream) {
                throw LockfileError(file: file,
                                    "harnesses.\(name).stream is '\(stream)'; mtor reads "
                                        + "\(StreamScanner.formats.sorted().joined(separator: " or ")) (leave it out for plain output)")
            }
            if let p = h.prompt, p != "stdin", p != "file" {
                throw LockfileError(file: file, "harnesses.\(name).prompt is '\(p)'; use 'stdin' or 'file'")
            }
            if h.prompt == "file", !h.argv.contains(where: { $0.contains("{prompt_file}") }) {
                throw LockfileError(file: file, "harnesses.\(name).prompt is 'file' but argv has no {prompt_file}")
            }
            for arg in h.argv {
                for placeholder in Lockfile.placeholders(in: arg) where !["model", "base_url", "repo", "prompt_file"].contains(placeholder) {
                    throw LockfileError(file: file,
                                        "harnesses.\(name).argv uses unknown placeholder {\(placeholder)}; known: {model} {base_url} {repo} "
                                            + "{prompt_file}")
                }
            }
            for (variable, header) in h.authHeaders ?? [:] where header != "bearer" && header != "x-api-key" {
                throw LockfileError(file: file, "harnesses.\(name).auth_headers.\(variable) is '\(header)'; use 'bearer' or 'x-api-key'")
            }
        }
        for (name, p) in providers.sorted(by: { $0.key < $1.key }) {
            guard let h = harnesses[p.harness] else {
                throw LockfileError(file: file,
                                    "providers.\(name).harness is '\(p.harness)', which is not under 'harnesses' (have: "
                                        + "\(harnesses.keys.sorted().joined(separator: ", ")))")
            }
            if let api = p.api, !["anthropic", "openai", "openai-chat"].contains(api) {
                throw LockfileError(file: file, "providers.\(name).api is '\(api)'; use 'anthropic', 'openai' or 'openai-chat'")
            }
            if (p.authEnv == nil) != (p.secretEnv == nil) {
                throw LockfileError(file: file, "providers.\(name) needs both 'auth_env' and 'secret_env' (or neither)")
            }
            if let auth = p.authEnv, let headers = h.authHeaders, headers[auth] == nil {
                throw LockfileError(file: file,
                                    "providers.\(name).auth_env is '\(auth)', but harness '\(p.harness)' reads only "
                                        + "\(headers.keys.sorted().joined(separator: " or ")) for auth")
            }
            if let c = p.concurrency, c < 1 {
                throw LockfileError(file: file, "providers.\(name).concurrency must be at least 1, got \(c)")
            }
            if let b = p.budgetUSDPerDay, !(b >= 0) {
                throw LockfileError(file: file, "providers.\(name).budget_usd_per_day must be a number of dollars, at least 0, got \(b)")
            }
            for (model, price) in (p.prices ?? [:]).sorted(by: { $0.key < $1.key }) {
                for (key, rate) in [("input", price.input), ("output", price.output), ("cache_read", price.cacheRead ?? 0),
                                    ("cache_write", price.cacheWrite ?? 0)] where !(rate >= 0) || !rate.isFinite {
                    throw LockfileError(file: file,
                                        "providers.\(name).prices.\(model).\(key) must be dollars per million tokens, at least 0, got \(rate)")
                }
            }
            if let url = p.baseURL, URL(string: url)?.scheme == nil {
                throw LockfileError(file: file, "providers.\(name).base_url '\(url)' is not a URL")
            }
        }
    }

    /// Names inside `{…}` in an argv element.
    static func placeholders(in arg: String) -> [String] {
        var names: [String] = []
        var rest = Substring(arg)
        while let open = rest.firstIndex(of: "{"), let close = rest[open...].firstIndex(of: "}") {
            names.append(String(rest[rest.index(after: open)..<close]))
            rest = rest[rest.index(after: close)...]
        }
        return names
    }
}

/// A lockfile mistake, naming the file and the key.
public struct LockfileError: Error, Equatable, Sendable, CustomStringConvertible {
    public var file: String
    public var message: String
    public init(file: String, _ message: String) {
        self.file = file
        self.message = message
    }
    public var description: String { "\(file): \(message)" }
}
