import Foundation

/// A validated task: what to run, where, with which provider, and the prompt.
public struct Spec: Equatable, Sendable {
    public static let maxBytes = 1 << 20
    public static let defaultTimeout: Double = 2 * 3600
    public static let defaultStall: Double = 15 * 60
    public static let defaultRetries = 2
    public static let maxRetries = 5

    /// The keys a spec's frontmatter may use.
    public static let knownKeys = ["repo", "provider", "fallback", "harness", "model", "timeout", "stall", "retries", "verify"]
        + Spec.workspaceKeys

    /// `repo` exactly as written in the spec.
    public var repoAsWritten: String
    /// `repo` after `~`, `$HOME` and `${HOME}` expansion.
    public var repo: String
    public var provider: String?
    public var fallback: [String]
    public var harness: String?
    public var model: String?
    public var timeout: Double
    public var stall: Double
    public var retries: Int
    public var verify: String?
    /// Where and how the agent works on the repo (Spec+Workspace.swift).
    public var work = WorkSettings()
    /// The body with the frontmatter stripped; handed to the agent on stdin or in a file.
    public var prompt: String

    public init(repoAsWritten: String, repo: String, provider: String? = nil, fallback: [String] = [], harness: String? = nil, model: String? = nil,
                timeout: Double = Spec.defaultTimeout, stall: Double = Spec.defaultStall, retries: Int = Spec.defaultRetries, verify: String? = nil, prompt: String) {
        self.repoAsWritten = repoAsWritten
        self.repo = repo
        self.provider = provider
        self.fallback = fallback
        self.harness = harness
        self.model = model
        self.timeout = timeout
        self.stall = stall
        self.retries = retries
        self.verify = verify
        self.prompt = prompt
    }

    /// Parses and validates a spec's bytes; `home` expands `~` and `$HOME` in `repo`.
    public static func parse(_ data: [UInt8], home: String) throws(SpecError) -> Spec {
        guard data.count <= maxBytes else {
            throw .invalid(key: nil, "the spec is \(data.count) bytes; the limit is 1 MiB (\(maxBytes) bytes)")
        }
        guard let text = String(validating: data, as: UTF8.self) else {
            throw .invalid(key: nil, "the spec is not valid UTF-8 text")
        }
        if text.contains("\u{0}") {
            throw .invalid(key: nil, "the spec contains NUL bytes; it looks like a binary file, not Markdown")
        }
        return try parse(text, home: home)
    }

    /// Parses and validates a spec's text; `home` expands `~` and `$HOME` in `repo`.
    public static func parse(_ text: String, home: String) throws(SpecError) -> Spec {
        let front = try Frontmatter.split(text)
        var values: [String: FrontmatterValue] = [:]
        for entry in front.entries {
            guard knownKeys.contains(entry.key) else {
                var sentence = "unknown key '\(entry.key)' on line \(entry.line) of the frontmatter"
                if let near = Spelling.closest(to: entry.key, in: knownKeys) {
                    sentence += "; did you mean '\(near)'?"
                } else {
                    sentence += "; valid keys are \(knownKeys.joined(separator: ", "))"
                }
                throw .invalid(key: entry.key, sentence)
            }
            values[entry.key] = entry.value
        }
        let body = front.body.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !body.isEmpty else {
            throw .invalid(key: nil, "the spec has no prompt: its body after the frontmatter is empty")
        }
        guard let repoWritten = try string("repo", values) else {
            throw .invalid(key: "repo", "the frontmatter has no 'repo' key; name the git working tree the agent works in, e.g. 'repo: ~/code/widget'")
        }
        let repo = expandHome(repoWritten, home: home)
        guard repo.hasPrefix("/") else {
            throw .invalid(key: "repo", "'repo' must be an absolute path (after ~ and $HOME expansion), got '\(repoWritten)'")
        }
        let retries = try integer("retries", values) ?? defaultRetries
        guard (0...maxRetries).contains(retries) else {
            throw .invalid(key: "retries", "'retries' must be between 0 and \(maxRetries), got \(retries)")
        }
        var fallback: [String] = []
        switch values["fallback"] {
        case nil, .null?: break
        case .list(let items)?: fallback = items
        case .string(let one)?: fallback = [one]
        case let other?: throw wrongType("fallback", other, "a list of provider names, e.g. [infini, volcano]")
        }
        var spec = Spec(
            repoAsWritten: repoWritten,
            repo: repo,
            provider: try string("provider", values),
            fallback: fallback,
            harness: try string("harness", values),
            model: try string("model", values),
            timeout: try duration("timeout", values) ?? defaultTimeout,
            stall: try duration("stall", values) ?? defaultStall,
            retries: retries,
            verify: try command("verify", values),
            prompt: front.body.drop(while: { $0 == "\n" }).description
        )
        spec.work = try WorkSettings.read(values)
        return spec
    }

    /// Expands a leading `~`, `~/`, `$HOME` or `${HOME}`.
    public static func expandHome(_ path: String, home: String) -> String {
        let home = home.hasSuffix("/") && home.count > 1 ? String(home.dropLast()) : home
        if path == "~" || path == "$HOME" || path == "${HOME}" { return home }
        for prefix in ["~/", "$HOME/", "${HOME}/"] where path.hasPrefix(prefix) {
            return home + "/" + path.dropFirst(prefix.count)
        }
        return path
    }

    // MARK: - Typed access

    static func string(_ key: String, _ values: [String: FrontmatterValue]) throws(SpecError) -> String? {
        switch values[key] {
        case nil, .null?: return nil
        case .string(let s)?:
            let t = s.trimmingCharacters(in: .whitespaces)
            if t.isEmpty { throw .invalid(key: key, "'\(key)' is empty") }
            return t
        case .integer(let n)?: return String(n)
        case let other?: throw wrongType(key, other, "a string")
        }
    }

    /// A shell command: any scalar, so `verify: true` and `verify: false` are the commands.
    static func command(_ key: String, _ values: [String: FrontmatterValue]) throws(SpecError) -> String? {
        if case .boolean(let b)? = values[key] { return b ? "true" : "false" }
        return try string(key, values)
    }

    private static func integer(_ key: String, _ values: [String: FrontmatterValue]) throws(SpecError) -> Int? {
        switch values[key] {
        case nil, .null?: return nil
        case .integer(let n)?: return n
        case let other?: throw wrongType(key, other, "a whole number")
        }
    }

    private static func duration(_ key: String, _ values: [String: FrontmatterValue]) throws(SpecError) -> Double? {
        switch values[key] {
        case nil, .null?: return nil
        case .integer(let n)?:
            guard n > 0 else { throw .invalid(key: key, "'\(key)' must be positive, got \(n)") }
            return Double(n)
        case .string(let s)?:
            guard let d = DurationText.parse(s), d > 0 else {
                throw .invalid(key: key, "'\(key)' must be a duration like 90s, 15m or 2h, got '\(s)'")
            }
            return d
        case let other?: throw wrongType(key, other, "a duration like 90s, 15m or 2h")
        }
    }

    static func wrongType(_ key: String, _ value: FrontmatterValue, _ expected: String) -> SpecError {
        .invalid(key: key, "'\(key)' must be \(expected), but the frontmatter gives \(value.typeName)")
    }
}
