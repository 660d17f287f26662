import Foundation
import Testing
import MtorPlatform

@Suite("sd_notify's transport")
struct DatagramTests {
    @Test("a receiver that never reads: sends fail once its queue is full, and none of them waits", .timeLimit(.minutes(15)))
    func fullQueueNeverBlocks() throws {
        let name = "@mtor-dgram-\(UUID().uuidString.prefix(8))"
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        #expect(fd >= 0)
        defer { close(fd) }
        var sa = sockaddr_un()
        sa.sun_family = sa_family_t(AF_UNIX)
        var bytes = Array(name.utf8)
        bytes[0] = 0
        withUnsafeMutableBytes(of: &sa.sun_path) { raw in for (i, b) in bytes.enumerated() { raw[i] = b } }
        let length = socklen_t(MemoryLayout<sa_family_t>.size + bytes.count)
        let bound = withUnsafePointer(to: &sa) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
        #expect(bound == 0)
        // The queue holds net.unix.max_dgram_qlen datagrams (10 by default): 200 would wait without MSG_DONTWAIT.
        let results = (0..<200).map { _ in Datagram.send("WATCHDOG=1", to: name) }
        #expect(results.first == true, "the first datagram is queued")
        #expect(results.contains(false), "once the queue is full a send reports failure instead of waiting")
        // Read one: there is room again.
        var buffer = [UInt8](repeating: 0, count: 64)
        #expect(buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) } > 0)
        #expect(Datagram.send("WATCHDOG=1", to: name), "a freed slot takes the next one")
    }
}
