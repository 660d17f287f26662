import Foundation
import MtorPlatform

/// Idle cost and memory: CPU over an idle window (all contenders side by side, each on its
/// own spool), and resident memory with a backlog queued behind one blocked spec.
extension Bench {
    func idle() throws(BenchError) {
        log("idle: \(contenders.map(\.rawValue).joined(separator: ", ")) side by side for \(Int(scale.idleSeconds)) s")
        var started: [(ContenderKind, Contender, BenchSpool, Probe)] = []
        defer {
            for (_, contender, _, probe) in started {
                contender.stop()
                probe.stop()
            }
        }
        for kind in contenders {
            let spool = try world.spool("idle-\(kind.slug)")
            let probe = try Probe(spool)
            let contender = try Contender(kind, spool: spool, world: world, mtor: options.mtor)
            started.append((kind, contender, spool, probe))
            try warmUp(kind, spool, probe)
        }
        sleep(scale.settleSeconds)
        let before = started.map { GroupSample.take($0.1.pid) }
        let mtorPid = started.first { $0.0 == .mtor }?.1.pid
        let wakeupsBefore = mtorPid.map { ProcStats.wakeups($0) }
        let t0 = now()
        sleep(scale.idleSeconds)
        let elapsed = now() - t0
        let after = started.map { GroupSample.take($0.1.pid) }
        let wakeups = mtorPid.map { ProcStats.wakeups($0) - (wakeupsBefore ?? 0) }
        var cpu: [ContenderKind: Double] = [:], rss: [ContenderKind: Double] = [:]
        for (i, entry) in started.enumerated() {
            cpu[entry.0] = Double(after[i].cpuTicks - before[i].cpuTicks) / GroupSample.ticksPerSecond / elapsed * 100
            rss[entry.0] = Double(after[i].rssKiB) / 1024
        }
        let mtorCPU = cpu.removeValue(forKey: .mtor), mtorRSS = rss.removeValue(forKey: .mtor)
        report.figures.append(Figure("idle CPU over "
            + "\(Int(scale.idleSeconds)) s", unit: "%", better: .lower, mtor: mtorCPU, baselines: cpu, target: 0.1,
                                     note: "utime+stime (+ reaped children) of the whole process group, 10 ms ticks"))
        report.figures.append(Figure("idle RSS", unit: "MB", better: .lower, mtor: mtorRSS, baselines: rss,
                                     note: "VmRSS summed over the process group"))
        if let wakeups, let pid = mtorPid {
            report.notes.append("idle: the mtor worker woke \(wakeups) times in \(Int(elapsed)) s (voluntary context switches over its "
                + "\(ProcStats.threads(pid)) thread(s)); a 1 s poll loop forks `sleep` every second")
        }
    }

    func memory() throws(BenchError) {
        let n = scale.queuedSpecs
        var rss: [ContenderKind: Double] = [:], anon: [ContenderKind: Double] = [:]
        for kind in contenders {
            log("memory: \(kind.rawValue) with \(n) specs queued behind a blocked one")
            let sample = try queuedRun(kind, count: n)
            rss[kind] = Double(sample.rssKiB) / 1024
            anon[kind] = Double(sample.anonKiB) / 1024
        }
        let mtorRSS = rss.removeValue(forKey: .mtor), mtorAnon = anon.removeValue(forKey: .mtor)
        report.figures.append(Figure("RSS with \(n) queued", unit: "MB", better: .lower, mtor: mtorRSS, baselines: rss, target: 30, samples: n,
                                     note: "VmRSS: mtor's worker once state/worker.json shows the backlog; baselines summed over the process "
                                         + "group, blocked harness included; counts shared library pages"))
        report.figures.append(Figure("private memory with \(n) queued", unit: "MB", better: .lower, mtor: mtorAnon, baselines: anon, samples: n,
                                     note: "RssAnon: the part of VmRSS no other process shares"))
    }

    /// Memory once `count` specs wait behind a harness that blocks until a gate file appears.
    private func queuedRun(_ kind: ContenderKind, count: Int) throws(BenchError) -> GroupSample {
        let ids = ids("q", count)
        return try withContender(kind, label: "memory", staged: ids) { contender, spool, probe throws(BenchError) in
            try warmUp(kind, spool, probe)
            let gate = spool.base + "/gate"
            defer { try? FileSystem.writeAtomically([], to: gate, durable: false) }
            try spool.stage("blocker", script: "i=0; while [ ! -e \(gate) ] && [ $i -lt 1200 ]; do sleep 0.05; i=$((i+1)); done\n")
            try spool.drop("blocker")
            guard waitClaimed(spool, "blocker", kind: kind) else { throw .workload("\(kind.rawValue): the blocking spec did not start") }
            for id in ids { try spool.drop(id) }
            if kind == .mtor {
                let deadline = now() + 30
                while now() < deadline, queuedCount(spool) < count { sleep(0.2) }
                guard queuedCount(spool) >= count else { throw .workload("mtor: state/worker.json never showed \(count) queued (last: "
                    + "\(queuedCount(spool)))") }
                return GroupSample(cpuTicks: 0, rssKiB: ProcStats.statusValue(contender.pid, "VmRSS") ?? 0,
                                   anonKiB: ProcStats.statusValue(contender.pid, "RssAnon") ?? 0, members: 1)
            }
            sleep(scale.settleSeconds)
            return GroupSample.take(contender.pid)
        }
    }

    /// Whether `claimed/<id>.md` appears (every contender claims into claimed/ before it runs).
    private func waitClaimed(_ spool: BenchSpool, _ id: String, kind: ContenderKind) -> Bool {
        let deadline = now() + (kind.pollInterval ?? 0) + 10
        while now() < deadline {
            if FileSystem.exists("\(spool.root)/claimed/\(id).md") { return true }
            sleep(0.01)
        }
        return false
    }

    /// `queued` from `state/worker.json`, or 0.
    private func queuedCount(_ spool: BenchSpool) -> Int {
        guard let bytes = try? FileSystem.read(spool.state + "/worker.json"),
              let object = try? JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any] else { return 0 }
        return (object["queued"] as? Int) ?? 0
    }
}
