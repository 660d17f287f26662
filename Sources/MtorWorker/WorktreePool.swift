import Foundation
import MtorCore
import MtorPlatform

/// Clones of each repository kept ready by the worker (`--worktree-pool N`), so a task starts in a
/// checkout that is already written: taking one is a rename into `<workspaces>/<id>` and a
/// `git checkout -B` that rewrites only what differs from the task's base, where a new clone writes
/// every file of the repository.
///
/// A task's clone goes back to the pool when the task ends (every process of it gone) and is
/// recycled in the background, off the worker's loop and the task's thread: the agent's `.git` is
/// thrown away whole and replaced by a new clone's, the tree is reset to the repository's HEAD with
/// everything untracked or ignored removed, and a walk of every entry (`lstat`, no link followed)
/// proves it holds exactly the files of that commit with the modes a checkout gives them, nothing
/// else (see `WorktreePool+Proof`). A tree that cannot be proven clean is removed; a new one is
/// made instead.
///
/// On disk: `<workspaces>/.pool-<host>/<key>/` per repository (`key` hashes its path), holding
/// `ready-<n>` trees with a `ready-<n>.json` marker each, and `work-<n>` / `fresh-<n>` being made or
/// recycled. A worker holds `<workspaces>/.pool-<host>/lock` for its life (a second worker on the
/// host with the same workspaces directory runs without a pool). At start everything not ready
/// is removed and every ready tree is proven again before it is used.
final class WorktreePool: @unchecked Sendable {  // `cond` guards `repos` and `stopping`
    /// What the worker knows of a ready tree, written beside it.
    struct Marker: Codable, Equatable {
        var repo: String
        /// The commit the tree is checked out at (detached).
        var sha: String
        /// A hash of the repository's refs when the tree's `.git` was cloned (a change means a fetch at take).
        var refs: String
        /// `user.name` and `user.email` the clone was given (empty when the repository set none).
        var identity: [String]
        /// The branch `git clone` made in it (the repository's HEAD branch then).
        var localBranch: String?
        /// The task whose clone this was, when it was recycled.
        var from: String?
    }

    /// Trees of one repository: ready ones, and counts of those being made and of those out with tasks.
    private struct Repo {
        var ready: [(name: String, marker: Marker)] = []
        var busy = 0
        /// Of `busy`, the clones given back by this worker's tasks (and their replacements): a task waits for these only.
        var returning = 0
        var out = 0
    }

    let dir: String
    let size: Int
    let shell: GitShell
    let logger: Logger
    private let lockFD: Int32
    /// The pool's own thread, at a low priority (nice 10, inherited by the git it runs), so making
    /// and recycling clones yields the CPU to tasks: jobs run one at a time, in order.
    private let jobs = NSCondition()
    private var pendingJobs: [@Sendable () -> Void] = []
    private var worker: Thread?
    private let cond = NSCondition()
    private var repos: [String: Repo] = [:]
    private var stopping = false
    private var running = 0
    private var counter = 0
    /// How long a task waits for a tree being recycled before it makes its own clone.
    static let recycleWait = 30.0
    /// How long after start a worker proves its predecessor's ready clones again.
    static let reproveDelay = 3.0

    /// The pool of the worker whose workspaces are `workspaces`, or nil when `size` is 0 or another
    /// worker on this host holds it. Leftovers of an earlier worker are proven again or removed.
    static func open(workspaces: String, host: String, size: Int, environment: [String: String], logger: Logger) -> WorktreePool? {
        guard size > 0 else { return nil }
        let safeHost = String(host.map { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "." ? $0 : "_" })
        let dir = "\(workspaces)/.pool-\(safeHost)"
        do { try FileSystem.makeDirectories(dir) } catch {
            logger.warn("worktree pool off: cannot create \(dir): \(error)")
            return nil
        }
        if FileSystem.kind(dir + "/lock") == .missing { try? FileSystem.writeAtomically([], to: dir + "/lock", durable: false) }
        guard FileSystem.kind(dir) == .directory, let fd = FileSystem.tryLock(dir + "/lock") else {
            logger.info("worktree pool off: another worker on this host holds \(dir)/lock")
            return nil
        }
        let pool = WorktreePool(dir: dir, size: size, shell: GitShell(base: environment, containment: nil), logger: logger, lockFD: fd)
        pool.recover()
        return pool
    }

    private init(dir: String, size: Int, shell: GitShell, logger: Logger, lockFD: Int32) {
        self.dir = dir
        self.size = size
        self.shell = shell
        self.logger = logger
        self.lockFD = lockFD
    }

    /// The directory of `repo`'s trees: a hash of its path, so any path fits in one name.
    static func key(_ repo: String) -> String {
        var h: UInt64 = 0xcbf29ce484222325
        for b in repo.utf8 { h = (h ^ UInt64(b)) &* 0x100000001b3 }
        return "r" + String(h, radix: 16)
    }

    /// A name no other tree of this worker has (taking the lock).
    func uniqueName(_ prefix: String) -> String { cond.withLock { unique(prefix) } }

    private func unique(_ prefix: String) -> String {
        counter += 1
        return "\(prefix)-\(ProcessControl.pid)-\(counter)"
    }

    // MARK: - Taking and giving back (task threads)

    /// Moves a ready tree of `repo` to `target` (which must not exist) and returns its marker; nil
    /// when none is ready within `recycleWait` (a task waits only while a clone one of this worker's
    /// tasks gave back is being recycled; not for the clones a restarted worker proves again).
    /// Counts the task's tree as out until `give` (or `returned`), and tops the pool up.
    func take(repo: String, into target: String) -> Marker? {
        let key = Self.key(repo)
        cond.lock()
        repos[key, default: Repo()].out += 1
        let deadline = now() + Self.recycleWait
        var taken: Marker? = nil, unusable: [String] = []
        while !stopping {
            if let first = repos[key]?.ready.first {
                repos[key]?.ready.removeFirst()
                let from = "\(dir)/\(key)/\(first.name)"
                if (try? FileSystem.renameNoReplace(from, target)) != nil {
                    FileSystem.remove(from + ".json")
                    taken = first.marker
                    break
                }
                unusable.append(from)
                continue
            }
            guard (repos[key]?.returning ?? 0) > 0, now() < deadline else { break }
            _ = cond.wait(until: Date(timeIntervalSinceNow: max(0.01, deadline - now())))
        }
        cond.unlock()
        for path in unusable { removeLater(path, marker: true) }
        topUp(repo: repo)
        return taken
    }

    /// Takes back task `id`'s clone at `tree` for recycling when the pool has room: it is renamed
    /// into the pool at once (the caller's path is then gone) and recycled in the background.
    /// Returns false when the pool does not want it (the caller removes it). Call only when no
    /// process of the task is left.
    @discardableResult
    func give(tree: String, repo: String, id: String, counted: Bool) -> Bool {
        let key = Self.key(repo)
        cond.lock()
        var r = repos[key, default: Repo()]
        if counted { r.out = max(0, r.out - 1) }
        let wanted = !stopping && r.ready.count + r.busy < size && FileSystem.kind(tree) == .directory
        var work = ""
        if wanted {
            work = "\(dir)/\(key)/\(unique("work"))"
            if (try? FileSystem.makeDirectories("\(dir)/\(key)")) != nil, (try? FileSystem.renameNoReplace(tree, work)) != nil {
                r.busy += 1
                r.returning += 1
                running += 1
            } else {
                work = ""
            }
        }
        repos[key] = r
        cond.unlock()
        guard !work.isEmpty else { return false }
        enqueue { [self, work] in
            // At stop a returned tree is only filed: the next worker proves every ready tree before use.
            let made = isStopping ? Marker(repo: repo, sha: "", refs: "", identity: [], from: id) : recycle(work, repo: repo, key: key, from: id)
            finish(key: key, repo: repo, work: work, made: made, replace: true, returning: true)
        }
        return true
    }

    /// A task that took no tree from the pool and will give none back (its clone failed) is no longer out.
    func returned(repo: String) {
        cond.lock()
        let key = Self.key(repo)
        if let out = repos[key]?.out, out > 0 { repos[key]?.out = out - 1 }
        cond.unlock()
    }

    /// Starts making fresh trees of `repo` until ready, being made and out add up to the pool size.
    func topUp(repo: String) {
        let key = Self.key(repo)
        var jobs: [String] = []
        cond.lock()
        var r = repos[key, default: Repo()]
        while !stopping, r.ready.count + r.busy + r.out < size {
            r.busy += 1
            running += 1
            jobs.append("\(dir)/\(key)/\(unique("work"))")
        }
        repos[key] = r
        cond.unlock()
        for work in jobs {
            enqueue { [self] in finish(key: key, repo: repo, work: work, made: isStopping ? nil : makeFresh(work, repo: repo, key: key)) }
        }
    }

    /// Files a tree made or recycled at `work` as ready (or removes it), and wakes a waiting task.
    /// With `replace`, a tree that could not be recycled keeps its place for a new clone, made next
    /// (a task waiting for it goes on waiting, for the new one).
    private func finish(key: String, repo: String, work: String, made: Marker?, replace: Bool = false, returning: Bool = false) {
        var ready: String? = nil
        if let made {
            cond.lock()
            let name = unique("ready")
            cond.unlock()
            let path = "\(dir)/\(key)/\(name)"
            if (try? FileSystem.renameNoReplace(work, path)) != nil {
                do {
                    try FileSystem.writeAtomically(Array(try JSONEncoder().encode(made)), to: path + ".json", durable: true)
                    ready = name
                } catch {
                    logger.warn("worktree pool: cannot write \(path).json (\(error)); the tree is removed")
                    Self.removeTree(path)
                }
            } else {
                Self.removeTree(work)
            }
        } else {
            Self.removeTree(work)
        }
        cond.lock()
        let replacing = ready == nil && replace && !stopping
        if !replacing {
            repos[key, default: Repo()].busy -= 1
            if returning { repos[key]?.returning -= 1 }
            running -= 1
        }
        if let ready, let made, !stopping { repos[key]?.ready.append((ready, made)) }
        let next = replacing ? "\(dir)/\(key)/\(unique("work"))" : ""
        cond.broadcast()
        cond.unlock()
        if replacing {
            enqueue { [self] in finish(key: key, repo: repo, work: next, made: isStopping ? nil : makeFresh(next, repo: repo, key: key), returning: returning) }
        }
    }

    /// Removes `path` on the pool's queue (its `.json` marker too with `marker`); `close` waits for it.
    private func removeLater(_ path: String, marker: Bool) {
        cond.withLock { running += 1 }
        enqueue { [self] in
            Self.removeTree(path)
            if marker { FileSystem.remove(path + ".json") }
            cond.withLock {
                running -= 1
                cond.broadcast()
            }
        }
    }

    /// Removes a tree whatever an agent did to its permissions (directories opened up first); never follows a link.
    static func removeTree(_ path: String) {
        switch FileSystem.kind(path) {
        case .missing: return
        case .directory:
            _ = FileTree.walk(path, openUp: true)
            _ = try? ChildProcess.run(["rm", "-rf", "--", path], environment: ["PATH": "/usr/bin:/bin"], timeout: 600)
        default: FileSystem.remove(path)
        }
    }

    /// Runs `job` on the pool's thread (started on first use) after the jobs before it.
    private func enqueue(_ job: @escaping @Sendable () -> Void) {
        jobs.lock()
        pendingJobs.append(job)
        if worker == nil {
            let thread = Thread { [self] in
                ProcessControl.lowerThreadPriority(nice: 10)
                while true {
                    jobs.lock()
                    while pendingJobs.isEmpty { jobs.wait() }
                    let next = pendingJobs.removeFirst()
                    jobs.unlock()
                    next()
                }
            }
            thread.name = "mtor-worktree-pool"
            thread.stackSize = 1 << 20
            worker = thread
            thread.start()
        }
        jobs.signal()
        jobs.unlock()
    }

    // MARK: - Start and stop

    private var isStopping: Bool { cond.withLock { stopping } }

    /// At worker start: every ready tree of an earlier worker is proven again (recycled) before use;
    /// everything else under the pool (trees half made or half recycled, stray markers) is removed.
    private func recover() {
        for key in (try? FileSystem.list(dir)) ?? [] where key != "lock" {
            let keyDir = "\(dir)/\(key)"
            guard FileSystem.kind(keyDir) == .directory else { FileSystem.remove(keyDir); continue }
            let names = (try? FileSystem.list(keyDir)) ?? []
            for name in names where !name.hasSuffix(".json") {
                let path = "\(keyDir)/\(name)"
                if name.hasPrefix("ready-"),
                   let bytes = try? FileSystem.read(path + ".json", limit: 1 << 16),
                   let marker = try? JSONDecoder().decode(Marker.self, from: Data(bytes)),
                   Self.key(marker.repo) == key, FileSystem.kind(path) == .directory {
                    // Proven again a little later, so a worker restarted in a hurry gives its first tasks the CPU
                    // (a worker stopped before then leaves the clone as it is, for the next).
                    DispatchQueue.global().asyncAfter(deadline: .now() + Self.reproveDelay) { [self] in
                        enqueue { [self] in reprove(path, key: key, marker: marker) }
                    }
                } else {
                    removeLater(path, marker: true)
                }
            }
            for name in names where name.hasSuffix(".json") && !names.contains(String(name.dropLast(5))) { FileSystem.remove("\(keyDir)/\(name)") }
        }
    }

    /// Proves a predecessor's ready clone again (recycles it) when the pool still has room for it, else removes it.
    private func reprove(_ path: String, key: String, marker: Marker) {
        cond.lock()
        let room = !stopping && (repos[key]?.ready.count ?? 0) + (repos[key]?.busy ?? 0) < size
        let work = "\(dir)/\(key)/\(unique("work"))"
        if room {
            repos[key, default: Repo()].busy += 1
            running += 1
        }
        cond.unlock()
        guard room || !isStopping else { return }
        guard room else { Self.removeTree(path); FileSystem.remove(path + ".json"); return }
        FileSystem.remove(path + ".json")
        let moved = (try? FileSystem.renameNoReplace(path, work)) != nil
        if !moved { Self.removeTree(path) }
        finish(key: key, repo: marker.repo, work: work, made: moved ? recycle(work, repo: marker.repo, key: key, from: marker.from) : nil, replace: moved)
    }

    /// At worker stop: nothing new starts; waits up to `timeout` for the tree being made or recycled
    /// (a kill instead leaves it half done, and the next worker removes it).
    func close(timeout: Double = 20) {
        cond.lock()
        stopping = true
        let deadline = Date(timeIntervalSinceNow: timeout)
        while running > 0, cond.wait(until: deadline) {}
        cond.unlock()
    }
}
