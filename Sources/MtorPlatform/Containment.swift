#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// Keeps every process a task starts together, so all of them can be found and ended.
///
/// Three methods, best first:
/// - `cgroup2`: a cgroup of the unified hierarchy per task (`cgroup.kill` ends it at once);
/// - `cgroup1`: a cgroup in a v1 hierarchy (`pids`, `freezer` or `memory`), emptied by SIGKILL rounds;
/// - `marker`: no cgroup can be made (not root, no hierarchy): every process of the task carries
///   `MTOR_TASK_MARKER=<token>` in its environment and is found through `/proc/PID/environ`.
///
/// A child joins the cgroup before it execs (`mtor_spawn` writes it into `cgroup.procs`), so no
/// `setsid`, double fork or daemon can leave it. The marker survives `setsid` and double forks,
/// but not a program that clears its environment; the README says so. This is the only code
/// that touches `/sys/fs/cgroup`.
public final class Containment: @unchecked Sendable {  // no lock: its descriptors and `disposed` change only on the owning task's thread
    public enum Method: String, Codable, Sendable, CaseIterable {
        case cgroup2, cgroup1, marker
    }

    /// What the worker may use: `auto` picks the best method this host allows.
    public enum Preference: String, Sendable, CaseIterable {
        case auto, cgroup2, cgroup1, marker
    }

    /// The environment variable every process of a task carries.
    public static let markerVariable = "MTOR_TASK_MARKER"

    public let method: Method
    /// The containment's name, unique on this host (the last part of its cgroup paths).
    public let name: String
    /// The task's cgroup directory (cgroup methods only).
    public let path: String?
    /// The token in `MTOR_TASK_MARKER` (every method sets it).
    public let marker: String
    /// An open `cgroup.procs` of the task's cgroup, handed to each spawn; -1 for `marker`.
    public private(set) var procsFD: Int32 = -1
    private var disposed = false
    /// The task's cgroup v2 directory, open, so children are born in it (`clone3(CLONE_INTO_CGROUP)`); -1 otherwise.
    public private(set) var directoryFD: Int32 = -1
    /// The memory cap every process of the task lives under, once `capMemory` set one (Containment+Memory.swift).
    public internal(set) var memory: MemoryCgroup?
    /// Where the cgroup goes back when the task leaves it empty (see `CgroupPool`).
    private var pool: CgroupPool?
    /// Whether `killAll` last found no process left.
    private var foundEmpty = false
    /// Given back to its pool: the cgroup is another task's now, and this task had nothing left in
    /// it (a later `killAll` of this task must not see, or kill, the next task's processes).
    private var returned = false

    /// Called once, just before the first process joins the containment (`ChildProcess` calls
    /// `willStart`): the task records its claim there, so a task that starts no process before its
    /// agent writes its claim once, at the agent's spawn.
    public var beforeFirstProcess: (() -> Void)?

    /// Runs `beforeFirstProcess` if no process has joined yet.
    public func willStart() {
        guard let first = beforeFirstProcess else { return }
        beforeFirstProcess = nil
        first()
    }

    /// `MTOR_TASK_MARKER=<token>` for the environment of every process the task starts.
    public var environment: [String: String] { [Containment.markerVariable: marker] }

    private init(method: Method, path: String?, marker: String) {
        self.method = method
        self.name = path.map { String($0.split(separator: "/").last ?? "") } ?? String(marker.split(separator: ".").first ?? "")
        self.path = path
        self.marker = marker
    }

    deinit {
        if procsFD >= 0 { close(procsFD) }
        if directoryFD >= 0 { close(directoryFD) }
    }

    /// Creates the containment for one task, named `name` (unique on this host), with the best
    /// method `preference` allows. Never fails: without a usable cgroup it falls back to `marker`.
    /// With a `pool`, a cgroup v2 comes from it (and goes back to it, see `dispose`).
    public static func create(name: String, preference: Preference = .auto, pool: CgroupPool? = nil) -> Containment {
        let marker = "\(name).\(String(UInt64.random(in: 0...UInt64.max), radix: 36))"
        for method in candidates(preference) {
            guard method != .marker else { break }
            guard let base = Hierarchy.base(for: method) else { continue }
            if method == .cgroup2, let pool, let kept = pool.take(base: base) {
                let c = Containment(method: method, path: kept.path, marker: marker)
                c.procsFD = kept.procsFD
                c.directoryFD = kept.directoryFD
                c.pool = pool
                return c
            }
            let dir = "\(base)/\(name)"
            if mkdir(dir, 0o755) != 0 && errno != EEXIST { continue }
            let fd = open(dir + "/cgroup.procs", O_WRONLY | O_CLOEXEC)
            guard fd >= 0 else { rmdir(dir); continue }
            let c = Containment(method: method, path: dir, marker: marker)
            c.procsFD = fd
            if method == .cgroup2 { c.directoryFD = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC) }
            return c
        }
        return Containment(method: .marker, path: nil, marker: marker)
    }

    /// The containment a claim recorded, to end what a dead worker left (no new processes join it);
    /// `memory` is its v1 memory cgroup, emptied and removed with it.
    public static func recorded(method: Method, path: String?, marker: String, memory: String? = nil) -> Containment {
        let c = Containment(method: method, path: path, marker: marker)
        if let memory, memory != path { c.memory = MemoryCgroup(controller: .cgroup1, path: memory, cap: nil, procsFD: -1, owned: true) }
        return c
    }

    /// The method `preference` resolves to on this host, for the worker's start line.
    public static func resolve(_ preference: Preference) -> Method {
        candidates(preference).first { $0 == .marker || Hierarchy.base(for: $0) != nil } ?? .marker
    }

    private static func candidates(_ preference: Preference) -> [Method] {
        switch preference {
        case .auto: return [.cgroup2, .cgroup1, .marker]
        case .cgroup2: return [.cgroup2, .marker]
        case .cgroup1: return [.cgroup1, .marker]
        case .marker: return [.marker]
        }
    }

    // MARK: - Members

    /// Every live process of the task: the cgroup's members (no descendant can leave a cgroup), or,
    /// for the marker method, every process carrying the marker (a scan of /proc).
    public func members() -> [Int32] {
        if returned { return [] }
        var pids = Set(path.map(Containment.cgroupMembers) ?? ProcessTable.withMarker(Containment.markerVariable, marker))
        // A process in the task's memory cgroup is the task's, whatever else it left.
        if let memory, memory.path != path { pids.formUnion(Containment.cgroupMembers(memory.path)) }
        pids.remove(getpid())
        return pids.sorted()
    }

    /// Sends `signal` to every member.
    public func signalAll(_ signal: Int32) {
        for pid in members() { kill(pid, signal) }
    }

    /// Sends `signal` to every member but the sandbox that `leader` (bwrap) is: bwrap itself and
    /// the init of the PID namespace it made, which would die of it and take the rest with them.
    public func signalAll(_ signal: Int32, sparingSandboxOf leader: Int32) {
        for pid in members() where pid != leader && !ProcessTable.isNamespaceInit(pid) { kill(pid, signal) }
    }

    /// Ends every process of the task and waits (at most `timeout`) until none is left; zombies it
    /// made are reaped unless a `ChildProcess` owns them. Returns how many processes it found running,
    /// not counting a sandbox's PID-namespace init (bwrap's, which lives until its namespace is empty).
    @discardableResult
    public func killAll(timeout: Double = 10) -> Int {
        // Every member seen running is counted, killed by this call or by the end of its PID
        // namespace (whose init this call killed): either way it was left when the task ended.
        var seen = Set<Int32>()
        var inits = Set<Int32>()
        let deadline = now() + timeout
        var pause: useconds_t = 1000
        foundEmpty = false
        while true {
            let left = members()
            if left.isEmpty {
                foundEmpty = true
                break
            }
            for pid in left where !seen.contains(pid) && ProcessTable.isNamespaceInit(pid) { inits.insert(pid) }
            seen.formUnion(left)
            if method == .cgroup2, let path, Containment.write("1", to: path + "/cgroup.kill") {
                // Seen on Linux 6.18: once a cgroup was killed through cgroup.kill, every later
                // clone3(CLONE_INTO_CGROUP) into it is born with SIGKILL pending (fork, then a write to
                // cgroup.procs, is not). Later processes of the task join by cgroup.procs.
                if directoryFD >= 0 { close(directoryFD); directoryFD = -1 }
            } else {
                // A v1 cgroup (or the marker) has no kill switch: freeze when a freezer is there, kill, thaw.
                let frozen = method == .cgroup1 && path.map { Containment.write("FROZEN", to: $0 + "/freezer.state") } == true
                for pid in left { kill(pid, SIGKILL) }
                if frozen, let path { _ = Containment.write("THAWED", to: path + "/freezer.state") }
            }
            for pid in left { ChildProcess.reapIfOrphan(pid) }
            if now() >= deadline { break }
            usleep(pause)
            pause = min(pause * 2, 50_000)
        }
        return seen.subtracting(inits).count
    }

    /// Ends every member and removes the cgroup (once; later calls do nothing). A cgroup from a pool
    /// goes back to it instead when nothing was left in it, it was never ended through `cgroup.kill`
    /// (that closed `directoryFD`) and it held no memory figures or cap.
    public func dispose() {
        guard !disposed else { return }
        disposed = true
        killAll()
        if let pool, let path, foundEmpty, memory == nil, procsFD >= 0, directoryFD >= 0,
           pool.give(.init(path: path, procsFD: procsFD, directoryFD: directoryFD)) {
            returned = true
            procsFD = -1
            directoryFD = -1
            return
        }
        if procsFD >= 0 { close(procsFD); procsFD = -1 }
        if directoryFD >= 0 { close(directoryFD); directoryFD = -1 }
        if let path { rmdir(path) }
        memory?.remove()
    }

    // MARK: - Files

    static func cgroupMembers(_ dir: String) -> [Int32] {
        guard let text = try? FileSystem.readText(dir + "/cgroup.procs", limit: 1 << 20) else { return [] }
        return text.split(separator: "\n").compactMap { Int32($0) }
    }

    static func write(_ text: String, to path: String) -> Bool {
        let fd = open(path, O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        return text.withCString { Glibc_write(fd, $0, strlen($0)) } == text.utf8.count
    }

    /// Removes empty task cgroups of dead workers (`w<pid>-…` under mtor/), left by a crash.
    public static func pruneStale() {
        let bases = [Hierarchy.base(for: .cgroup2, create: false), Hierarchy.base(for: .cgroup1, create: false),
                     Hierarchy.base(for: .cgroup1, controller: "memory", create: false)]
        for base in Set(bases.compactMap { $0 }) {
            guard let names = try? FileSystem.list(base) else { continue }
            for name in names where name.hasPrefix("w") {
                let digits = name.dropFirst().prefix { $0.isNumber }
                guard let pid = Int32(digits), pid != getpid(), !ProcessControl.isAlive(pid) else { continue }
                let dir = "\(base)/\(name)"
                if cgroupMembers(dir).isEmpty { rmdir(dir) }
            }
        }
    }
}

// MARK: - Hierarchies

/// Where this process's cgroups are, read from `/proc/self/cgroup` and `/proc/self/mountinfo`.
enum Hierarchy {
    private static let cacheLock = NSLock()
    // nonisolated(unsafe): every access holds `cacheLock`.
    nonisolated(unsafe) private static var cache: [String: String] = [:]

    /// `<mount><own cgroup>/mtor`, created when missing and writable; nil when the method is unusable here.
    /// `controller` picks the v1 hierarchy that has it (default: pids, else freezer, else memory).
    /// A base found once is remembered (mounts and this process's own cgroup do not change under it).
    static func base(for method: Containment.Method, controller: String? = nil, create: Bool = true) -> String? {
        let key = method.rawValue + (controller.map { ":" + $0 } ?? "")
        if let known = cacheLock.withLock({ cache[key] }), case .directory = FileSystem.kind(known) { return known }
        let found = lookUpBase(for: method, controller: controller, create: create)
        if let found { cacheLock.withLock { cache[key] = found } }
        return found
    }

    /// The mount point of the unified hierarchy and this process's own cgroup in it.
    static func unified() -> (mount: String, own: String)? {
        guard let (mount, _) = mountPoint(for: .cgroup2), let own = ownPath(for: .cgroup2, controllers: []) else { return nil }
        return (mount, own)
    }

    private static func lookUpBase(for method: Containment.Method, controller: String?, create: Bool) -> String? {
        #if os(Linux)
        guard method != .marker, let (mount, controllers) = mountPoint(for: method, preferring: controller.map { [$0] } ?? v1Controllers),
              let own = ownPath(for: method, controllers: controllers) else { return nil }
        var base = mount + (own == "/" ? "" : own) + "/mtor"
        while base.contains("//") { base = base.replacingOccurrences(of: "//", with: "/") }
        if case .directory = FileSystem.kind(base) { return access(base, W_OK) == 0 ? base : nil }
        guard create, mkdir(base, 0o755) == 0 || errno == EEXIST else { return nil }
        return base
        #else
        return nil
        #endif
    }

    static let v1Controllers = ["pids", "freezer", "memory"]

    /// The mount point of the unified hierarchy, or of the first v1 hierarchy with one of our
    /// controllers, with that hierarchy's controllers.
    private static func mountPoint(for method: Containment.Method, preferring preferred: [String] = v1Controllers) -> (String, [String])? {
        guard let info = try? FileSystem.readText("/proc/self/mountinfo", limit: 1 << 20) else { return nil }
        var found: [(String, [String])] = []
        for line in info.split(separator: "\n") {
            // "36 25 0:31 / /sys/fs/cgroup/unified rw,… - cgroup2 cgroup2 rw"
            let halves = line.components(separatedBy: " - ")
            guard halves.count == 2 else { continue }
            let left = halves[0].split(separator: " "), right = halves[1].split(separator: " ")
            guard left.count >= 5, let fstype = right.first else { continue }
            let point = String(left[4])
            if method == .cgroup2, fstype == "cgroup2" { return (point, []) }
            if method == .cgroup1, fstype == "cgroup", right.count >= 3 {
                let options = right[2].split(separator: ",").map(String.init)
                if options.contains(where: v1Controllers.contains) { found.append((point, options)) }
            }
        }
        // Prefer pids, then freezer (it can stop a fork loop), then memory.
        for controller in preferred {
            if let hit = found.first(where: { $0.1.contains(controller) }) { return hit }
        }
        return nil
    }

    /// This process's own cgroup in the hierarchy that has `controllers` (the unified one when empty).
    private static func ownPath(for method: Containment.Method, controllers: [String]) -> String? {
        guard let text = try? FileSystem.readText("/proc/self/cgroup", limit: 1 << 16) else { return nil }
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
            guard parts.count == 3 else { continue }
            if method == .cgroup2, parts[0] == "0", parts[1].isEmpty { return String(parts[2]) }
            if method == .cgroup1, !parts[1].isEmpty {
                let mine = parts[1].split(separator: ",").map(String.init)
                if mine.contains(where: { controllers.contains($0) && v1Controllers.contains($0) }) { return String(parts[2]) }
            }
        }
        return nil
    }
}

// MARK: - The process table

/// Facts about other processes, from `/proc`.
public enum ProcessTable {
    /// Every pid on this host.
    public static func all() -> [Int32] {
        ((try? FileSystem.list("/proc")) ?? []).compactMap { Int32($0) }
    }

    /// Processes whose environment holds `name=value`.
    public static func withMarker(_ name: String, _ value: String) -> [Int32] {
        #if os(Linux)
        let needle = Array("\(name)=\(value)".utf8)
        return all().filter { pid in
            guard let bytes = try? FileSystem.read("/proc/\(pid)/environ", limit: 1 << 22) else { return false }
            return bytes.split(separator: 0, omittingEmptySubsequences: true).contains { $0.elementsEqual(needle) }
        }
        #else
        return []
        #endif
    }

    /// Whether `pid` is the init (pid 1) of a PID namespace below ours: its `NSpid` line ends in 1.
    public static func isNamespaceInit(_ pid: Int32) -> Bool {
        guard let text = try? FileSystem.readText("/proc/\(pid)/status", limit: 8192),
              let line = text.split(separator: "\n").first(where: { $0.hasPrefix("NSpid:") }) else { return false }
        let ids = line.dropFirst(6).split(whereSeparator: { $0 == " " || $0 == "\t" })
        return ids.count > 1 && ids.last == "1"
    }

    /// A process's start time in clock ticks since boot (`/proc/PID/stat` field 22): with the boot
    /// id it names one process for good, where a pid alone may be reused.
    public static func startTime(_ pid: Int32) -> UInt64? {
        guard let text = try? FileSystem.readText("/proc/\(pid)/stat", limit: 4096),
              let close = text.lastIndex(of: ")") else { return nil }
        let fields = text[text.index(after: close)...].split(separator: " ")
        // fields[0] is field 3 (state); field 22 is fields[19].
        return fields.count > 19 ? UInt64(fields[19]) : nil
    }

    /// Whether `pid` is a process that still runs (not a zombie waiting to be reaped).
    public static func isRunning(_ pid: Int32) -> Bool {
        guard let text = try? FileSystem.readText("/proc/\(pid)/stat", limit: 4096), let close = text.lastIndex(of: ")") else { return false }
        let state = text[text.index(after: close)...].dropFirst().first
        return state != nil && state != "Z" && state != "X"
    }

    /// The process group of `pid`.
    public static func group(_ pid: Int32) -> Int32? {
        let g = getpgid(pid)
        return g < 0 ? nil : g
    }

    /// This boot's id (`/proc/sys/kernel/random/boot_id`), so a claim from before a reboot is never acted on.
    public static let bootID: String = {
        (try? FileSystem.readText("/proc/sys/kernel/random/boot_id", limit: 256))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
    }()
}
