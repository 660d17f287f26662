import Foundation

/// A task's merge state, written beside its sidecar (`done/<id>.merge.json`) by the one process
/// holding its repository's integration lock. The sidecar stays write-once (only the worker writes
/// verdicts); this record is rewritten as the task moves through the merge queue.
public struct MergeRecord: Codable, Equatable, Sendable {
    public static let schemaName = "mtor.merge/1"

    public enum State: String, Codable, Sendable {
        /// The base branch now contains the task's change (`commit` is the base's new tip).
        case landed
        /// Rebasing (or merging) onto the current base conflicted in `files`.
        case conflict
        /// `verify:` failed on the rebased commit; the base did not move.
        case verifyFailed = "verify_failed"
        /// Not tried (a dirty checkout, a missing branch or commit): `reason` says why.
        case skipped
        /// `mtor merge --dry-run` only (never written): it would rebase cleanly; verify was not run.
        case wouldLand = "would_land"
    }

    public var schema = MergeRecord.schemaName
    public var id: String
    public var state: State
    public var at: String
    /// The base branch's tip after landing (nil unless landed).
    public var commit: String?
    /// The commits that landed on the base, oldest first.
    public var commits: [String]? = nil
    public var base: String?
    /// The conflicting files.
    public var files: [String]? = nil
    public var reason: String
    /// The verify run on the rebased commit.
    public var verify: TaskResult.Verify? = nil
    /// The task queued to redo this one on the current base after a conflict.
    public var followUp: String? = nil

    enum CodingKeys: String, CodingKey {
        case schema, id, state, at, commit, commits, base, files, reason, verify, followUp = "follow_up"
    }

    public init(id: String, state: State, at: String, commit: String? = nil, base: String? = nil, reason: String) {
        self.id = id
        self.state = state
        self.at = at
        self.commit = commit
        self.base = base
        self.reason = reason
    }
}

/// Which finished tasks the merge queue takes, and in which order: pure decisions over sidecars
/// and merge records, unit-tested without git.
public enum MergePlan {
    /// The metadata key a follow-up task carries naming the task it redoes.
    public static let originKey = "x-mtor-origin"

    /// The task a follow-up redoes (its spec's `x-mtor-origin`), if it is one.
    public static func origin(of result: TaskResult) -> String? {
        if case .string(let id)? = result.spec.meta[originKey] { return id }
        return nil
    }

    /// Why `result` cannot enter the queue (nil: it can): it did not succeed, ran in place, or recorded no commit.
    public static func refusal(_ result: TaskResult) -> String? {
        guard result.status == .succeeded else {
            return "it \(result.status.rawValue) (\(result.class.rawValue)); only a task that succeeded is merged"
        }
        guard result.git?.branch != nil, result.spec.repo != nil else { return "it ran in place (no branch of its own); its commits are "
            + "already in the checkout" }
        guard let after = result.git?.headAfter, after != result.git?.headBefore, !(result.git?.commits.isEmpty ?? true) else {
            return "its branch carries no commit of its own (git.head_after), so there is nothing to merge"
        }
        return nil
    }

    /// `--all`: every succeeded task with commits, not yet landed and not replaced by a follow-up,
    /// in `repo` when given, in the order the tasks finished (ties by id).
    public static func pending(_ results: [TaskResult], records: [String: MergeRecord], repo: String? = nil) -> [TaskResult] {
        results.filter { r in
            guard refusal(r) == nil, repo.map({ $0 == r.spec.repo }) ?? true else { return false }
            guard let record = records[r.id] else { return true }
            return record.state != .landed && record.followUp == nil
        }.sorted { ($0.finishedAt, $0.id) < ($1.finishedAt, $1.id) }
    }

    /// The prompt of a follow-up for a conflict: the original prompt, then the conflict as comment
    /// lines (`# ` in front of each, so a shell harness runs the original prompt unchanged).
    public static func followUpPrompt(original: String, id: String, base: String, files: [String], sides: String) -> String {
        var context = ["mtor: this task redoes task \(id), whose change conflicted with \(base) when it was merged.",
                       "It starts from \(base) as it is now. Do the original task again on top of it; keep what \(base) has.",
                       "Conflicting files: \(files.joined(separator: ", "))", "Both sides of the conflict:"]
        context += sides.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let body = original.hasSuffix("\n") ? original : original + "\n"
        return body + "\n" + context.map { "# " + $0 }.joined(separator: "\n") + "\n"
    }
}
