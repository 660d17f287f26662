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

    /// A task id from the command line, by the one rule `depends_on` uses (`TaskNames.resolve`): the
    /// task with that id, else the id of a file of that name dropped in inbox/ (`my task (1)` or
    /// `my task (1).md` → `my-task--1-`), else the newest task submitted from a file of that name.
    /// A name no task has comes back as the id it would be, for the command to say so. Never a path outside the spool.
    func taskID(_ word: String) throws(WorkerError) -> String {
        let stem = word.hasSuffix(".md") ? String(word.dropLast(3)) : word
        guard !stem.isEmpty, !stem.contains("/"), stem != ".", stem != ".." else {
            throw .usage("'\(word)' is not a task id ([A-Za-z0-9._-], at most 100, not starting with '.') or the name of a spec file in inbox/")
        }
        return TaskNames.resolve(word, in: self) ?? TaskID.from(fileName: stem + ".md")
    }

    /// Makes the spool directories a command writes in when no worker has made them yet (a spool
    /// that is only the inbox/ its user created), with the modes the worker gives them (`prepare`):
    /// 0700, or 2770 on a group-shared (setgid) spool whatever the caller's umask. Refuses a link or
    /// a file in a directory's place, as the worker does.
    func ensure(_ dirs: [String]) throws(WorkerError) {
        for dir in dirs {
            let path = root + "/" + dir
            do { try FileSystem.makeDirectories(path) } catch {
                throw .environment("cannot create \(path): \(error); check that the spool is writable by you (on a shared spool: that you are in its group)")
            }
            let kind = FileSystem.kind(path)
            guard kind == .directory else {
                throw .environment("spool directory \(path) is \(kind), not a directory; mtor never writes through links below the spool — replace it with a real directory")
            }
        }
    }

    /// Whether the task is anywhere in the spool: a directory, a claim, or still in inbox/ under its original name.
    func knows(_ id: String) -> Bool {
        if locate(id) != nil || result(id) != nil || claim(id) != nil { return true }
        return queuedUnderOriginalName(id) != nil
    }

    /// Why the live worker holds a queued task in inbox/ (its `waiting` line in worker.json): a
    /// provider that failed preflight with its class, reason and hint, capacity, a pause, a dependency.
    func heldReason(_ id: String) -> String? {
        // worker.json, or on a shared spool each worker's own state file: any of them may hold it.
        let waiting = publishedStates().filter { $0.exitedAt == nil }.flatMap(\.waiting)
        guard !waiting.isEmpty else { return nil }
        let names = Set(["\(id).md"] + [queuedUnderOriginalName(id)].compactMap { $0 })
        for line in waiting {
            // "inbox/<name>: <why>"
            guard line.hasPrefix("inbox/"), let colon = line.range(of: ": ") else { continue }
            let name = String(line[line.index(line.startIndex, offsetBy: 6)..<colon.lowerBound])
            if names.contains(name) { return String(line[colon.upperBound...]) }
        }
        return nil
    }

    /// The spool's pause, when no live worker gave a reason of its own (the marker holds every worker).
    func pauseReason() -> String? {
        PauseMarker.all(self).first { $0.provider == nil }.map { "the spool is \($0.sentence) (`mtor resume` starts it again)" }
    }

    /// The inbox file whose id will be `id` when it is claimed, when its name is not the id itself.
    func queuedUnderOriginalName(_ id: String) -> String? {
        ((try? FileSystem.list(inbox)) ?? []).first { $0.hasSuffix(".md") && !TaskID.isTemporary($0) && TaskID.from(fileName: $0) == id }
    }
}
