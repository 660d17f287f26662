import Foundation
import MtorPlatform

/// How big a run is: the counts from issue 7, or small ones for a smoke run.
struct Scale: Sendable {
    /// Sequential specs for the pickup-latency figure (mtor and the inotifywait loop).
    var latencySpecs: Int
    /// The same for the poll loop, which needs ~1.5 s per sample.
    var pollLatencySpecs: Int
    var throughputSpecs: Int
    /// Specs per second offered in the steady-arrival run (above what any contender drains).
    var arrivalRate: Double
    var idleSeconds: Double
    var queuedSpecs: Int
    var statusTasks: Int
    var statusRuns: Int
    /// Warm-up specs run before a measurement, proving the contender watches.
    var warmUps: Int
    /// Seconds to let a contender settle before sampling it.
    var settleSeconds: Double
    /// Sequential worktree specs (and plain `git worktree add` runs) on the 5,000-file repo.
    var worktreeSpecs = 30
    /// Specs queued for the dispatch-turn figure, and the seconds it is measured over.
    var deepQueue = 100_000
    var deepQueueWindow = 20.0
    /// Jobs for task-spooler's and nq's throughput runs: each queued job is a waiting client process,
    /// and task-spooler's server takes fewer than 1,000 connections at once (a 1,000th `tsp -n`
    /// blocks until one ends, whatever TS_MAXCONN says: its server uses select(2)).
    var clientQueueJobs = 900
    /// Links in the dependency chain whose failure cascade is timed.
    var chainDepth = 10_000

    static let full = Scale(latencySpecs: 1000, pollLatencySpecs: 100, throughputSpecs: 10_000, arrivalRate: 1000,
                            idleSeconds: 30, queuedSpecs: 10_000, statusTasks: 100_000, statusRuns: 5, warmUps: 3, settleSeconds: 2)
    static let quick = Scale(latencySpecs: 20, pollLatencySpecs: 3, throughputSpecs: 200, arrivalRate: 400,
                             idleSeconds: 1, queuedSpecs: 300, statusTasks: 1000, statusRuns: 2, warmUps: 1, settleSeconds: 0.5,
                             worktreeSpecs: 5, deepQueue: 3000, deepQueueWindow: 8, clientQueueJobs: 100, chainDepth: 300)
}

/// The sections a run can be limited to with `--only`.
enum Section: String, CaseIterable, Sendable {
    case idle, latency, throughput, memory, status, worktree, chain, queue, merge, shared
}

/// `mtor-bench [--quick] [--json-out FILE] [--mtor PATH] [--dir DIR] [--only LIST] [--keep]`.
struct BenchOptions {
    var quick = false
    var jsonOut: String?
    var mtor: String
    var directory: String
    var sections = Set(Section.allCases)
    var keep = false
    /// `--shared-spool DROP:WORKER`: two mounts of one network filesystem (the shared-spool section).
    var sharedSpool: (drop: String, work: String)?

    var scale: Scale { quick ? .quick : .full }

    static let usage = """
    usage: mtor-bench [--quick] [--json-out FILE] [--mtor PATH] [--dir DIR] [--only idle,latency,throughput,memory,status,worktree,chain,queue,merge,shared] [--keep]
                      [--shared-spool DROP:WORKER]   (two mounts of one network filesystem: pickup through another host's mount)
    """

    static func parse(_ words: [String]) throws(BenchError) -> BenchOptions {
        let beside = FileSystem.directory(of: CommandLine.arguments.first ?? "./mtor-bench") + "/mtor"
        let tmp = ProcessInfo.processInfo.environment["TMPDIR"].flatMap { $0.isEmpty ? nil : $0 } ?? "/tmp"
        var options = BenchOptions(mtor: beside, directory: tmp)
        var i = 0
        func value(_ name: String) throws(BenchError) -> String {
            i += 1
            guard i < words.count else { throw .usage("\(name) needs a value\n\(usage)") }
            return words[i]
        }
        while i < words.count {
            switch words[i] {
            case "--quick": options.quick = true
            case "--keep": options.keep = true
            case "--json-out": options.jsonOut = try value("--json-out")
            case "--mtor": options.mtor = try value("--mtor")
            case "--dir": options.directory = try value("--dir")
            case "--shared-spool":
                let pair = try value("--shared-spool").split(separator: ":", maxSplits: 1).map(String.init)
                guard pair.count == 2,
                      pair.allSatisfy({ $0.hasPrefix("/") }) else { throw .usage("--shared-spool takes DROP:WORKER, two absolute mount "
                          + "points of one shared filesystem\n\(usage)") }
                options.sharedSpool = (pair[0], pair[1])
            case "--only":
                let names = try value("--only").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
                var picked = Set<Section>()
                for name in names {
                    guard let s = Section(rawValue: name) else { throw .usage("unknown section '\(name)' for --only\n\(usage)") }
                    picked.insert(s)
                }
                options.sections = picked
            case "--help", "-h": throw .help
            default: throw .usage("unknown argument '\(words[i])'\n\(usage)")
            }
            i += 1
        }
        while options.directory.count > 1 && options.directory.hasSuffix("/") { options.directory.removeLast() }
        if let real = FileSystem.realPath(options.mtor) { options.mtor = real }
        return options
    }
}

/// What stops a bench run, with a sentence a user can act on.
enum BenchError: Error, CustomStringConvertible {
    case help
    case usage(String)
    case setup(String)
    case workload(String)

    var description: String {
        switch self {
        case .help: return BenchOptions.usage
        case .usage(let s): return s
        case .setup(let s): return "cannot set up the bench: \(s)"
        case .workload(let s): return s
        }
    }

    var exitCode: Int32 {
        switch self {
        case .help: return 0
        case .usage: return 2
        case .setup: return 3
        case .workload: return 1
        }
    }
}
