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
            results[kind] = try latencyRun(kind, count: n)
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
        // The sandbox's own cost: the same run with agents unconfined (`--sandbox none`).
        if contenders.contains(.mtor) {
            log("latency: mtor --sandbox none, \(scale.latencySpecs) sequential specs")
            let bare = try latencyRun(.mtor, count: scale.latencySpecs, sandboxed: false)
            let p50 = Percentiles(bare.pickups).at(0.5).map { $0 * 1000 }
            report.figures.append(Figure("pickup latency p50 without the sandbox", unit: "ms", better: .lower, mtor: p50,
                                         baselines: baselines(\.pickups, 0.5), samples: bare.pickups.count,
                                         note: "mtor --sandbox none; the sandbox's cost is the difference from \"pickup latency p50\""))
        }
        let counts = contenders.map { "\($0.rawValue) \(results[$0]?.pickups.count ?? 0)" }.joined(separator: ", ")
        report.notes.append("pickup latency: rename(2) into inbox/ → the sh harness's first command, sequential, each spec dropped 0–20 ms (poll loop: 0–1 s) after the previous reached done/; samples: \(counts)")
        let missed = results.filter { $0.value.missed > 0 }.map { "\($0.key.rawValue) \($0.value.missed)" }
        if !missed.isEmpty { report.notes.append("latency specs that never started: " + missed.joined(separator: ", ")) }
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
                guard let finished = probe.waitFinished(id, timeout: timeout) else { throw .workload("\(kind.rawValue): \(id) started but never finished") }
                sample.pickups.append(started - t0)
                sample.endToEnd.append(finished.time - t0)
            }
            return sample
        }
    }
}
