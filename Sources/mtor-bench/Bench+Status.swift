import Foundation
import MtorCore
import MtorPlatform

/// Inspection: `mtor status --json` on a spool holding many finished tasks, each with its
/// spec, its sidecar and its three ledger lines (claimed, attempt, outcome), as the worker writes them.
extension Bench {
    func status() throws(BenchError) {
        let n = scale.statusTasks
        let spool = try world.spool("status")
        log("status: writing a spool with \(n) finished tasks")
        try FinishedSpool(spool: spool, count: n).write()
        world.sync()
        let argv = [options.mtor, "status", "--json", "--spool", spool.root]
        var times: [Double] = []
        for run in 0...scale.statusRuns {
            let t0 = now()
            let r: (Termination, stdout: [UInt8], stderr: [UInt8], timedOut: Bool)
            do {
                r = try ChildProcess.run(argv, environment: world.environment, directory: world.root, timeout: 120)
            } catch {
                throw .workload("cannot run mtor status: \(error)")
            }
            let elapsed = now() - t0
            guard r.0.succeeded, !r.timedOut else {
                let said = String(decoding: r.stderr + r.stdout, as: UTF8.self).split(separator: "\n").first.map(String.init) ?? ""
                report.skipped.append("mtor status --json: it "
                    + "\(r.timedOut ? "timed out" : "exited \(r.0.exitCode.map(String.init) ?? "on a signal")") (\(said)); no status figure")
                report.figures.append(Figure("status --json, \(n) finished", unit: "ms", better: .lower, mtor: nil, target: 300, note: "skipped"))
                return
            }
            if run == 0 {
                guard (try? JSONSerialization.jsonObject(with: Data(r.stdout))) != nil else {
                    throw .workload("mtor status --json printed something that is not JSON: \(String(decoding: r.stdout.prefix(200), as: UTF8.self))")
                }
                report.notes.append(String(format: "status: first (page cache warm from writing) run %.0f ms", elapsed * 1000))
            } else {
                times.append(elapsed)
            }
        }
        let p = Percentiles(times)
        report.figures.append(Figure("status --json, \(n) finished", unit: "ms", better: .lower, mtor: p.median.map { $0 * 1000 }, target: 300,
                                     samples: times.count, note: String(format: "median of %d runs, max %.0f ms; includes spawning "
                                         + "the process", times.count, (p.largest ?? 0) * 1000)))
    }
}

/// A spool of `count` finished tasks: done/ and failed/ hold `<id>.md` and `<id>.result.json`,
/// `state/ledger.jsonl` holds three lines per task, spread over the last week.
struct FinishedSpool {
    let spool: BenchSpool
    let count: Int

    /// One in ten fails, with a spread of classes.
    static let failures: [FailureClass] = [.agentFailed, .rateLimited, .providerUnavailable, .authFailed, .timedOut, .stalled, .verifyFailed,
                                           .unknown]

    func write() throws(BenchError) {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        let encoder = Stamp.encoder()
        let lineEncoder = Stamp.encoder(pretty: false)
        let start = Date().addingTimeInterval(-7 * 86400)
        var templates: [FailureClass: String] = [:]
        var ledger: [UInt8] = []
        ledger.reserveCapacity(count * 400)
        for i in 0..<count {
            let failed = i % 10 == 9
            let cls = failed ? FinishedSpool.failures[(i / 10) % FinishedSpool.failures.count] : .ok
            let claimed = start.addingTimeInterval(Double(i) * 7 * 86400 / Double(count))
            let t0 = formatter.string(from: claimed), t1 = formatter.string(from: claimed.addingTimeInterval(1.5))
            let id = String(format: "task-%06d", i)
            if templates[cls] == nil { templates[cls] = String(decoding: (try? encoder.encode(sidecar(cls))) ?? Data(), as: UTF8.self) }
            let sidecarText = templates[cls]!.replacingOccurrences(of: "@ID@",
                                                                   with: id).replacingOccurrences(of: "@T0@",
                                                                                                  with: t0).replacingOccurrences(of: "@T1@", with: t1)
            let dir = failed ? spool.failed : spool.done
            do {
                try FileSystem.writeAtomically(Array(spool.specText(id).utf8), to: "\(dir)/\(id).md", mode: 0o644, durable: false)
                try FileSystem.writeAtomically(Array(sidecarText.utf8), to: "\(dir)/\(id).result.json", mode: 0o644, durable: false)
            } catch {
                throw .setup("\(error)")
            }
            let outcome: LedgerEntry.Event = failed ? .failed : .succeeded
            for entry in [LedgerEntry(t: t0, id: id, event: .claimed, pid: 4242),
                          LedgerEntry(t: t0, id: id, event: .attempt, provider: "local", attempt: 1, pid: 4242),
                          LedgerEntry(t: t1, id: id, event: outcome, class: cls, provider: "local", attempt: 1, pid: 4242)] {
                if let data = try? lineEncoder.encode(entry) {
                    ledger.append(contentsOf: data)
                    ledger.append(10)
                }
            }
        }
        do {
            try FileSystem.writeAtomically(ledger, to: spool.state + "/ledger.jsonl", mode: 0o600, durable: false)
        } catch {
            throw .setup("\(error)")
        }
    }

    /// A sidecar as the worker writes it for the `sh` harness, with placeholders for id and times.
    private func sidecar(_ cls: FailureClass) -> TaskResult {
        let ok = cls == .ok
        let attempt = TaskResult.Attempt(n: 1, provider: nil, harness: "sh", model: nil, startedAt: "@T0@", endedAt: "@T1@", durationS: 1.5,
                                         exitCode: ok ? 0 : 1, signal: nil, stdoutBytes: ok ? 120 : 0, stderrTail: ok ? "" : "error: something went wrong",
                                         class: cls, retryable: cls.isTransient, reason: ok ? "the agent exited 0" : "the agent exited 1")
        return TaskResult(id: "@ID@", status: ok ? .succeeded : .failed, class: cls, reason: attempt.reason, hint: ok ? "" : "read the log",
                          spec: .init(file: "@ID@.md", repo: spool.repo, provider: nil, harness: "sh", model: nil), attempts: [attempt],
                          git: .init(headBefore: String(repeating: "a", count: 40), headAfter: String(repeating: "a", count: 40), commits: []),
                          verify: nil, log: "logs/@ID@.log", worker: .init(host: "bench", pid: 4242, version: "0.1.0"),
                          claimedAt: "@T0@", finishedAt: "@T1@")
    }
}
