import Foundation
import MtorPlatform

/// A dependency chain `scale.chainDepth` deep (`link-000001` depends on `link-000000`, and so on)
/// whose root fails: how long the failure takes to settle the whole chain, and how soon a plain
/// spec dropped meanwhile starts. No shell loop has dependencies, so these figures have no baseline.
extension Bench {
    func chain() throws(BenchError) {
        let depth = scale.chainDepth
        let links = ids("link", depth)
        log("chain: \(depth) links, the root fails")
        let (settled, pickup, ingest) = try withContender(.mtor, label: "chain", concurrency: 4, sandboxed: false,
                                                          prepare: { spool throws(BenchError) in
            for (k, id) in links.enumerated() where k > 0 {
                try spool.stage(id, frontmatter: "depends_on: [\(links[k - 1])]")
                try spool.drop(id)
            }
        }) { contender, spool, probe throws(BenchError) -> (Double, Double, Double) in
            // The chain is read once the worker lists inbox/; the root arrives after it, and fails.
            let began = now()
            try spool.stage(links[0], script: "echo the root fails >&2; exit 1\n")
            let ingest = try waitRead(spool, count: depth - 1, timeout: 300) - began
            try spool.drop(links[0])
            guard let rootFailed = probe.waitFinished(links[0], timeout: 60) else { throw .workload("the chain's root never finished") }
            try spool.stage("solo-000001")
            let t0 = try spool.drop("solo-000001")
            guard let started = probe.waitStarted("solo-000001",
                                                  timeout: 120) else { throw .workload("a plain spec dropped during the cascade never started") }
            guard let last = probe.waitFinishedTotal(depth + 1, timeout: 600) else {
                throw .workload("the cascade did not settle within 600 s: \(probe.counts.finished) of \(depth + 1) finished")
            }
            let failed = (try? FileSystem.list(spool.failed))?.filter { $0.hasPrefix("link-") && $0.hasSuffix(".result.json") }.count ?? 0
            guard failed == depth else { throw .workload("\(failed) of \(depth) links are in failed/") }
            _ = contender
            return (last - rootFailed.time, started - t0, ingest)
        }
        report.figures.append(Figure("\(depth)-deep chain: failure cascade settles", unit: "s", better: .lower, mtor: (settled * 100).rounded() / 100,
                                     target: 5, samples: depth,
                                     note: "root's sidecar in failed/ → the last link's; every link fails dependency_failed without running"))
        report.figures.append(Figure("plain spec pickup during that cascade", unit: "ms", better: .lower, mtor: (pickup * 10000).rounded() / 10,
                                     target: 50, samples: 1, note: String(format: "the chain was read in %.1f s before its root arrived", ingest)))
    }

    /// Waits until the worker holds `count` queued specs with a reason (worker.json's `deferred`); returns when.
    private func waitRead(_ spool: BenchSpool, count: Int, timeout: Double) throws(BenchError) -> Double {
        let deadline = now() + timeout
        while now() < deadline {
            if let data = FileManager.default.contents(atPath: spool.state + "/worker.json"),
               let json = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
               let held = json["deferred"] as? Int, held >= count {
                return now()
            }
            sleep(0.05)
        }
        throw .workload("the worker did not read the \(count) queued links within \(Int(timeout)) s")
    }
}
