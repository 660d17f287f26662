import Foundation
import MtorWorker

/// `mtor COMMAND ...`: dispatches to one file per command and maps errors to exit codes.
enum CLI {
    static let usage = """
    usage: mtor COMMAND [--spool DIR] [--json]
      worker [--providers FILE] [--env-file FILE] [--once] [--concurrency N]
      validate SPEC...           check specs with the worker's own checks
      show ID                    the result or live state of one task
      doctor [--provider P]      real API calls, harness versions, env file, spool, inotify, disk
      lock check                 lockfile vs env file vs scripts and units in etc/
    """

    static func run(_ words: [String]) -> Int32 {
        guard let command = words.first, command != "--help", command != "-h", command != "help" else {
            print(usage)
            return words.isEmpty ? 2 : 0
        }
        do {
            let args = try Arguments(Array(words.dropFirst()))
            switch command {
            case "worker": return try WorkerCommand.run(args)
            case "validate": return try ValidateCommand.run(args)
            case "show": return try ShowCommand.run(args)
            case "doctor": return try DoctorCommand.run(args)
            case "lock": return try LockCommand.run(args)
            case "version", "--version": print("mtor \(mtorVersion)"); return 0
            default: throw WorkerError.usage("unknown command '\(command)'\n\(usage)")
            }
        } catch let error as WorkerError {
            Output.error(error.description)
            return error.exitCode
        } catch {
            Output.error("internal error: \(error)")
            return 1
        }
    }
}
