import Foundation
import MtorCore
import MtorPlatform
import MtorWorker

/// `mtor COMMAND ...`: finds the command in the registry, parses its words against the flags it
/// declares (help, unknown flags and extra operands are handled here, before anything acts),
/// then runs it and maps errors to exit codes.
enum CLI {
    /// Every command, in the order `mtor help` lists them. A command exists only by being here.
    static let commands: [Command] = [
        WorkerCommand.command, SubmitCommand.command, ValidateCommand.command, ConvertCommand.command, StatusCommand.command,
        ShowCommand.command, WaitCommand.command, LogsCommand.command, RetryCommand.command,
        CancelCommand.command, PauseCommand.pause, PauseCommand.resume, DrainCommand.command, DoctorCommand.command, LockCommand.command, MergeCommand.command, ReviewCommand.command, HelpCommand.command,
        VersionCommand.command,
    ]

    static func command(named name: String) -> Command? { commands.first { $0.name == name } }

    /// The global usage: one line per command, then the reference topics.
    static var usage: String {
        let width = ((commands.map(\.name) + Reference.topics.map(\.name)).map(\.count).max() ?? 0) + 2
        var lines = ["usage: mtor COMMAND [options] ...", "", "commands:"]
        lines += commands.map { "  " + $0.name.padding(toLength: width, withPad: " ", startingAt: 0) + $0.summary }
        lines += ["", "reference (mtor help TOPIC):"]
        lines += Reference.topics.map { "  " + $0.name.padding(toLength: width, withPad: " ", startingAt: 0) + $0.title }
        lines += ["", "Every command takes --spool DIR, --json and -h/--help; `mtor help COMMAND` or `mtor COMMAND --help` lists its options."]
        return lines.joined(separator: "\n")
    }

    static func run(_ words: [String]) -> Int32 {
        guard var name = words.first else {
            Output.error("no command given\n\(usage)")
            return 2
        }
        if name == "--help" || name == "-h" { name = "help" }
        if name == "--version" { name = "version" }
        do {
            guard let command = command(named: name) else { throw WorkerError.usage(unknownCommand(name)) }
            switch try Arguments.parse(Array(words.dropFirst()), for: command) {
            case .help:
                print(command.usage)
                return 0
            case .run(let args):
                if command.remote, let to = args.values["--to"] {
                    return try SSH(args).forward(command.name, args, remote: RemoteSpool(to))
                }
                if StuckSpool.readers.contains(command.name) {
                    return StuckSpool.run(command.name, spool: args.spool, json: args.json) { CLI.perform(command, args) }
                }
                FileSystem.shareWithGroup(if: args.spool)
                return try command.run(args)
            }
        } catch let error as WorkerError {
            Output.error(error.description)
            return error.exitCode
        } catch {
            Output.error("internal error: \(error)")
            return 1
        }
    }

    /// Runs a parsed command on this thread, its error printed and turned into its exit code.
    static func perform(_ command: Command, _ args: Arguments) -> Int32 {
        do {
            FileSystem.shareWithGroup(if: args.spool)
            return try command.run(args)
        } catch {
            Output.error(error.description)
            return error.exitCode
        }
    }

    /// The sentence for a word that is no command: the nearest command or topic, and where the list is.
    static func unknownCommand(_ word: String) -> String {
        if word.hasPrefix("-") { return "'\(word)' comes after a command: mtor COMMAND \(word) (`mtor help` lists the commands)" }
        var sentence = "unknown command '\(word)'"
        if let near = Spelling.closest(to: word, in: commands.map(\.name)) {
            sentence += "; did you mean '\(near)'?"
        } else if let topic = Spelling.closest(to: word, in: Reference.topics.map(\.name)) {
            sentence += "; for the reference topic, run `mtor help \(topic)`"
        }
        return sentence + " (`mtor help` lists the commands)"
    }
}

/// `mtor version`.
enum VersionCommand {
    static let command = Command(name: "version", summary: "print mtor's version") { _ throws(WorkerError) in
        print("mtor \(mtorVersion)")
        return 0
    }
}
