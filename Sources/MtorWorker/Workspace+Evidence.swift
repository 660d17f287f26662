import Foundation
import MtorCore
import MtorPlatform

/// After the agent: what it left behind, committed and measured against the base.
extension Workspace {
    /// What an attempt that exited 0 left.
    struct Evidence {
        /// mtor committed changes the agent left uncommitted.
        var autoCommitted = false
        /// The branch moved past its base (in place: HEAD moved or the checkout changed).
        var changed = false
    }

    static let autoCommitMessage = "mtor: changes the agent left uncommitted"

    /// Commits what the agent left uncommitted in the worktree (never the `copy:` files), then
    /// says whether the branch holds any change. In place nothing is committed: a new commit or
    /// any uncommitted change in the checkout counts, and `expect: nothing` costs no git call.
    func settle() -> Evidence {
        guard isWorktree, let record else {
            guard spec.work.expect != .nothing else { return Evidence() }
            return Evidence(changed: tip(nil) != inPlaceHead || !status(spec.repo).isEmpty)
        }
        var evidence = Evidence()
        if !status(directory).isEmpty {
            let added = shell.git(["add", "-A", "--"] + pathspec, in: directory)
            var commit = ["commit", "-q", "--no-verify", "-m", Self.autoCommitMessage]
            if shell.value(["config", "user.email"], in: directory) == nil {
                commit = ["-c", "user.name=mtor", "-c", "user.email=mtor@\(FileSystem.hostName())"] + commit
            }
            let r = added.ok ? shell.git(commit, in: directory) : added
            evidence.autoCommitted = r.ok
            log?.note(r.ok ? "workspace: committed the changes the agent left uncommitted" : "workspace: could not commit the agent's leftover changes: \(r.said)")
        }
        evidence.changed = tip(record).map { $0 != record.baseSHA } ?? false
        return evidence
    }

    /// The branch tip (in place: HEAD).
    func tip(_ record: Record?) -> String? {
        guard let record else { return Git.readHead(spec.repo) ?? shell.value(["rev-parse", "--verify", "-q", "HEAD"], in: spec.repo) }
        return shell.value(["rev-parse", "--verify", "-q", "refs/heads/\(record.branch)^{commit}"], in: spec.repo)
    }

    /// The commit the task started from.
    var startSHA: String? { record?.baseSHA ?? inPlaceHead }

    /// The sidecar's `git` section, with the review's diffstat.
    func gitSection(diffstat: Review.Diffstat?) -> TaskResult.Git {
        let after = tip(record)
        var git = TaskResult.Git(headBefore: startSHA, headAfter: after, commits: commits(from: startSHA, to: after))
        git.diffstat = diffstat
        if let record {
            git.branch = record.branch
            git.base = record.base ?? record.baseSHA
            git.integrated = WorkSettings.Integrate.branch.rawValue
        }
        return git
    }

    /// Commits reachable from `after` but not from `before`, oldest first.
    func commits(from before: String?, to after: String?) -> [TaskResult.Commit] {
        guard let after, after != before else { return [] }
        let range = before.map { "\($0)..\(after)" } ?? after
        let r = shell.git(["log", "--reverse", "--format=%H%x09%s", "-n", "1000", range, "--"], in: spec.repo, timeout: 60)
        guard r.ok else { return [] }
        return String(decoding: r.out, as: UTF8.self).split(separator: "\n").compactMap { line in
            let parts = line.split(separator: "\t", maxSplits: 1)
            guard let sha = parts.first else { return nil }
            return TaskResult.Commit(sha: String(sha), subject: parts.count > 1 ? String(parts[1]) : "")
        }
    }

    /// The review of everything the task changed since its start.
    func review(maxLines: Int, autoCommitted: Bool) -> Review? {
        guard let before = startSHA, let after = tip(record) else { return nil }
        var changes: [FileChange] = []
        if before != after {
            let numstat = shell.git(["diff", "-z", "--no-renames", "--no-ext-diff", "--numstat", before, after, "--"], in: spec.repo, timeout: 300)
            let names = shell.git(["diff", "-z", "--no-renames", "--no-ext-diff", "--name-status", before, after, "--"], in: spec.repo, timeout: 300)
            guard numstat.ok, names.ok else { return nil }
            changes = FileChange.parse(numstat: numstat.out, nameStatus: names.out)
            // Only a file that lost lines can have shrunk: count its lines at the base (a few at most).
            for i in changes.indices where changes[i].kind == .modified && changes[i].deletions > changes[i].insertions {
                if i >= 200 { break }
                let blob = shell.git(["cat-file", "blob", "\(before):\(changes[i].path)"], in: spec.repo, timeout: 60)
                if blob.ok { changes[i].linesBefore = Self.lineCount(blob.out) }
            }
        }
        return ReviewRules(maxLines: maxLines, scope: spec.work.paths).review(changes, autoCommitted: autoCommitted)
    }

    /// Lines in a text, counting a last line without a newline.
    static func lineCount(_ bytes: [UInt8]) -> Int {
        let newlines = bytes.reduce(0) { $0 + ($1 == 10 ? 1 : 0) }
        return newlines + (bytes.last.map { $0 == 10 ? 0 : 1 } ?? 0)
    }
}
