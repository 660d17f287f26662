#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CMtorShims

/// Signals delivered as readable data on a descriptor, so a `poll` loop handles them.
public final class SignalReceiver: Sendable {
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

    /// Ignores SIGIO, whose default action ends the process: `FileSystem.writeExchanging` probes a
    /// spare file with a lease for an instant, and an open of that file meanwhile (a backup tool
    /// walking tmp/) would otherwise kill the worker. Children get every disposition back at default.
    public static func ignoreLeaseBreaks() {
        #if os(Linux)
        signal(SIGIO, SIG_IGN)
        #endif
    }

    /// This process's id, asked of the kernel once (glibc's getpid is a system call each time, and
    /// log lines, temp names and ledger lines name it many times a task). No Swift code of mtor runs
    /// in a forked child: its children exec from C (`mtor_spawn`).
    public static let pid: Int32 = getpid()

    /// Lowers the calling thread's scheduling priority to `nice` (Linux keeps it per thread, and the
    /// processes the thread spawns inherit it); the corresponding C function is `setpriority(2)`.
    @discardableResult
    public static func lowerThreadPriority(nice: Int32) -> Bool {
        setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, nice) == 0
    }

    /// Whether a process exists and is not on its way out (`kill(pid, 0)`). Where `/proc` can tell,
    /// a process that is dying counts as gone: a zombie (dead, not yet reaped by its parent), one
    /// already in its exit (`PF_EXITING`), or one with a SIGKILL pending that it has not yet taken.
    /// A worker restarted the instant its predecessor was killed then recovers its task at once
    /// instead of leaving it to a worker that can no longer run anything.
    public static func isAlive(_ pid: Int32) -> Bool {
        guard kill(pid, 0) == 0 || errno == EPERM else { return false }
        guard let text = try? FileSystem.readText("/proc/\(pid)/stat", limit: 4096), let close = text.lastIndex(of: ")") else { return true }
        // After the command: state ppid pgrp session tty_nr tpgid flags …
        let fields = text[text.index(after: close)...].split(separator: " ")
        guard let state = fields.first else { return true }
        if state == "Z" || state == "X" { return false }
        let exiting: UInt64 = 0x4
        if fields.count > 6, let flags = UInt64(fields[6]), flags & exiting != 0 { return false }
        return !killPending(pid)
    }

    /// Whether SIGKILL is pending for the whole process (`ShdPnd` in `/proc/<pid>/status`).
    static func killPending(_ pid: Int32) -> Bool {
        guard let status = try? FileSystem.readText("/proc/\(pid)/status", limit: 16384),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("ShdPnd:") }),
              let mask = UInt64(line.dropFirst("ShdPnd:".count).trimmingCharacters(in: .whitespaces), radix: 16) else { return false }
        return mask & (1 << (UInt64(SIGKILL) - 1)) != 0
    }

    /// Whether any process is left in process group `pgid`.
    public static func groupExists(_ pgid: Int32) -> Bool {
        kill(-pgid, 0) == 0 || errno == EPERM
    }

    /// The process group a signal handler forwards a stop to (0: none). It is a C11 atomic
    /// (`mtor_forward_group_load`), so a handler reads it safely at any moment.
    public static var forwardGroup: Int32 {
        get { mtor_forward_group_load() }
        set { mtor_forward_group_store(newValue) }
    }

    /// Sends `signal` to every process of group `pgid`.
    public static func signalGroup(_ pgid: Int32, _ signal: Int32) {
        _ = kill(-pgid, signal)
    }
}
