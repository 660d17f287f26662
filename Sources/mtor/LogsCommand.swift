import Foundation
import MtorCore
import MtorPlatform
import MtorWorker

/// `mtor logs ID [-f]`: the agent log; with `-f`, followed until the task ends.
enum LogsCommand {
    static let command = Command(
        name: "logs", operands: "ID", count: 1...1, summary: "print a task's agent log",
        flags: [Flag(name: "--follow", short: "-f", help: "keep printing until the task ends")], remote: true, run: run)

    static func run(_ args: Arguments) throws(WorkerError) -> Int32 {
        let id = try Spool.taskID(args, for: "logs")
        let spool = try Spool.existing(args)
        let path = spool.log(id)
        let follow = args.flags.contains("--follow")
        guard follow else {
            guard FileManager.default.fileExists(atPath: path) else {
                guard spool.locate(id) != nil || spool.result(id) != nil else { throw .notFound("no task '\(id)' in \(spool.root)") }
                Output.error("\(id) has no log yet")
                return 0
            }
            _ = copy(path, from: 0)
            return 0
        }
        var offset: UInt64 = 0
        var missingSince: Double? = nil
        while true {
            let finished = spool.result(id) != nil // checked before reading, so the last bytes are not missed
            offset = copy(path, from: offset)
            if finished { return 0 }
            if spool.locate(id) == nil {
                let since = missingSince ?? now()
                missingSince = since
                if now() - since > 10 { throw .notFound("no task '\(id)' in \(spool.root)") }
            } else {
                missingSince = nil
            }
            Thread.sleep(forTimeInterval: 0.25)
        }
    }

    /// Writes the file's bytes from `offset` on to stdout; returns the new offset.
    private static func copy(_ path: String, from offset: UInt64) -> UInt64 {
        guard let handle = FileHandle(forReadingAtPath: path) else { return offset }
        defer { try? handle.close() }
        var position = offset
        try? handle.seek(toOffset: offset)
        while let chunk = try? handle.read(upToCount: 1 << 20), !chunk.isEmpty {
            FileHandle.standardOutput.write(chunk)
            position += UInt64(chunk.count)
        }
        return position
    }
}
