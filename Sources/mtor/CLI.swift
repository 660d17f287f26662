import Foundation
import MtorWorker

/// `mtor COMMAND ...`: dispatches to one file per command and maps errors to exit codes.
enum CLI {
    static let usage = """
    usage: mtor COMMAND [--spool DIR] [--json]
      worker [--providers FILE] [--env-file FILE] [--once] [--concurrency N] [--grace S]
             [--allow-repos D:D] [--rescan S] [--reprobe-idle S] [--retries-per-minute N] [--log-cap BYTES]
             [--workspaces DIR] [--keep-workspaces] [--review-max-lines N]
      submit SPEC... [--to [user@]host:SPOOL] [--via rsync|scp] [--wait [--timeout D]]
                                 validate, name and upload atomically (tmp/ then inbox/)
      validate SPEC...           check specs with the worker's own checks
      status                     counts, running tasks, provider health, last 24 h
      show ID                    the result or live state of one task
      wait ID... [--timeout D]   follow tasks until they end (exit 0 only if all succeeded)
      logs ID [-f]               the agent log, followed until the task ends with -f
      retry ID                   requeue a failed task with its attempts reset
      cancel ID [--wait]         cancel a queued or running task
      doctor [--provider P]      real API calls, harness versions, env file, spool, inotify, disk
      lock check                 lockfile vs env file vs scripts and units in etc/
      merge ID                   fast-forward a reviewed task's base branch to its branch (safe only)
    status, show, wait, logs, retry and cancel take --to [user@]host:SPOOL to run `mtor` there
    over ssh (--remote-mtor PATH names it; --ssh-config FILE or $MTOR_SSH_CONFIG is passed as -F).
    """

    /// Commands that run on the spool's machine when given `--to host:SPOOL`.
    static let remoteCommands: Set<String> = ["status", "show", "wait", "logs", "retry", "cancel"]

    static func run(_ words: [String]) -> Int32 {
        guard let command = words.first, command != "--help", command != "-h", command != "help" else {
            print(usage)
            return words.isEmpty ? 2 : 0
        }
        do {
            let args = try Arguments(Array(words.dropFirst()))
            if let to = args.values["--to"], command != "submit" {
                guard remoteCommands.contains(command) else { throw WorkerError.usage("\(command) does not take --to") }
                return try SSH(args).forward(command, args, remote: RemoteSpool(to))
            }
            switch command {
            case "submit": return try SubmitCommand.run(args)
            case "status": return try StatusCommand.run(args)
            case "wait": return try WaitCommand.run(args)
            case "logs": return try LogsCommand.run(args)
            case "retry": return try RetryCommand.run(args)
            case "cancel": return try CancelCommand.run(args)
            case "worker": return try WorkerCommand.run(args)
            case "validate": return try ValidateCommand.run(args)
            case "show": return try ShowCommand.run(args)
            case "doctor": return try DoctorCommand.run(args)
            case "lock": return try LockCommand.run(args)
            case "merge": return try MergeCommand.run(args)
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
