import Foundation
import MtorCore
import MtorPlatform

/// The merge queue: `mtor merge --all` landing N finished, non-conflicting branches whose
/// `verify:` takes 1 s each, against the sum of those verify times measured in the same run
/// (each landing's merge record holds its verify's duration): the queue's own cost is the rest.
extension Bench {
    func merge() throws(BenchError) {
        let count = options.quick ? 5 : 20
        let repo = world.root + "/merge-repo"
        try World.gitRepo(repo, environment: world.environment)
        let spool = try world.spool("merge")
        func git(_ args: [String]) throws(BenchError) -> String {
            let r = try? ChildProcess.run(["git", "-c", "user.name=mtor-bench", "-c", "user.email=bench@mtor.invalid"] + args,
                                          environment: world.environment, directory: repo, timeout: 120)
            guard let r, r.0.succeeded else { throw .setup("git \(args.joined(separator: " ")) failed in \(repo)") }
            return String(decoding: r.stdout, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        }
        log("merge: \(count) finished branches, verify `sleep 1` each")
        let base = try git(["rev-parse", "HEAD"])
        let start = Date().addingTimeInterval(-Double(count))
        for i in 0..<count {
            let id = "m\(i)"
            _ = try git(["checkout", "-q", "-b", "mtor/\(id)", base])
            do { try FileSystem.writeAtomically(Array("task \(i)\n".utf8), to: "\(repo)/\(id).txt", mode: 0o644, durable: false) } catch { throw .setup("\(error)") }
            _ = try git(["add", "\(id).txt"])
            _ = try git(["commit", "-q", "-m", id])
            let sha = try git(["rev-parse", "HEAD"])
            var g = TaskResult.Git(headBefore: base, headAfter: sha, commits: [TaskResult.Commit(sha: sha, subject: id)])
            g.branch = "mtor/\(id)"
            g.base = "main"
            let finished = Stamp.iso(start.addingTimeInterval(Double(i)))
            let result = TaskResult(id: id, status: .succeeded, class: .ok, reason: "the agent finished successfully", hint: "",
                                    spec: .init(file: "\(id).md", repo: repo, harness: "sh"), attempts: [], git: g,
                                    verify: .init(command: "sleep 1", exitCode: 0, durationS: 1, outputTail: ""), log: "logs/\(id).log",
                                    worker: .init(host: "bench", pid: 1,
                                                  version: "bench"), containment: nil, claimedAt: finished, finishedAt: finished)
            do {
                try FileSystem.writeAtomically(Array("---\nrepo: \(repo)\nharness: sh\nverify: sleep 1\n---\necho \(i) > \(id).txt\n".utf8),
                                               to: "\(spool.root)/done/\(id).md", mode: 0o644, durable: false)
                try FileSystem.writeAtomically(Array(try JSONEncoder().encode(result)), to: "\(spool.root)/done/\(id).result.json",
                                               mode: 0o644, durable: false)
            } catch { throw .setup("\(error)") }
        }
        _ = try git(["checkout", "-q", "main"])
        let t0 = now()
        let run = try? ChildProcess.run([options.mtor, "merge", "--all", "--spool", spool.root], environment: world.environment,
                                        directory: world.root, timeout: Double(count) * 60)
        let wall = now() - t0
        guard let run, run.0.succeeded else {
            throw .workload("mtor merge --all failed: "
                + "\(run.map { String(decoding: $0.stdout + $0.stderr, as: UTF8.self).suffix(2000) } ?? "mtor not found")")
        }
        var verifySum = 0.0
        for i in 0..<count {
            guard let bytes = try? FileSystem.read("\(spool.root)/done/m\(i).merge.json"),
                  let record = try? JSONDecoder().decode(MergeRecord.self, from: Data(bytes)),
                  record.state == .landed, let v = record.verify else { throw .workload("m\(i) did not land; read "
                      + "\(spool.root)/done/m\(i).merge.json") }
            verifySum += v.durationS
        }
        let ratio = (wall / verifySum * 1000).rounded() / 1000
        report.figures.append(Figure("merge --all: \(count) branches, "
            + "verify 1 s each", unit: "s", better: .lower, mtor: (wall * 100).rounded() / 100, samples: count,
                                     note: String(format: "sum of the %d verify runs (from their merge records, same run) %.2f s", count, verifySum)))
        report.figures.append(Figure("merge --all ÷ sum of verify times", unit: "×", better: .lower, mtor: ratio, target: 1.2, samples: count))
        report.notes.append(String(format: "merge: %d non-conflicting branches rebased in scratch clones, verified (sandboxed, contained), "
            + "fast-forwarded: %.2f s wall, %.2f s of it verify; %.0f ms of queue work per branch",
                                   count, wall, verifySum, (wall - verifySum) / Double(count) * 1000))
    }
}
