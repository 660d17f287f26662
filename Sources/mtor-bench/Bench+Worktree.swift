import Foundation
import MtorPlatform

/// Worktree pickup: rename into inbox/ → the agent's first command, for a spec in its own
/// worktree of a generated 5,000-file repo, beside a plain `git worktree add` of the same repo
/// in the same run (the two interleaved, so both see the same caches and load).
extension Bench {
    static let worktreeFiles = 5000

    func worktree() throws(BenchError) {
        let big = world.home + "/big"
        log("worktree: generating a repo of \(Bench.worktreeFiles) files")
        try makeRepo(big, files: Bench.worktreeFiles)
        let ids = ids("wt", scale.worktreeSpecs)
        var plain: [Double] = [], pickups: [Double] = [], endToEnd: [Double] = []
        try withContender(.mtor, label: "worktree") { contender, spool, probe throws(BenchError) in
            try warmUp(.mtor, spool, probe)
            var inWorktree = spool
            inWorktree.worktreeRepo = big
            for (i, id) in ids.enumerated() {
                plain.append(try plainWorktreeAdd(big, n: i))
                try inWorktree.stage(id)
                let t0 = try inWorktree.drop(id)
                guard let started = probe.waitStarted(id, timeout: 60) else { throw .workload("worktree spec \(id) never started") }
                guard let finished = probe.waitFinished(id, timeout: 60) else { throw .workload("worktree spec \(id) started but never finished") }
                guard finished.succeeded else { throw .workload("worktree spec \(id) failed; read \(spool.root)/failed/\(id).result.json") }
                pickups.append(started - t0)
                endToEnd.append(finished.time - t0)
            }
            _ = contender
        }
        let mtor = Percentiles(pickups).at(0.5).map { $0 * 1000 }
        let add = Percentiles(plain).at(0.5).map { $0 * 1000 }
        report.figures.append(Figure("worktree: rename → first command p50", unit: "ms", better: .lower, mtor: mtor, samples: pickups.count,
                                     note: String(format: "plain git worktree add p50 %.1f ms; rename → in done/ p50 %.0f ms "
                                         + "(worktree removed)", add ?? 0,
                                                  (Percentiles(endToEnd).at(0.5) ?? 0) * 1000)))
        if let mtor, let add, add > 0 {
            report.figures.append(Figure("worktree pickup ÷ plain git "
                + "worktree add", unit: "×", better: .lower, mtor: (mtor / add * 100).rounded() / 100,
                                         target: 1.3, samples: pickups.count))
        }
        report.notes.append(String(format: "worktree: %d files; mtor p50 %.1f ms vs plain `git worktree add -b` p50 %.1f ms, interleaved, %d "
            + "samples each", Bench.worktreeFiles, mtor ?? 0, add ?? 0, plain.count))
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
