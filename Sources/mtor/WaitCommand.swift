import Foundation
import MtorCore
import MtorWorker

/// `mtor wait ID...`: follows tasks until they end, prints their results; exit 0 only when all succeeded.
enum WaitCommand {
    static let command = Command(
        name: "wait", operands: "ID...", count: 1...Int.max, summary: "follow tasks until they end; exit 0 only if all succeeded",
        flags: [.timeout], remote: true,
        details: "Progress goes to stderr, results to stdout. An id that is nowhere in the spool exits 4 at once.", run: run)

    static func run(_ args: Arguments) throws(WorkerError) -> Int32 {
        let limit = try WaitLimit(args)
        let spool = try Spool.existing(args)
        var results: [TaskResult] = []
        var ids: [String] = []
        for word in args.positional {
            let id = try spool.taskID(word)
            guard spool.knows(id) else { throw .notFound("no task '\(word)' in \(spool.root) (not in inbox/, claimed/, done/ or failed/); `mtor status` lists the queue") }
            if let note = TaskNames.ambiguity(word, in: spool) { Output.error(note) }
            ids.append(id)
        }
        for id in ids {
            let result = try TaskWatch(spool: spool, id: id, limit).follow()
            if !args.json { print(TaskSummary.text(result)) }
            results.append(result)
        }
        if args.json { Output.json(results) }
        return results.allSatisfy { $0.status == .succeeded } ? 0 : 1
    }
}
