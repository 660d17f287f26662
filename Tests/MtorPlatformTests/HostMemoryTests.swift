import Foundation
import Testing
import MtorPlatform

@Suite("HostMemory: MemAvailable read from meminfo's bytes")
struct HostMemoryTests {
    @Test("the MemAvailable line in kB, wherever it is; absent, garbled or unbounded lines give nil", arguments: [
        ("MemTotal:       24000000 kB\nMemFree:         1000 kB\nMemAvailable:   22934528 kB\nBuffers: 1 kB\n", Int64(22934528) * 1024),
        ("MemAvailable: 300000 kB\n", Int64(300000) * 1024),
        ("MemAvailable:\t42 kB", Int64(42) * 1024),
        ("MemAvailable: 4096\n", Int64(4096)),
        ("MemTotal: 1 kB\nXMemAvailable: 5 kB\n", nil),
        ("MemTotal: 1 kB\n", nil),
        ("MemAvailable: lots kB\n", nil),
        ("MemAvailable: 99999999999999999999999 kB\n", nil),
        ("", nil),
    ] as [(String, Int64?)])
    func parses(text: String, bytes: Int64?) {
        #expect(HostMemory.parse(Array(text.utf8)) == bytes)
    }

    @Test("this host's /proc/meminfo gives a figure within MemTotal")
    func real() throws {
        let available = try #require(HostMemory.available(meminfo: "/proc/meminfo"))
        let total = try String(contentsOfFile: "/proc/meminfo", encoding: .utf8).split(separator: "\n").first { $0.hasPrefix("MemTotal:") }
        let kib = try #require(total.flatMap { Int64($0.split(separator: " ")[1]) })
        #expect(available > 0 && available <= kib * 1024)
    }
}
