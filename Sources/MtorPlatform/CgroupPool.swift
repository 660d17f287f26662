#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// Empty cgroup v2 task cgroups a worker keeps for its next tasks: making a cgroup and removing it
/// cost a task about as much as writing its sidecar (the kernel makes and later tears down every
/// interface file), and a worker runs thousands of tasks an hour.
///
/// A cgroup goes back only when the task left it as it found it: no process in it at the end, never
/// ended through `cgroup.kill` (a killed cgroup's later `clone3(CLONE_INTO_CGROUP)` children are born
/// dying, see `Containment.killAll`), and no memory controller whose figures the next task would
/// inherit (`memory.peak`, a cap). Anything else is removed as a task's own cgroup always was.
///
/// Named `w<pid>-~<n>`: a claim of a worker that is gone may name one, and every process in it is
/// then a leftover of that worker's tasks (`isPooled` is what recovery trusts besides `w<pid>-<id>`).
public final class CgroupPool: @unchecked Sendable {  // `lock` guards `free` and `closed`; `madeLock` guards `made`
    struct Entry {
        let path: String
        let procsFD: Int32
        let directoryFD: Int32
    }

    private let lock = NSLock()
    private var free: [Entry] = []
    private var closed = false
    /// Names made in this process so far: unique across pools (a test makes several in one process).
    nonisolated(unsafe) private static var made = 0
    private static let madeLock = NSLock()
    /// How many empty cgroups are kept at most; more given back are removed.
    private let keep: Int

    public init(keep: Int) {
        self.keep = max(1, keep)
    }

    /// Whether `name` (a cgroup directory's last component) is one of worker `pid`'s pooled cgroups.
    public static func isPooled(_ name: String, of pid: Int32) -> Bool {
        let prefix = "w\(pid)-~"
        return name.hasPrefix(prefix) && name.count > prefix.count && name.dropFirst(prefix.count).allSatisfy(\.isNumber)
    }

    /// A kept cgroup, or a new one made under `base`; nil when none can be made (the caller makes its own).
    func take(base: String) -> Entry? {
        enum Got { case kept(Entry), make, none }
        let got: Got = lock.withLock {
            if closed { return .none }
            if let entry = free.popLast() { return .kept(entry) }
            return .make
        }
        switch got {
        case .kept(let entry): return entry
        case .none: return nil
        case .make:
            let n = CgroupPool.madeLock.withLock {
                CgroupPool.made += 1
                return CgroupPool.made
            }
            let dir = "\(base)/w\(getpid())-~\(n)"
            guard mkdir(dir, 0o755) == 0 else { return nil }
            let procs = open(dir + "/cgroup.procs", O_WRONLY | O_CLOEXEC)
            let directory = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
            guard procs >= 0, directory >= 0 else {
                if procs >= 0 { close(procs) }
                if directory >= 0 { close(directory) }
                rmdir(dir)
                return nil
            }
            return Entry(path: dir, procsFD: procs, directoryFD: directory)
        }
    }

    /// Keeps `entry` for a later task; false (nothing kept) when the pool is full or closed.
    func give(_ entry: Entry) -> Bool {
        lock.withLock {
            guard !closed, free.count < keep else { return false }
            free.append(entry)
            return true
        }
    }

    /// Removes every kept cgroup (the worker is stopping); later ones given back are removed by their tasks.
    public func removeAll() {
        let entries = lock.withLock {
            closed = true
            defer { free.removeAll() }
            return free
        }
        for e in entries {
            close(e.procsFD)
            close(e.directoryFD)
            rmdir(e.path)
        }
    }

    /// How many empty cgroups are kept now.
    public var count: Int { lock.withLock { free.count } }
}
