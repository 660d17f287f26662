#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CMtorShims
import Foundation

/// How a child process ended. A non-zero exit is a result, not an error.
public enum Termination: Equatable, Sendable {
    case exited(Int32)
    case signaled(Int32)

    public var exitCode: Int32? { if case .exited(let c) = self { return c } else { return nil } }
    public var signal: Int32? { if case .signaled(let s) = self { return s } else { return nil } }
    public var succeeded: Bool { self == .exited(0) }
}

/// A process started in its own process group, with an empty signal mask, default signal
/// handlers, stdout/stderr on pipes and every other descriptor closed.
///
/// Every child is registered while it is spawned, under the same lock the orphan reaper takes,
/// so the reaper can never reap a child whose owner will wait for it (issue: a verify's exit
/// taken by the reaper was recorded as -1).
public final class ChildProcess: @unchecked Sendable {  // no lock: its descriptors and `termination` are used by one owning thread at a time; `reapLock` guards `reaped`
    public enum Stream: Sendable { case stdout, stderr }

    public let pid: Int32
    public let executable: String
    /// The task's containment, when the child belongs to one: stopping and reaping cover all of it.
    public let containment: Containment?
    /// The sandbox the child runs in (its exit status is the command's, not bwrap's).
    public let sandbox: Sandbox?
    private var outFD: Int32
    private var errFD: Int32
    private var gateFD: Int32 = -1
    private var reportFD: Int32 = -1
    /// The memory the child runs on until it execs (x86_64 Linux), freed once it has exec'd or been reaped.
    private var region: (pointer: UnsafeMutableRawPointer, size: UInt)?
    private var termination: Termination?
    /// Processes of the containment still running when the leader exited, killed then.
    public private(set) var leftoversKilled = 0
    /// Held while the child is reaped and while it is signalled: once reaped, its pid (and group id)
    /// may be another process's at any moment (pids wrap; after 32,768 on many hosts, which busy
    /// spawning reaches within seconds), so a signal is sent only before.
    private let reapLock = NSLock()
    private var reaped = false

    /// Finds `program` on `searchPath` unless it already contains a slash.
    public static func resolve(_ program: String, searchPath: String) -> String? {
        if program.contains("/") { return access(program, X_OK) == 0 ? program : nil }
        for dir in searchPath.split(separator: ":") where !dir.isEmpty {
            let candidate = "\(dir)/\(program)"
            if isExecutableFile(candidate) { return candidate }
        }
        return nil
    }

    /// Whether `path` is a regular file this process may execute.
    public static func isExecutableFile(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0 && st.st_mode & S_IFMT == S_IFREG && access(path, X_OK) == 0
    }

    /// Starts `argv`. `stdinFD` (read end or file; closed by the caller) becomes the child's stdin,
    /// `/dev/null` when nil. The environment is exactly `environment`, nothing inherited.
    ///
    /// `holdFD` is handed to the child as its fd 3: a lock on that open file (the task's claim) is
    /// then held until every process that inherited it is gone.
    ///
    /// The child joins `containment` before it execs. With `gated`, it waits before exec until
    /// `release()` (so the caller can record it first); if this process dies before that, the
    /// child ends without running anything.
    ///
    /// With `sandbox`, the command runs inside it (through bwrap) and gets SIGKILL when this process dies.
    public init(executable: String, argv: [String], environment: [String: String], directory: String?, stdinFD: Int32? = nil,
                containment: Containment? = nil, gated: Bool = false, holdFD: Int32? = nil, sandbox: Sandbox? = nil) throws(SystemError) {
        self.executable = executable
        self.containment = containment
        self.sandbox = sandbox
        // Inside a sandbox the command starts in `directory` too.
        let (executable, argv) = sandbox.map { box -> (String, [String]) in
            var box = box
            if let directory { box.directory = directory }
            return (box.bwrap, box.wrap(executable: executable, argv: argv))
        } ?? (executable, argv)
        var outPipe: [Int32] = [0, 0], errPipe: [Int32] = [0, 0], gatePipe: [Int32] = [-1, -1]
        // Close-on-exec from birth: another thread's spawn must never inherit these.
        try syscall("pipe") { mtor_pipe_cloexec(&outPipe, 0) }
        do {
            try syscall("pipe") { mtor_pipe_cloexec(&errPipe, 0) }
            if gated { try syscall("pipe") { mtor_pipe_cloexec(&gatePipe, 0) } }
        } catch {
            for fd in outPipe + errPipe + gatePipe where fd >= 0 { close(fd) }
            throw error
        }
        let devNull = stdinFD == nil ? open("/dev/null", O_RDONLY | O_CLOEXEC) : -1
        defer {
            close(outPipe[1]); close(errPipe[1])
            if gatePipe[0] >= 0 { close(gatePipe[0]) }
            if devNull >= 0 { close(devNull) }
        }
        containment?.willStart()
        var withMarker = environment
        if let containment { withMarker.merge(containment.environment) { _, new in new } }
        let envStrings = withMarker.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
        var spawned: pid_t = 0
        var report: Int32 = -1
        var region: UnsafeMutableRawPointer? = nil
        var regionSize: UInt = 0
        let rc = ChildRegistry.shared.spawn { () -> (Int32, Int32) in
            let rc = withCStrings(argv) { cargv in
                withCStrings(envStrings) { cenv in
                    mtor_spawn(executable, cargv, cenv, directory, stdinFD ?? devNull, outPipe[1], errPipe[1],
                               gatePipe[0], containment?.procsFD ?? -1, containment?.directoryFD ?? -1, containment?.memory?.procsFD ?? -1,
                               holdFD ?? -1, sandbox == nil ? 0 : 1, &report, &spawned, &region, &regionSize)
                }
            }
            return (rc, spawned)
        }
        if rc != 0 {
            close(outPipe[0]); close(errPipe[0])
            if gatePipe[1] >= 0 { close(gatePipe[1]) }
            throw SystemError("fork", path: executable, errno: rc)
        }
        pid = spawned
        outFD = outPipe[0]
        errFD = errPipe[0]
        gateFD = gatePipe[1]
        reportFD = report
        self.region = region.map { ($0, regionSize) }
        for fd in [outFD, errFD] { _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) }
        if !gated { try confirmExec() }
    }

    /// Lets a gated child exec. Throws (and reaps it) when the exec failed.
    public func release() throws(SystemError) {
        guard gateFD >= 0 else { return }
        var go: UInt8 = 1
        _ = Glibc_write(gateFD, &go, 1)
        close(gateFD)
        gateFD = -1
        try confirmExec()
    }

    /// Ends a gated child that was never released: it exits without running anything.
    public func abandon() {
        if gateFD >= 0 { close(gateFD); gateFD = -1 }
        if reportFD >= 0 { close(reportFD); reportFD = -1 }
        termination = reap(block: true)
        freeRegion()
        closeStream(outFD)
        closeStream(errFD)
    }

    private func confirmExec() throws(SystemError) {
        let err = mtor_spawn_result(reportFD)
        reportFD = -1
        // EOF: the child has exec'd (its descriptors close after it leaves this memory) or is gone.
        guard err != 0 else { return freeRegion() }
        termination = reap(block: true)
        freeRegion()
        closeStream(outFD)
        closeStream(errFD)
        throw SystemError(err == ENOENT || err == EACCES ? "execve" : "spawn", path: executable, errno: err)
    }

    private func freeRegion() {
        guard let region else { return }
        mtor_spawn_region_free(region.pointer, region.size)
        self.region = nil
    }

    deinit {
        // A child never confirmed may still run on its region: that is left mapped (never reached in practice).
        if termination != nil { freeRegion() }
        if outFD >= 0 { close(outFD) }
        if errFD >= 0 { close(errFD) }
        if gateFD >= 0 { close(gateFD) }
        if reportFD >= 0 { close(reportFD) }
    }

    /// Sends `signal` to the child, or with `group` to its whole process group, unless it has been
    /// reaped (then nothing is sent: the pid may belong to someone else by now). Any thread may call it.
    @discardableResult
    public func signal(_ signal: Int32, group: Bool = false) -> Bool {
        reapLock.withLock {
            guard !reaped else { return false }
            return kill(group ? -pid : pid, signal) == 0
        }
    }

    /// Whether the child has exited and been reaped. Any thread may ask.
    public var isReaped: Bool { reapLock.withLock { reaped } }

    // MARK: - Driving

    /// Reads stdout/stderr as they arrive until the process ends (or `stop` asks it to end).
    ///
    /// `stop` is asked every `tick` seconds; when it answers true the whole process group
    /// gets SIGTERM, then SIGKILL after `grace`. When the leader exits, what is left of its
    /// group is killed and reaped, so no grandchild holding a pipe can hang the caller.
    public func drive(tick: Double = 0.1, grace: Double = 5,
                      onOutput: (Stream, UnsafeRawBufferPointer) -> Void,
                      stop: () -> Bool) -> Termination {
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: 65536, alignment: 8)
        defer { buffer.deallocate() }
        var stopRequestedAt: Double? = nil
        var killed = false
        var leaderGoneAt: Double? = nil
        var idleWaits = 0
        while true {
            let open = [outFD, errFD].filter { $0 >= 0 }
            if open.isEmpty, termination != nil { break }
            let ready = Poll.readable(open, timeout: open.isEmpty ? 0 : (termination == nil ? tick : 0.05))
            for fd in ready {
                let n = read(fd, buffer, 65536)
                if n > 0 {
                    onOutput(fd == outFD ? .stdout : .stderr, UnsafeRawBufferPointer(start: buffer, count: n))
                } else if n == 0 || (errno != EAGAIN && errno != EINTR) {
                    closeStream(fd)
                }
            }
            // Never block in waitpid: a child that closed its pipes may still run past its timeout.
            if termination == nil, mtor_child_exited(pid, 0) != 0 {
                // The leader is a zombie, so the group id is still its own: kill the rest, then reap.
                signal(SIGKILL, group: true)
                termination = reap(block: true)
                leaderGoneAt = now()
                reapGroup()
                // Whatever it started outside its group (setsid, double forks) ends with it.
                leftoversKilled += containment?.killAll() ?? 0
            } else if termination == nil, open.isEmpty {
                idleWaits += 1
                usleep(UInt32(min(tick, 0.0005 * Double(idleWaits)) * 1_000_000))
            }
            if let gone = leaderGoneAt, now() - gone > 2 {
                // A process outside the group (it called setsid) still holds a pipe: stop reading.
                [outFD, errFD].filter { $0 >= 0 }.forEach(closeStream)
            }
            if termination == nil {
                if stopRequestedAt == nil, stop() {
                    stopRequestedAt = now()
                    if sandbox == nil {
                        signal(SIGTERM, group: true)
                        containment?.signalAll(SIGTERM)
                    } else {
                        // bwrap dies on SIGTERM and its namespace's processes with it (--die-with-parent):
                        // the grace period is for the command, so TERM goes to everything but bwrap.
                        containment?.signalAll(SIGTERM, sparingSandboxOf: pid)
                    }
                } else if let asked = stopRequestedAt, !killed, now() - asked >= grace {
                    killed = true
                    signal(SIGKILL, group: true)
                    containment?.signalAll(SIGKILL)
                }
            }
        }
        return termination!
    }

    /// Runs to completion and returns everything it printed (capped), killing it after `timeout`.
    public func capture(timeout: Double, limit: Int = 1 << 20) -> (Termination, stdout: [UInt8], stderr: [UInt8], timedOut: Bool) {
        var out: [UInt8] = [], err: [UInt8] = []
        let deadline = now() + timeout
        var timedOut = false
        let t = drive(grace: 2, onOutput: { stream, bytes in
            if stream == .stdout { if out.count < limit { out.append(contentsOf: bytes.prefix(limit - out.count)) } }
            else if err.count < limit { err.append(contentsOf: bytes.prefix(limit - err.count)) }
        }, stop: {
            if now() >= deadline { timedOut = true }
            return timedOut
        })
        return (t, out, err, timedOut)
    }

    /// Runs `argv` with `environment` and captures its output: the one-call form for git, verify and `--version`.
    public static func run(_ argv: [String], environment: [String: String], directory: String? = nil, stdin: [UInt8]? = nil,
                           timeout: Double = 60, containment: Containment? = nil, sandbox: Sandbox? = nil) throws(SystemError) -> (Termination, stdout: [UInt8], stderr: [UInt8], timedOut: Bool) {
        guard let exe = resolve(argv[0], searchPath: environment["PATH"] ?? "/usr/bin:/bin") else {
            throw SystemError("posix_spawn", path: argv[0], errno: ENOENT)
        }
        var inputFD: Int32? = nil
        if let stdin {
            inputFD = try PrivateFile.readable(bytes: stdin)
        }
        defer { if let inputFD { close(inputFD) } }
        let child = try ChildProcess(executable: exe, argv: argv, environment: environment, directory: directory, stdinFD: inputFD,
                                     containment: containment, sandbox: sandbox)
        return child.capture(timeout: timeout)
    }

    // MARK: - Reaping

    private func reap(block: Bool) -> Termination? {
        if let termination { return termination }
        var status: Int32 = 0
        while true {
            // Waits (when blocking) without reaping, so `reapLock` is never held across a wait.
            let exited = mtor_child_exited(pid, block ? 1 : 0)
            if exited == 0 { return nil }
            let r: Int32 = reapLock.withLock {
                var r: Int32
                repeat { r = waitpid(pid, &status, WNOHANG) } while r < 0 && errno == EINTR
                if r != 0 { reaped = true }
                return r
            }
            if r == pid { break }
            if r == 0 { continue }
            // Only this object waits for its pid (the registry keeps the reaper away), so this is a bug.
            ChildRegistry.shared.remove(pid)
            return .exited(-1)
        }
        ChildRegistry.shared.remove(pid)
        if mtor_wifsignaled(status) != 0 { return .signaled(mtor_wtermsig(status)) }
        let exited = Termination.exited(mtor_wexitstatus(status))
        return sandbox == nil ? exited : Sandbox.unwrap(exited)
    }

    /// Reaps exited children that no `ChildProcess` waits for: the orphans a subreaper inherits.
    public static func reapOrphans() {
        ChildRegistry.shared.reapOrphans()
    }

    /// Reaps `pid` if it is an exited child no `ChildProcess` owns.
    public static func reapIfOrphan(_ pid: Int32) {
        ChildRegistry.shared.reapIfOrphan(pid)
    }

    /// Reaps every member of the process group that became our child (we are a subreaper).
    private func reapGroup() {
        var status: Int32 = 0
        while true {
            let r = waitpid(-pid, &status, 0)
            if r > 0 { continue }
            if r < 0 && errno == EINTR { continue }
            break
        }
    }

    private func closeStream(_ fd: Int32) {
        guard fd >= 0 else { return }
        close(fd)
        if fd == outFD { outFD = -1 }
        if fd == errFD { errFD = -1 }
    }
}

/// The pids `ChildProcess` objects will reap themselves. Spawning and orphan reaping both hold
/// its lock, so a child is registered before the reaper can ever see it.
final class ChildRegistry: @unchecked Sendable {  // `lock` guards `pids`
    static let shared = ChildRegistry()
    private let lock = NSLock()
    private var pids: Set<Int32> = []

    func spawn(_ body: () -> (rc: Int32, pid: Int32)) -> Int32 {
        lock.lock()
        defer { lock.unlock() }
        let (rc, pid) = body()
        if rc == 0 { pids.insert(pid) }
        return rc
    }

    func remove(_ pid: Int32) { lock.withLock { _ = pids.remove(pid) } }

    func reapOrphans() {
        #if canImport(Glibc)
        lock.lock()
        defer { lock.unlock() }
        while true {
            var info = siginfo_t()
            guard waitid(P_ALL, 0, &info, WEXITED | WNOHANG | WNOWAIT) == 0 else { return }
            let pid = info._sifields._sigchld.si_pid
            // The first waitable child is one an owner will reap: leave it (and look again next turn).
            if pid == 0 || pids.contains(pid) { return }
            var status: Int32 = 0
            _ = waitpid(pid, &status, WNOHANG)
        }
        #endif
    }

    func reapIfOrphan(_ pid: Int32) {
        lock.withLock {
            guard !pids.contains(pid) else { return }
            var status: Int32 = 0
            _ = waitpid(pid, &status, WNOHANG)
        }
    }
}

/// Monotonic seconds.
public func now() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

/// Files no other user can read, for prompts.
public enum PrivateFile {
    /// A read-only descriptor on an already-unlinked file holding `bytes`: on Linux a sealed
    /// memfd, no file on any disk (a file made and deleted per task makes ext4 without a journal
    /// scan every recently deleted inode at each later file creation); elsewhere a file in `directory`.
    public static func readable(bytes: [UInt8], directory: String = NSTemporaryDirectory()) throws(SystemError) -> Int32 {
        #if os(Linux)
        let fd = bytes.withUnsafeBytes { mtor_sealed_memfd($0.baseAddress, UInt($0.count)) }
        if fd >= 0 { return fd }
        #endif
        let path = try create(bytes: bytes, directory: directory, name: "mtor-prompt")
        defer { unlink(path) }
        return try FileSystem.openSpoolFile(path, O_RDONLY)
    }

    /// Creates a 0600 file holding `bytes` under a fresh 0700 directory; returns its path.
    public static func create(bytes: [UInt8], directory: String, name: String) throws(SystemError) -> String {
        let path = "\(directory)/.\(name).\(ProcessControl.pid).\(UInt64.random(in: 0...UInt64.max))"
        let fd = try syscall("open", path: path) { open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0o600) }
        defer { close(fd) }
        try FileSystem.writeAll(fd, bytes, path: path)
        return path
    }
}

private func withCStrings<R>(_ strings: [String], _ body: (UnsafePointer<UnsafeMutablePointer<CChar>?>) -> R) -> R {
    var pointers: [UnsafeMutablePointer<CChar>?] = strings.map { strdup($0) }
    pointers.append(nil)
    defer { pointers.forEach { free($0) } }
    return pointers.withUnsafeBufferPointer { body($0.baseAddress!) }
}
