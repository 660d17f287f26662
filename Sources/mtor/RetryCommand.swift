import Foundation
import MtorCore
import MtorPlatform
import MtorWorker

/// `mtor retry ID`: a failed (or cancelled) task goes back to inbox/ with its attempts reset;
/// its old sidecar stays in failed/ as `<id>.result.N.json`.
enum RetryCommand {
    static let command = Command(
        name: "retry", operands: "ID", count: 1...1, summary: "requeue a failed or cancelled task with its attempts reset",
        remote: true, details: "Its previous sidecar stays in failed/ as <id>.result.N.json.", run: run)

    static func run(_ args: Arguments) throws(WorkerError) -> Int32 {
        let id = try Spool.taskID(args, for: "retry")
        var spool = try Spool.existing(args)
        spool.appendAsThisHost()  // on a shared spool, this host's ledger: one writer host per file
        let spec = spool.spec(in: spool.failed, id)
        guard FileSystem.exists(spec) else {
            switch spool.locate(id)?.name {
            case "done"?: throw .failed("\(id) succeeded; there is nothing to retry (submit the spec again to run it again)")
            case "claimed"?: throw .failed("\(id) is running; cancel it first (`mtor cancel \(id)`)")
            case "inbox"?: throw .failed("\(id) is already queued")
            default: throw .notFound("no task '\(id)' in \(spool.root)")
            }
        }
        let previous = spool.result(id)
        try spool.ensure(["state"])  // the ledger line goes there; a hand-made spool may lack it
        var kept: String? = nil
        do {
            // The sidecar moves aside first: the worker then sees a free id when it claims the spec.
            // A crash in between leaves failed/<id>.md beside <id>.result.N.json, and retry finishes the job.
            let sidecar = spool.sidecar(in: spool.failed, id)
            if FileSystem.exists(sidecar) {
                var n = 1
                while FileSystem.exists("\(spool.failed)/\(id).result.\(n).json") { n += 1 }
                kept = "\(spool.failed)/\(id).result.\(n).json"
                try FileSystem.renameNoReplace(sidecar, kept!)
            }
            FileSystem.remove(spool.attemptsFile(id))
            FileSystem.remove("\(spool.cancel)/\(id)")
            spool.record(LedgerEntry(t: Stamp.iso(), id: id, event: .retried, class: previous?.class, attempt: 0, pid: ProcessControl.pid))
            try FileSystem.renameNoReplace(spec, spool.spec(in: spool.inbox, id))
            try FileSystem.syncDirectory(spool.failed)
            try FileSystem.syncDirectory(spool.inbox)
        } catch {
            throw .environment("cannot requeue \(id): \(error)")
        }
        if args.json { Output.json(["id": id, "state": "queued", "previous_result": kept ?? ""]) }
        else { print("requeued \(id)\(previous.map { " (was \($0.status.rawValue): \($0.class.rawValue))" } ?? "")\(kept.map { "; its previous result is kept as \($0)" } ?? "")") }
        return 0
    }
}
