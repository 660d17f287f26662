import Foundation
import MtorCore
import MtorWorker

/// `mtor pause [--provider P]` and `mtor resume [--provider P]`: the pause is a file in state/.
enum PauseCommand {
    static let provider = Flag(name: "--provider", value: "P", help: "only this provider's specs (default: the whole spool)")

    static let pause = Command(
        name: "pause", summary: "stop new claims on the spool (or one provider); running tasks go on",
        flags: [provider], remote: true,
        details: "Writes state/paused (or state/paused-P), which every worker on the spool honours within a second and keeps across restarts. Queued specs wait in inbox/; `mtor show ID` and `mtor status` say why.",
        run: { args throws(WorkerError) in
            let spool = try Spool.existing(args)
            let marker = try PauseMarker.pause(spool, provider: try name(args))
            if args.json { Output.json(marker) } else { print("\(scope(marker.provider)) \(marker.sentence); `mtor resume\(marker.provider.map { " --provider \($0)" } ?? "")` starts it again") }
            return 0
        })

    static let resume = Command(
        name: "resume", summary: "start claiming again after `mtor pause` or `mtor drain`",
        flags: [provider], remote: true,
        details: "Removes state/paused (or state/paused-P). Resuming a spool that is not paused says so and exits 0.",
        run: { args throws(WorkerError) in
            let spool = try Spool.existing(args)
            let p = try name(args)
            let was = try PauseMarker.resume(spool, provider: p)
            if args.json { Output.json(["resumed": was]) } else { print(was ? "\(scope(p)) resumed" : "\(scope(p)) was not paused") }
            let others = PauseMarker.all(spool)
            if !args.json, !others.isEmpty { print("still paused: " + others.map { "\(scope($0.provider)) (\($0.sentence))" }.joined(separator: "; ")) }
            return 0
        })

    static func scope(_ provider: String?) -> String { provider.map { "provider \($0)" } ?? "the spool" }

    /// `--provider`, checked to be a name that can be part of a file name.
    static func name(_ args: Arguments) throws(WorkerError) -> String? {
        guard let p = args.values["--provider"] else { return nil }
        guard TaskID.isValid(p) else { throw .usage("--provider must be a provider name from the lockfile ([A-Za-z0-9._-]), got '\(p)'") }
        return p
    }
}
