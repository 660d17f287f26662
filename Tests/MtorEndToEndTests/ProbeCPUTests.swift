import Foundation
import Testing
import MtorCore
import MtorPlatform

@Suite("mtor-probe waits without spinning")
struct ProbeCPUTests {
    @Test("mtor-probe waiting on a listener that never answers uses under 5% of a core (from /proc/PID/stat)", .timeLimit(.minutes(10)))
    func silentListener() throws {
        // A listener that completes the handshake (the kernel's backlog) and never answers.
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        try #require(fd >= 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = 0
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        try #require(withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) } } == 0)
        try #require(listen(fd, 16) == 0)
        _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
        let port = Int(UInt16(bigEndian: addr.sin_port))
        let probe = URL(fileURLWithPath: mtorBinary).deletingLastPathComponent().path + "/mtor-probe"
        let request = #"{"url":"http://127.0.0.1:\#(port)/v1/messages","method":"POST","headers":{"x-api-key":"k"},"body":"{}","timeout":4}"#
        let input = try PrivateFile.readable(bytes: Array(request.utf8))
        defer { close(input) }
        let child = try ChildProcess(executable: probe, argv: [probe], environment: ["PATH": "/usr/bin:/bin"], directory: nil, stdinFD: input)
        let began = now()
        Thread.sleep(forTimeInterval: 3)
        let stat = try String(contentsOfFile: "/proc/\(child.pid)/stat", encoding: .utf8)
        let elapsed = now() - began
        let fields = stat[stat.index(after: stat.lastIndex(of: ")")!)...].split(separator: " ")
        let ticks = (Double(fields[11]) ?? 0) + (Double(fields[12]) ?? 0)   // utime + stime (fields 14, 15)
        let cpu = ticks / Double(sysconf(Int32(_SC_CLK_TCK))) / elapsed
        let r = child.capture(timeout: 20)
        #expect(r.0.succeeded)
        #expect(String(decoding: r.stdout, as: UTF8.self).contains("no answer within 4 s"))
        #expect(cpu < 0.05, "mtor-probe used \(Int(cpu * 100))% of a core while waiting")
        print("mtor-probe on a silent listener: \(String(format: "%.1f", cpu * 100))% of a core over \(String(format: "%.1f", elapsed)) s")
    }
}
