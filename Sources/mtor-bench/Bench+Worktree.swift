import Foundation
import MtorPlatform

/// Worktree start: rename into inbox/ → the agent's first command, for a spec in its own clone of a
/// generated 5,000-file repo, on its own branch, beside a plain `git worktree add` of the same repo
/// in the same run (the two interleaved, so both see the same caches and load). Measured cold
/// (`--worktree-pool 0`: every task makes its clone) and pooled (the default pool of 2, warm: a
/// ready clone is waited for before each spec is dropped, so the figure is the start a task gets
/// when the pool has kept up).
extension Bench {
    static let worktreeFiles = 5000

    func worktree() throws(BenchError) {
        let big = world.home + "/big"
        log("worktree: generating a repo of \(Bench.worktreeFiles) files")
        try makeRepo(big, files: Bench.worktreeFiles)
        let cold = try worktreeRun(big, label: "worktree-cold", ids: ids("wtc", max(2, scale.worktreeSpecs / 3)), pool: 0)
        let pooled = try worktreeRun(big, label: "worktree", ids: ids("wt", scale.worktreeSpecs), pool: 2)
        let add = Percentiles(cold.plain + pooled.plain).at(0.5).map { $0 * 1000 }
        let coldP50 = Percentiles(cold.pickups).at(0.5).map { $0 * 1000 }
        let pooledP50 = Percentiles(pooled.pickups).at(0.5).map { $0 * 1000 }
        report.figures.append(Figure("worktree: rename → first command p50, pooled", unit: "ms", better: .lower, mtor: pooledP50, samples: pooled.pickups.count,
                                     note: String(format: "plain git worktree add p50 %.1f ms; cold (--worktree-pool 0) p50 %.0f ms; rename → in done/ p50 %.0f ms", add ?? 0,
                                                  coldP50 ?? 0, (Percentiles(pooled.endToEnd).at(0.5) ?? 0) * 1000)))
        if let add, add > 0 {
            if let pooledP50 {
                report.figures.append(Figure("worktree start pooled ÷ plain git worktree add", unit: "×", better: .lower, mtor: (pooledP50 / add * 1000).rounded() / 1000,
                                             target: 0.1, samples: pooled.pickups.count))
            }
            if let coldP50 {
                report.figures.append(Figure("worktree start cold ÷ plain git worktree add", unit: "×", better: .lower, mtor: (coldP50 / add * 100).rounded() / 100,
                                             target: 1.3, samples: cold.pickups.count))
            }
        }
        report.notes.append(String(format: "worktree: %d files; pooled p50 %.1f ms, cold p50 %.1f ms vs plain `git worktree add -b` p50 %.1f ms, interleaved, %d/%d/%d samples; pool of 2 on disk: %@",
                                   Bench.worktreeFiles, pooledP50 ?? 0, coldP50 ?? 0, add ?? 0, pooled.pickups.count, cold.pickups.count, cold.plain.count + pooled.plain.count,
                                   pooled.poolDisk))
    }

    /// One worker with `--worktree-pool pool` running `ids` one after another, each beside a plain `git worktree add`.
    private func worktreeRun(_ big: String, label: String, ids: [String], pool: Int) throws(BenchError)
        -> (plain: [Double], pickups: [Double], endToEnd: [Double], poolDisk: String) {
        var plain: [Double] = [], pickups: [Double] = [], endToEnd: [Double] = [], disk = "-"
        try withContender(.mtor, label: label, extra: ["--worktree-pool", "\(pool)"]) { contender, spool, probe throws(BenchError) in
            try warmUp(.mtor, spool, probe)
            var inWorktree = spool
            inWorktree.worktreeRepo = big
            for (i, id) in ids.enumerated() {
                plain.append(try plainWorktreeAdd(big, n: plain.count + (pool > 0 ? 1000 : 0)))
                if pool > 0, i > 0 { try waitForReadyClone(spool) }
                try inWorktree.stage(id)
                let t0 = try inWorktree.drop(id)
                guard let started = probe.waitStarted(id, timeout: 120) else { throw .workload("worktree spec \(id) never started") }
                guard let finished = probe.waitFinished(id, timeout: 120) else { throw .workload("worktree spec \(id) started but never finished") }
                guard finished.succeeded else { throw .workload("worktree spec \(id) failed; read \(spool.root)/failed/\(id).result.json") }
                // The first spec of a pooled run found the pool empty (the repository was new to the worker).
                if pool == 0 || i > 0 { pickups.append(started - t0) }
                endToEnd.append(finished.time - t0)
            }
            if pool > 0 {
                try waitForReadyClone(spool, count: pool)
                let du = try? ChildProcess.run(["du", "-sh", "--", poolDirectory(spool)], environment: world.environment, timeout: 120)
                disk = du.map { String(decoding: $0.stdout, as: UTF8.self).split(separator: "\t").first.map(String.init) ?? "-" } ?? "-"
            }
            _ = contender
        }
        return (plain, pickups, endToEnd, disk)
    }

    /// The worker's pool directory in `spool`'s default workspaces.
    private func poolDirectory(_ spool: BenchSpool) -> String {
        let work = spool.root + "/work"
        return ((try? FileSystem.list(work)) ?? []).first { $0.hasPrefix(".pool-") }.map { work + "/" + $0 } ?? work
    }

    /// Waits until the pool holds `count` ready clones (their `.json` markers).
    private func waitForReadyClone(_ spool: BenchSpool, count: Int = 1) throws(BenchError) {
        let deadline = now() + 120
        while now() < deadline {
            let dir = poolDirectory(spool)
            let ready = ((try? FileSystem.list(dir)) ?? []).flatMap { key in ((try? FileSystem.list(dir + "/" + key)) ?? []).filter { $0.hasPrefix("ready-") && $0.hasSuffix(".json") } }
            if ready.count >= count { return }
            Thread.sleep(forTimeInterval: 0.02)
        }
        throw .workload("the worktree pool held fewer than \(count) ready clone(s) after 120 s")
    }

    /// Times one `git worktree add -b` of `repo` (then removes it, untimed).
    private func plainWorktreeAdd(_ repo: String, n: Int) throws(BenchError) -> Double {
        let dir = "\(world.root)/plain-wt-\(n)"
        let t0 = now()
        let r = try? ChildProcess.run(["git", "-C", repo, "worktree", "add", "-q", "-b", "plain/\(n)", dir, "HEAD"],
                                      environment: world.environment, timeout: 120)
        let elapsed = now() - t0
        guard let r, r.0.succeeded else { throw .workload("git worktree add failed: "
            + "\(r.map { String(decoding: $0.stderr, as: UTF8.self) } ?? "git not found")") }
        _ = try? ChildProcess.run(["git", "-C", repo, "worktree", "remove", "--force", dir], environment: world.environment, timeout: 120)
        return elapsed
    }

    /// A git repo of `files` small files in 50 directories, one commit.
    private func makeRepo(_ dir: String, files: Int) throws(BenchError) {
        try World.gitRepo(dir, environment: world.environment)
        do {
            for i in 0..<files {
                let sub = "\(dir)/src/m\(i % 50)"
                if i < 50 { try FileSystem.makeDirectories(sub) }
                let text = "// file \(i)\n" + String(repeating: "let value\(i) = \(i) // filler line\n", count: 6)
                try FileSystem.writeAtomically(Array(text.utf8), to: "\(sub)/f\(i).swift", mode: 0o644, durable: false)
            }
        } catch {
            throw .setup("\(error)")
        }
        for args in [["add", "-A"], ["-c", "user.name=mtor-bench", "-c", "user.email=bench@mtor.invalid", "commit", "-q", "-m", "\(files) files"]] {
            let r = try? ChildProcess.run(["git"] + args, environment: world.environment, directory: dir, timeout: 600)
            guard let r, r.0.succeeded else { throw .setup("git \(args[0]) failed in \(dir)") }
        }
    }
}
