import Foundation

/// A validated task: what to run, where, with which provider, and the prompt.
public struct Spec: Equatable, Sendable {
    public static let maxBytes = 1 << 20
    public static let defaultTimeout: Double = 2 * 3600
    public static let defaultStall: Double = 15 * 60
    public static let defaultRetries = 2
    public static let maxRetries = 5

    /// The longest `timeout` or `stall` a spec may ask for.
    public static let maxDuration: Double = 30 * 86400

    /// The keys a spec's frontmatter may use, with their types, defaults and meaning.
    public static let keys: [SpecKey] = [
        SpecKey("repo", .path, default: "required", "git working tree on the worker; ~ and $HOME expanded"),
        SpecKey("provider", .name, default: "the lockfile's default", "a provider from the lockfile"),
        SpecKey("fallback", .names, default: "none", "providers tried in order when the provider fails or is unhealthy"),
        SpecKey("harness", .name, default: "the provider's", "override the provider's harness"),
        SpecKey("model", .name, default: "the provider's", "override the provider's model"),
    ] + Spec.scheduleKeys + [
        SpecKey("timeout", .duration, default: "2h", "wall-clock limit per attempt"),
        SpecKey("stall", .duration, default: "15m", "kill after this long with no agent activity"),
        SpecKey("retries", .wholeNumber(0...maxRetries), default: "2", "extra attempts for transient failures"),
        SpecKey("verify", .command, default: "none", "run in the repo after the agent exits 0; must pass for success"),
        SpecKey("priority", .wholeNumber(-1_000_000...1_000_000), default: "0", "higher runs first; same priority keeps arrival order"),
        SpecKey("depends_on", .names, default: "none", "ids of tasks that must succeed before this one starts"),
    ] + Spec.workspaceKeys + [
        SpecKey("memory", .memory, default: "none (--task-memory)",
                "memory cap of each attempt, agent and every process it starts (512M, 4G); the kernel's OOM killer ends it at the cap"),
        SpecKey("max_cost_usd", .dollars, default: "none",
                "the most the task may spend, all attempts, priced from the lockfile's prices; the agent is stopped at once past it "
                    + "(budget_exceeded)"),
        SpecKey("max_turns", .wholeNumber(1...100_000), default: "none",
                "the most model turns the task may take, all attempts; the agent is stopped at once when it begins one more (budget_exceeded)"),
    ]

    /// The names in `keys`.
    public static var knownKeys: [String] { keys.map(\.name) }

    /// Keys accepted, ignored by the scheduler, and kept in the sidecar as `spec.meta` (also any `x-...` key).
    public static let metadataKeys = ["title", "description", "name", "status", "tags", "created", "created_at",
                                      "revised", "goal", "type", "owner", "notes"]

    public static func key(named name: String) -> SpecKey? { keys.first { $0.name == name } }

    public static func isMetadata(_ key: String) -> Bool { metadataKeys.contains(key) || (key.hasPrefix("x-") && key.count > 2) }

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
    /// The earliest start (`not_before:`), nil: as soon as possible.
    public var notBefore: NotBefore? = nil
    /// Whether an identical spec seen within the worker's `--dedup-window` refuses this one (`dedup:`).
    public var dedup = true
    /// Higher runs first (default 0).
    public var priority: Int
    /// Ids of tasks that must succeed first.
    public var dependsOn: [String]
    /// The memory cap of each attempt in bytes (`memory:`); nil: the worker's `--task-memory`, if any.
    public var memory: Int64?
    /// The task's spending caps (`max_cost_usd:`, `max_turns:`).
    public var maxCostUSD: Double? = nil
    public var maxTurns: Int? = nil
    /// The metadata keys' values, for the sidecar's `spec.meta`.
    public var meta: [String: FrontmatterValue]
    /// The body with the frontmatter stripped; handed to the agent on stdin or in a file.
    public var prompt: String
    /// Where and how the agent works on the repo (Spec+Workspace.swift).
    public var work = WorkSettings()

    public init(repoAsWritten: String, repo: String, provider: String? = nil, fallback: [String] = [], harness: String? = nil, model: String? = nil,
                timeout: Double = Spec.defaultTimeout, stall: Double = Spec.defaultStall, retries: Int = Spec.defaultRetries,
                verify: String? = nil, prompt: String,
                priority: Int = 0, dependsOn: [String] = [], meta: [String: FrontmatterValue] = [:]) {
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
        self.priority = priority
        self.dependsOn = dependsOn
        self.meta = meta
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
        var values: [String: SpecValue] = [:]
        var meta: [String: FrontmatterValue] = [:]
        // Every key's problem, the missing prompt and the missing repo are reported together, not one per run.
        var problems: [SpecError] = []
        for entry in front.entries {
            if let key = key(named: entry.key) {
                do {
                    values[key.name] = try key.read(entry)
                } catch {
                    problems.append(.invalid(key: key.name, "line \(entry.line): \(error.description)"))
                }
            } else if isMetadata(entry.key) {
                meta[entry.key] = entry.value
            } else {
                problems.append(unknownKey(entry))
            }
        }
        let body = front.body.trimmingBlanksAndNewlines()
        if body.isEmpty {
            problems.append(.invalid(key: nil, "the spec has no prompt: its body after the frontmatter is empty"))
        }
        if values["repo"]?.text == nil, !problems.contains(where: { if case .invalid(key: "repo", _) = $0 { return true } else { return false } }) {
            problems.append(.invalid(key: "repo",
                                     "the frontmatter has no 'repo' key; name the git working tree the agent works in, e.g. 'repo: ~/code/widget'"))
        }
        if let first = problems.first {
            guard problems.count > 1, case .invalid(let key, _) = first else { throw first }
            throw .invalid(key: key, "\(problems.count) problems: " + problems.enumerated().map { "(\($0.offset + 1)) "
                + "\($0.element.description)" }.joined(separator: "; "))
        }
        guard let repoWritten = values["repo"]?.text else {
            throw .invalid(key: "repo", "the frontmatter has no 'repo' key; name the git working tree the agent works in, e.g. 'repo: ~/code/widget'")
        }
        let repo = expandHome(repoWritten, home: home)
        guard repo.hasPrefix("/") else {
            throw .invalid(key: "repo", "'repo' must be an absolute path (after ~ and $HOME expansion), got '\(shown(repoWritten))'")
        }
        var spec = Spec(
            repoAsWritten: repoWritten,
            repo: repo,
            provider: values["provider"]?.text,
            fallback: values["fallback"]?.names ?? [],
            harness: values["harness"]?.text,
            model: values["model"]?.text,
            timeout: values["timeout"]?.seconds ?? defaultTimeout,
            stall: values["stall"]?.seconds ?? defaultStall,
            retries: values["retries"]?.number ?? defaultRetries,
            verify: values["verify"]?.text,
            prompt: front.body.drop(while: { $0 == "\n" }).description,
            priority: values["priority"]?.number ?? 0,
            dependsOn: values["depends_on"]?.names ?? [],
            meta: meta
        )
        (spec.notBefore, spec.dedup) = try ScheduleRules.read(values)
        spec.work = try WorkSettings.read(values)
        spec.memory = values["memory"]?.bytes
        spec.maxCostUSD = values["max_cost_usd"]?.amount
        spec.maxTurns = values["max_turns"]?.number
        return spec
    }

    /// The sentence for a key mtor does not know: another tool's name for one of mtor's keys, or a typo.
    static func unknownKey(_ entry: Frontmatter.Entry) -> SpecError {
        if let foreign = ForeignKey.matching(entry) {
            return .invalid(key: entry.key, foreign.sentence(line: entry.line))
        }
        var sentence = "unknown key '\(shown(entry.key))' on line \(entry.line)"
        if let near = Spelling.closest(to: entry.key, in: knownKeys + metadataKeys) {
            sentence += "; did you mean '\(near)'?"
        } else {
            sentence += "; valid keys are \(knownKeys.joined(separator: ", ")), metadata keys are \(metadataKeys.joined(separator: ", ")) and x-..."
        }
        return .invalid(key: entry.key, sentence)
    }

    /// `text` cut to 60 characters for a sentence, so a hostile million-character key stays a short message.
    public static func shown(_ text: String) -> String {
        guard text.utf8.count > 60 else { return text }
        return String(text.prefix(60)) + "… (\(text.utf8.count) bytes)"
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
}
