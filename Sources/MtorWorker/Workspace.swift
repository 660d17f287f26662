import Foundation
import MtorCore
import MtorPlatform

/// Where one task's agent works, and every git call made for it: a worktree of the spec's
/// `repo` on the task's own branch (created, or reused on a retry or after a crash), the
/// `copy:` files and the `setup:` command; after the agent, the auto-commit, the review of
/// the branch against its base, the integration, and the worktree's removal (the branch stays).
/// With `workspace: in-place` the agent works in the repo's checkout and nothing is created.
final class Workspace: @unchecked Sendable {
    /// What a task's worktree started from, kept beside it (`<workspaces>/<id>.json`) so a
    /// retry or a new worker after a crash continues on the same branch from the same base.
    struct Record: Codable {
        var id: String
        var repo: String
        var branch: String
        /// The spec's `base:`, or the branch the checkout was on at claim (nil when detached).
        var base: String?
        var baseSHA: String
        /// The branch `integrate: merge` fast-forwards (nil when the base is no branch).
        var baseBranch: String?
        var path: String
        /// Whether the branch was there before this claim.
        var branchExisted: Bool? = nil
        /// The worktree's files were checked out (a worktree made but never filled is filled on reuse).
        var ready: Bool? = nil
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
    /// The agent's working directory: the worktree, or the repo itself in place.
    let directory: String
    private(set) var record: Record?
    /// In place: HEAD before the agent ran.
    private(set) var inPlaceHead: String?

    var isWorktree: Bool { spec.work.mode == .worktree }

    init(id: String, spec: Spec, root: String, shell: GitShell, log: TaskLog?) {
        self.id = id
        self.spec = spec
        self.root = root
        self.shell = shell
        self.log = log
        directory = spec.work.mode == .worktree ? "\(self.root)/\(id)" : spec.repo
    }

    static func recordPath(root: String, id: String) -> String { "\(root)/\(id).json" }

    /// The workspaces directory: `--workspaces DIR`, else `<spool>/work`, made absolute.
    static func root(_ options: WorkerOptions, _ spool: Spool) -> String {
        let dir = options.workspaces ?? spool.root + "/work"
        return dir.hasPrefix("/") ? dir : FileManager.default.currentDirectoryPath + "/" + dir
    }

    // MARK: - Before the agent

    /// Makes the workspace ready: the worktree on its branch, the copied files, the set-up
    /// command. Returns the set-up's record (nil without `setup:`).
    func prepare(timeout: Double) throws(Failure) -> TaskResult.Verify? {
        guard isWorktree else {
            // In place, nothing may slow the agent's start: HEAD is read from .git, no process.
            inPlaceHead = Git.readHead(spec.repo) ?? shell.value(["rev-parse", "--verify", "-q", "HEAD"], in: spec.repo)
            return nil
        }
        let repo = spec.repo
        do { try FileSystem.makeDirectories(root) } catch {
            throw Failure(reason: "cannot create the workspaces directory \(root): \(error)", hint: "make it writable or pass --workspaces DIR")
        }
        shell.worktreeAdmin(["prune"], repo: repo)
        let branch = spec.work.branchName(id: id)
        guard WorkSettings.isValidBranch(branch) else {
            throw Failure(reason: "'\(branch)' is not a valid branch name for task \(id)", hint: "set 'branch:' in the spec")
        }
        var record = try startingPoint(branch: branch)
        save(record)
        try attach(record)
        if record.ready != true {
            record.ready = true
            save(record)
        }
        self.record = record
        try copyFiles()
        guard let command = spec.work.setup else { return nil }
        log?.note("setup: \(command)")
        let start = now()
        let r = shell.run(["/bin/sh", "-c", command], in: directory, timeout: max(60, timeout), environment: shell.base)
        let output = String(decoding: r.out + r.err, as: UTF8.self)
        log?.note("setup output:\n\(output.suffix(8000))")
        let setup = TaskResult.Verify(command: command, exitCode: r.code, durationS: ((now() - start) * 1000).rounded() / 1000, outputTail: String(output.suffix(2000)))
        guard r.ok else {
            throw Failure(reason: "'setup: \(command)' \(r.timedOut ? "did not finish within \(DurationText.format(max(60, timeout)))" : "exited \(r.code.map(String.init) ?? "abnormally")") in the task's worktree",
                          hint: "read the setup output tail in the sidecar; fix the command or the files it needs (copy:)", setup: setup)
        }
        return setup
    }

    /// The branch and base: from the record a previous attempt left, from an existing branch,
    /// or new from `base:` (default: the checkout's HEAD now).
    private func startingPoint(branch: String) throws(Failure) -> Record {
        let repo = spec.repo
        let branchSHA = shell.value(["rev-parse", "--verify", "-q", "refs/heads/\(branch)^{commit}"], in: repo)
        if let data = try? FileSystem.read(Self.recordPath(root: root, id: id)), let old = try? JSONDecoder().decode(Record.self, from: Data(data)),
           old.repo == repo, old.branch == branch {
            var again = old
            again.branchExisted = branchSHA != nil
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

    /// Puts the worktree at `directory` on the branch: reused when it is already there,
    /// recreated when a dead worker left it broken.
    private func attach(_ record: Record) throws(Failure) {
        let repo = spec.repo
        if FileSystem.exists(directory) {
            let head = shell.value(["symbolic-ref", "-q", "HEAD"], in: directory)
            let top = shell.value(["rev-parse", "--show-toplevel"], in: directory)
            if head == "refs/heads/\(record.branch)", let top, FileSystem.realPath(top) == FileSystem.realPath(directory) {
                log?.note("workspace: reusing \(directory) on \(record.branch)")
                if record.ready != true { try checkout(record) }
                return
            }
            log?.note("workspace: \(directory) is not a worktree on \(record.branch); recreating it")
            shell.worktreeAdmin(["remove", "--force", "--force", directory], repo: repo)
            _ = shell.run(["rm", "-rf", "--", directory], in: root, timeout: 300)
            shell.worktreeAdmin(["prune"], repo: repo)
        }
        let exists = record.branchExisted ?? shell.git(["show-ref", "--verify", "-q", "refs/heads/\(record.branch)"], in: repo).ok
        let args = exists ? ["add", "-q", "--no-checkout", directory, record.branch]
                          : ["add", "-q", "--no-checkout", "-b", record.branch, directory, record.baseSHA]
        let r = shell.worktreeAdmin(args, repo: repo)
        guard r.ok else {
            throw Failure(reason: "could not create the worktree \(directory) on branch \(record.branch): \(r.said)",
                          hint: "if the branch is checked out elsewhere, switch that checkout away from it or set 'branch:'")
        }
        log?.note("workspace: \(directory) on \(record.branch) from \(record.baseSHA.prefix(10))\(exists ? " (existing branch)" : "")")
        try checkout(record)
    }

    /// Fills a worktree made with `--no-checkout`: outside the repo's worktree lock, beside other tasks.
    private func checkout(_ record: Record) throws(Failure) {
        let files = shell.git(["reset", "-q", "--hard"], in: directory, timeout: 1800)
        guard files.ok else {
            throw Failure(reason: "could not check out \(record.branch) in \(directory): \(files.said)", hint: "check the disk space and the repo's filters (git lfs)")
        }
    }

    private func save(_ record: Record) {
        try? FileSystem.writeAtomically(Array((try? JSONEncoder().encode(record)) ?? Data()), to: Self.recordPath(root: root, id: id), durable: true)
    }

    /// Copies the `copy:` files from the repo's checkout into the worktree.
    private func copyFiles() throws(Failure) {
        for path in spec.work.copy {
            let from = "\(spec.repo)/\(path)", to = "\(directory)/\(path)"
            guard FileSystem.exists(from) else {
                throw Failure(reason: "'copy: \(path)': \(from) does not exist", hint: "create it in the checkout, or drop it from 'copy:'")
            }
            _ = shell.run(["mkdir", "-p", "--", FileSystem.directory(of: to)], in: directory, timeout: 60)
            let r = shell.run(["cp", "-a", "-T", "--", from, to], in: directory, timeout: 600)
            guard r.ok else { throw Failure(reason: "'copy: \(path)' failed: \(r.said)", hint: "check the file's permissions") }
        }
    }

    /// `git status --porcelain` of `dir`, leaving out the copied files.
    func status(_ dir: String) -> String {
        shell.git(["status", "--porcelain=v1", "-z", "--untracked-files=all", "--"] + pathspec, in: dir, timeout: 300).text
    }

    /// Every path, minus the `copy:` files (never committed by mtor).
    var pathspec: [String] { ["."] + spec.work.copy.map { ":(exclude,literal)\($0)" } }

    // MARK: - At the end

    /// Removes the worktree (the branch stays) and its record, unless kept for debugging.
    func remove(keep: Bool) {
        guard isWorktree, !keep else { return }
        Self.discard(root: root, id: id, shell: shell)
    }

    /// Removes task `id`'s worktree and record, wherever its record says it is.
    static func discard(root: String, id: String, shell: GitShell) {
        let recordPath = recordPath(root: root, id: id)
        let record = (try? FileSystem.read(recordPath)).flatMap { try? JSONDecoder().decode(Record.self, from: Data($0)) }
        let path = record?.path ?? "\(root)/\(id)"
        if let repo = record?.repo, FileSystem.exists(repo) {
            shell.worktreeAdmin(["remove", "--force", "--force", path], repo: repo)
        }
        if FileSystem.exists(path) { _ = shell.run(["rm", "-rf", "--", path], in: root, timeout: 300) }
        if let repo = record?.repo, FileSystem.exists(repo) { shell.worktreeAdmin(["prune"], repo: repo) }
        FileSystem.remove(recordPath)
    }

    /// At worker start: removes worktrees whose task is no longer claimed (their record says
    /// where), and prunes each repo's stale worktree entries.
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
