import Foundation
import MtorPlatform

/// Watches one spool from outside with inotify and stamps, on the bench's monotonic clock,
/// when each harness started (its mark appeared) and when each spec reached done/ or failed/.
final class Probe: @unchecked Sendable {  // `condition` (an NSCondition) guards every `var`
    /// When a spec reached done/ or failed/.
    struct Finish {
        var time: Double
        var succeeded: Bool
    }

    private let spool: BenchSpool
    private let inotify: Inotify
    private let wake: WakePipe
    private let condition = NSCondition()
    private var started: [String: Double] = [:]
    private var finished: [String: Finish] = [:]
    private var stopping = false
    private var readerDone = false
    private(set) var overflows = 0
    /// How many specs reached done/ or failed/, and when the latest did.
    private var finishedTotal = 0
    private var failedTotal = 0
    private var lastFinish = 0.0

    init(_ spool: BenchSpool) throws(BenchError) {
        self.spool = spool
        do {
            inotify = try Inotify()
            wake = try WakePipe()
            for dir in [spool.marks, spool.done, spool.failed] { try inotify.watch(dir) }
        } catch {
            throw .setup("cannot watch \(spool.root): \(error)")
        }
        let thread = Thread { [self] in readLoop() }
        thread.stackSize = 1 << 20
        thread.start()
    }

    /// Stops the reader thread.
    func stop() {
        condition.withLock { stopping = true }
        wake.wake()
        condition.withLock { while !readerDone { condition.wait() } }
    }

    // MARK: - Reading

    private func readLoop() {
        while true {
            let ready = Poll.readable([inotify.fd, wake.readFD], timeout: 1)
            let t = now()
            let events = ready.contains(inotify.fd) ? inotify.read() : []
            condition.lock()
            if stopping {
                readerDone = true
                condition.broadcast()
                condition.unlock()
                return
            }
            for event in events {
                if event.overflow {
                    overflows += 1
                    recount(at: t)
                } else if event.directory == spool.marks {
                    if started[event.name] == nil { started[event.name] = t }
                } else if event.name.hasSuffix(".md") {
                    noteFinish(String(event.name.dropLast(3)), at: t, succeeded: event.directory == spool.done)
                }
            }
            if !events.isEmpty { condition.broadcast() }
            condition.unlock()
        }
    }

    private func noteFinish(_ id: String, at t: Double, succeeded: Bool) {
        guard finished[id] == nil else { return }
        finished[id] = Finish(time: t, succeeded: succeeded)
        finishedTotal += 1
        if !succeeded { failedTotal += 1 }
        lastFinish = max(lastFinish, t)
    }

    /// After an inotify overflow: whatever is on disk now counts as seen now.
    private func recount(at t: Double) {
        for name in (try? FileSystem.list(spool.marks)) ?? [] where started[name] == nil { started[name] = t }
        for (dir, ok) in [(spool.done, true), (spool.failed, false)] {
            for name in (try? FileSystem.list(dir)) ?? [] where name.hasSuffix(".md") { noteFinish(String(name.dropLast(3)), at: t, succeeded: ok) }
        }
    }

    // MARK: - Waiting

    /// When the harness for `id` started, waiting up to `timeout` seconds for it.
    func waitStarted(_ id: String, timeout: Double) -> Double? {
        wait(timeout) { started[id] }
    }

    func waitFinished(_ id: String, timeout: Double) -> Finish? {
        wait(timeout) { finished[id] }
    }

    /// Waits until `count` specs in all have finished; returns when the last of them did.
    func waitFinishedTotal(_ count: Int, timeout: Double) -> Double? {
        wait(timeout) { finishedTotal >= count ? lastFinish : nil }
    }

    var counts: (finished: Int, failed: Int) { condition.withLock { (finishedTotal, failedTotal) } }

    /// For a run that fell short: which of `ids` never finished, and where each lies now.
    func shortfall(_ ids: [String]) -> String {
        let missing = condition.withLock { ids.filter { finished[$0] == nil } }
        guard !missing.isEmpty else { return "" }
        let places = missing.prefix(5).map { id -> String in
            let dirs = ["inbox", "claimed", "done", "failed", "tmp"].filter { FileSystem.exists("\(spool.root)/\($0)/\(id).md") }
            return "\(id) in \(dirs.isEmpty ? "no spool directory" : dirs.joined(separator: ", "))"
        }
        return "; not finished: \(places.joined(separator: "; "))\(missing.count > 5 ? " and \(missing.count - 5) more" : "")"
    }

    private func wait<T>(_ timeout: Double, _ check: () -> T?) -> T? {
        let deadline = Date().addingTimeInterval(timeout)
        condition.lock()
        defer { condition.unlock() }
        while true {
            if let value = check() { return value }
            if readerDone || !condition.wait(until: deadline) { return check() }
        }
    }
}
