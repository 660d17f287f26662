/// A key another well-known tool uses in its specs, and what mtor calls the same thing.
///
/// `Spec.parse` answers such a key with mtor's name and the difference instead of a spelling guess;
/// `SpecConversion` (`mtor convert`) rewrites it.
public struct ForeignKey: Sendable {
    /// How `mtor convert` turns the foreign value into mtor's.
    public enum Rule: Sendable {
        /// Same meaning: the value moves to `mtorKey` (for `repo`, a relative path is made absolute).
        case rename
        /// The nested `run:` of a mapping (or a plain string) becomes `mtorKey`.
        case nestedRun
        /// mtor has nothing like it: dropped when empty, otherwise kept as `x-<key>` metadata.
        case none
    }

    /// The key as the other tool writes it (`tests.run` for a nested one is matched on `tests`).
    public let key: String
    /// How it is shown in the sentence (`tests.run`).
    public let shown: String
    public let tool: String
    /// mtor's key for the same thing; nil when mtor has none.
    public let mtorKey: String?
    /// What mtor's key means, or why mtor has none.
    public let difference: String
    public let rule: Rule

    init(_ key: String, shown: String? = nil, tool: String, _ mtorKey: String?, _ difference: String, rule: Rule = .rename) {
        self.key = key
        self.shown = shown ?? key
        self.tool = tool
        self.mtorKey = mtorKey
        self.difference = difference
        self.rule = mtorKey == nil ? .none : rule
    }

    static let ccq = "claude-code-queue"
    static let original = "the original mtor"

    /// Other tools' names. Add a row to teach mtor (and `mtor convert`) another one.
    public static let table: [ForeignKey] = [
        ForeignKey("working_directory", tool: ccq, "repo", "a git work tree on the worker, as an absolute path or under ~"),
        ForeignKey("max_retries", tool: ccq, "retries", "extra attempts for transient failures only, at most 5"),
        ForeignKey("context_files", tool: ccq, nil, "mtor has no context list: name the files in the prompt and the agent reads them from the repo"),
        ForeignKey("estimated_tokens", tool: ccq, nil, "mtor does not estimate tokens; the sidecar reports the real usage"),
        ForeignKey("tests", shown: "tests.run", tool: original, "verify",
                   "a shell command run in the repo after the agent exits 0, which must pass", rule: .nestedRun),
        ForeignKey("scope", tool: original, "paths", "the paths the task may change; changes elsewhere are flagged"),
        ForeignKey("files", tool: original, "paths", "the paths the task may change; changes elsewhere are flagged"),
        ForeignKey("blocked_by", tool: "issue trackers", "depends_on", "the ids of tasks that must succeed first"),
        ForeignKey("dependencies", tool: "task runners", "depends_on", "the ids of tasks that must succeed first"),
        ForeignKey("working_dir", tool: "task runners", "repo", "a git work tree on the worker, as an absolute path or under ~"),
        ForeignKey("cwd", tool: "task runners", "repo", "a git work tree on the worker, as an absolute path or under ~"),
        ForeignKey("test_command", tool: "task runners", "verify", "a shell command run in the repo after the agent exits 0, which must pass"),
    ]

    /// The row for `entry`'s key, if another tool uses it.
    public static func matching(_ entry: Frontmatter.Entry) -> ForeignKey? {
        table.first { $0.key == entry.key }
    }

    /// Whether this mtor has `mtorKey` yet (keys such as `paths` arrive with their features).
    public var mtorKeyKnown: Bool { mtorKey.map { Spec.key(named: $0) != nil } ?? false }

    /// The refusal `Spec.parse` gives.
    public func sentence(line: Int) -> String {
        guard let mtorKey else {
            return "'\(shown)' on line \(line) is \(tool)'s key; \(difference). Remove it, or run `mtor convert` on the spec"
        }
        let later = mtorKeyKnown ? "" : " (this mtor does not have '\(mtorKey)' yet)"
        return "'\(shown)' on line \(line) is \(tool)'s name for this; mtor calls it '\(mtorKey)'\(later) (\(difference)). Rename it, or run "
            + "`mtor convert` on the spec"
    }
}
