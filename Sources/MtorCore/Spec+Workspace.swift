import Foundation

/// The spec keys that say where the agent works and what counts as success:
/// `workspace`, `base`, `branch`, `copy`, `setup`, `expect`, `integrate`, `paths` (CONTRACT.md section 3).
public struct WorkSettings: Equatable, Sendable {
    /// Where the agent works.
    public enum Mode: String, Equatable, Sendable, CaseIterable {
        /// A git worktree of its own, on a branch of its own (the default).
        case worktree
        /// The repo's checkout itself; one such task per repo at a time.
        case inPlace = "in-place"
    }

    /// What counts as evidence that the agent did its job.
    public enum Expect: String, Equatable, Sendable, CaseIterable {
        /// A new commit on the task's branch (uncommitted changes are committed by mtor).
        case changes
        /// A final answer; no change needed.
        case answer
        /// A plain exit 0.
        case nothing
    }

    /// What happens to the branch of a task that succeeded.
    public enum Integrate: String, Equatable, Sendable, CaseIterable {
        /// Left for review.
        case branch
        /// The base branch is fast-forwarded when that is safe.
        case merge
        /// The branch is pushed to the repo's `origin`.
        case push
    }

    /// What a conflict in the merge queue leads to.
    public enum OnConflict: String, Equatable, Sendable, CaseIterable {
        /// The conflict is recorded (files, merge state) for a person: `mtor merge --resolve ID`.
        case branch
        /// A follow-up task is queued at once, as `mtor merge --resolve ID` would.
        case agent
    }

    public static let defaultBranch = "mtor/<id>"

    public var mode: Mode = .worktree
    /// Where the branch starts; nil means the repo's HEAD when the task is claimed.
    public var base: String?
    /// The branch name, `<id>` standing for the task's id.
    public var branch: String = WorkSettings.defaultBranch
    /// Untracked files copied from the checkout into the worktree, relative to the repo.
    public var copy: [String] = []
    /// A shell command run in the worktree before the agent.
    public var setup: String?
    public var expect: Expect = .changes
    public var integrate: Integrate = .branch
    public var onConflict: OnConflict = .branch
    /// The task's scope, relative to the repo; empty means anywhere.
    public var paths: [String] = []

    public init() {}

    /// The branch of task `id`; an id git would refuse in a ref (`a..b`, `x.lock`, a leading or
    /// trailing dot) is made safe with `_`.
    public func branchName(id: String) -> String {
        var part = id.replacingOccurrences(of: "..", with: "._")
        if part.hasPrefix(".") { part = "_" + part.dropFirst() }
        if part.hasSuffix(".") || part.hasSuffix(".lock") { part += "_" }
        return branch.replacingOccurrences(of: "<id>", with: part)
    }

    /// Reads the workspace keys from a spec's type-checked values.
    static func read(_ values: [String: SpecValue]) throws(SpecError) -> WorkSettings {
        var w = WorkSettings()
        w.mode = try choice("workspace", values, default: .worktree)
        w.expect = try choice("expect", values, default: .changes)
        w.integrate = try choice("integrate", values, default: .branch)
        w.onConflict = try choice("on_conflict", values, default: .branch)
        w.setup = values["setup"]?.text
        if let base = values["base"]?.text {
            guard WorkSettings.isPlausibleRevision(base) else {
                throw .invalid(key: "base", "'base' must name a branch, tag or commit of the repo (e.g. main), got '\(Spec.shown(base))'")
            }
            w.base = base
        }
        if let branch = values["branch"]?.text {
            guard WorkSettings.isValidBranch(branch.replacingOccurrences(of: "<id>", with: "id")) else {
                throw .invalid(key: "branch",
                               "'branch' must be a valid git branch name such as mtor/<id> (no spaces, '..', '~', '^', ':', '?', '*', '[', "
                                   + "'\\', '@{', no leading '-' or trailing '/', '.' or '.lock'), got '\(Spec.shown(branch))'")
            }
            w.branch = branch
        }
        w.copy = try relativePaths("copy", values)
        w.paths = try relativePaths("paths", values)
        if w.mode == .inPlace {
            if let key = ["branch", "base", "copy", "setup", "on_conflict"].first(where: { values[$0] != nil }) {
                throw .invalid(key: key, "'\(key)' needs a worktree, but the spec says 'workspace: in-place'; drop '\(key)' or use "
                    + "'workspace: worktree'")
            }
            if w.integrate != .branch {
                throw .invalid(key: "integrate",
                               "'integrate: \(w.integrate.rawValue)' needs the task's own branch, but the spec says 'workspace: in-place'")
            }
        }
        return w
    }

    // MARK: - Checks

    /// A git branch name as `git check-ref-format --branch` accepts it (the common rules).
    public static func isValidBranch(_ name: String) -> Bool {
        guard !name.isEmpty, name.utf8.count <= 200, !name.hasPrefix("-"), !name.hasPrefix("/"), !name.hasSuffix("/"),
              !name.hasSuffix("."), !name.hasSuffix(".lock"), name != "@", name != "HEAD" else { return false }
        for bad in ["..", "//", "@{", "/."] where name.contains(bad) { return false }
        return !name.unicodeScalars.contains { $0.value < 0x21 || $0.value == 0x7f || "~^:?*[\\".unicodeScalars.contains($0) }
    }

    /// A revision that can be handed to git safely (never an option, a range or a path).
    public static func isPlausibleRevision(_ text: String) -> Bool {
        guard !text.isEmpty, text.utf8.count <= 200, !text.hasPrefix("-"), !text.contains(".."), !text.contains(":") else { return false }
        return !text.unicodeScalars.contains { $0.value < 0x21 || $0.value == 0x7f }
    }

    /// A path inside the repo: relative, without `..` components.
    public static func isInsideRepo(_ path: String) -> Bool {
        guard !path.isEmpty, !path.hasPrefix("/"), !path.hasPrefix("-"), !path.contains("\u{0}") else { return false }
        return !path.split(separator: "/").contains("..")
    }

    // MARK: - Typed access

    private static func choice<T: RawRepresentable & CaseIterable>(_ key: String, _ values: [String: SpecValue],
                                                                   default value: T) throws(SpecError) -> T where T.RawValue == String {
        guard let text = values[key]?.text else { return value }
        guard let v = T(rawValue: text) else {
            throw .invalid(key: key, "'\(key)' must be one of \(T.allCases.map(\.rawValue).joined(separator: ", ")), got '\(Spec.shown(text))'")
        }
        return v
    }

    private static func relativePaths(_ key: String, _ values: [String: SpecValue]) throws(SpecError) -> [String] {
        var out: [String] = []
        for item in (values[key]?.names ?? []).map({ $0.trimmingCharacters(in: .whitespaces) }) {
            guard isInsideRepo(item) else {
                throw .invalid(key: key, "'\(key)' names '\(Spec.shown(item))', which is not a relative path inside the repo; write paths "
                    + "like config/local.yml")
            }
            var p = item
            while p.hasPrefix("./") { p.removeFirst(2) }
            while p.count > 1, p.hasSuffix("/") { p.removeLast() }
            out.append(p)
        }
        return out
    }
}

extension Spec {
    /// The rows of `Spec.keys` that `WorkSettings` reads.
    public static let workspaceKeys: [SpecKey] = [
        SpecKey("workspace", .name, default: "worktree", "worktree (own worktree and branch) or in-place (the checkout itself)"),
        SpecKey("base", .name, default: "the repo's HEAD at claim",
                "where the task's branch starts; after = the tip of its single dependency's branch"),
        SpecKey("branch", .name, default: WorkSettings.defaultBranch, "the task's branch; <id> is the task's id"),
        SpecKey("copy", .names, default: "none", "untracked files copied from the checkout into the worktree"),
        SpecKey("setup", .command, default: "none", "run in the worktree before the agent; failure = setup_failed"),
        SpecKey("expect", .name, default: "changes", "changes, answer or nothing: what counts as evidence of success"),
        SpecKey("integrate", .name, default: "branch", "branch (leave it for review), merge (the merge queue: rebase, verify, fast-forward) or push"),
        SpecKey("on_conflict", .name, default: "branch",
                "branch (record the conflict for a person) or agent (queue a follow-up task when the merge queue meets a conflict)"),
        SpecKey("paths", .names, default: "anywhere", "the task's scope; changes elsewhere are flagged touched_outside"),
    ]
}

extension WorkSettings {
    /// Why an attempt that exited 0 does not count as done under `expect:` (nil when it does).
    public func missingEvidence(changed: Bool, answer: String) -> String? {
        switch expect {
        case .nothing:
            return nil
        case .changes:
            return changed ? nil : "the agent exited 0 but changed nothing: no new commit on its branch and no uncommitted change"
        case .answer:
            let answered = !answer.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty
            return changed || answered ? nil : "the agent exited 0 but gave no answer and changed nothing"
        }
    }
}

extension TaskResult {
    /// `text` cut to at most `answerCap` bytes of UTF-8, on a character boundary.
    public static func capAnswer(_ text: String, cap: Int = TaskResult.answerCap) -> String {
        guard text.utf8.count > cap else { return text }
        var bytes = 0
        var end = text.unicodeScalars.startIndex
        for scalar in text.unicodeScalars {
            let width = UTF8.width(scalar)
            if bytes + width > cap { break }
            bytes += width
            end = text.unicodeScalars.index(after: end)
        }
        return String(text.unicodeScalars[..<end])
    }
}
