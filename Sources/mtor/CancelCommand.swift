import Foundation
import MtorCore
import MtorPlatform
import MtorWorker

/// `mtor cancel ID [--wait]`: writes `cancel/<id>`; the worker fails a queued task as cancelled
/// and stops a running one's whole process group.
enum CancelCommand {
    static let command = Command(
        name: "cancel", operands: "ID", count: 1...1, summary: "cancel a queued or running task (writes cancel/<id>)",
        flags: [Flag(name: "--wait", help: "follow the task until it has ended"), .timeout], remote: true,
        details: "A queued task fails as cancelled at once; a running one's whole process group is stopped.", run: run)

    static func run(_ args: Arguments) throws(WorkerError) -> Int32 {
        let id = try Spool.taskID(args, for: "cancel")
        let limit = try WaitLimit(args)
        let spool = try Spool.existing(args)
        if let done = spool.result(id) { throw .failed("\(id) already ended: \(done.status.rawValue) (\(done.class.rawValue))") }
        guard let place = spool.locate(id) else { throw .notFound("no task '\(id)' in \(spool.root)") }
        try spool.ensure(["tmp", "cancel"])  // a spool no worker has run on yet has neither
        do {
            try FileSystem.writeAtomically([UInt8](), to: "\(spool.cancel)/\(id)", tmpDir: spool.tmp)
        } catch {
            throw .environment("cannot write \(spool.cancel)/\(id): \(error)")
        }
        if !args.json { print("cancel requested for \(id) (\(place.name == "claimed" ? "running" : "queued"))") }
        guard args.flags.contains("--wait") else { return 0 }
        let result = try TaskWatch(spool: spool, id: id, limit).follow()
        if args.json { Output.json(result) } else { print(TaskSummary.text(result)) }
        return result.status == .cancelled ? 0 : 1
    }
}
