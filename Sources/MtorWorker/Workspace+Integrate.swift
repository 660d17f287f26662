import Foundation
import MtorCore
import MtorPlatform

/// Integration of a task's branch: left for review or pushed to `origin` (`integrate: merge` goes
/// through the merge queue, `MergeQueue`, like `mtor merge`). Every git call here is the worker's
/// hardened `GitShell.git`: no hook, filter or other program the repository names runs.
extension Workspace {
    /// How integration went: `branch`, `merged` or `pushed`, with the reason when it fell short.
    struct Integration: Equatable {
        var integrated: String
        var reason: String?
    }

    /// Leaves the branch (`branch`) or pushes it to `origin` (`push`); `merge` goes through `MergeQueue`.
    static func integrate(_ how: WorkSettings.Integrate, repo: String, branch: String, shell: GitShell) -> Integration {
        switch how {
        case .branch, .merge:
            return Integration(integrated: "branch")
        case .push:
            let r = shell.git(["push", "--quiet", "--porcelain", "--no-verify", "--receive-pack=git-receive-pack", "origin", "refs/heads/\(branch):refs/heads/\(branch)"], in: repo, timeout: 600)
            return r.ok ? Integration(integrated: "pushed")
                        : Integration(integrated: "branch", reason: "git push to origin failed: \(r.said)")
        }
    }

    /// Deletes the task's branch when a claim of this task made it and it is still at the base (no
    /// commit of its own); a branch that was there before, or that carries a commit, stays.
    func dropEmptyBranch() {
        guard isWorktree, let record, record.createdBranch == true else { return }
        let ref = "refs/heads/\(record.branch)"
        guard let tip = shell.value(["rev-parse", "--verify", "-q", "\(ref)^{commit}"], in: spec.repo), tip == record.baseSHA else { return }
        let r = shell.git(["update-ref", "-d", ref, tip], in: spec.repo)
        log?.note(r.ok ? "workspace: removed \(record.branch), which carries no commit" : "workspace: could not remove the empty branch \(record.branch): \(r.said)")
    }

    /// The worktree (the main checkout or another) that has `branch` checked out, if any.
    static func checkout(of branch: String, repo: String, shell: GitShell) -> String? {
        let r = shell.git(["worktree", "list", "--porcelain", "-z"], in: repo)
        guard r.ok else { return nil }
        var path: String? = nil
        for field in r.out.split(separator: 0, omittingEmptySubsequences: false).map({ String(decoding: $0, as: UTF8.self) }) {
            if field.hasPrefix("worktree ") { path = String(field.dropFirst(9)) }
            if field == "branch refs/heads/\(branch)" { return path }
        }
        return nil
    }
}

