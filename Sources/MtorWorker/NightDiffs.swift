import Foundation
import MtorCore
import MtorPlatform

/// What `mtor review` reads: every finished task's sidecar (done/ and failed/), merge records, and
/// each task's diff from its repository (hardened git: nothing the repository names runs).
public enum NightDiffs {
    /// Sidecars in done/ and failed/ (unreadable ones are left out).
    public static func results(_ spool: Spool) -> [TaskResult] {
        [spool.done, spool.failed].flatMap { dir in
            ((try? FileSystem.list(dir)) ?? []).filter { $0.hasSuffix(".result.json") && !$0.hasPrefix(".") }.compactMap { name -> TaskResult? in
                guard let bytes = try? FileSystem.read("\(dir)/\(name)", limit: 16 << 20) else { return nil }
                return try? JSONDecoder().decode(TaskResult.self, from: Data(bytes))
            }
        }
    }

    public static func records(_ spool: Spool, ids: [String]) -> [String: MergeRecord] {
        var out: [String: MergeRecord] = [:]
        for id in ids { out[id] = spool.mergeRecord(id) }
        return out
    }

    /// `git diff --stat --patch head_before head_after` of each task with commits, capped at `cap` bytes each.
    public static func diffs(_ results: [TaskResult], environment: [String: String], cap: Int = 200_000) -> [String: String] {
        let shell = GitShell(base: environment, containment: nil)
        var out: [String: String] = [:]
        for r in results {
            guard let repo = r.spec.repo, let before = r.git?.headBefore, let after = r.git?.headAfter, before != after,
                  Git.isSHA(before), Git.isSHA(after) else { continue }
            let d = shell.git(["diff", "--no-color", "--stat", "--patch", before, after, "--"], in: repo, timeout: 120)
            guard d.ok else { continue }
            var text = String(decoding: d.out.prefix(cap), as: UTF8.self)
            if d.out.count > cap { text += "\n… (cut at \(cap / 1000) kB; `git diff \(before.prefix(10)) \(after.prefix(10))` in \(repo) "
                + "shows it all)" }
            out[r.id] = text
        }
        return out
    }
}
