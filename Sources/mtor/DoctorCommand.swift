import MtorPlatform
import MtorWorker

/// `mtor doctor [--provider P]`: real API calls and environment checks; exit 3 when anything is wrong.
enum DoctorCommand {
    static let command = Command(
        name: "doctor", summary: "real checks: API calls, harnesses, env file, lockfile, git identity, HOME, spool, inotify, disk",
        flags: [.providers, .envFile,
                Flag(name: "--provider", value: "P", help: "check only provider P"),
                Flag(name: "--all", help: "check every provider in the lockfile, not only the ones in use")],
        details: """
            By default doctor checks the lockfile's `default` provider and every provider that a queued spec or a
            `fallback` names. It makes one real API call per provider checked. Exit 3 when something is wrong.
            """,
        run: run)

    static func run(_ args: Arguments) throws(WorkerError) -> Int32 {
        let settings = try Settings.load(providers: args.providers, envPath: args.values["--env-file"])
        let report = try Doctor(settings: settings, spool: Spool(root: args.spool)).run(only: args.values["--provider"], all: args.flags.contains("--all"))
        if args.json {
            Output.json(report)
        } else {
            for c in report.checks {
                let mark = c.status == .ok ? "ok  " : c.status == .warn ? "warn" : "FAIL"
                print("\(mark)  \(c.area) \(c.name): \(settings.redactor.redact(c.summary))")
                if !c.fix.isEmpty && c.status != .ok { print("      fix: \(c.fix)") }
            }
            let warnings = report.checks.filter { $0.status == .warn }.count
            print(report.ok ? "doctor: no problems\(warnings > 0 ? ", \(warnings) warning(s) above" : "")" : "doctor: \(report.checks.filter { $0.status == .fail }.count) problem(s)")
        }
        return report.ok ? 0 : 3
    }
}
