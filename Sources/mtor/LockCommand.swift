import MtorWorker

/// `mtor lock check`: the lockfile, the env file and etc/ scripts agree; exit 1 when they don't.
enum LockCommand {
    static let command = Command(
        name: "lock", operands: "check", count: 1...1, summary: "lock check: the lockfile, the env file and etc/ scripts and units agree",
        flags: [.providers, .envFile], details: "Run by etc/hooks/pre-commit. Exit 1 when they disagree.", run: run)

    static func run(_ args: Arguments) throws(WorkerError) -> Int32 {
        guard args.positional.first == "check" else { throw .usage("mtor lock has one subcommand, check, not '\(args.positional[0])'\n(usage: \(command.synopsis))") }
        let settings = try Settings.load(providers: args.providers, envPath: args.values["--env-file"])
        let problems = LockCheck(settings: settings).run()
        if args.json {
            Output.json(problems)
        } else {
            for p in problems { print("\(p.file)\(p.line.map { ":\($0)" } ?? ""): \(p.message)\n  fix: \(p.fix)") }
            print(problems.isEmpty ? "lock check: \(settings.lockPath), \(settings.envPath ?? "no env file") and etc/ agree" : "lock check: \(problems.count) problem(s)")
        }
        return problems.isEmpty ? 0 : 1
    }
}
