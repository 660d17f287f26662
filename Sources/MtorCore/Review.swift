/// What a person reviewing a task's branch should look at first: flags computed from the
/// branch's diff against its base (CONTRACT.md section 5, `review`). Flags never change a
/// task's status; they say where to look.
public struct Review: Codable, Equatable, Sendable {
    public enum Flag: String, Codable, CaseIterable, Sendable {
        /// mtor committed changes the agent left uncommitted.
        case autoCommitted = "auto_committed"
        /// A file that existed before lost at least half its lines.
        case fileShrunk = "file_shrunk"
        /// The diff only removes: no line or file added.
        case pureDeletion = "pure_deletion"
        /// A test file was deleted, or lost at least half its lines.
        case testsDeleted = "tests_deleted"
        /// More changed lines than `--review-max-lines`.
        case largeDiff = "large_diff"
        /// A change outside the spec's `paths:`.
        case touchedOutside = "touched_outside"
    }

    public struct Diffstat: Codable, Equatable, Sendable {
        public var files: Int
        public var insertions: Int
        public var deletions: Int
        public init(files: Int = 0, insertions: Int = 0, deletions: Int = 0) {
            self.files = files
            self.insertions = insertions
            self.deletions = deletions
        }
    }

    public var flags: [Flag]
    public var diffstat: Diffstat
    /// One sentence per flag naming what raised it (at most a few files each).
    public var notes: [String]

    public init(flags: [Flag], diffstat: Diffstat, notes: [String] = []) {
        self.flags = flags
        self.diffstat = diffstat
        self.notes = notes
    }
}

/// One file of a diff, as `git diff --numstat` and `--name-status` describe it.
public struct FileChange: Equatable, Sendable {
    public enum Kind: Equatable, Sendable { case added, modified, deleted }

    public var path: String
    public var kind: Kind
    public var insertions: Int
    public var deletions: Int
    /// Lines the file had at the base; needed only for modified files that lost lines.
    public var linesBefore: Int?

    public init(path: String, kind: Kind, insertions: Int, deletions: Int, linesBefore: Int? = nil) {
        self.path = path
        self.kind = kind
        self.insertions = insertions
        self.deletions = deletions
        self.linesBefore = linesBefore
    }

    /// Whether the file lost at least half of its lines (files of fewer than 4 lines never count).
    public var shrunk: Bool {
        guard kind == .modified, let before = linesBefore, before >= 4 else { return false }
        let after = before + insertions - deletions
        return after * 2 <= before
    }
}

/// The pure rules that turn a diff into `Review` flags.
public struct ReviewRules: Equatable, Sendable {
    public static let defaultMaxLines = 2000

    /// Changed lines (insertions + deletions) above which `large_diff` is raised.
    public var maxLines: Int
    /// The spec's `paths:`; empty means the task may change anything.
    public var scope: [String]

    public init(maxLines: Int = ReviewRules.defaultMaxLines, scope: [String] = []) {
        self.maxLines = maxLines
        self.scope = scope
    }

    public func review(_ changes: [FileChange], autoCommitted: Bool) -> Review {
        var stat = Review.Diffstat(files: changes.count)
        for c in changes {
            stat.insertions += c.insertions
            stat.deletions += c.deletions
        }
        var flags: [Review.Flag] = []
        var notes: [String] = []
        func raise(_ flag: Review.Flag, _ note: String) {
            flags.append(flag)
            notes.append(note)
        }
        if autoCommitted { raise(.autoCommitted, "mtor committed changes the agent left uncommitted") }
        let shrunk = changes.filter(\.shrunk)
        if !shrunk.isEmpty {
            raise(.fileShrunk, "lost at least half their lines: " + Self.names(shrunk.map { "\($0.path) (\($0.linesBefore ?? 0) → "
                + "\(($0.linesBefore ?? 0) + $0.insertions - $0.deletions))" }))
        }
        let removesSomething = changes.contains { $0.kind == .deleted || $0.deletions > 0 }
        if removesSomething, !changes.contains(where: { $0.kind == .added || $0.insertions > 0 }) {
            raise(.pureDeletion, "the diff only removes: \(stat.deletions) line(s) in \(stat.files) file(s), nothing added")
        }
        let tests = changes.filter { Self.isTestPath($0.path) && ($0.kind == .deleted || $0.shrunk) }
        if !tests.isEmpty { raise(.testsDeleted, "test files deleted or halved: " + Self.names(tests.map(\.path))) }
        if stat.insertions + stat.deletions > maxLines {
            raise(.largeDiff, "\(stat.insertions + stat.deletions) changed lines, over the review limit of \(maxLines)")
        }
        if !scope.isEmpty {
            let outside = changes.filter { !inScope($0.path) }
            if !outside.isEmpty { raise(.touchedOutside,
                                        "changes outside paths [\(scope.joined(separator: ", "))]: " + Self.names(outside.map(\.path))) }
        }
        return Review(flags: flags, diffstat: stat, notes: notes)
    }

    /// Whether `path` is one of the scope's paths or inside one of its directories.
    public func inScope(_ path: String) -> Bool {
        scope.contains { p in p == "." || path == p || path.hasPrefix(p + "/") }
    }

    /// Whether a path looks like a test by the usual conventions of most languages.
    public static func isTestPath(_ path: String) -> Bool {
        let parts = path.split(separator: "/")
        let dirs: Set<String> = ["test", "tests", "spec", "specs", "__tests__", "testing", "testdata"]
        if parts.dropLast().contains(where: { dirs.contains($0.lowercased()) }) { return true }
        guard let name = parts.last.map(String.init) else { return false }
        let lower = name.lowercased()
        let stem = name.split(separator: ".").first.map(String.init) ?? name
        if lower.hasPrefix("test_") || lower.hasPrefix("test-") { return true }
        for marker in ["_test.", ".test.", "_spec.", ".spec.", "-test."] where lower.contains(marker) { return true }
        return stem.hasSuffix("Test") || stem.hasSuffix("Tests") || stem.hasSuffix("Spec") || stem.hasSuffix("_test") || stem == "test"
            || stem == "tests"
    }

    private static func names(_ items: [String]) -> String {
        items.count <= 5 ? items.joined(separator: ", ") : items.prefix(5).joined(separator: ", ") + " and \(items.count - 5) more"
    }
}

// MARK: - Reading git's output

extension FileChange {
    /// Joins `git diff -z --no-renames --numstat` and `git diff -z --no-renames --name-status`
    /// outputs into one change per file; binary files count no lines.
    public static func parse(numstat: [UInt8], nameStatus: [UInt8]) -> [FileChange] {
        var kinds: [String: Kind] = [:]
        let statusFields = nameStatus.split(separator: 0, omittingEmptySubsequences: false).map { String(decoding: $0, as: UTF8.self) }
        var i = 0
        while i + 1 < statusFields.count {
            let status = statusFields[i], path = statusFields[i + 1]
            kinds[path] = status.hasPrefix("A") ? .added : status.hasPrefix("D") ? .deleted : .modified
            i += 2
        }
        var out: [FileChange] = []
        for record in numstat.split(separator: 0) {
            let fields = record.split(separator: 9, maxSplits: 2, omittingEmptySubsequences: false)
            guard fields.count == 3 else { continue }
            let path = String(decoding: fields[2], as: UTF8.self)
            let ins = Int(String(decoding: fields[0], as: UTF8.self)) ?? 0
            let del = Int(String(decoding: fields[1], as: UTF8.self)) ?? 0
            out.append(FileChange(path: path, kind: kinds[path] ?? .modified, insertions: ins, deletions: del))
        }
        return out
    }
}
