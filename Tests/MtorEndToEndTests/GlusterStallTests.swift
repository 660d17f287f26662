import Foundation
import Testing
import MtorCore
import MtorPlatform

/// A stuck filesystem is news, not a freeze: one brick's server stopped (SIGSTOP) for 20 s
/// under a running distributed volume, then continued.
extension GlusterSpoolTests {
    /// Every thread of `pid` with its kernel wait channel and stack: what a frozen worker waits on.
    static func threadDump(_ pid: Int32) -> String {
        let dir = "/proc/\(pid)/task"
        let tids = (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []
        return tids.sorted().map { tid in
            let comm = ((try? String(contentsOfFile: "\(dir)/\(tid)/comm", encoding: .utf8)) ?? "?").trimmingCharacters(in: .whitespacesAndNewlines)
            let wchan = (try? String(contentsOfFile: "\(dir)/\(tid)/wchan", encoding: .utf8)) ?? "?"
            let stack = (try? String(contentsOfFile: "\(dir)/\(tid)/stack", encoding: .utf8)) ?? ""
            let syscall = (try? String(contentsOfFile: "\(dir)/\(tid)/syscall", encoding: .utf8)) ?? ""
            return "  \(tid) \(comm) wchan=\(wchan) syscall=\(syscall.prefix(60))\n\(stack.split(separator: "\n").prefix(8).map { "      \($0)" }.joined(separator: "\n"))"
        }.joined(separator: "\n")
    }

    @Test("a brick's server stopped for 20 s (SIGSTOP) and continued: heartbeats go on, status names the stuck path, every spec runs once", .timeLimit(.minutes(10)))
    func brickStoppedAndContinued() throws {
        let cluster = try Self.volume(bricks: 3)
        defer { cluster.shutdown() }
        let w = try World("stop", on: cluster)
        defer { w.stop() }
        // Each host's worker reports to a socket of its own, as systemd's would, with a watchdog of 2 s.
        var listeners: [String: NotifyListener] = [:]
        for name in ["sA", "sB", "sC"] {
            let listener = try NotifyListener(abstract: true)
            listeners[name] = listener
            try w.startHosts([name], environment: ["NOTIFY_SOCKET": listener.address, "WATCHDOG_USEC": "2000000"])
        }
        let ids = (0..<150).map { String(format: "s%03d", $0) }
        var stopped: Int32?
        defer { if let pid = stopped { kill(pid, SIGCONT) } }
        var status: (code: Int32, out: String, seconds: Double)?
        let (elapsed, _) = try Self.run(w, ids, sleep: "0.2", timeout: 240) {
            let until = Date().addingTimeInterval(200)
            while w.names("spool/done").filter({ $0.hasSuffix(".result.json") }).count < 30, Date() < until { Thread.sleep(forTimeInterval: 0.3) }
            let pid = try #require(try cluster.brickPids()[cluster.bricks[1]])
            for listener in listeners.values { listener.drain() }
            kill(pid, SIGSTOP)
            stopped = pid
            // While it is stopped: every worker's heartbeat, and what `status` says (from the test's own client).
            let group = DispatchGroup()
            for listener in listeners.values {
                DispatchQueue.global().async(group: group) { listener.collect(for: 20) }
            }
            Thread.sleep(forTimeInterval: 7)
            let began = now()
            let r = try w.sandbox.mtor(["status", "--spool", w.spool])
            status = (r.code, r.out + r.err, now() - began)
            group.wait()
            kill(pid, SIGCONT)
            stopped = nil
            // Diagnosis if they freeze: every worker's threads, when not done 90 s later.
            if !w.waitFinished(ids, timeout: 90) {
                for host in w.hosts {
                    if let worker = host.worker { print("\(host.name) worker \(worker.pid):\n\(Self.threadDump(worker.pid))") }
                }
            }
        }
        // The heartbeat went on through the stop: systemd's watchdog would not have killed a worker.
        for (name, listener) in listeners.sorted(by: { $0.key < $1.key }) {
            let pings = listener.messages.filter { $0.text.contains("WATCHDOG=1") }.map(\.t)
            let gaps = zip(pings.dropFirst(), pings).map { $0 - $1 }
            #expect(pings.count >= 5 && (gaps.max() ?? 0) < 8, "\(name): \(pings.count) watchdog pings in the 20 s the brick was stopped, longest gap \(gaps.max() ?? 0) s")
        }
        let said = listeners.values.flatMap { $0.messages.map(\.text) }.filter { $0.contains("spool I/O stuck for") }
        #expect(!said.isEmpty, "a worker's STATUS= said the spool was stuck: \(listeners.mapValues { $0.messages.suffix(3).map(\.text) })")
        #expect(said.allSatisfy { $0.contains(w.spool + "/") }, "STATUS= names a path in the spool: \(said.prefix(3))")
        // status did not hang: it named the stuck path and exited 3 (an environment problem).
        let s = try #require(status)
        #expect(s.code == 3 && s.out.contains("spool I/O stuck for") && s.out.contains(w.spool), "status during the stop: exit \(s.code) after \(s.seconds) s: \(s.out)")
        #expect(s.seconds < 15, "status gave up within its 5 s limit plus slack: \(s.seconds) s")
        // After the stop, status answers again.
        let after = try w.sandbox.mtor(["status", "--spool", w.spool])
        #expect(after.code == 0 && after.out.contains("workers: 3 alive of 3"), "status after SIGCONT: \(after.out)\(after.err)")
        print("GlusterFS distributed, a brick stopped for 20 s: \(ids.count) specs in \(String(format: "%.1f", elapsed)) s; status during the stop exited \(s.code) after \(String(format: "%.1f", s.seconds)) s; watchdog pings \(listeners.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value.messages.filter { $0.text.contains("WATCHDOG=1") }.count)" }.joined(separator: ", "))")
    }
}
