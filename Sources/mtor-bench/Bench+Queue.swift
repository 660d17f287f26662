import Foundation
import MtorPlatform

/// The scheduler's cost with a deep queue: `scale.deepQueue` specs queued before the worker starts,
/// a tenth of them depending on an earlier plain one, drained at concurrency 4. The figure is the
/// worker's own histogram of its scheduling turns (`mtor_dispatch_seconds` in its metrics file),
/// taken over a window once everything was read. No baseline schedules, so it has none.
extension Bench {
    func deepQueue() throws(BenchError) {
        let n = scale.deepQueue
        let ids = ids("q", n)
        log("queue: \(n) specs queued, a tenth dependent, concurrency 4")
        let window = scale.deepQueueWindow
        let (turns, read) = try withContender(.mtor, label: "queue", concurrency: 4, sandboxed: false, prepare: { spool throws(BenchError) in
            for (i, id) in ids.enumerated() {
                if i % 10 == 9 {
                    try spool.stage(id, frontmatter: "depends_on: [\(ids[i - 9 + (i / 10) % 9])]")
                } else {
                    try spool.stage(id)
                }
                try spool.drop(id)
            }
        }) { contender, spool, probe throws(BenchError) -> (Histogram, Double) in
            let began = now()
            // Everything read: the worker's worker.json counts the whole backlog (less what already ran).
            let deadline = now() + 600
            while now() < deadline {
                if let json = readJSON(spool.state + "/worker.json"), let queued = json["queued"] as? Int,
                   queued + probe.counts.finished >= n - 8 { break }
                sleep(0.2)
            }
            let read = now() - began
            guard let before = Histogram(metrics: spool.state + "/metrics.prom") else { throw .workload("no mtor_dispatch_seconds in "
                + "\(spool.state)/metrics.prom") }
            sleep(window)
            sleep(1.2)  // the metrics file is written at most once a second
            guard let after = Histogram(metrics: spool.state + "/metrics.prom") else { throw .workload("no mtor_dispatch_seconds after the window") }
            _ = contender
            return (after.minus(before), read)
        }
        let note = String(format: "over %.0f s of draining at concurrency 4 (%d turns), after the worker read the queue in %.1f s; from the "
            + "worker's mtor_dispatch_seconds histogram (a percentile is its bucket's upper bound)", window, turns.count, read)
        report.figures.append(Figure("dispatch turn p50, \(n) queued (a tenth dependent)", unit: "ms", better: .lower,
                                     mtor: turns.percentile(0.5).map { $0 * 1000 }, samples: turns.count, note: note))
        report.figures.append(Figure("dispatch turn p99, \(n) queued (a tenth dependent)", unit: "ms", better: .lower,
                                     mtor: turns.percentile(0.99).map { $0 * 1000 }, target: 5, samples: turns.count))
        report.figures.append(Figure("dispatch turn mean, \(n) queued (a tenth dependent)", unit: "ms", better: .lower,
                                     mtor: turns.count > 0 ? (turns.sum / Double(turns.count) * 1e5).rounded() / 100 : nil, samples: turns.count))
    }

    private func readJSON(_ path: String) -> [String: Any]? {
        FileManager.default.contents(atPath: path).flatMap { try? JSONSerialization.jsonObject(with: $0) as? [String: Any] }
    }
}

/// A Prometheus histogram as read from a textfile: cumulative counts by upper bound.
struct Histogram {
    var buckets: [(bound: Double, count: Int)] = []
    var sum = 0.0
    var count = 0

    init?(metrics path: String, name: String = "mtor_dispatch_seconds") {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix(name) {
            let parts = line.split(separator: " ")
            guard parts.count == 2 else { continue }
            let key = String(parts[0]), value = String(parts[1])
            if key.hasPrefix(name + "_bucket{le=\""), let bound = Double(key.dropFirst(name.count + 12).dropLast(2)), let c = Int(value) {
                buckets.append((bound, c))
            } else if key == name + "_sum" {
                sum = Double(value) ?? 0
            } else if key == name + "_count" {
                count = Int(value) ?? 0
            }
        }
        if buckets.isEmpty { return nil }
    }

    private init(buckets: [(bound: Double, count: Int)], sum: Double, count: Int) {
        self.buckets = buckets
        self.sum = sum
        self.count = count
    }

    /// What was observed between `earlier` and this reading.
    func minus(_ earlier: Histogram) -> Histogram {
        Histogram(buckets: zip(buckets, earlier.buckets).map { ($0.bound, $0.count - $1.count) }, sum: sum - earlier.sum,
                  count: count - earlier.count)
    }

    /// The upper bound of the bucket holding quantile `q` (nil past the last finite bound, or with no observations).
    func percentile(_ q: Double) -> Double? {
        guard count > 0 else { return nil }
        let rank = Int((Double(count) * q).rounded(.up))
        return buckets.first { $0.count >= rank }?.bound
    }
}
