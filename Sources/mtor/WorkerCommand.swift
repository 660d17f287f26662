import Foundation
import MtorWorker
import MtorPlatform

/// `mtor worker`: the daemon.
enum WorkerCommand {
    static func run(_ args: Arguments) throws(WorkerError) -> Int32 {
        var options = WorkerOptions(spool: args.spool, providers: args.providers, envFile: args.values["--env-file"])
        options.concurrency = try args.int("--concurrency", default: 1)
        options.once = args.flags.contains("--once")
        options.shutdownGrace = try args.seconds("--grace", default: options.shutdownGrace, zero: true)
        options.rescanInterval = try args.seconds("--rescan", default: options.rescanInterval)
        options.idleReprobe = try args.seconds("--reprobe-idle", default: options.idleReprobe)
        options.retriesPerMinute = try args.int("--retries-per-minute", default: options.retriesPerMinute)
        guard options.retriesPerMinute >= 1 else { throw .usage("--retries-per-minute must be at least 1") }
        options.logCap = try args.int("--log-cap", default: options.logCap)
        options.silenceProbe = try args.seconds("--silence-probe", default: options.silenceProbe)
        if let text = args.values["--containment"] {
            guard let preference = Containment.Preference(rawValue: text) else {
                throw .usage("--containment must be one of \(Containment.Preference.allCases.map(\.rawValue).joined(separator: ", ")), not '\(text)'")
            }
            options.containment = preference
        }
        if let roots = args.values["--allow-repos"] ?? ProcessInfo.processInfo.environment["MTOR_ALLOWED_REPOS"] {
            options.allowedRepos = roots.split(separator: ":").map(String.init)
        }
        options.workspaces = args.values["--workspaces"]
        options.keepWorkspaces = args.flags.contains("--keep-workspaces")
        options.reviewMaxLines = try args.int("--review-max-lines", default: options.reviewMaxLines)
        let worker = try Worker(options: options)
        return try worker.run()
    }
}
