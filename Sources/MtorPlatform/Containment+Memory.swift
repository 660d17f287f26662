#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

// MARK: - Memory caps

/// Why a task's memory cannot be capped on this host: a sentence naming the problem and the fix.
public struct MemoryCapUnavailable: Error, CustomStringConvertible, Sendable {
    public let description: String
}

/// The memory cgroup a task's processes live in, with its cap: `memory.max` of the task's own cgroup v2,
/// or a cgroup of the v1 memory hierarchy beside it (a host whose memory controller is bound to v1).
///
/// Every process of the task joins it before it execs (`mtor_spawn`), so the agent and everything it
/// starts share the cap; the kernel's OOM killer ends a process inside it at the cap.
public final class MemoryCgroup: @unchecked Sendable {  // no lock: `procsFD` changes only on its owning (task) thread
    public enum Controller: String, Codable, Sendable { case cgroup2, cgroup1 }

    public let controller: Controller
    public let path: String
    /// The cap in bytes; nil when the cgroup only measures (an uncapped task whose cgroup v2 has the memory controller).
    public let cap: Int64?
    /// An open `cgroup.procs` each spawned child writes itself into; -1 when the task's cgroup is this one.
    public private(set) var procsFD: Int32
    private let owned: Bool

    init(controller: Controller, path: String, cap: Int64?, procsFD: Int32, owned: Bool) {
        self.controller = controller
        self.path = path
        self.cap = cap
        self.procsFD = procsFD
        self.owned = owned
    }

    deinit { if procsFD >= 0 { close(procsFD) } }

    /// Closes the join descriptor and removes the cgroup (when it is not the task's own).
    func remove() {
        if procsFD >= 0 { close(procsFD); procsFD = -1 }
        if owned { rmdir(path) }
    }

    // MARK: Attempts

    /// What one attempt did inside the cap, read when it ended.
    public struct Usage: Equatable, Sendable {
        /// Processes the kernel's OOM killer killed in the cgroup during the attempt; nil when the kernel does not count them.
        public var oomKills: Int?
        /// The attempt's highest memory use in bytes; nil when the kernel cannot tell it for this attempt alone.
        public var peakBytes: Int64?
    }

    /// The counters at an attempt's start, so its end reads only its own.
    public struct Mark {
        let oomKills: Int?
        /// An open `memory.peak` reset for this attempt (cgroup v2), read at the end; -1 otherwise.
        let peakFD: Int32
        let peakReset: Bool
    }

    /// Starts measuring an attempt: resets the peak and notes the OOM kill count.
    public func begin() -> Mark {
        switch controller {
        case .cgroup1:
            // Writing 0 sets the recorded maximum to the current use.
            let reset = Containment.write("0", to: path + "/memory.max_usage_in_bytes")
            return Mark(oomKills: oomKills(), peakFD: -1, peakReset: reset)
        case .cgroup2:
            // Since Linux 6.12 a write to memory.peak resets it for the descriptor written to.
            let fd = open(path + "/memory.peak", O_RDWR | O_CLOEXEC)
            let reset = fd >= 0 && "reset\n".withCString { Glibc_write(fd, $0, 6) } == 6
            return Mark(oomKills: oomKills(), peakFD: fd, peakReset: reset)
        }
    }

    /// What the attempt begun at `mark` did (call once every process of it is gone).
    public func end(_ mark: Mark) -> Usage {
        var usage = Usage()
        if let before = mark.oomKills, let after = oomKills() { usage.oomKills = max(0, after - before) }
        switch controller {
        case .cgroup1:
            if mark.peakReset { usage.peakBytes = Containment.readNumber(path + "/memory.max_usage_in_bytes") }
        case .cgroup2:
            if mark.peakFD >= 0 {
                if mark.peakReset { usage.peakBytes = Containment.readNumber(fd: mark.peakFD) }
                close(mark.peakFD)
            }
        }
        return usage
    }

    /// What the memory cgroup at `path` uses now (`memory.current`, or v1 `memory.usage_in_bytes`); nil when it is gone.
    public static func currentBytes(_ path: String) -> Int64? {
        guard path.hasPrefix("/sys/fs/cgroup") else { return nil }
        return Containment.readNumber(path + "/memory.current") ?? Containment.readNumber(path + "/memory.usage_in_bytes")
    }

    /// Processes the OOM killer killed in this cgroup so far (`oom_kill` of `memory.events` or `memory.oom_control`).
    func oomKills() -> Int? {
        let file = controller == .cgroup2 ? "/memory.events" : "/memory.oom_control"
        guard let text = try? FileSystem.readText(path + file, limit: 4096) else { return nil }
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: " ")
            if parts.count == 2, parts[0] == "oom_kill" { return Int(parts[1]) }
        }
        return nil
    }
}

extension Containment {
    /// Caps the memory of every process this containment will start at `bytes`; call before the first spawn.
    ///
    /// Best first: the memory controller of the task's own cgroup v2 (enabled along the path from the
    /// hierarchy's root when the host allows it), else a cgroup of the v1 memory hierarchy that every
    /// child joins too. Throws when neither is usable: a cap is never silently dropped.
    public func capMemory(_ bytes: Int64) throws(MemoryCapUnavailable) {
        if memory != nil { return }
        var tried: [String] = []
        if method == .cgroup2, let path {
            if Hierarchy.enableMemoryV2(below: path), Containment.write("\(bytes)", to: path + "/memory.max") {
                _ = Containment.write("0", to: path + "/memory.swap.max")
                memory = MemoryCgroup(controller: .cgroup2, path: path, cap: bytes, procsFD: -1, owned: false)
                return
            }
            tried.append("the unified hierarchy (cgroup v2) offers no memory controller to \(path)")
        }
        if method == .cgroup1, let path, FileSystem.exists(path + "/memory.limit_in_bytes") {
            // The task's own v1 cgroup is in a hierarchy that has the memory controller too.
            if Containment.capV1(path, bytes) {
                memory = MemoryCgroup(controller: .cgroup1, path: path, cap: bytes, procsFD: -1, owned: false)
                return
            }
        }
        if let base = Hierarchy.base(for: .cgroup1, controller: "memory") {
            let dir = "\(base)/\(name)"
            if mkdir(dir, 0o755) == 0 || errno == EEXIST {
                let fd = open(dir + "/cgroup.procs", O_WRONLY | O_CLOEXEC)
                if fd >= 0, Containment.capV1(dir, bytes) {
                    memory = MemoryCgroup(controller: .cgroup1, path: dir, cap: bytes, procsFD: fd, owned: true)
                    return
                }
                if fd >= 0 { close(fd) }
                rmdir(dir)
            }
            tried.append("the v1 memory hierarchy at \(base) refused a cgroup with a limit (\(String(cString: strerror(errno))))")
        } else {
            tried.append("no v1 memory hierarchy is mounted, or it is not writable")
        }
        if method == .marker { tried.insert("processes are contained by marker, not by a cgroup", at: 0) }
        throw MemoryCapUnavailable(description: "this worker cannot cap a task's memory: \(tried.joined(separator: "; ")); run the worker as "
            + "root on a host with the cgroup memory controller (cgroup v2 with memory delegated, e.g. systemd's Delegate=yes, or the v1 "
            + "memory hierarchy), or remove the cap")
    }

    /// Measures the memory of an uncapped task when that costs nothing: its cgroup v2 already has the
    /// memory controller (never enabled for this, and never a v1 cgroup, which costs each spawn a move).
    public func measureMemory() {
        guard memory == nil, method == .cgroup2, let path, FileSystem.exists(path + "/memory.peak") else { return }
        memory = MemoryCgroup(controller: .cgroup2, path: path, cap: nil, procsFD: -1, owned: false)
    }

    /// Whether a memory cap can be set on this host, and how: `cgroup2` or `cgroup1`; nil with the reason.
    public static func memoryCapSupport(_ preference: Preference) -> Result<MemoryCgroup.Controller, MemoryCapUnavailable> {
        let probe = Containment.create(name: "w\(getpid())-memory-probe", preference: preference)
        defer { probe.dispose() }
        do {
            try probe.capMemory(1 << 30) // never reached: nothing runs in the probe
            return .success(probe.memory!.controller)
        } catch {
            return .failure(error)
        }
    }

    /// Sets a v1 memory cgroup's limit, and the same limit on memory plus swap when the kernel accounts swap.
    static func capV1(_ dir: String, _ bytes: Int64) -> Bool {
        guard write("\(bytes)", to: dir + "/memory.limit_in_bytes") else { return false }
        if FileSystem.exists(dir + "/memory.memsw.limit_in_bytes") {
            _ = write("\(bytes)", to: dir + "/memory.memsw.limit_in_bytes")
        } else {
            _ = write("0", to: dir + "/memory.swappiness")
        }
        return true
    }

    static func readNumber(_ file: String) -> Int64? {
        guard let text = try? FileSystem.readText(file, limit: 256) else { return nil }
        return Int64(text.trimmingCharacters(in: .whitespacesAndNewlines))
    }

    static func readNumber(fd: Int32) -> Int64? {
        var buffer = [UInt8](repeating: 0, count: 64)
        let n = pread(fd, &buffer, 64, 0)
        guard n > 0 else { return nil }
        return Int64(String(decoding: buffer[0..<n], as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))
    }
}

extension Hierarchy {
    /// The leaf the worker moves itself into when its own cgroup v2 must hand a controller to its children.
    static let workerLeaf = "mtor-worker"

    /// Makes the memory controller available in the cgroup v2 `path` (see `enable`).
    static func enableMemoryV2(below path: String) -> Bool {
        if FileSystem.exists(path + "/memory.max") { return true }
        guard let (mount, own) = unified() else { return false }
        var ownDir = mount + (own == "/" ? "" : own)
        while ownDir.count > 1 && ownDir.hasSuffix("/") { ownDir.removeLast() }
        return enable("memory", below: path, mount: mount, ownDir: ownDir, pid: getpid())
    }

    /// Enables `controller` in `cgroup.subtree_control` from the hierarchy's root (`mount`) down to the
    /// parent of `path`, where it is not yet enabled. False when the host does not allow it (the
    /// controller is bound to v1, or not delegated to us).
    ///
    /// cgroup v2 lets no cgroup but the root both hold processes and hand controllers to children.
    /// When that refusal (EBUSY) comes from `ownDir`, the cgroup process `pid` (the worker) lives in,
    /// the worker moves itself into the leaf `ownDir/mtor-worker` and tries again: the delegation
    /// pattern systemd documents for `Delegate=yes`. Processes that are not the worker are never moved.
    static func enable(_ controller: String, below path: String, mount: String, ownDir: String, pid: Int32) -> Bool {
        guard path.hasPrefix(mount) else { return false }
        var dirs: [String] = []
        var dir = (path as NSString).deletingLastPathComponent
        while dir.count >= mount.count {
            dirs.append(dir)
            if dir == mount || dir == "/" { break }
            dir = (dir as NSString).deletingLastPathComponent
        }
        func words(_ file: String) -> [Substring] {
            ((try? FileSystem.readText(file, limit: 4096)) ?? "").split(whereSeparator: \.isWhitespace)
        }
        for parent in dirs.reversed() {
            guard words(parent + "/cgroup.controllers").contains(Substring(controller)) else { return false }
            if words(parent + "/cgroup.subtree_control").contains(Substring(controller)) { continue }
            if Containment.write("+" + controller, to: parent + "/cgroup.subtree_control") { continue }
            guard errno == EBUSY, parent == ownDir, parent != mount else { return false }
            let leaf = parent + "/" + workerLeaf
            guard mkdir(leaf, 0o755) == 0 || errno == EEXIST, Containment.write("\(pid)", to: leaf + "/cgroup.procs"),
                  Containment.write("+" + controller, to: parent + "/cgroup.subtree_control") else { return false }
        }
        return true
    }
}
