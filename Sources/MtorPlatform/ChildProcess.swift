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

/// A process spawned with `posix_spawn` in its own process group, with an empty signal
/// mask, default signal handlers, stdout/stderr on pipes and every other descriptor closed.
public final class ChildProcess: @unchecked Sendable {
    public enum Stream: Sendable { case stdout, stderr }

    public let pid: Int32
    public let executable: String
    private var outFD: Int32
    private var errFD: Int32
    private var termination: Termination?

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

    /// Spawns `argv`. `stdinFD` (read end or file; closed by the caller) becomes the child's stdin,
    /// `/dev/null` when nil. The environment is exactly `environment`, nothing inherited.
    public init(executable: String, argv: [String], environment: [String: String], directory: String?, stdinFD: Int32? = nil) throws(SystemError) {
        self.executable = executable
        var outPipe: [Int32] = [0, 0], errPipe: [Int32] = [0, 0]
        // Close-on-exec from birth: another thread's spawn must never inherit these.
        try syscall("pipe") { mtor_pipe_cloexec(&outPipe, 0) }
        do {
            try syscall("pipe") { mtor_pipe_cloexec(&errPipe, 0) }
        } catch {
            close(outPipe[0]); close(outPipe[1])
            throw error
        }
        let devNull = stdinFD == nil ? open("/dev/null", O_RDONLY | O_CLOEXEC) : -1
        defer {
            close(outPipe[1]); close(errPipe[1])
            if devNull >= 0 { close(devNull) }
        }
        let envStrings = environment.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
        var spawned: pid_t = 0
        let rc = withCStrings(argv) { cargv in
            withCStrings(envStrings) { cenv in
                mtor_spawn(executable, cargv, cenv, directory, stdinFD ?? devNull, outPipe[1], errPipe[1], &spawned)
            }
        }
        if rc != 0 {
            close(outPipe[0]); close(errPipe[0])
            throw SystemError("posix_spawn", path: executable, errno: rc)
        }
        pid = spawned
        outFD = outPipe[0]
        errFD = errPipe[0]
        for fd in [outFD, errFD] { _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) }
    }

    deinit {
        if outFD >= 0 { close(outFD) }
        if errFD >= 0 { close(errFD) }
    }

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
            if termination == nil, let t = reap(block: false) {
                termination = t
                leaderGoneAt = now()
                ProcessControl.signalGroup(pid, SIGKILL)
                reapGroup()
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
                    ProcessControl.signalGroup(pid, SIGTERM)
                } else if let asked = stopRequestedAt, !killed, now() - asked >= grace {
                    killed = true
                    ProcessControl.signalGroup(pid, SIGKILL)
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
                           timeout: Double = 60) throws(SystemError) -> (Termination, stdout: [UInt8], stderr: [UInt8], timedOut: Bool) {
        guard let exe = resolve(argv[0], searchPath: environment["PATH"] ?? "/usr/bin:/bin") else {
            throw SystemError("posix_spawn", path: argv[0], errno: ENOENT)
        }
        var inputFD: Int32? = nil
        if let stdin {
            inputFD = try PrivateFile.readable(bytes: stdin)
        }
        defer { if let inputFD { close(inputFD) } }
        let child = try ChildProcess(executable: exe, argv: argv, environment: environment, directory: directory, stdinFD: inputFD)
        return child.capture(timeout: timeout)
    }

    // MARK: - Reaping

    private func reap(block: Bool) -> Termination? {
        var status: Int32 = 0
        while true {
            let r = waitpid(pid, &status, block ? 0 : WNOHANG)
            if r == pid { break }
            if r == 0 { return nil }
            if errno == EINTR { continue }
            return .exited(-1)
        }
        if mtor_wifsignaled(status) != 0 { return .signaled(mtor_wtermsig(status)) }
        return .exited(mtor_wexitstatus(status))
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
        close(fd)
        if fd == outFD { outFD = -1 }
        if fd == errFD { errFD = -1 }
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
    /// A read-only descriptor on an already-unlinked file holding `bytes`.
    public static func readable(bytes: [UInt8], directory: String = NSTemporaryDirectory()) throws(SystemError) -> Int32 {
        let path = try create(bytes: bytes, directory: directory, name: "mtor-prompt")
        defer { unlink(path) }
        return try syscall("open", path: path) { open(path, O_RDONLY | O_CLOEXEC) }
    }

    /// Creates a 0600 file holding `bytes` under a fresh 0700 directory; returns its path.
    public static func create(bytes: [UInt8], directory: String, name: String) throws(SystemError) -> String {
        let path = "\(directory)/.\(name).\(getpid()).\(UInt64.random(in: 0...UInt64.max))"
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
