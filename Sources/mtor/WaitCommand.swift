import Foundation
import MtorCore
import MtorWorker

/// `mtor wait ID...`: follows tasks until they end, prints their results; exit 0 only when all succeeded.
enum WaitCommand {
    static func run(_ args: Arguments) throws(WorkerError) -> Int32 {
        guard !args.positional.isEmpty else { throw .usage("wait needs at least one task id") }
        let limit = try WaitLimit(args)
        let spool = try Spool.existing(args)
        var results: [TaskResult] = []
        for id in args.positional {
            let result = try TaskWatch(spool: spool, id: id, limit).follow()
            if !args.json { print(TaskSummary.text(result)) }
            results.append(result)
        }
        if args.json { Output.json(results) }
        return results.allSatisfy { $0.status == .succeeded } ? 0 : 1
    }
}
