import Foundation
import Testing
import MtorCore
import MtorPlatform

/// A datagram socket the test binds itself, standing in for systemd's `$NOTIFY_SOCKET`.
final class NotifyListener: @unchecked Sendable {  // one thread at a time: a collecting thread is joined before anyone reads `messages`
    let fd: Int32
    /// The value for `NOTIFY_SOCKET`: a path, or `@name` for the abstract namespace.
    let address: String
    private(set) var messages: [(t: Double, text: String)] = []

    init(abstract: Bool) throws {
        fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw SandboxError("socket failed") }
        let name = abstract ? "@mtor-notify-\(UUID().uuidString.prefix(8))" : NSTemporaryDirectory() + "mtor-notify-\(UUID().uuidString.prefix(8)).sock"
        address = name
        var sa = sockaddr_un()
        sa.sun_family = sa_family_t(AF_UNIX)
        var bytes = Array(name.utf8)
        if abstract { bytes[0] = 0 }
        withUnsafeMutableBytes(of: &sa.sun_path) { raw in for (i, b) in bytes.enumerated() { raw[i] = b } }
        let length = socklen_t(MemoryLayout<sa_family_t>.size + bytes.count + (abstract ? 0 : 1))
        let rc = withUnsafePointer(to: &sa) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
        guard rc == 0 else { throw SandboxError("bind \(name) failed: errno \(errno)") }
    }

    deinit {
        close(fd)
        if !address.hasPrefix("@") { unlink(address) }
    }

    /// Collects what arrives for `seconds`.
    func collect(for seconds: Double) {
        let end = now() + seconds
        var buffer = [UInt8](repeating: 0, count: 4096)
        while now() < end {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
            if n > 0 {
                messages.append((now(), String(decoding: buffer[0..<n], as: UTF8.self)))
            } else {
                usleep(10_000)
            }
        }
    }

    /// Discards what arrived so far.
    func drain() {
        var buffer = [UInt8](repeating: 0, count: 4096)
        while buffer.withUnsafeMutableBytes({ recv(fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }) > 0 {}
        messages = []
    }

    func count(_ prefix: String, after: Double = 0) -> Int {
        messages.filter { $0.t >= after && $0.text.split(separator: "\n").contains { $0.hasPrefix(prefix) } }.count
    }
}

@Suite("systemd knows the worker's health", .serialized)
struct SdNotifyTests {
    @Test("READY after start, STATUS lines, WATCHDOG at half of WATCHDOG_USEC that stop while the main loop is blocked, STOPPING on SIGTERM",
          .timeLimit(.minutes(10)), arguments: [false, true])
    func notifyExchange(abstract: Bool) throws {
        let s = try Sandbox("notify")
        s.lockfile(Lockfiles.make([]))
        let listener = try NotifyListener(abstract: abstract)
        let block = s.root + "/block-loop"
        let worker = try BackgroundWorker(s, env: ["NOTIFY_SOCKET": listener.address, "WATCHDOG_USEC": "1000000", "MTOR_TEST_BLOCK_LOOP_FILE": block])
        defer { worker.stop() }
        listener.collect(for: 3)
        #expect(listener.count("READY=1") == 1, "\(listener.messages.map(\.text))")
        #expect(listener.messages.first { $0.text.contains("READY=1") }?.text.contains("STATUS=0 running, 0 queued") == true)
        let pings = listener.count("WATCHDOG=1")
        #expect(pings >= 2 && pings <= 12, "about 2 pings a second at WATCHDOG_USEC=1s, never a flood: \(pings) in 3 s")

        // A spec changes the summary line.
        try s.submit("one.md", "---\nrepo: ~/code/widget\n---\nsleep 1\n")
        listener.collect(for: 2)
        #expect(listener.messages.contains { $0.text.contains("STATUS=1 running") }, "\(listener.messages.suffix(6).map(\.text))")

        // The main loop blocked on purpose: no ping while it is stuck.
        writeFixture(block, Data())
        let blockedAt = now()
        listener.collect(for: 3)
        #expect(listener.count("WATCHDOG=1", after: blockedAt + 0.6) == 0, "pings went on while the loop was blocked")
        try FileManager.default.removeItem(atPath: block)
        let freedAt = now()
        listener.collect(for: 2)
        #expect(listener.count("WATCHDOG=1", after: freedAt) >= 2, "pings resume when the loop turns again")

        worker.child.signal(SIGTERM)
        listener.collect(for: 2)
        #expect(listener.count("STOPPING=1") == 1)
    }

    /// The freeze GlusterFS's SIGSTOP test found: a receiver that stopped reading filled its queue
    /// (`net.unix.max_dgram_qlen`, 10), and every worker then waited in `sendto` for ever.
    @Test("a notify socket nobody reads never stops the worker: 12 specs run at a 0.1 s watchdog", .timeLimit(.minutes(10)))
    func unreadNotifySocket() throws {
        let s = try Sandbox("notify-unread")
        s.lockfile(Lockfiles.make([]))
        let listener = try NotifyListener(abstract: true)  // bound, never read
        for i in 0..<12 { try s.submit("n\(i).md", "---\nrepo: ~/code/widget\nexpect: nothing\n---\nsleep 0.2\n") }
        let r = try s.mtor(["worker", "--once", "--spool", s.spool, "--providers", s.etc + "/providers.json"] + Sandbox.testDefaults([], root: s.root),
                           timeout: 300, extraEnv: ["NOTIFY_SOCKET": listener.address, "WATCHDOG_USEC": "200000"])
        #expect(r.code == 0, "the worker drained and exited: \(r.code) \(r.err.suffix(2000))")
        let done = ((try? FileManager.default.contentsOfDirectory(atPath: s.spool + "/done")) ?? []).filter { $0.hasSuffix(".result.json") }
        #expect(done.count == 12, "all 12 ran: \(done.count)")
    }
}
