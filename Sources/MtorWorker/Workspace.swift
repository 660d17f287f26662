import Foundation
import MtorCore
import MtorPlatform

/// Where one task's agent works, and every git call made for it: a clone of the spec's `repo`
/// on the task's own branch (created, or reused on a retry or after a crash), the `copy:` files
/// and the `setup:` command; after the agent, the auto-commit, the branch brought back into the
/// repo, the review of the branch against its base, the integration, and the clone's removal
/// (the branch stays). With `workspace: in-place` the agent works in the repo's checkout and
/// nothing is created.
///
/// With a worktree pool (`WorktreePool`), the clone is a ready one taken from the pool and set on
/// the branch, and it goes back to the pool at the end (recycled, proven clean) instead of being removed.
///
/// The clone (`git clone --shared`) borrows the repo's objects through `objects/info/alternates`
/// and has a `.git` of its own, which the agent owns entirely: its config and hooks reach only
/// the clone. The repo itself is only read while the agent runs; the worker brings the branch
/// back afterwards through index-pack (`bringBack`), and runs nothing in the clone but through
/// `GitShell.confined`.
final class Workspace: @unchecked Sendable {  // no lock: its `var`s are touched only by the thread running its task
    /// What a task's clone started from, kept beside it (`<workspaces>/<id>.json`) so a
    /// retry or a new worker after a crash continues on the same branch from the same base.
    /// Read back only through `Record.read`, which refuses one that does not fit the task.
    struct Record: Codable {
        var id: String
        var repo: String
        var branch: String
        /// The spec's `base:`, or the branch the checkout was on at claim (nil when detached).
        var base: String?
        var baseSHA: String
        /// The branch `integrate: merge` fast-forwards (nil when the base is no branch).
        var baseBranch: String?
        /// Where the clone was made; informative only: the worker derives the path it deletes.
        var path: String
        /// Whether the branch was there before this claim.
        var branchExisted: Bool? = nil
        /// The clone's files were checked out (a clone made but never filled is made again).
        var ready: Bool? = nil
        /// A claim of this task created the branch (so it may remove it again when it carries no commit).
        var createdBranch: Bool? = nil

        /// The record of task `id` in `root`, when it is one this task could have written:
        /// same id, `repo` and `branch`, a full commit id as its base. Anything else is ignored.
        static func read(root: String, id: String, repo: String? = nil, branch: String? = nil) -> Record? {
            guard let data = try? FileSystem.read(Workspace.recordPath(root: root, id: id), limit: 1 << 20),
                  let r = try? JSONDecoder().decode(Record.self, from: Data(data)),
                  r.id == id, Git.isSHA(r.baseSHA), r.repo.hasPrefix("/"),
                  repo.map({ $0 == r.repo }) ?? true, branch.map({ $0 == r.branch }) ?? true,
                  WorkSettings.isValidBranch(r.branch) else { return nil }
            return r
        }
    }

    /// Why the workspace could not be made ready for the agent.
    struct Failure: Error {
        var reason: String
        var hint: String
        var setup: TaskResult.Verify?
    }

    let id: String
    let spec: Spec
    let root: String
    let shell: GitShell
    let log: TaskLog?
    /// Ready clones to start from (nil: `--worktree-pool 0`, or `--keep-workspaces`).
    let pool: WorktreePool?
    /// The agent's working directory: the worktree, or the repo itself in place.
    let directory: String
    private(set) var record: Record?
    /// The pool counts this task's clone as out with it (it asked the pool for one).
    private(set) var poolCounted = false
    /// In place: HEAD before the agent ran.
    private(set) var inPlaceHead: String?

    var isWorktree: Bool { spec.work.mode == .worktree }

    init(id: String, spec: Spec, root: String, shell: GitShell, log: TaskLog?, pool: WorktreePool? = nil) {
        self.pool = pool
        self.id = id
        self.spec = spec
        self.root = root
        self.shell = shell
        self.log = log
        directory = Self.directory(id: id, spec: spec, root: root)
    }

    /// Where task `id`'s agent works: `<root>/<id>` (its clone), or the repo itself in place.
    static func directory(id: String, spec: Spec, root: String) -> String {
        spec.work.mode == .worktree ? "\(root)/\(id)" : spec.repo
    }

    static func recordPath(root: String, id: String) -> String { "\(root)/\(id).json" }

    /// The workspaces directory: `--workspaces DIR`, else `<spool>/work`, made absolute.
    static func root(_ options: WorkerOptions, _ spool: Spool) -> String {
        let dir = options.workspaces ?? spool.root + "/work"
        return dir.hasPrefix("/") ? dir : FileManager.default.currentDirectoryPath + "/" + dir
    }

    // MARK: - Before the agent

    /// Makes the workspace ready: the clone on its branch, the copied files, the set-up
    /// command. Returns the set-up's record (nil without `setup:`).
    func prepare(timeout: Double) throws(Failure) -> TaskResult.Verify? {
        // Before any git command: a broken HEAD would make one wait or say something misleading.
        if let problem = Git.headProblem(spec.repo) {
            throw Failure(reason: "the repository \(spec.repo) is broken: \(problem)",
                          hint: "repair it (HEAD normally holds a line like 'ref: refs/heads/main'), or point 'repo' at a healthy clone")
        }
        guard isWorktree else {
            // In place, nothing may slow the agent's start: HEAD is read from .git, no process.
            inPlaceHead = shell.head(spec.repo)
            return nil
        }
        do { try FileSystem.makeDirectories(root) } catch {
            throw Failure(reason: "cannot create the workspaces directory \(root): \(error)", hint: "make it writable or pass --workspaces DIR")
        }
        let branch = spec.work.branchName(id: id)
        guard WorkSettings.isValidBranch(branch) else {
            throw Failure(reason: "'\(branch)' is not a valid branch name for task \(id)", hint: "set 'branch:' in the spec")
        }
        var record = try startingPoint(branch: branch)
        save(record)
        self.record = record
        let created = try attach(record)
        if record.ready != true || (created && record.createdBranch != true) {
            record.ready = true
            record.createdBranch = record.createdBranch == true || created
            save(record)
            self.record = record
        }
        try copyFiles()
        guard let command = spec.work.setup else { return nil }
        log?.note("setup: \(command)")
        let start = now()
        let r = shell.confined(["/bin/sh", "-c", command], in: directory, timeout: max(60, timeout))
        let output = String(decoding: r.out + r.err, as: UTF8.self)
        log?.note("setup output:\n\(output.suffix(8000))")
        let setup = TaskResult.Verify(command: command, exitCode: r.code, durationS: ((now() - start) * 1000).rounded() / 1000, outputTail: String(output.suffix(2000)))
        guard r.ok else {
            throw Failure(reason: "'setup: \(command)' \(r.timedOut ? "did not finish within \(DurationText.format(max(60, timeout)))" : "exited \(r.code.map(String.init) ?? "abnormally")") in the task's clone",
                          hint: "read the setup output tail in the sidecar; fix the command or the files it needs (copy:)", setup: setup)
        }
        return setup
    }

    /// The branch and base: from the record a previous attempt left, from an existing branch,
    /// or new from `base:` (default: the checkout's HEAD now).
    private func startingPoint(branch: String) throws(Failure) -> Record {
        let repo = spec.repo
        let branchSHA = shell.value(["rev-parse", "--verify", "-q", "refs/heads/\(branch)^{commit}"], in: repo)
        if var again = Record.read(root: root, id: id, repo: repo, branch: branch) {
            again.branchExisted = branchSHA != nil
            again.path = directory
            return again
        }
        let baseRef = spec.work.base ?? "HEAD"
        // The checkout's HEAD is read from .git when it can be (no process on the way to the agent).
        let fastHead = spec.work.base == nil ? Git.readHead(repo) : nil
        guard let baseSHA = fastHead ?? shell.value(["rev-parse", "--verify", "-q", "\(baseRef)^{commit}"], in: repo) else {
            throw Failure(reason: spec.work.base.map { "'base: \($0)' names no commit in \(repo)" } ?? "\(repo) has no commit yet (HEAD is unborn), so there is nothing to branch from",
                          hint: spec.work.base == nil ? "commit something first" : "name an existing branch, tag or commit")
        }
        var baseBranch: String? = nil
        if let base = spec.work.base {
            if shell.git(["show-ref", "--verify", "-q", "refs/heads/\(base)"], in: repo).ok { baseBranch = base }
        } else {
            baseBranch = fastHead != nil ? Git.readHeadBranch(repo) : shell.value(["symbolic-ref", "-q", "--short", "HEAD"], in: repo)
        }
        var start = baseSHA
        if let tip = branchSHA {
            // A branch left by an earlier run of this task (mtor retry): continue on it.
            start = shell.value(["merge-base", tip, baseSHA], in: repo) ?? baseSHA
        }
        return Record(id: id, repo: repo, branch: branch, base: spec.work.base ?? baseBranch, baseSHA: start, baseBranch: baseBranch, path: directory,
                      branchExisted: branchSHA != nil)
    }

    /// Puts the clone at `directory` on the branch: reused when a previous attempt of this task
    /// left one (its branch brought back first), made again when it is missing, unfinished or broken.
    /// The branch is made in the repo too when it is new, so it is there whatever happens next.
    /// Returns whether the branch was created here.
    @discardableResult
    private func attach(_ record: Record) throws(Failure) -> Bool {
        let repo = spec.repo
        if FileSystem.kind(directory) != .missing {
            if record.ready == true, FileSystem.kind(directory) == .directory, FileSystem.kind(directory + "/.git") == .directory {
                log?.note("workspace: reusing \(directory) on \(record.branch)")
                // No process of the task is left (recovery or the previous attempt ended them all): a git
                // lock in the clone is one an agent's git held when it was killed, and would fail the next.
                dropStaleLocks(record)
                bringBack()
                return false
            }
            log?.note("workspace: \(directory) is not a finished clone on \(record.branch); making it again")
            Self.removeTree(root: root, id: id, shell: shell)
        }
        let made = shell.git(["update-ref", "-m", "mtor: task \(id) starts", "refs/heads/\(record.branch)", record.baseSHA, String(repeating: "0", count: record.baseSHA.count)], in: repo)
        guard let start = made.ok ? record.baseSHA : shell.value(["rev-parse", "--verify", "-q", "refs/heads/\(record.branch)^{commit}"], in: repo) else {
            throw Failure(reason: "could not create the branch \(record.branch) in \(repo): \(made.said)", hint: "check that the repository is writable, or set 'branch:'")
        }
        if made.ok {
            // Known at once: a task that fails from here on removes the branch it made.
            var created = record
            created.createdBranch = true
            save(created)
            self.record = created
        }
        if let pool {
            poolCounted = true
            let asked = now()
            if let marker = pool.take(repo: repo, into: directory) {
                if let why = pool.adopt(marker, at: directory, repo: repo, branch: record.branch, start: start, shell: shell) {
                    log?.note("workspace: a clone taken from the worktree pool could not be set on \(record.branch) (\(why)); making a new one")
                    Self.removeTree(root: root, id: id, shell: shell)
                } else {
                    log?.note("workspace: \(directory), from the worktree pool (\(marker.from.map { "recycled after task \($0)" } ?? "a new clone")), on \(record.branch) at \(start.prefix(10)) (base \(record.baseSHA.prefix(10)))\(made.ok ? "" : " (existing branch)"), ready in \(Int((now() - asked) * 1000)) ms")
                    return made.ok
                }
            } else {
                log?.note("workspace: no clone of \(repo) ready in the worktree pool; making one")
            }
        }
        // The clone has a config of its own: the repo's identity goes with it, so the agent commits as before.
        let identity = ["user.name", "user.email"].flatMap { key in shell.value(["config", "--get", key], in: repo).map { ["--config", "\(key)=\($0)"] } ?? [] }
        // No automatic gc or maintenance in the clone: a background gc the task's end kills half way
        // must not stand between the agent's commits and the evidence (an agent may still turn it on).
        let quiet = ["--config", "gc.auto=0", "--config", "maintenance.auto=false", "--config", "gc.autoDetach=false"]
        let clone = shell.git(["clone", "--shared", "--no-checkout", "--no-hardlinks", "--template="] + identity + quiet + ["-q", "--", repo, directory], in: root, timeout: 1800)
        guard clone.ok else {
            throw Failure(reason: "could not clone \(repo) into \(directory): \(clone.said)", hint: "check the disk space and that \(root) is writable")
        }
        // Nothing but git has run in the new clone yet: the worker's own git may check it out.
        let files = shell.git(["checkout", "-q", "--no-track", "-B", record.branch, start], in: directory, timeout: 1800)
        guard files.ok else {
            throw Failure(reason: "could not check out \(record.branch) in \(directory): \(files.said)", hint: "check the disk space and the repo's filters (git lfs)")
        }
        log?.note("workspace: \(directory), a clone of \(repo) on \(record.branch) at \(start.prefix(10)) (base \(record.baseSHA.prefix(10)))\(made.ok ? "" : " (existing branch)")")
        return made.ok
    }

    /// Removes the git locks a killed git (the agent's, or a gc it started) left in the clone:
    /// called only when no process of the task is left, so no lock is anyone's.
    func dropStaleLocks(_ record: Record) {
        for lock in ["index.lock", "HEAD.lock", "packed-refs.lock", "config.lock", "gc.pid", "refs/heads/\(record.branch).lock"] {
            FileSystem.remove("\(directory)/.git/\(lock)")
        }
    }

    private func save(_ record: Record) {
        try? FileSystem.writeAtomically(Array((try? JSONEncoder().encode(record)) ?? Data()), to: Self.recordPath(root: root, id: id), durable: true)
    }

    /// Copies the `copy:` files from the repo's checkout into the clone. No component of either
    /// path may be a symlink (lstat each): a link in the checkout would copy what lies outside it,
    /// a link in the clone would write outside it.
    private func copyFiles() throws(Failure) {
        for path in spec.work.copy {
            let from = "\(spec.repo)/\(path)", to = "\(directory)/\(path)"
            if let link = Self.symlinkComponent(path, under: spec.repo) {
                throw Failure(reason: "'copy: \(path)': \(link) in the checkout is a symlink; mtor copies no file through a link", hint: "copy the file the link points to into the checkout, or drop it from 'copy:'")
            }
            if let link = Self.symlinkComponent(path, under: directory) {
                throw Failure(reason: "'copy: \(path)': \(link) in the task's clone is a symlink (committed at the base); mtor writes no file through a link", hint: "remove the link from the branch, or drop the path from 'copy:'")
            }
            guard FileSystem.kind(from) != .missing else {
                throw Failure(reason: "'copy: \(path)': \(from) does not exist", hint: "create it in the checkout, or drop it from 'copy:'")
            }
            _ = shell.run(["mkdir", "-p", "--", FileSystem.directory(of: to)], in: directory, timeout: 60)
            let r = shell.run(["cp", "-a", "-T", "--remove-destination", "--", from, to], in: directory, timeout: 600)
            guard r.ok else { throw Failure(reason: "'copy: \(path)' failed: \(r.said)", hint: "check the file's permissions") }
        }
    }

    /// The first of `top/a`, `top/a/b`, … `top/path` that is a symlink (not followed), if any.
    static func symlinkComponent(_ path: String, under top: String) -> String? {
        var at = top
        for part in path.split(separator: "/") where part != "." {
            at += "/" + part
            if FileSystem.kind(at) == .symlink { return at }
        }
        return nil
    }

    /// `git status --porcelain` of `dir`, leaving out the copied files: the task's clone through
    /// `confined`, the checkout (in place) by the worker.
    func status(_ dir: String) -> String {
        let args = ["status", "--porcelain=v1", "-z", "--untracked-files=all", "--"] + pathspec
        return (isWorktree && dir == directory ? shell.confinedGit(args, in: dir) : shell.git(args, in: dir, timeout: 300)).text
    }

    /// Every path, minus the `copy:` files (never committed by mtor).
    var pathspec: [String] { ["."] + spec.work.copy.map { ":(exclude,literal)\($0)" } }

    // MARK: - At the end

    /// Removes the clone (the branch stays) and its record, unless kept for debugging.
    func remove(keep: Bool) {
        guard isWorktree, !keep else { return }
        Self.discard(root: root, id: id, shell: shell)
    }

    /// Removes task `id`'s clone and record. The path is derived here (`<root>/<id>`), never read
    /// from the record, which the agent may have rewritten.
    static func discard(root: String, id: String, shell: GitShell) {
        removeTree(root: root, id: id, shell: shell)
        FileSystem.remove(recordPath(root: root, id: id))
    }

    /// Removes `<root>/<id>` when it is a real directory (lstat: a symlink there is unlinked, its
    /// target untouched; `rm -r` follows no link inside), and only when `id` names a direct child.
    static func removeTree(root: String, id: String, shell: GitShell) {
        guard !id.isEmpty, id != ".", id != "..", !id.contains("/"), !id.contains("\0") else { return }
        let path = "\(root)/\(id)"
        switch FileSystem.kind(path) {
        case .missing: return
        case .directory: _ = shell.run(["rm", "-rf", "--", path], in: root, timeout: 300)
        default: FileSystem.remove(path)
        }
    }

    /// At worker start: removes clones whose task is no longer claimed.
    static func sweep(root: String, shell: GitShell, isClaimed: (String) -> Bool) {
        guard let names = try? FileSystem.list(root) else { return }
        for name in names where name.hasSuffix(".json") && !name.hasPrefix(".") {
            let id = String(name.dropLast(5))
            if !isClaimed(id) { discard(root: root, id: id, shell: shell) }
        }
        // A record's temp file (.<id>.json.<pid>.<random>.tmp) whose writer died mid-write.
        for name in names where name.hasPrefix(".") && name.hasSuffix(".tmp") {
            let parts = name.split(separator: ".")
            if parts.count >= 4, let pid = Int32(parts[parts.count - 3]), !ProcessControl.isAlive(pid) { FileSystem.remove("\(root)/\(name)") }
        }
    }
}
