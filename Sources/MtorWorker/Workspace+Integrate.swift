import Foundation
import MtorCore
import MtorPlatform

/// Integration of a task's branch: left for review, fast-forwarded into its base when that
/// is safe, or pushed to `origin`. `mtor merge ID` uses the same rules later, on the commit the
/// sidecar recorded. Every git call here is the worker's hardened `GitShell.git`: no hook, filter
/// or other program the repository names runs.
extension Workspace {
    /// How integration went: `branch`, `merged` or `pushed`, with the reason when it fell short.
    struct Integration: Equatable {
        var integrated: String
        var reason: String?
    }

    /// One integration per process at a time: two tasks fast-forwarding one branch must not race.
    private static let integrating = NSLock()

    /// Integrates `branch` of `repo` as asked: `commit` (the task's recorded `head_after`) when
    /// given, which the branch must still contain, else the branch's tip.
    static func integrate(_ how: WorkSettings.Integrate, repo: String, branch: String, into baseBranch: String?, shell: GitShell, at commit: String? = nil) -> Integration {
        switch how {
        case .branch:
            return Integration(integrated: "branch")
        case .push:
            let r = shell.git(["push", "--quiet", "--porcelain", "--no-verify", "--receive-pack=git-receive-pack", "origin", "refs/heads/\(branch):refs/heads/\(branch)"], in: repo, timeout: 600)
            return r.ok ? Integration(integrated: "pushed")
                        : Integration(integrated: "branch", reason: "git push to origin failed: \(r.said)")
        case .merge:
            integrating.lock()
            defer { integrating.unlock() }
            return fastForward(repo: repo, branch: branch, into: baseBranch, shell: shell, at: commit)
        }
    }

    /// Fast-forwards `baseBranch` to `commit` (else `branch`'s tip) when nothing diverged and, if
    /// the base branch is checked out somewhere, that checkout is clean.
    private static func fastForward(repo: String, branch: String, into baseBranch: String?, shell: GitShell, at commit: String?) -> Integration {
        func refuse(_ why: String) -> Integration { Integration(integrated: "branch", reason: why) }
        guard let base = baseBranch else {
            return refuse("the task did not start from a branch (detached HEAD or a commit), so there is nothing to fast-forward; merge \(branch) by hand")
        }
        guard let branchTip = shell.value(["rev-parse", "--verify", "-q", "refs/heads/\(branch)^{commit}"], in: repo) else {
            return refuse("the branch \(branch) no longer exists in \(repo)")
        }
        var tip = branchTip
        if let commit {
            guard Git.isSHA(commit), let recorded = shell.value(["rev-parse", "--verify", "-q", "\(commit)^{commit}"], in: repo),
                  shell.git(["merge-base", "--is-ancestor", recorded, branchTip], in: repo).ok else {
                return refuse("\(branch) no longer contains \(commit.prefix(10)), the commit the task recorded (git.head_after), so there is nothing reviewed to merge; merge the branch by hand if you want it")
            }
            tip = recorded
        }
        guard let current = shell.value(["rev-parse", "--verify", "-q", "refs/heads/\(base)^{commit}"], in: repo) else {
            return refuse("the base branch \(base) no longer exists in \(repo)")
        }
        if current == tip { return Integration(integrated: "merged") }
        guard shell.git(["merge-base", "--is-ancestor", current, tip], in: repo).ok else {
            return refuse("\(base) has moved on since the task started (it is at \(current.prefix(10)), which \(branch) does not contain); rebase \(branch) onto \(base) or merge it by hand")
        }
        if let checkout = checkout(of: base, repo: repo, shell: shell) {
            let dirty = shell.git(["status", "--porcelain", "--untracked-files=no"], in: checkout, timeout: 300)
            guard dirty.ok else { return refuse("cannot read the state of the checkout \(checkout): \(dirty.said)") }
            guard dirty.text.isEmpty else {
                return refuse("\(base) is checked out in \(checkout), which has uncommitted changes; commit or stash them, then run `mtor merge`")
            }
            let r = shell.git(["merge", "--ff-only", "--quiet", "--no-stat", "--no-verify", tip], in: checkout, timeout: 600)
            return r.ok ? Integration(integrated: "merged") : refuse("git merge --ff-only in \(checkout) failed: \(r.said)")
        }
        let r = shell.git(["update-ref", "-m", "mtor: fast-forward to \(branch) at \(tip.prefix(10))", "refs/heads/\(base)", tip, current], in: repo)
        return r.ok ? Integration(integrated: "merged") : refuse("could not move \(base) to \(tip.prefix(10)): \(r.said)")
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

/// `mtor merge ID`: the safe fast-forward of a finished task's branch, after review.
public enum TaskMerge {
    public struct Outcome: Codable, Sendable {
        public var id: String
        public var branch: String
        public var base: String?
        public var integrated: String
        public var reason: String?
    }

    /// Fast-forwards the base branch of task `result` to the commit its sidecar recorded
    /// (`git.head_after`, never a later tip of the branch), under the same rules as `integrate: merge`.
    public static func merge(_ result: TaskResult, environment: [String: String]) throws(WorkerError) -> Outcome {
        guard result.status == .succeeded else {
            throw .failed("task \(result.id) \(result.status.rawValue) (\(result.class.rawValue)); only a task that succeeded is merged — read `mtor show \(result.id)`, then merge its branch by hand if you want it")
        }
        guard let branch = result.git?.branch, result.git?.base != nil || result.git?.headBefore != nil, let repo = result.spec.repo else {
            throw .failed("task \(result.id) ran in place (no branch of its own); its commits are already in the checkout")
        }
        let shell = GitShell(base: environment, containment: nil)
        let base = result.git?.base.flatMap { shell.git(["show-ref", "--verify", "-q", "refs/heads/\($0)"], in: repo).ok ? $0 : nil }
        guard let recorded = result.git?.headAfter else {
            throw .failed("task \(result.id)'s result records no commit (git.head_after), so there is nothing reviewed to merge; merge \(branch) by hand if you want it")
        }
        let done = Workspace.integrate(.merge, repo: repo, branch: branch, into: base, shell: shell, at: recorded)
        return Outcome(id: result.id, branch: branch, base: base ?? result.git?.base, integrated: done.integrated, reason: done.reason)
    }
}
