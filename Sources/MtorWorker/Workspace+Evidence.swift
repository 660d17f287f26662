import Foundation
import MtorCore
import MtorPlatform

/// After the agent: what it left behind, committed and measured against the base.
extension Workspace {
    /// What an attempt that exited 0 left.
    struct Evidence {
        /// mtor committed changes the agent left uncommitted.
        var autoCommitted = false
        /// The branch's tree differs from its base's (in place: HEAD's tree changed or the checkout did).
        var changed = false
    }

    static let autoCommitMessage = "mtor: changes the agent left uncommitted"

    /// Commits what the agent left uncommitted in the clone (never the `copy:` files), brings the
    /// branch back into the repo, then says whether the branch's tree differs from the base's
    /// (an empty commit, or a branch moved back to or behind its base, is no change). In place
    /// nothing is committed: a changed tree at HEAD or any uncommitted change in the checkout
    /// counts, and `expect: nothing` costs no git call.
    func settle() -> Evidence {
        guard isWorktree, let record else {
            guard spec.work.expect != .nothing else { return Evidence() }
            return Evidence(changed: differs(inPlaceHead, tip(nil)) || !status(spec.repo).isEmpty)
        }
        var evidence = Evidence()
        // Every process of the attempt is gone (the runner ended its containment): what a git killed
        // half way (a background gc, say) left locked is no one's and would fail the auto-commit.
        if cloneIsIntact { dropStaleLocks(record) }
        if cloneIsIntact, !status(directory).isEmpty {
            // In the clone, whose config and hooks are the agent's: through `confined`, hardened.
            let added = shell.confinedGit(["add", "-A", "--"] + pathspec, in: directory)
            let identity = shell.confinedGit(["config", "user.email"], in: directory, timeout: 60)
            let who = identity.ok && !identity.text.isEmpty ? [] : ["-c", "user.name=mtor", "-c", "user.email=mtor@\(FileSystem.hostName())"]
            let r = added.ok ? shell.confinedGit(["commit", "-q", "--no-verify", "-m", Self.autoCommitMessage], in: directory, config: who) : added
            evidence.autoCommitted = r.ok
            log?.note(r.ok ? "workspace: committed the changes the agent left uncommitted" : "workspace: could not commit the agent's leftover changes: \(r.said)")
        }
        bringBack()
        evidence.changed = differs(record.baseSHA, tip(record))
        return evidence
    }

    /// Whether `after` holds a change since `before`: its tree differs and it is not `before` or
    /// one of its ancestors (a branch moved back is no change). A missing commit differs from one
    /// that is there.
    func differs(_ before: String?, _ after: String?) -> Bool {
        guard let before, let after else { return before != after }
        if before == after || shell.git(["merge-base", "--is-ancestor", after, before], in: spec.repo, timeout: 60).ok { return false }
        let trees = [before, after].map { shell.value(["rev-parse", "--verify", "-q", "\($0)^{tree}"], in: spec.repo) }
        return trees[0] == nil || trees[0] != trees[1]
    }

    /// The clone is a directory with a `.git` directory (lstat, no link followed).
    var cloneIsIntact: Bool {
        FileSystem.kind(directory) == .directory && FileSystem.kind(directory + "/.git") == .directory
    }

    /// Brings the clone's branch back into the repo, verified, and returns the commit it is now at
    /// (nil when nothing could be brought back: the branch is then left as it was).
    ///
    /// A bundle, not a fetch from the clone: `git bundle create` runs in the clone through
    /// `confined` (like everything that reads the agent's `.git` once the agent started), so the
    /// worker never runs upload-pack there (whose config, alternates and refs are the agent's);
    /// the worker only reads the bundle, and `git fetch` from it in the repo sends every object
    /// through index-pack, which hashes each one, and checks the branch is complete (git 2.39
    /// does not fsck a bundle's objects; `fetch.fsckObjects` is asked for where git does). A tip the
    /// repo already has (the branch left at, or moved back to, a commit of the repo) needs no
    /// objects and is set directly. The update may be forced: the evidence judges it.
    @discardableResult
    func bringBack() -> String? {
        guard isWorktree, let record else { return nil }
        let repo = spec.repo, ref = "refs/heads/\(record.branch)"
        let current = tip(record)
        guard cloneIsIntact else {
            log?.note("workspace: \(directory) has no .git directory any more; \(record.branch) stays at \(current?.prefix(10) ?? "nothing") (no change brought back)")
            return current
        }
        // Read twice more before concluding the branch is gone: a ref being packed can be missed once.
        var said = shell.confinedGit(["rev-parse", "--verify", "-q", "\(ref)^{commit}"], in: directory, timeout: 60)
        for pause in [0.05, 0.2] where !(said.ok && Git.isSHA(said.text)) {
            Thread.sleep(forTimeInterval: pause)
            said = shell.confinedGit(["rev-parse", "--verify", "-q", "\(ref)^{commit}"], in: directory, timeout: 60)
        }
        guard said.ok, Git.isSHA(said.text) else {
            log?.note("workspace: the clone has no branch \(record.branch) any more; it stays at \(current?.prefix(10) ?? "nothing") in \(repo) (no change brought back)")
            return current
        }
        let sha = said.text.lowercased()
        if sha == current { return current }
        if shell.git(["cat-file", "-e", "\(sha)^{commit}"], in: repo).ok {
            let moved = shell.git(["update-ref", "-m", "mtor: task \(id)", ref, sha], in: repo)
            if !moved.ok { log?.note("workspace: could not move \(record.branch) to \(sha.prefix(10)) in \(repo): \(moved.said)") }
            return tip(record)
        }
        let bundle = directory + "/.git/mtor-branch.bundle"
        FileSystem.remove(bundle)
        // git writes the bundle through `<bundle>.lock`: a worker killed mid-bundle left it, and every later
        // bundle of this clone would fail on it (the branch's commits unseen: a false no_changes).
        FileSystem.remove(bundle + ".lock")
        defer { FileSystem.remove(bundle) }
        let exclude = ([record.baseSHA] + (current.map { [$0] } ?? [])).map { "^" + $0 }
        let made = shell.confinedGit(["bundle", "create", "-q", bundle, ref] + exclude, in: directory, timeout: 1800)
        guard made.ok, case .regular = FileSystem.kind(bundle) else {
            log?.note("workspace: could not bundle \(record.branch) in the clone (\(made.said)); it stays at \(current?.prefix(10) ?? "nothing") in \(repo)")
            return current
        }
        func fetch() -> GitShell.Ran {
            shell.git(["fetch", "--no-tags", "--no-write-fetch-head", "--no-recurse-submodules", "-q", bundle, "+\(ref):\(ref)"], in: repo, timeout: 1800,
                      config: ["-c", "fetch.fsckObjects=true", "-c", "transfer.fsckObjects=true"])
        }
        var fetched = fetch()
        if !fetched.ok {
            // Once more: a ref lock of the repository's own gc (the user's git started it) is held only briefly.
            log?.note("workspace: bringing \(record.branch) back failed once (\(fetched.said)); trying again")
            Thread.sleep(forTimeInterval: 0.5)
            fetched = fetch()
        }
        if !fetched.ok { log?.note("workspace: could not bring \(record.branch) back into \(repo) (\(fetched.said)); it stays at \(current?.prefix(10) ?? "nothing")") }
        return tip(record)
    }

    /// The branch tip in the repo (in place: HEAD).
    func tip(_ record: Record?) -> String? {
        guard let record else { return shell.head(spec.repo) }
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
