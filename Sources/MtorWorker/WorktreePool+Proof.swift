import Foundation
import MtorCore
import MtorPlatform

/// Making, recycling and proving pool trees (on the pool's queue), and setting a taken one on a
/// task's branch (on the task's thread). Every git here is the worker's hardened `GitShell.git` in
/// a `.git` the worker itself cloned: nothing an agent left runs.
extension WorktreePool {
    /// The identity keys a task's clone copies from the repository.
    static let identityKeys = ["user.name", "user.email"]

    /// A new clone of `repo` at `work` at the repository's HEAD, checked out detached.
    func makeFresh(_ work: String, repo: String, key: String) -> Marker? {
        guard var marker = clone(repo, into: work), let sha = shell.head(repo) else { return nil }
        let files = shell.git(["checkout", "-q", "-f", "--detach", sha], in: work, timeout: 1800)
        guard files.ok else {
            logger.warn("worktree pool: could not check out \(repo) in \(work): \(files.said)")
            return nil
        }
        marker.sha = sha
        if let why = prove(work, sha: sha) {
            logger.warn("worktree pool: a new clone of \(repo) is not clean (\(why)); removed")
            return nil
        }
        return marker
    }

    /// Task `from`'s clone at `tree`, made indistinguishable from a new one at the repository's HEAD:
    /// every directory opened up, the agent's `.git` removed whole and a new clone's put in its place,
    /// what is no file or directory (symlinks, fifos, sockets, devices), nested `.git`s, hard-linked
    /// files and anything with a `user.` attribute removed, modes set as a checkout sets them, then reset to
    /// HEAD with everything untracked and ignored cleaned, and proven (`prove`). nil when it cannot be.
    func recycle(_ tree: String, repo: String, key: String, from: String?) -> Marker? {
        let started = now()
        func reject(_ why: String) -> Marker? {
            logger.info("worktree pool: \(from.map { "task \($0)'s clone" } ?? "a pooled clone") of \(repo) is not reused: \(why)")
            return nil
        }
        guard FileSystem.kind(tree) == .directory else { return reject("it is not a directory") }
        let listing = FileTree.walk(tree, openUp: true)
        guard listing.unaccounted.isEmpty else { return reject("\(listing.unaccounted.prefix(3).joined(separator: ", ")) cannot be read or named") }
        Self.removeTree(tree + "/.git")
        let mask = FileTree.umask
        var removed: Set<String> = [".git"]
        for e in listing.entries {
            if Self.ancestors(e.path).contains(where: removed.contains) || removed.contains(e.path) { continue }
            let full = tree + "/" + e.path
            let isRepo = e.path.split(separator: "/").last == ".git"
            switch e.kind {
            case .directory where isRepo || e.userXattr:
                Self.removeTree(full)
                removed.insert(e.path)
            case .directory:
                if e.mode != 0o777 & ~mask, !FileTree.setMode(full, 0o777 & ~mask) { return reject("cannot set the mode of \(e.path)") }
            case .regular where isRepo || e.links > 1 || e.userXattr:
                FileSystem.remove(full)
            case .regular:
                let want = (e.mode & 0o100 != 0 ? 0o777 : 0o666) & ~mask
                if e.mode != want, !FileTree.setMode(full, want) { return reject("cannot set the mode of \(e.path)") }
            case .symlink:
                // Every link goes before git runs, so nothing is ever written through one; checkout makes the tracked ones again.
                FileSystem.remove(full)
            default:
                FileSystem.remove(full)
            }
        }
        let fresh = "\(dir)/\(key)/\(uniqueName("fresh"))"
        defer { Self.removeTree(fresh) }
        guard var marker = clone(repo, into: fresh) else { return reject("a new clone could not be made") }
        do { try FileSystem.renameNoReplace(fresh + "/.git", tree + "/.git") } catch { return reject("cannot move the new .git in: \(error)") }
        guard let sha = shell.head(repo) else { return reject("the repository has no HEAD commit") }
        marker.sha = sha
        marker.from = from
        _ = shell.git(["read-tree", sha], in: tree, timeout: 600)
        _ = shell.git(["update-index", "-q", "--refresh"], in: tree, timeout: 1800)
        for step in [["checkout", "-q", "-f", "--detach", sha], ["clean", "-ffdxq"]] {
            let r = shell.git(step, in: tree, timeout: 1800)
            guard r.ok else { return reject("git \(step[0]) failed: \(r.said)") }
        }
        if let why = prove(tree, sha: sha) { return reject(why) }
        logger.info("worktree pool: \(from.map { "task \($0)'s clone" } ?? "a pooled clone") of \(repo) recycled at \(sha.prefix(10)) in \(Int((now() - started) * 1000)) ms")
        return marker
    }

    /// Why `tree` is not exactly a checkout of `sha`, or nil when it is: `git status --porcelain
    /// --ignored` is empty, and a walk of every entry (lstat) finds each path of the index with its
    /// kind, the mode a checkout gives it, one link and no `user.` attribute, each directory a
    /// parent of one (or a submodule's empty directory), and nothing else.
    func prove(_ tree: String, sha: String) -> String? {
        let status = shell.git(["status", "--porcelain=v1", "-z", "--ignored=matching", "--untracked-files=all"], in: tree, timeout: 1800)
        guard status.ok else { return "git status failed: \(status.said)" }
        guard status.out.isEmpty else { return "git status shows \(String(decoding: status.out.prefix(200), as: UTF8.self))" }
        guard shell.value(["rev-parse", "--verify", "-q", "HEAD^{commit}"], in: tree) == sha else { return "HEAD is not \(sha)" }
        let files = shell.git(["ls-files", "-s", "-z"], in: tree, timeout: 600)
        guard files.ok else { return "git ls-files failed: \(files.said)" }
        var expected: [String: String] = [:], dirs: Set<String> = []
        for field in files.out.split(separator: 0) {
            let line = String(decoding: field, as: UTF8.self)
            guard let tab = line.firstIndex(of: "\t") else { continue }
            let path = String(line[line.index(after: tab)...])
            expected[path] = String(line.prefix(6))
            dirs.formUnion(Self.ancestors(path))
        }
        let mask = FileTree.umask
        let listing = FileTree.walk(tree, openUp: false, skip: [".git"])
        guard listing.unaccounted.isEmpty else { return "\(listing.unaccounted.prefix(3).joined(separator: ", ")) cannot be read or named" }
        var seen = 0
        for e in listing.entries where e.path != ".git" {
            if e.userXattr { return "\(e.path) carries a user. extended attribute" }
            switch (expected[e.path], e.kind) {
            case ("100644", .regular) where e.mode == 0o666 & ~mask && e.links == 1,
                 ("100755", .regular) where e.mode == 0o777 & ~mask && e.links == 1,
                 ("120000", .symlink), ("160000", .directory):
                seen += 1
            case (nil, .directory) where dirs.contains(e.path) && e.mode == 0o777 & ~mask:
                continue
            default:
                return "\(e.path) (\(e.kind), mode \(String(e.mode, radix: 8))) is not what a checkout of \(sha.prefix(10)) holds"
            }
        }
        guard FileSystem.kind(tree + "/.git") == .directory else { return ".git is not a directory" }
        return seen == expected.count ? nil : "\(expected.count - seen) file(s) of the commit are missing"
    }

    /// `a`, `a/b` for `a/b/c`.
    static func ancestors(_ path: String) -> [String] {
        let parts = path.split(separator: "/")
        return parts.indices.dropLast().map { parts[...$0].joined(separator: "/") }
    }

    // MARK: - Clones and refs

    /// `git clone --shared --no-checkout` of `repo` at `dir`, configured as a task's clone is (the
    /// repository's identity, no automatic gc); the marker's refs, identity and local branch filled in.
    func clone(_ repo: String, into dir: String) -> Marker? {
        try? FileSystem.makeDirectories(FileSystem.directory(of: dir))
        let refs = refsPrint(repo)
        let identity = Self.identityKeys.map { shell.value(["config", "--get", $0], in: repo) ?? "" }
        let config = zip(Self.identityKeys, identity).filter { !$0.1.isEmpty }.flatMap { ["--config", "\($0.0)=\($0.1)"] }
        let quiet = ["--config", "gc.auto=0", "--config", "maintenance.auto=false", "--config", "gc.autoDetach=false"]
        let r = shell.git(["clone", "--shared", "--no-checkout", "--no-hardlinks", "--template="] + config + quiet + ["-q", "--", repo, dir],
                          in: FileSystem.directory(of: dir), timeout: 1800)
        guard r.ok else {
            logger.warn("worktree pool: could not clone \(repo): \(r.said)")
            return nil
        }
        return Marker(repo: repo, sha: "", refs: refs.print, identity: identity, localBranch: Git.readHeadBranch(dir))
    }

    /// The repository's refs (`for-each-ref`) and a hash of them with its HEAD branch.
    func refsPrint(_ repo: String) -> (print: String, lines: [Substring]) {
        let r = shell.git(["for-each-ref", "--format=%(objectname) %(refname)"], in: repo, timeout: 60)
        var h: UInt64 = 0xcbf29ce484222325
        for b in r.out + Array((Git.readHeadBranch(repo) ?? "").utf8) { h = (h ^ UInt64(b)) &* 0x100000001b3 }
        return (String(h, radix: 16), String(decoding: r.out, as: UTF8.self).split(separator: "\n"))
    }

    // MARK: - Taking

    /// Sets a tree just taken from the pool at `dir` (checked out at `marker.sha`, its `.git` the
    /// worker's) on `branch` at `start`, as a new clone would be: the repository's identity now,
    /// its refs now (remote-tracking branches, tags, the local branch), then `git checkout -B`,
    /// which rewrites only the files that differ. Returns why it could not, or nil.
    func adopt(_ marker: Marker, at dir: String, repo: String, branch: String, start: String, shell: GitShell) -> String? {
        let identity = Self.identityKeys.map { shell.value(["config", "--get", $0], in: repo) ?? "" }
        for (i, key) in Self.identityKeys.enumerated() where i >= marker.identity.count || marker.identity[i] != identity[i] {
            let r = shell.git(identity[i].isEmpty ? ["config", "--unset", key] : ["config", key, identity[i]], in: dir)
            if !r.ok, !identity[i].isEmpty { return "git config \(key) failed: \(r.said)" }
        }
        let now = refsPrint(repo)
        if now.print != marker.refs {
            var want: [String: String] = [:]
            for line in now.lines {
                let parts = line.split(separator: " ", maxSplits: 1).map(String.init)
                guard parts.count == 2 else { continue }
                if parts[1].hasPrefix("refs/heads/") {
                    want["refs/remotes/origin/" + parts[1].dropFirst(11)] = parts[0]
                    if let local = marker.localBranch, parts[1] == "refs/heads/\(local)" { want[parts[1]] = parts[0] }
                } else if parts[1].hasPrefix("refs/tags/") {
                    want[parts[1]] = parts[0]
                }
            }
            let have = shell.git(["for-each-ref", "--format=%(objectname) %(refname)", "refs/remotes/origin", "refs/tags"], in: dir, timeout: 60)
            var commands = want.sorted { $0.key < $1.key }.map { "update \($0.key) \($0.value)\n" }
            for line in String(decoding: have.out, as: UTF8.self).split(separator: "\n") {
                let ref = String(line.split(separator: " ", maxSplits: 1).last ?? "")
                if want[ref] == nil, ref != "refs/remotes/origin/HEAD" { commands.append("delete \(ref)\n") }
            }
            let r = shell.git(["update-ref", "--stdin"], in: dir, timeout: 60, stdin: Array(commands.joined().utf8))
            if !r.ok { return "could not bring the clone's refs up to date: \(r.said)" }
        }
        let files = shell.git(["checkout", "-q", "--no-track", "-B", branch, start], in: dir, timeout: 1800)
        return files.ok ? nil : "git checkout -B \(branch) failed: \(files.said)"
    }
}
