import Foundation
import MtorCore
import MtorWorker

/// `mtor merge ID`: fast-forwards a reviewed task's base branch to the commit its result recorded, when safe.
enum MergeCommand {
    static let command = Command(
        name: "merge", operands: "ID", count: 1...1, summary: "fast-forward a finished task's base branch to its branch, only when safe",
        details: "Merges the commit the task's result recorded (git.head_after), never a later tip of its branch. Safe: the branch still contains that commit, the base branch has not moved on since the task started and, where it is checked out, that checkout is clean. Exit 1 with the reason otherwise. No hook or configured program of the repository runs.",
        run: run)

    static func run(_ args: Arguments) throws(WorkerError) -> Int32 {
        let id = args.positional[0]
        let spool = Spool(root: args.spool)
        guard let result = spool.result(id) else { throw .notFound("no finished task '\(id)' in \(spool.root); `mtor status` lists tasks") }
        let env = ProcessInfo.processInfo.environment
        let outcome = try TaskMerge.merge(result, environment: ["PATH": env["PATH"] ?? "/usr/local/bin:/usr/bin:/bin", "HOME": env["HOME"] ?? "/",
                                                                "USER": env["USER"] ?? "mtor", "LANG": env["LANG"] ?? "C.UTF-8", "TMPDIR": env["TMPDIR"] ?? "/tmp"])
        if args.json {
            Output.json(outcome)
        } else if outcome.integrated == "merged" {
            print("\(id): \(outcome.base ?? "the base") now points at \(outcome.branch)")
        } else {
            print("\(id): not merged: \(outcome.reason ?? "unknown reason")")
        }
        return outcome.integrated == "merged" ? 0 : 1
    }
}
