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

    /// Blocks until the task has a result sidecar.
    func follow() throws(WorkerError) -> TaskResult {
        var lastState = ""
        var lastReport = 0.0
        var missingSince: Double? = nil
        while true {
            if let result = spool.result(id) { return result }
            if let place = spool.locate(id) {
                missingSince = nil
                let (state, detail) = describe(place.name)
                if state != lastState || now() - lastReport >= reportEvery {
                    if !state.isEmpty { say("\(id): \(state)\(detail)") }
                    lastState = state
                    lastReport = now()
                }
            } else if let since = missingSince {
                if now() - since > vanishAfter { throw .notFound("task '\(id)' is no longer in \(spool.root) (not in inbox/, claimed/, done/ or failed/)") }
            } else {
                missingSince = now()
            }
            Thread.sleep(forTimeInterval: 0.25)
        }
    }

    /// The state word (what counts as a change) and the details that go with it.
    private func describe(_ dir: String) -> (String, String) {
        switch dir {
        case "inbox": return ("queued", "")
        case "claimed":
            let claim = (try? FileSystem.read(spool.claimFile(id))).flatMap { try? JSONDecoder().decode(ClaimRecord.self, from: Data($0)) }
            let live = (try? FileSystem.read(spool.state + "/worker.json"))
                .flatMap { try? JSONDecoder().decode(WorkerState.self, from: Data($0)) }?.running.first { $0.id == id }
            let attempt = live?.attempt ?? claim?.attempt ?? 0
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
            return (phase == "starting" ? "running" : phase, detail)
        default:
            return ("", "") // between a sidecar and its spec's move: the result is a moment away
        }
    }

    private func say(_ line: String) {
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }
}
