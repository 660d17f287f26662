#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CMtorShims

/// Signals delivered as readable data on a descriptor, so a `poll` loop handles them.
public final class SignalReceiver: @unchecked Sendable {
    public let fd: Int32

    /// Blocks `signals` in this thread (call before starting other threads, so they inherit
    /// the mask) and opens a `signalfd(2)` for them. Children get an empty mask at spawn.
    public init(_ signals: [Int32]) throws(SystemError) {
        fd = try syscall("signalfd") { (signals + [0]).withUnsafeBufferPointer { mtor_signalfd($0.baseAddress) } }
    }

    deinit { close(fd) }

    /// Signals received since the last call.
    public func pending() -> [Int32] {
        var out: [Int32] = []
        while true {
            let s = mtor_signalfd_read(fd)
            if s <= 0 { break }
            out.append(Int32(s))
        }
        return out
    }
}

/// Process-wide settings for a process that supervises children.
public enum ProcessControl {
    /// Makes this process the reaper of orphaned descendants (`prctl(PR_SET_CHILD_SUBREAPER)`).
    public static func becomeSubreaper() {
        _ = mtor_set_child_subreaper()
    }

    public static var pid: Int32 { getpid() }

    /// Whether a process exists and has not exited (`kill(pid, 0)`; a zombie, dead but not yet
    /// reaped by its parent, is not alive: where `/proc` says so, it counts as gone).
    public static func isAlive(_ pid: Int32) -> Bool {
        guard kill(pid, 0) == 0 || errno == EPERM else { return false }
        guard let text = try? FileSystem.readText("/proc/\(pid)/stat", limit: 4096), let close = text.lastIndex(of: ")") else { return true }
        let state = text[text.index(after: close)...].dropFirst().first
        return state != "Z" && state != "X"
    }

    /// Whether any process is left in process group `pgid`.
    public static func groupExists(_ pgid: Int32) -> Bool {
        kill(-pgid, 0) == 0 || errno == EPERM
    }

    /// Sends `signal` to every process of group `pgid`.
    public static func signalGroup(_ pgid: Int32, _ signal: Int32) {
        _ = kill(-pgid, signal)
    }
}
