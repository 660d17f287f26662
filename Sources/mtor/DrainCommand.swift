import Foundation
import MtorCore
import MtorPlatform
import MtorWorker

/// `mtor drain`: pause, then wait until no task runs (for maintenance scripts).
enum DrainCommand {
    static let command = Command(
        name: "drain", summary: "pause the spool and wait until no task runs; exit 0 when idle",
        flags: [Flag(name: "--timeout", value: "D", help: "stop waiting after D (90s, 15m, 2h) and exit 1; the pause stays")], remote: true,
        details: "Running tasks finish normally; queued ones stay in inbox/. The pause stays after drain exits: `mtor resume` starts the spool again.",
        run: run)

    static func run(_ args: Arguments) throws(WorkerError) -> Int32 {
        let spool = try Spool.existing(args)
        let limit = try WaitLimit(args)
        let marker = try PauseMarker.pause(spool, provider: nil)
        say("the spool is \(marker.sentence); waiting for running tasks to finish")
        var lastCount = -1
        while true {
            let running = ((try? FileSystem.list(spool.claimed)) ?? []).filter { $0.hasSuffix(".md") && !TaskID.isTemporary($0) }.sorted()
            if running.isEmpty {
                if args.json { Output.json(["idle": true]) } else { print("drained: nothing runs on \(spool.root); `mtor resume` starts it again") }
                return 0
            }
            if running.count != lastCount {
                say("\(running.count) running: \(running.prefix(5).map { String($0.dropLast(3)) }.joined(separator: ", "))\(running.count > 5 ? ", …" : "")")
                lastCount = running.count
            }
            if let deadline = limit.deadline, now() >= deadline {
                throw .failed("\(running.count) task(s) still running after --timeout \(limit.text); the spool stays paused — run `mtor drain` again to keep waiting")
            }
            Thread.sleep(forTimeInterval: 0.25)
        }
    }

    private static func say(_ line: String) { FileHandle.standardError.write(Data((line + "\n").utf8)) }
}
