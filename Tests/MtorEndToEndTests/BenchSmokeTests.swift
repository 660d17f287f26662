import Foundation
import Testing
import MtorPlatform

@Suite("mtor-bench runs end to end")
struct BenchSmokeTests {
    /// The built `mtor-bench` beside the `mtor` binary the other end-to-end tests use.
    static let benchBinary = FileSystem.directory(of: mtorBinary) + "/mtor-bench"

    @Test("--quick drains real spools with mtor, both shell loops, task-spooler and nq, times a dependency cascade and the scheduler's turns, and writes a table and its JSON", .timeLimit(.minutes(10)),
          .enabled(if: FileManager.default.isExecutableFile(atPath: BenchSmokeTests.benchBinary), "no mtor-bench beside mtor; run swift build first"))
    func quickRun() throws {
        let dir = NSTemporaryDirectory() + "mtor-bench-smoke-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let jsonPath = dir + "/bench.json"
        let r = try ChildProcess.run([BenchSmokeTests.benchBinary, "--quick", "--mtor", mtorBinary, "--dir", dir, "--json-out", jsonPath],
                                     environment: ["PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": dir, "LANG": "C.UTF-8", "TMPDIR": dir], timeout: 400)
        let out = String(decoding: r.stdout, as: UTF8.self), err = String(decoding: r.stderr, as: UTF8.self)
        #expect(r.0 == .exited(0), "mtor-bench said:\n\(err.suffix(3000))")
        #expect(out.contains("| figure | mtor |"))

        let data = try #require(FileManager.default.contents(atPath: jsonPath))
        let report = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect(report["schema"] as? String == "mtor.bench/1")
        #expect(report["mode"] as? String == "quick")
        let figures = try #require(report["figures"] as? [[String: Any]])
        let names = figures.compactMap { $0["figure"] as? String }
        for expected in ["pickup latency p50", "pickup latency p99", "idle CPU", "RSS with", "status --json", "worktree: rename → first command p50",
                         "worktree start pooled ÷ plain git worktree add", "worktree start cold ÷ plain git worktree add", "pickup latency p50 with the sandbox", "300-deep chain: failure cascade settles",
                         "plain spec pickup during that cascade", "dispatch turn p99, 3000 queued",
                         "merge --all ÷ sum of verify times"] {
            #expect(names.contains { $0.hasPrefix(expected) }, "no '\(expected)' figure in \(names)")
        }
        #expect(names.filter { $0.hasPrefix("throughput") }.count == 6)
        // The real queues ran: task-spooler and nq have pickup and throughput figures of their own.
        let pickup = try #require(figures.first { $0["figure"] as? String == "pickup latency p50" })
        let measured = (pickup["baselines"] as? [[String: Any]] ?? []).filter { $0["value"] is Double }.compactMap { $0["name"] as? String }
        #expect(measured == ["inotifywait loop", "1 s poll loop", "task-spooler", "nq"], "\(pickup)")
        for figure in figures {
            #expect(figure["unit"] is String)
            #expect(figure["better"] as? String == "lower" || figure["better"] as? String == "higher")
            let baselines = try #require(figure["baselines"] as? [[String: Any]])
            #expect(baselines.compactMap { $0["name"] as? String } == ["inotifywait loop", "1 s poll loop", "task-spooler", "nq"])
        }
        // Every workload figure has an mtor value (status may be skipped while the command is missing).
        for figure in figures where !(figure["figure"] as? String ?? "").hasPrefix("status") {
            #expect(figure["mtor"] is Double, "\(figure)")
        }
        // The spools it built are gone.
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasPrefix("mtor-bench-") }.isEmpty)
    }
}
