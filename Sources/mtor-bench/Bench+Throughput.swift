import Foundation
import MtorPlatform

/// Throughput: N specs drained, either all queued before the contender starts or renamed in
/// at a steady rate above what any contender drains; specs per second from start to the last
/// spec in done/.
extension Bench {
    struct ThroughputRun {
        var perSecond: Double
        var failed: Int
        var peakRSSKiB: Int?
    }

    func throughput() throws(BenchError) {
        let n = scale.throughputSpecs
        for arriving in [false, true] {
            var mtorRuns: [Int: ThroughputRun] = [:]
            for c in [1, 4] {
                log("throughput: mtor, \(n) specs \(arriving ? "arriving at \(Int(scale.arrivalRate))/s" : "queued"), concurrency \(c)")
                mtorRuns[c] = try throughputRun(.mtor, count: n, concurrency: c, rate: arriving ? scale.arrivalRate : nil, sandboxed: false)
            }
            log("throughput: mtor with its agent sandbox, concurrency 4")
            let boxed = try throughputRun(.mtor, count: n, concurrency: 4, rate: arriving ? scale.arrivalRate : nil, sandboxed: true)
            var baselines: [ContenderKind: Double] = [:]
            for kind in contenders where kind != .mtor {
                log("throughput: \(kind.rawValue), \(n) specs \(arriving ? "arriving" : "queued")")
                baselines[kind] = try throughputRun(kind, count: n, concurrency: 1, rate: arriving ? scale.arrivalRate : nil).perSecond
            }
            // task-spooler at 1 and 4 slots; nq runs one job at a time. Each queued job of theirs is a waiting client
            // process, and task-spooler takes fewer than 1,000 at once: both are fed `clientQueueJobs`.
            var four = baselines
            for kind in queues {
                let m = min(n, scale.clientQueueJobs)
                for slots in kind == .nq ? [1] : [1, 4] {
                    log("throughput: \(kind.rawValue)\(kind == .tsp ? " -S \(slots)" : ""), \(m) jobs \(arriving ? "arriving" : "queued")")
                    let rate = try queueThroughputRun(kind, count: m, slots: slots, rate: arriving ? scale.arrivalRate : nil)
                    if slots == 1 { baselines[kind] = rate }
                    four[kind] = rate
                }
            }
            let how = arriving ? "arriving at \(Int(scale.arrivalRate))/s" : "queued"
            report.figures.append(Figure("throughput, \(n) \(how), c=1", unit: "specs/s", better: .higher, mtor: mtorRuns[1]?.perSecond,
                                         baselines: baselines, samples: n))
            report.figures.append(Figure("throughput, \(n) \(how), c=4", unit: "specs/s", better: .higher, mtor: mtorRuns[4]?.perSecond,
                                         baselines: four, target: 500, samples: n,
                                         note: "mtor --sandbox none; the shell loops and nq run one spec at a time (their c=1 figure is "
                                             + "repeated here); task-spooler at -S 4"))
            report.figures.append(Figure("throughput, \(n) \(how), c=4, with the sandbox", unit: "specs/s", better: .higher, mtor: boxed.perSecond,
                                         baselines: four, samples: n, note: "mtor's default (agents in bwrap)"))
            if !arriving, let peak = mtorRuns[4]?.peakRSSKiB {
                report.figures.append(Figure("mtor peak RSS draining \(n), c=4", unit: "MB", better: .lower, mtor: Double(peak) / 1024,
                                             note: "VmHWM of the worker after the drain"))
            }
            let failures = mtorRuns.filter { $0.value.failed > 0 }.map { "c=\($0.key): \($0.value.failed)" }
            if !failures.isEmpty { report.notes.append("mtor specs that ended in failed/ (\(how)): " + failures.joined(separator: ", ")) }
        }
        report.notes.append("throughput: every mtor spec gets its sidecar written to a temporary file, fsynced, renamed and done/ "
            + "fsynced before the spec moves (durability on, CONTRACT invariant 2); the baselines only mv; task-spooler and nq: \(min(n, scale.clientQueueJobs)) jobs "
            + "(each queued job is a waiting client process; task-spooler's server takes fewer than 1,000), queued: every job submitted "
            + "behind a held first job, timed from its release")
    }

    /// A fed queue's drain: queued (every job submitted behind a held first job, then released and
    /// timed) or arriving (each submitted at `rate` by its client call); jobs per second to the last in done/.
    private func queueThroughputRun(_ kind: ContenderKind, count: Int, slots: Int, rate: Double?) throws(BenchError) -> Double {
        try withQueue(kind, label: "throughput-\(slots)", slots: rate == nil ? 1 : slots) { queue, spool, probe throws(BenchError) in
            let ids = ids("tp", count)
            for id in ids { try spool.stage(id) }
            var started = now()
            if let rate {
                for (i, id) in ids.enumerated() {
                    let wait = started + Double(i) / rate - now()
                    if wait > 0.0005 { sleep(wait) }
                    try queue.submit(id)
                }
            } else {
                try queue.hold()
                for id in ids { try queue.submit(id) }
                try queue.setSlots(slots)
                started = now()
                try queue.open()
            }
            let limit = Double(count) / 10 + 60
            guard let last = probe.waitFinishedTotal(count, timeout: limit) else {
                throw .workload("\(kind.rawValue): only \(probe.counts.finished) of \(count) jobs finished within \(Int(limit)) s\(probe.shortfall(ids))")
            }
            return Double(count) / (last - started)
        }
    }

    private func throughputRun(_ kind: ContenderKind, count: Int, concurrency: Int, rate: Double?,
                               sandboxed: Bool = true) throws(BenchError) -> ThroughputRun {
        let ids = ids("tp", count)
        var started = 0.0
        return try withContender(kind, label: "throughput-c\(concurrency)", concurrency: concurrency, staged: ids, sandboxed: sandboxed,
                                 prepare: { spool throws(BenchError) in
            if rate == nil { for id in ids { try spool.drop(id) } }
            world.sync()
            started = now()
        }) { contender, spool, probe throws(BenchError) in
            var base = 0
            if let rate {
                try warmUp(kind, spool, probe)
                base = probe.counts.finished
                started = now()
                for (i, id) in ids.enumerated() {
                    let due = started + Double(i) / rate
                    let wait = due - now()
                    if wait > 0.0005 { sleep(wait) }
                    try spool.drop(id)
                }
            }
            let limit = Double(count) / 10 + 60
            guard let last = probe.waitFinishedTotal(base + count, timeout: limit) else {
                throw .workload("\(kind.rawValue): only \(probe.counts.finished - base) of \(count) specs finished within \(Int(limit)) s"
                               + "\(probe.shortfall(ids))\(contender.isRunning ? "" : "; it is no longer running")")
            }
            let peak = kind == .mtor ? ProcStats.statusValue(contender.pid, "VmHWM") : nil
            return ThroughputRun(perSecond: Double(count) / (last - started), failed: probe.counts.failed, peakRSSKiB: peak)
        }
    }
}
