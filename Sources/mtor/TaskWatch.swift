import Foundation
import MtorCore
import MtorPlatform
import MtorWorker

/// Follows one task through the spool — queued → running (elapsed) → result — printing each
/// change on stderr, so stdout stays clean for the result (or its JSON).
struct TaskWatch {
    let spool: Spool
    let id: String
    /// Seconds between "still running" lines.
    var reportEvery = 30.0
    /// Seconds a task may be in no directory before it is taken to be gone.
    var vanishAfter = 10.0
    /// `--timeout`: one deadline shared by every task of one command.
    let limit: WaitLimit

    init(spool: Spool, id: String, _ limit: WaitLimit) {
        self.spool = spool
        self.id = id
        self.limit = limit
    }

    /// Blocks until the task has a result sidecar.
    func follow() throws(WorkerError) -> TaskResult {
        var lastState = ""
        var lastReport = 0.0
        var missingSince: Double? = nil
        guard spool.knows(id) else {
            throw .notFound("no task '\(id)' in \(spool.root) (not in inbox/, claimed/, done/ or failed/); `mtor status` lists the queue")
        }
        while true {
            if let result = spool.result(id) { return result }
            if let place = spool.locate(id) ?? spool.queuedUnderOriginalName(id).map({ _ in (spool.inbox, "inbox") }) {
                missingSince = nil
                let (state, line) = describe(place.name)
                if let line, state != lastState || now() - lastReport >= reportEvery {
                    say("\(id): \(line)")
                    lastState = state
                    lastReport = now()
                }
            } else if let since = missingSince {
                if now() - since > vanishAfter { throw .notFound("task '\(id)' is no longer in \(spool.root) (not in inbox/, claimed/, done/ or failed/)") }
            } else {
                missingSince = now()
            }
            if let deadline = limit.deadline, now() >= deadline {
                let state = lastState.isEmpty ? "not finished" : "still \(lastState.split(whereSeparator: { $0 == " " || $0 == ":" }).first.map(String.init) ?? lastState)"
                throw .failed("task '\(id)' is \(state) after --timeout \(limit.text); it goes on — follow it again with 'mtor wait \(id)'")
            }
            Thread.sleep(forTimeInterval: 0.25)
        }
    }

    /// What counts as a change of state, and the line that tells it (nil: nothing to say yet).
    private func describe(_ dir: String) -> (state: String, line: String?) {
        switch dir {
        case "inbox":
            // Said as soon as the worker knows why it holds the task, and again when that changes.
            if let held = spool.heldReason(id) { return ("queued: \(held)", "queued — held: \(held)") }
            return ("queued", "queued")
        case "claimed":
            let claim = spool.claim(id)
            let live = spool.publishedStates().lazy.flatMap(\.running).first { $0.id == id }
            let attempt = live.flatMap { $0.attempt > 0 ? $0.attempt : nil } ?? claim?.attempt ?? 0
            let provider = live?.provider ?? claim?.provider
            let phase = live?.phase ?? "running"
            var parts: [String] = []
            if attempt > 0 { parts.append("attempt \(attempt)\(provider.map { " on \($0)" } ?? "")") }
            if let started = (claim?.startedAt ?? live?.startedAt).flatMap(Stamp.date) {
                parts.append("\(DurationText.format(max(0, Date().timeIntervalSince(started)))) elapsed")
            }
            if let active = live?.lastActivityAt.flatMap(Stamp.date) {
                parts.append("last activity \(DurationText.format(max(0, Date().timeIntervalSince(active)))) ago")
            }
            if let next = live?.nextAttemptAt ?? claim?.nextAttemptAt { parts.append("next attempt at \(next)") }
            let detail = parts.isEmpty ? "" : " (" + parts.joined(separator: ", ") + ")"
            // Until the first attempt is known, say nothing: the claim record is a moment behind the rename.
            let word = phase == "starting" ? "running" : phase
            return ("\(word) \(attempt)", attempt == 0 ? nil : word + detail)
        default:
            return ("", nil) // between a sidecar and its spec's move: the result is a moment away
        }
    }

    private func say(_ line: String) {
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }
}

/// `--timeout` of wait, submit --wait and cancel --wait: one deadline for the whole command.
struct WaitLimit {
    var deadline: Double?
    var text: String

    init(_ args: Arguments) throws(WorkerError) {
        text = args.values["--timeout"] ?? ""
        deadline = args.values["--timeout"] == nil ? nil : now() + (try args.seconds("--timeout", default: 0))
    }
}
