import Foundation
import MtorCore
import MtorPlatform
import MtorWorker

/// `mtor validate SPEC...`: the worker's spec checks, here.
enum ValidateCommand {
    static let command = Command(
        name: "validate", operands: "SPEC...", count: 1...Int.max, summary: "check specs with the worker's own checks",
        flags: [.providers, .envFile,
                Flag(name: "--allow-repos", value: "DIR:DIR", help: "the worker's allow-list (default: from the spool's state/worker.json, else $MTOR_ALLOWED_REPOS, else HOME)"),
                Flag(name: "--no-repo-check", help: "do not check that repo exists and is a git work tree here")],
        details: """
            The checks are the worker's: frontmatter keys and types, provider and harness names against the lockfile,
            repo exists and is a git work tree, repo under the worker's --allow-repos. When the spool has a
            state/worker.json, its lockfile, HOME and allow-list are used. The report ends with the checks that
            could not be made here, and why. Exit 1 when a spec is invalid.
            """,
        run: run)

    static func run(_ args: Arguments) throws(WorkerError) -> Int32 {
        let checks = try SpecChecks.from(args)
        var report = SpecReport.check(args.positional, checks)
        report.refuseDuplicates(Spool(root: args.spool), checks)
        report.warnUnhealthy(Spool(root: args.spool))
        report.warnWaits(Spool(root: args.spool), checks)
        report.warnUnknownDependencies(Spool(root: args.spool), checks)
        report.print(json: args.json)
        return report.allValid ? 0 : 1
    }
}
