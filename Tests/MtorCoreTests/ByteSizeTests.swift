import Foundation
import Testing
@testable import MtorCore

@Suite("Sizes and memory caps: what people write, what mtor refuses")
struct ByteSizeTests {
    static let mib: Int64 = 1 << 20, gib: Int64 = 1 << 30
    static let written: [(String, Int64)] = [
        ("64M", 64 * mib), ("64m", 64 * mib), ("64MB", 64 * mib), ("64MiB", 64 * mib), ("64 MiB", 64 * mib),
        ("4G", 4 * gib), ("4g", 4 * gib), ("4GiB", 4 * gib), ("512K", 512 * 1024), ("1T", 1024 * gib), ("1P", 1024 * 1024 * gib),
        ("65536", 65536), ("65536B", 65536), ("0", 0), (" 2G ", 2 * gib), ("1.5G", 3 * gib / 2), ("0.5M", mib / 2),
        ("1.25K", 1280), ("9223372036854775807", Int64.max),
    ]
    static let printed: [(Int64, String)] = [
        (64 * mib, "64 MiB"), (4 * gib, "4 GiB"), (3 * gib / 2, "1.5 GiB"), (900, "900 B"), (1024, "1 KiB"),
        (67_000_000, "63.9 MiB"), (1024 * gib, "1 TiB"), (0, "0 B"), (1536, "1.5 KiB"), (1_000_000, "977 KiB"),
    ]

    @Test("sizes as people write them, every unit a power of 1024", arguments: written)
    func parses(_ text: String, _ bytes: Int64) {
        #expect(ByteSize.parse(text) == bytes)
    }

    @Test("what is not a size, or does not fit in 64 bits, is nil", arguments: [
        "", "lots", "G", "4X", "4GG", "4Gi", "-1G", "+1G", "1..5G", ".5G", "5.G", "1e9", "4 G B", "0x10", "٤G",
        "99999999999999999999", "8388608T", "9223372036854775807K", "1.5.5M", "16E",
    ])
    func refuses(_ text: String) {
        #expect(ByteSize.parse(text) == nil, "'\(text)' parsed as \(ByteSize.parse(text) ?? 0)")
    }

    @Test("sizes for sentences: exact units without decimals, others trimmed", arguments: printed)
    func formats(_ bytes: Int64, _ text: String) {
        #expect(ByteSize.format(bytes) == text)
    }

    @Test("every size mtor prints parses back to within 1%", arguments: [8 * mib, 67_000_000, 3 * gib / 2, 123_456_789_012, 64 * 1024 * gib])
    func roundTrip(_ bytes: Int64) throws {
        let text = ByteSize.format(bytes).replacingOccurrences(of: " ", with: "")
        let back = try #require(ByteSize.parse(text))
        #expect(abs(Double(back - bytes)) <= Double(bytes) / 100)
    }

    @Test("memory caps: a sentence naming the problem and the fix for each hostile value", arguments: [
        ("lots", ["must be a size such as 512M or 4G", "'lots'"]),
        ("0", ["cannot run in no memory", "remove it"]),
        ("4M", ["below 8 MiB", "512M or 4G"]),
        ("99999T", ["larger than 64 TiB", "such as 4G"]),
        ("99999999999999999999G", ["larger than 64 TiB"]),
        ("-512M", ["must be a size"]),
        (String(repeating: "9", count: 5000) + "Q", ["must be a size", "bytes)"]),
    ])
    func capRefusals(_ text: String, _ words: [String]) {
        guard case .failure(let error) = MemoryCap.parse(text, name: "memory") else {
            Issue.record("'\(text.prefix(40))' was accepted")
            return
        }
        for word in words { #expect(error.description.contains(word), "\(error.description) lacks \(word)") }
        #expect(error.description.count < 300, "a hostile value stays a short sentence")
    }

    @Test("memory caps within the bounds are taken as they are", arguments: ["8M", "64M", "512M", "4G", "1.5G", "64T"])
    func capAccepts(_ text: String) {
        #expect((try? MemoryCap.parse(text, name: "memory").get()) == ByteSize.parse(text))
    }

    @Test("the spec key 'memory': bytes on the spec, spec_invalid naming the key otherwise")
    func specKey() {
        #expect((try? Spec.parse(specText("memory: 4G"), home: "/home/u"))?.memory == 4 << 30)
        #expect((try? Spec.parse(specText("memory: 536870912"), home: "/home/u"))?.memory == 512 << 20)
        #expect((try? Spec.parse(specText("memory: null"), home: "/home/u"))?.memory == nil)
        #expect((try? Spec.parse(specText("timeout: 1h"), home: "/home/u"))?.memory == nil)
        for (line, word) in [("memory: lots", "512M or 4G"), ("memory: 0", "no memory"), ("memory: [4G]", "size such as 512M"),
                             ("memory: {a: 1}", "size such as 512M"), ("memory: true", "size such as 512M"), ("memory: 99999T", "64 TiB")] {
            let error = specError(specText(line))
            #expect(errorKey(error) == "memory", "\(line)")
            #expect(error?.failureClass == .specInvalid)
            #expect(error?.description.contains(word) == true, "\(line): \(error?.description ?? "accepted")")
        }
    }

    @Test("an OOM kill at the cap is out_of_memory, named with the cap and peak, never retried; a survivor that exits 0 is ok")
    func classifier() {
        func run(exit: Int32?, signal: Int32?, kills: Int?, stoppedBy: AttemptEvidence.Stop? = nil) -> Verdict {
            var e = AttemptEvidence(exitCode: exit, signal: signal, stoppedBy: stoppedBy, duration: 0.3, structured: false)
            e.expectsModel = true
            e.memory = .init(cap: 64 << 20, oomKills: kills, peakBytes: 64 << 20)
            return FailureClassifier.classify(e)
        }
        let leader = run(exit: nil, signal: 9, kills: 1)
        #expect(leader.failureClass == .outOfMemory)
        #expect(leader.reason == "the agent was killed by the kernel's out-of-memory killer at the 64 MiB cap (peak use 64 MiB)")
        #expect(!leader.reason.contains("faster than any model"), "an OOM kill is not a model that was never reached")
        let child = run(exit: 1, signal: nil, kills: 2)
        #expect(child.failureClass == .outOfMemory)
        #expect(child.reason.hasPrefix("2 processes of the attempt were killed by the kernel's out-of-memory killer at the 64 MiB cap; the agent then exited 1"))
        #expect(run(exit: 0, signal: nil, kills: 1).failureClass == .ok, "an agent that survived a child's OOM kill and exited 0 succeeded")
        #expect(run(exit: nil, signal: 9, kills: 0).failureClass == .unknown, "SIGKILL without an OOM kill is not named OOM")
        #expect(run(exit: nil, signal: 9, kills: nil).failureClass == .unknown, "a kernel that does not count kills proves nothing")
        #expect(run(exit: nil, signal: 9, kills: 1, stoppedBy: .timeout).failureClass == .timedOut, "mtor's own stop comes first")
        #expect(FailureClass.outOfMemory.attemptLimit(retries: Spec.maxRetries) == 1)
        #expect(!FailureClass.outOfMemory.isTransient && !FailureClass.outOfMemory.movesToFallback)
        let policy = RetryPolicy(baseDelay: 1)
        #expect(policy.decide(history: [(provider: "a", failureClass: .outOfMemory, retryAfter: nil)], chain: ["a", "b"], retries: 5, jitter: 0) == .finish)
    }
}
