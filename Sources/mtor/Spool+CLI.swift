import Foundation
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

    /// The first operand as a task id (see `taskID(_:)`).
    static func taskID(_ args: Arguments, for command: String) throws(WorkerError) -> String {
        try Spool(root: args.spool).taskID(args.positional[0])
    }

    /// A task id from the command line: an id, or the name of the file as it was dropped in inbox/
    /// (`my task (1)` or `my task (1).md`, whose id is `my-task--1-`). Never a path outside the spool.
    func taskID(_ word: String) throws(WorkerError) -> String {
        let stem = word.hasSuffix(".md") ? String(word.dropLast(3)) : word
        guard !stem.isEmpty, !stem.contains("/"), stem != ".", stem != ".." else {
            throw .usage("'\(word)' is not a task id ([A-Za-z0-9._-], at most 100, not starting with '.') or the name of a spec file in inbox/")
        }
        if TaskID.isValid(stem) { return stem }
        // The worker may have added a suffix on a collision: its claim record keeps the original name.
        for name in (try? FileSystem.list(claimed)) ?? [] where name.hasSuffix(".claim.json") {
            let id = String(name.dropLast(".claim.json".count))
            if claim(id)?.file == stem + ".md" { return id }
        }
        return TaskID.from(fileName: stem + ".md")
    }

    /// Whether the task is anywhere in the spool: a directory, a claim, or still in inbox/ under its original name.
    func knows(_ id: String) -> Bool {
        if locate(id) != nil || result(id) != nil || claim(id) != nil { return true }
        return queuedUnderOriginalName(id) != nil
    }

    /// The inbox file whose id will be `id` when it is claimed, when its name is not the id itself.
    func queuedUnderOriginalName(_ id: String) -> String? {
        ((try? FileSystem.list(inbox)) ?? []).first { $0.hasSuffix(".md") && !TaskID.isTemporary($0) && TaskID.from(fileName: $0) == id }
    }
}
