import MtorCore
import MtorPlatform
import MtorWorker

extension Spool {
    /// The spool the command names, refusing a path that is not one (exit 3).
    static func existing(_ args: Arguments) throws(WorkerError) -> Spool {
        let spool = Spool(root: args.spool)
        guard FileSystem.kind(spool.inbox) == .directory else {
            throw .environment("no spool at \(spool.root) (no inbox/); pass --spool DIR or set MTOR_SPOOL")
        }
        return spool
    }

    /// A task id from the command line, checked so it can never name a path outside the spool.
    static func taskID(_ args: Arguments, for command: String) throws(WorkerError) -> String {
        guard let id = args.positional.first else { throw .usage("\(command) needs a task id") }
        let trimmed = id.hasSuffix(".md") ? String(id.dropLast(3)) : id
        guard TaskID.isValid(trimmed) else { throw .usage("'\(id)' is not a task id ([A-Za-z0-9._-], at most 100, not starting with '.')") }
        return trimmed
    }
}
