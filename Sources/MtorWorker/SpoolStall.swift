import Foundation
import MtorCore
import MtorPlatform

/// A stuck filesystem is news, not a freeze.
///
/// On a network filesystem a spool call can block for as long as a server does not answer (a
/// GlusterFS brick stopped, a partition within `network.ping-timeout`). The loop says which spool
/// path it is working on (`around`); a watch thread of its own, which touches no spool file it
/// could block on, notices when one call has not returned for `threshold` seconds and tells it
/// every few seconds: on stderr (the journal) and in systemd's `STATUS=` ("spool I/O stuck for 23 s
/// on /srv/mtor/spool/inbox"). It writes nothing to the spool: a second writer renaming onto the
/// worker's state file while the loop's own rename waits is the very pattern that deadlocks
/// GlusterFS's DHT; `status` learns of it afterwards, from the warning the loop keeps ("spool I/O
/// was stuck for N s on PATH"). systemd's watchdog keeps being pinged while the loop is only
/// waiting on the filesystem. No
/// spec is claimed while the loop is stuck (claims happen on the loop); when the call returns the
/// loop goes on by itself. A SIGTERM that arrives meanwhile stops the worker after its grace
/// period even if the call never returns: the process exits as after a crash (agents die with
/// their sandbox, claims are recovered once their locks are free).
final class SpoolStall: @unchecked Sendable {  // `lock` guards every var
    private let lock = NSLock()
    private var path: String?
    private var since = 0.0
    /// A call that was stuck and has returned: path and seconds, until the loop takes it.
    private var returned: (path: String, seconds: Double)?
    /// When a stop signal was first seen: read by the loop, or pending while it was stuck.
    private var stopSeenAt: Double?

    let threshold: Double

    init(threshold: Double = 5) { self.threshold = threshold }

    /// Runs `body`, a spool operation on `path`, on the loop.
    func around<T>(_ path: String, _ body: () throws -> T) rethrows -> T {
        lock.withLock { self.path = path; since = now() }
        defer {
            lock.withLock {
                let took = now() - since
                if took >= threshold { returned = (path, took) }
                self.path = nil
            }
        }
        return try body()
    }

    /// A stuck call that has since returned, once: the loop keeps it among its warnings.
    func takeReturned() -> (path: String, seconds: Double)? {
        lock.withLock {
            defer { returned = nil }
            return returned
        }
    }

    /// The loop read SIGTERM or SIGINT: the grace period runs from now, stuck or not.
    func stopRequested() { lock.withLock { if stopSeenAt == nil { stopSeenAt = now() } } }

    /// The path the loop has been stuck on and for how long, when over the threshold: the very
    /// call that waits (`IOWatch`) when the watch knows it, else what the loop was working on.
    func stuck(at t: Double = now()) -> (path: String, seconds: Double)? {
        let phase: (path: String, seconds: Double)? = lock.withLock {
            guard let path, t - since >= threshold else { return nil }
            return (path, t - since)
        }
        guard let phase else { return nil }
        return IOWatch.oldest(over: threshold).map { ($0.path, max($0.seconds, phase.seconds)) } ?? phase
    }

    /// The sentence `status`, the log and systemd show.
    static func sentence(_ path: String, _ seconds: Double) -> String {
        "spool I/O stuck for \(Int(seconds)) s on \(path); no task is claimed until it returns"
    }

    /// Starts the watch thread (and the record of calls in flight it names the stuck one from).
    func watch(logger: Logger, notifySocket: String?, watchdogInterval: Double?, grace: Double) {
        IOWatch.enable()
        let thread = Thread { [self] in
            var lastLog = -Double.infinity
            var wasStuck = false
            while true {
                Thread.sleep(forTimeInterval: 1)
                let t = now()
                guard let (path, seconds) = stuck(at: t) else {
                    if wasStuck {
                        logger.info("spool I/O returned; the worker goes on")
                        wasStuck = false
                    }
                    continue
                }
                wasStuck = true
                let line = SpoolStall.sentence(path, seconds)
                if let socket = notifySocket {
                    Datagram.send("STATUS=\(line)" + (watchdogInterval == nil ? "" : "\nWATCHDOG=1"), to: socket)
                }
                if t - lastLog >= 5 {
                    lastLog = t
                    logger.warn(line)
                }
                if SpoolStall.stopPending() { stopRequested() }
                if let seen = lock.withLock({ stopSeenAt }) {
                    if t - seen >= grace {
                        logger.warn("stop signal while \(line): exiting after the \(Int(grace)) s grace period; claims are recovered once their locks are free")
                        _exit(0)
                    }
                }
            }
        }
        thread.name = "mtor-spool-stall"
        thread.start()
    }

    /// Whether SIGTERM or SIGINT waits, unread, for the loop (signals are blocked and read through a signalfd).
    static func stopPending() -> Bool {
        var set = sigset_t()
        sigemptyset(&set)
        guard sigpending(&set) == 0 else { return false }
        return sigismember(&set, SIGTERM) == 1 || sigismember(&set, SIGINT) == 1
    }
}
