import Foundation
import MtorCore
import MtorPlatform

/// The merge queue's git work: one task's recorded commit (`git.head_after`, never a later tip of
/// its branch) rebased onto its base branch as it is now (or merged, `--merge-commit`) in a scratch
/// clone, `verify:` run there inside a containment and the task's kind of sandbox, and the base
/// fast-forwarded only when verify passed (bors' rule: the base only ever points at a commit whose
/// checks passed as it stands). One integration at a time per repository, across every worker and
/// CLI on the host: an `flock` on `mtor-integrate.lock` in the repository's git directory.
/// `mtor merge` and `integrate: merge` both come here.
public struct MergeQueue: Sendable {
    /// How verify is run and what is kept.
    public struct Setup: Sendable {
        /// The minimal environment verify and git get (PATH, HOME, USER, LANG, TMPDIR).
        public var environment: [String: String]
        /// Where scratch clones go (`<workspaces>/.merge-<id>`).
        public var workspaces: String
        public var spool: String
        /// bubblewrap for verify; nil: `--sandbox none`.
        public var bwrap: String?
        public var envFile: String?
        public var sandboxWritable: [String] = []
        public var containment: Containment.Preference = .auto
        public var mergeCommit = false
        public var keepBranch = false
        public var dryRun = false
        public var verifyTimeout: Double = 7200

        public init(environment: [String: String], workspaces: String, spool: String, bwrap: String?, envFile: String?) {
            self.environment = environment
            self.workspaces = workspaces
            self.spool = spool
            self.bwrap = bwrap
            self.envFile = envFile
        }
    }

    /// One task to land.
    public struct Candidate: Sendable {
        public var id: String
        public var repo: String
        public var branch: String
        /// The base branch's name.
        public var base: String?
        public var headAfter: String
        public var verify: String?
        /// The conflicted task this one (its follow-up) replaces: its id, branch and recorded commit.
        public var replaces: (id: String, branch: String, headAfter: String)? = nil

        public init(id: String, repo: String, branch: String, base: String?, headAfter: String, verify: String?) {
            self.id = id
            self.repo = repo
            self.branch = branch
            self.base = base
            self.headAfter = headAfter
            self.verify = verify
        }

        /// The candidate a finished task's sidecar describes; nil (with why) when it cannot be merged.
        public static func from(_ result: TaskResult) -> (Candidate?, String?) {
            if let why = MergePlan.refusal(result) { return (nil, why) }
            guard let git = result.git, let branch = git.branch, let after = git.headAfter, let repo = result.spec.repo else {
                return (nil, "its result names no branch and commit")
            }
            return (Candidate(id: result.id, repo: repo, branch: branch, base: git.base, headAfter: after, verify: result.verify?.command), nil)
        }

        /// The candidate of follow-up `result`, naming the task it replaces (`origin`).
        public static func from(_ result: TaskResult, replacing origin: TaskResult?) -> (Candidate?, String?) {
            var (c, why) = from(result)
            if let o = origin, let branch = o.git?.branch, let head = o.git?.headAfter { c?.replaces = (o.id, branch, head) }
            return (c, why)
        }
    }

    public let setup: Setup
    let shell: GitShell

    public init(_ setup: Setup) {
        self.setup = setup
        shell = GitShell(base: setup.environment, containment: nil)
    }

    // MARK: - The lock

    /// The repository's shared git directory (`.git` of the main checkout), absolute.
    func gitDirectory(_ repo: String) -> String? {
        shell.value(["rev-parse", "--path-format=absolute", "--git-common-dir"], in: repo)
    }

    /// Runs `body` holding the repository's integration lock (waiting for it).
    func locked<T>(_ repo: String, _ body: () -> T) -> T? {
        guard let dir = gitDirectory(repo), let fd = FileSystem.lockWaiting(dir + "/mtor-integrate.lock") else { return nil }
        defer { FileSystem.closeDescriptor(fd) }
        return body()
    }

    // MARK: - Landing

    /// Lands `c` under the repository's lock and returns its merge record, written to `spool`
    /// (unless a dry run) while the lock is held; a task already landed is not landed again.
    public func land(_ c: Candidate, spool: Spool?) -> MergeRecord {
        locked(c.repo) { () -> MergeRecord in
            if let spool, let earlier = spool.mergeRecord(c.id), earlier.state == .landed {
                var again = earlier
                again.reason = "already landed at \(earlier.commit?.prefix(10) ?? "?") (\(earlier.at))"
                again.commits = []
                return again
            }
            let record = landLocked(c)
            guard let spool, !setup.dryRun else { return record }
            try? spool.writeMergeRecord(record)
            // A follow-up that landed replaces its origin: the origin's branch goes, its record says so.
            if record.state == .landed, let old = c.replaces, var origin = spool.mergeRecord(old.id), origin.state != .landed {
                if !setup.keepBranch { shell.git(["update-ref", "-d", "refs/heads/\(old.branch)", old.headAfter], in: c.repo) }
                origin.reason = "replaced by its follow-up \(c.id), which landed at \(record.commit?.prefix(10) ?? "?") (\(record.at)); "
                    + "before: \(origin.reason)"
                try? spool.writeMergeRecord(origin)
            }
            return record
        } ?? MergeRecord(id: c.id, state: .skipped, at: Stamp.iso(), base: c.base,
                         reason: "\(c.repo) is not a git repository mtor can lock (its git directory is not writable)")
    }

    private func landLocked(_ c: Candidate) -> MergeRecord {
        func record(_ state: MergeRecord.State, _ reason: String) -> MergeRecord {
            MergeRecord(id: c.id, state: state, at: Stamp.iso(), base: c.base, reason: reason)
        }
        guard let base = c.base, WorkSettings.isValidBranch(base),
              let tip = shell.value(["rev-parse", "--verify", "-q", "refs/heads/\(base)^{commit}"], in: c.repo) else {
            return record(.skipped, "the task's base \(c.base ?? "(none)") is no branch of \(c.repo); merge \(c.branch) by hand")
        }
        guard Git.isSHA(c.headAfter), shell.git(["cat-file", "-e", "\(c.headAfter)^{commit}"], in: c.repo).ok else {
            return record(.skipped, "the commit the task recorded (\(c.headAfter.prefix(10))) is no longer in \(c.repo)")
        }
        if shell.git(["merge-base", "--is-ancestor", c.headAfter, tip], in: c.repo).ok {
            var r = record(.landed, "\(base) already contains \(c.headAfter.prefix(10))")
            r.commit = tip
            r.commits = []
            deleteBranch(c)
            return r
        }
        // The branch is where the reviewed work lives: one moved away from the recorded commit (or deleted) was withdrawn.
        guard let branchTip = shell.value(["rev-parse", "--verify", "-q", "refs/heads/\(c.branch)^{commit}"], in: c.repo) else {
            return record(.skipped, "the branch \(c.branch) no longer exists in \(c.repo); merge \(c.headAfter.prefix(10)) by hand if you "
                + "still want it")
        }
        guard shell.git(["merge-base", "--is-ancestor", c.headAfter, branchTip], in: c.repo).ok else {
            return record(.skipped, "\(c.branch) no longer contains \(c.headAfter.prefix(10)), the commit the task recorded "
                + "(git.head_after), so there is nothing reviewed to merge; merge the branch by hand if you want it")
        }
        let checkout = Workspace.checkout(of: base, repo: c.repo, shell: shell)
        if let checkout, let why = dirty(checkout, base: base) { return record(.skipped, why) }
        // The scratch clone: made and rebased by the worker's own git before anything else runs there.
        let scratch = "\(setup.workspaces)/.merge-\(c.id)"
        let home = scratch + ".home"
        Workspace.removeTree(root: setup.workspaces, id: ".merge-\(c.id)", shell: shell)
        defer {
            Workspace.removeTree(root: setup.workspaces, id: ".merge-\(c.id)", shell: shell)
            Workspace.removeTree(root: setup.workspaces, id: ".merge-\(c.id).home", shell: shell)
        }
        do { try FileSystem.makeDirectories(setup.workspaces) } catch {
            return record(.skipped, "cannot create \(setup.workspaces) for the scratch clone: \(error)")
        }
        let clone = shell.git(["clone", "--shared", "--no-checkout", "--no-hardlinks", "--template=", "-q", "--", c.repo, scratch],
                              in: setup.workspaces, timeout: 1800)
        guard clone.ok else { return record(.skipped, "could not clone \(c.repo) into \(scratch): \(clone.said)") }
        let who = identity(c.repo)
        let integrated: Ran
        if setup.mergeCommit {
            let out = shell.git(["checkout", "-q", "--detach", tip], in: scratch, timeout: 1800)
            guard out.ok else { return record(.skipped, "could not check out \(base) in the scratch clone: \(out.said)") }
            integrated = shell.git(["merge", "-q", "--no-ff", "--no-edit", "--no-verify", "-m", "Merge \(c.branch) (mtor task \(c.id))",
                                    c.headAfter], in: scratch, timeout: 1800, config: who)
        } else {
            let out = shell.git(["checkout", "-q", "--detach", c.headAfter], in: scratch, timeout: 1800)
            guard out.ok else { return record(.skipped, "could not check out \(c.headAfter.prefix(10)) in the scratch clone: \(out.said)") }
            integrated = shell.git(["rebase", "-q", "--no-autostash", tip], in: scratch, timeout: 1800, config: who)
        }
        if !integrated.ok {
            let unmerged = shell.git(["diff", "--name-only", "-z", "--diff-filter=U"], in: scratch)
            let files = unmerged.out.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
            guard !files.isEmpty else { return record(.skipped, "git \(setup.mergeCommit ? "merge" : "rebase") failed: \(integrated.said)") }
            var r = record(.conflict,
                           "\(setup.mergeCommit ? "merging" : "rebasing") \(c.headAfter.prefix(10)) onto \(base) at \(tip.prefix(10)) "
                               + "conflicts in \(files.joined(separator: ", "))")
            r.files = files
            return r
        }
        guard let landed = shell.value(["rev-parse", "--verify", "-q", "HEAD^{commit}"], in: scratch) else {
            return record(.skipped, "the scratch clone has no HEAD after the \(setup.mergeCommit ? "merge" : "rebase")")
        }
        let list = shell.git(["rev-list", "--reverse", "\(tip)..\(landed)"], in: scratch)
        let commits = list.text.split(separator: "\n").map(String.init)
        if commits.isEmpty {
            var r = record(.landed, "\(base) already holds every change of \(c.headAfter.prefix(10))")
            r.commit = tip
            r.commits = []
            if !setup.dryRun { deleteBranch(c) }
            return r
        }
        if setup.dryRun {
            var r = record(.wouldLand,
                           "dry run: \(commits.count) commit(s) would be \(setup.mergeCommit ? "merged" : "rebased") onto \(base) at "
                               + "\(tip.prefix(10)) cleanly\(c.verify.map { ", then `\($0)` run" } ?? "")")
            r.commits = commits
            return r
        }
        // The new commits go into the repository (under a ref of their own) before verify runs in the clone.
        let holding = "refs/mtor/landing/\(c.id)"
        let fetched = shell.git(["fetch", "-q", "--no-tags", "--no-write-fetch-head", "--no-recurse-submodules", scratch,
                                 "+HEAD:\(holding)"], in: c.repo, timeout: 1800)
        defer { shell.git(["update-ref", "-d", holding], in: c.repo) }
        guard fetched.ok else { return record(.skipped, "could not bring the \(setup.mergeCommit ? "merge" : "rebased") commits into "
            + "\(c.repo): \(fetched.said)") }
        var verified: TaskResult.Verify? = nil
        if let command = c.verify {
            let v = verify(command, in: scratch, home: home, id: c.id, repo: c.repo)
            verified = v
            guard v.exitCode == 0 else {
                var r = record(.verifyFailed,
                               "`\(command)` \(v.exitCode.map { "exited \($0)" } ?? "did not finish") on \(landed.prefix(10)) "
                                   + "(\(c.headAfter.prefix(10)) on \(base)); \(base) stays at \(tip.prefix(10))")
                r.verify = v
                return r
            }
        }
        // Fast-forward: only from the tip verify was run against (a lost race is refused, never overwritten).
        if let checkout {
            if let why = dirty(checkout, base: base) { return record(.skipped, why) }
            let ff = shell.git(["merge", "--ff-only", "--quiet", "--no-stat", "--no-verify", landed], in: checkout, timeout: 600)
            guard ff.ok else { return record(.skipped, "git merge --ff-only in \(checkout) failed: \(ff.said)") }
        } else {
            let moved = shell.git(["update-ref", "-m", "mtor: land task \(c.id)", "refs/heads/\(base)", landed, tip], in: c.repo)
            guard moved.ok else { return record(.skipped, "could not move \(base) to \(landed.prefix(10)): \(moved.said)") }
        }
        var r = record(.landed, "\(base) moved from \(tip.prefix(10)) to \(landed.prefix(10)) (\(commits.count) "
            + "commit\(commits.count == 1 ? "" : "s"))")
        r.commit = landed
        r.commits = commits
        r.verify = verified
        deleteBranch(c)
        return r
    }

    typealias Ran = GitShell.Ran

    /// Why the checkout of `base` may not be moved (uncommitted changes), or nil.
    private func dirty(_ checkout: String, base: String) -> String? {
        let status = shell.git(["status", "--porcelain", "--untracked-files=no"], in: checkout, timeout: 300)
        guard status.ok else { return "cannot read the state of the checkout \(checkout): \(status.said)" }
        guard status.text.isEmpty else {
            return "\(base) is checked out in \(checkout), which has uncommitted changes; commit or stash them, then run `mtor merge`"
        }
        return nil
    }

    /// The committer for rebased commits: the repository's identity, else mtor's.
    private func identity(_ repo: String) -> [String] {
        let name = shell.value(["config", "--get", "user.name"], in: repo) ?? TaskSandbox.gitIdentity.name ?? "mtor"
        let email = shell.value(["config", "--get", "user.email"], in: repo) ?? TaskSandbox.gitIdentity.email ?? "mtor@\(FileSystem.hostName())"
        return ["-c", "user.name=\(name)", "-c", "user.email=\(email)"]
    }

    /// Deletes a landed task's branch (unless `--keep-branch`), only while it is still at the recorded commit.
    private func deleteBranch(_ c: Candidate) {
        guard !setup.keepBranch, !setup.dryRun else { return }
        shell.git(["update-ref", "-d", "refs/heads/\(c.branch)", c.headAfter], in: c.repo)
    }

    /// Runs `command` in the scratch clone inside a containment of its own and, unless `--sandbox
    /// none`, a sandbox like the task's (the clone and a HOME of its own writable, the spool hidden).
    private func verify(_ command: String, in scratch: String, home: String, id: String, repo: String) -> TaskResult.Verify {
        let start = now()
        let box = Containment.create(name: "merge-\(ProcessControl.pid)-\(id)", preference: setup.containment)
        defer { box.dispose() }
        var sandbox: TaskSandbox? = nil
        if let bwrap = setup.bwrap {
            try? FileSystem.makeDirectories(home)
            let path = setup.environment["PATH"] ?? "/usr/bin:/bin"
            let s = Sandbox.forTask(bwrap: bwrap, workerHome: setup.environment["HOME"], spool: setup.spool, workspaces: setup.workspaces,
                                    envFile: setup.envFile, taskDirectory: scratch, home: home, repo: repo, inPlace: false,
                                    programs: ["/bin/sh"], searchPath: path, extraWritable: setup.sandboxWritable)
            sandbox = TaskSandbox(box: s, home: home)
        }
        let confined = GitShell(base: setup.environment, containment: box, sandbox: sandbox)
        let r = confined.confined(["/bin/sh", "-c", command], in: scratch, timeout: setup.verifyTimeout)
        _ = box.killAll()
        let output = String(decoding: r.out + r.err, as: UTF8.self)
        return TaskResult.Verify(command: command, exitCode: r.timedOut ? nil : r.code, durationS: ((now() - start) * 1000).rounded() / 1000,
                                 outputTail: String(output.suffix(2000)))
    }

    // MARK: - Conflicts

    /// Both sides of a conflict for a follow-up's prompt: what the base did and what the task did
    /// to each file since they parted (capped).
    public func conflictSides(repo: String, base: String, headAfter: String, files: [String]) -> String {
        guard let tip = shell.value(["rev-parse", "--verify", "-q", "refs/heads/\(base)^{commit}"], in: repo),
              let fork = shell.value(["merge-base", tip, headAfter], in: repo) else { return "" }
        let ours = shell.git(["diff", "--no-color", fork, tip, "--"] + files, in: repo).out
        let theirs = shell.git(["diff", "--no-color", fork, headAfter, "--"] + files, in: repo).out
        func cap(_ b: [UInt8]) -> String { String(String(decoding: b, as: UTF8.self).prefix(16_000)) }
        return "--- what \(base) changed since the task started:\n\(cap(ours))\n--- what the task changed:\n\(cap(theirs))"
    }
}

// MARK: - Records

extension Spool {
    /// Where task `id`'s merge record lives: beside its sidecar in done/.
    public func mergeRecordPath(_ id: String) -> String { "\(done)/\(id).merge.json" }

    public func mergeRecord(_ id: String) -> MergeRecord? {
        guard let bytes = try? FileSystem.read(mergeRecordPath(id), limit: 1 << 20) else { return nil }
        return try? JSONDecoder().decode(MergeRecord.self, from: Data(bytes))
    }

    /// Writes task `id`'s merge record (temp file, fsync, rename).
    public func writeMergeRecord(_ record: MergeRecord) throws {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        try FileSystem.writeAtomically(Array(try e.encode(record)), to: mergeRecordPath(record.id), mode: 0o644)
    }
}
