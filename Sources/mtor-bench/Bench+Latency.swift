import Foundation
import MtorPlatform

/// Pickup latency: sequential specs, each renamed into inbox/ only after the previous one
/// reached done/, timed from just before the rename to the harness creating its mark.
extension Bench {
    struct LatencySample {
        var pickups: [Double] = []
        var endToEnd: [Double] = []
        var missed = 0
    }

    func latency() throws(BenchError) {
        var results: [ContenderKind: LatencySample] = [:]
        for kind in contenders {
            let n = kind == .pollLoop ? scale.pollLatencySpecs : scale.latencySpecs
            log("latency: \(kind.rawValue), \(n) sequential specs")
            // No baseline confines its jobs: mtor is compared with its agent sandbox off, and measured with it beside.
            results[kind] = try latencyRun(kind, count: n, sandboxed: false)
        }
        for kind in queues {
            log("latency: \(kind.rawValue), \(scale.latencySpecs) sequential jobs, each submitted by its client")
            results[kind] = try queueLatencyRun(kind, count: scale.latencySpecs)
        }
        func ms(_ kind: ContenderKind, _ pick: (LatencySample) -> [Double], _ q: Double) -> Double? {
            results[kind].flatMap { Percentiles(pick($0)).at(q) }.map { $0 * 1000 }
        }
        func baselines(_ pick: @escaping (LatencySample) -> [Double], _ q: Double) -> [ContenderKind: Double] {
            var out: [ContenderKind: Double] = [:]
            for kind in ContenderKind.baselines { out[kind] = ms(kind, pick, q) }
            return out
        }
        let n = results[.mtor]?.pickups.count
        report.figures.append(Figure("pickup latency p50", unit: "ms", better: .lower, mtor: ms(.mtor, \.pickups, 0.5),
                                     baselines: baselines(\.pickups, 0.5), target: 5, samples: n))
        report.figures.append(Figure("pickup latency p99", unit: "ms", better: .lower, mtor: ms(.mtor, \.pickups, 0.99),
                                     baselines: baselines(\.pickups, 0.99), target: 25, samples: n))
        report.figures.append(Figure("pickup latency max", unit: "ms", better: .lower, mtor: ms(.mtor, \.pickups, 1),
                                     baselines: baselines(\.pickups, 1), samples: n))
        report.figures.append(Figure("rename → in done/ p50", unit: "ms", better: .lower, mtor: ms(.mtor, \.endToEnd, 0.5),
                                     baselines: baselines(\.endToEnd, 0.5), samples: n,
                                     note: "mtor: sidecar written and fsynced, spec moved, directories fsynced; baselines: mv only"))
        // The sandbox's own cost: the same run with agents in bwrap (the worker's default).
        if contenders.contains(.mtor) {
            log("latency: mtor with its agent sandbox, \(scale.latencySpecs) sequential specs")
            let boxed = try latencyRun(.mtor, count: scale.latencySpecs, sandboxed: true)
            for q in [0.5, 0.99] {
                report.figures.append(Figure("pickup latency p\(Int(q * 100)) with the sandbox", unit: "ms", better: .lower,
                                             mtor: Percentiles(boxed.pickups).at(q).map { $0 * 1000 }, baselines: baselines(\.pickups, q),
                                             samples: boxed.pickups.count,
                                             note: "mtor's default (agents in bwrap); the figures above are --sandbox none, as no baseline "
                                                 + "confines its jobs"))
            }
        }
        let counts = (contenders + queues).map { "\($0.rawValue) \(results[$0]?.pickups.count ?? 0)" }.joined(separator: ", ")
        report.notes.append("pickup latency: rename(2) into inbox/ → the sh harness's first command, sequential, each spec dropped 0–20 ms "
            + "(poll loop: 0–1 s) after the previous reached done/; task-spooler and nq: from just before their client call (`tsp -n JOB`, "
            + "`nq -c -q JOB`, spawned as a shell would) to the job's first command; samples: \(counts)")
        let missed = results.filter { $0.value.missed > 0 }.map { "\($0.key.rawValue) \($0.value.missed)" }
        if !missed.isEmpty { report.notes.append("latency specs that never started: " + missed.joined(separator: ", ")) }
    }

    /// The same for a fed queue: the spec staged, then `tsp JOB` / `nq JOB` called; timed from before the call.
    private func queueLatencyRun(_ kind: ContenderKind, count: Int) throws(BenchError) -> LatencySample {
        try withQueue(kind, label: "latency") { queue, spool, probe throws(BenchError) in
            var sample = LatencySample()
            for id in ids("lat", count) {
                sleep(Double.random(in: 0...0.02))
                try spool.stage(id)
                let t0 = try queue.submit(id)
                guard let started = probe.waitStarted(id, timeout: 15) else { throw .workload("\(kind.rawValue): \(id) never started; its "
                    + "queue:\n\(queue.listing)") }
                guard let finished = probe.waitFinished(id, timeout: 15) else { throw .workload("\(kind.rawValue): \(id) started but "
                    + "never finished") }
                sample.pickups.append(started - t0)
                sample.endToEnd.append(finished.time - t0)
            }
            return sample
        }
    }

    private func latencyRun(_ kind: ContenderKind, count: Int, sandboxed: Bool = true) throws(BenchError) -> LatencySample {
        let ids = ids("lat", count)
        return try withContender(kind, label: "latency", staged: ids, sandboxed: sandboxed) { contender, spool, probe throws(BenchError) in
            try warmUp(kind, spool, probe)
            var sample = LatencySample()
            let gap = kind.pollInterval ?? 0.02
            let timeout = (kind.pollInterval ?? 0) + 15
            for id in ids {
                sleep(Double.random(in: 0...gap))
                let t0 = try spool.drop(id)
                guard let started = probe.waitStarted(id, timeout: timeout) else {
                    sample.missed += 1
                    guard contender.isRunning, sample.missed < 5 else { throw .workload("\(kind.rawValue): \(id) never started") }
                    continue
                }
                guard let finished = probe.waitFinished(id, timeout: timeout) else { throw .workload("\(kind.rawValue): \(id) started but "
                    + "never finished") }
                sample.pickups.append(started - t0)
                sample.endToEnd.append(finished.time - t0)
            }
            return sample
        }
    }
}
