import Foundation
import MtorPlatform

/// One bench run: builds the temporary world, runs each section against mtor and the
/// baselines, prints the table, and writes the JSON.
final class Bench {
    let options: BenchOptions
    let scale: Scale
    let world: World
    var report: Report
    /// Spool-watching contenders this machine can run (the inotifywait loop needs inotify-tools).
    let contenders: [ContenderKind]
    /// The real queues this machine has (task-spooler, nq), fed by client calls.
    let queues: [ContenderKind]

    init(options: BenchOptions, world: World, contenders: [ContenderKind], queues: [ContenderKind] = []) {
        self.options = options
        self.scale = options.scale
        self.world = world
        self.contenders = contenders
        self.queues = queues
        report = Report(mode: options.quick ? "quick" : "full", startedAt: ISO8601DateFormatter().string(from: Date()),
                        machine: Bench.machine(options.directory), command: (["mtor-bench"] + CommandLine.arguments.dropFirst()).joined(separator: " "))
    }

    static func main(_ words: [String]) -> Int32 {
        let options: BenchOptions
        do {
            options = try BenchOptions.parse(words)
            guard FileManager.default.isExecutableFile(atPath: options.mtor) else {
                throw BenchError.setup("no mtor binary at \(options.mtor); build it (swift build -c release) or pass --mtor PATH")
            }
        } catch let error as BenchError {
            (error.exitCode == 0 ? print(error.description) : log("mtor-bench: \(error.description)"))
            return error.exitCode
        } catch {
            return 1
        }
        let world: World
        do { world = try World(parent: options.directory) } catch {
            log("mtor-bench: \(error.description)")
            return error.exitCode
        }
        let path = world.environment["PATH"] ?? ""
        var contenders = ContenderKind.allCases.filter(\.watchesSpool)
        if ChildProcess.resolve("inotifywait", searchPath: path) == nil { contenders.removeAll { $0 == .inotifyLoop } }
        let queues = [ContenderKind.tsp, .nq].filter { ChildProcess.resolve(FedQueue.program($0)!, searchPath: path) != nil }
        let bench = Bench(options: options, world: world, contenders: contenders, queues: queues)
        if !contenders.contains(.inotifyLoop) { bench.report.skipped.append("inotifywait loop: inotifywait is not installed (apt-get install "
            + "inotify-tools)") }
        for kind in [ContenderKind.tsp, .nq] where !queues.contains(kind) {
            bench.report.skipped.append("\(kind.rawValue): \(FedQueue.program(kind)!) is not installed (apt-get install "
                + "\(kind == .tsp ? "task-spooler" : "nq"))")
        }
        let started = now()
        var code: Int32 = 0
        do {
            try bench.runSections()
        } catch {
            log("mtor-bench: \(error.description)")
            code = error.exitCode
        }
        bench.report.durationS = (now() - started).rounded()
        print("\n" + bench.report.table)
        for note in bench.report.notes { print("- " + note) }
        for skip in bench.report.skipped { print("- skipped: " + skip) }
        if let path = options.jsonOut {
            do { try bench.report.write(json: path) } catch {
                log("mtor-bench: \(error.description)")
                code = error.exitCode
            }
        }
        if options.keep { log("kept \(world.root)") } else { world.remove() }
        return code
    }

    private func runSections() throws(BenchError) {
        log("mtor-bench (\(report.mode)): \(options.mtor), spools under \(world.root)")
        let sections = options.sections
        if sections.contains(.idle) { try idle() }
        if sections.contains(.latency) { try latency() }
        if sections.contains(.throughput) { try throughput() }
        if sections.contains(.memory) { try memory() }
        if sections.contains(.status) { try status() }
        if sections.contains(.worktree) { try worktree() }
        if sections.contains(.chain) { try chain() }
        if sections.contains(.queue) { try deepQueue() }
        if sections.contains(.merge) { try merge() }
        if sections.contains(.shared) {
            if options.sharedSpool != nil { try sharedSpool() } else if sections.count == 1 { throw .usage("--only shared needs "
                + "--shared-spool DROP:WORKER") }
            else { report.skipped.append("shared spool: no --shared-spool DROP:WORKER (two mounts of one network filesystem)") }
        }
    }

    // MARK: - Shared steps

    /// Starts `kind` on a fresh spool with a probe watching it, after staging `staged` in tmp/
    /// and running `prepare`; `body` runs, then both stop.
    func withContender<T>(_ kind: ContenderKind, label: String, concurrency: Int = 1, staged: [String] = [], sandboxed: Bool = true, extra: [String] = [],
                          prepare: (BenchSpool) throws(BenchError) -> Void = { _ in },
                          _ body: (Contender, BenchSpool, Probe) throws(BenchError) -> T) throws(BenchError) -> T {
        // Spools stay until the whole world goes: on ext4 without a journal, thousands of
        // fresh unlinks make every inode allocation of the next run scan them (recently_deleted).
        let spool = try world.spool("\(label)-\(kind.slug)\(sandboxed ? "" : "-nosandbox")")
        let probe = try Probe(spool)
        defer { probe.stop() }
        for id in staged { try spool.stage(id) }
        try prepare(spool)
        let contender = try Contender(kind, spool: spool, world: world, mtor: options.mtor, concurrency: concurrency, sandboxed: sandboxed, extra: extra)
        defer { contender.stop() }
        do {
            return try body(contender, spool, probe)
        } catch {
            throw .workload("\(error.description)\n\(kind.rawValue) printed:\n\(contender.tail.suffix(2000))")
        }
    }

    /// Starts `kind` (task-spooler or nq) on a fresh spool with a probe watching it; `body` runs, then both stop.
    func withQueue<T>(_ kind: ContenderKind, label: String, slots: Int = 1,
                      _ body: (FedQueue, BenchSpool, Probe) throws(BenchError) -> T) throws(BenchError) -> T {
        let spool = try world.spool("\(label)-\(kind.slug)")
        let probe = try Probe(spool)
        defer { probe.stop() }
        let queue = try FedQueue(kind, spool: spool, world: world, slots: slots)
        defer { queue.stop() }
        return try body(queue, spool, probe)
    }

    /// Drops warm-up specs until `count` have run, proving the contender is watching.
    func warmUp(_ kind: ContenderKind, _ spool: BenchSpool, _ probe: Probe) throws(BenchError) {
        let count = scale.warmUps
        var doneCount = 0, tries = 0
        while doneCount < count {
            tries += 1
            guard tries <= count + 5 else { throw .workload("\(kind.rawValue) did not run warm-up specs within \(tries - 1) tries") }
            let id = "warm-\(tries)"
            try spool.stage(id)
            try spool.drop(id)
            if probe.waitFinished(id, timeout: (kind.pollInterval ?? 0) + 10) != nil { doneCount += 1 }
        }
    }

    /// `count` spec ids: `prefix-000000`, `prefix-000001`, ...
    func ids(_ prefix: String, _ count: Int) -> [String] {
        (0..<count).map { "\(prefix)-" + String(format: "%06d", $0) }
    }

    func sleep(_ seconds: Double) {
        if seconds > 0 { Thread.sleep(forTimeInterval: seconds) }
    }

    static func machine(_ dir: String) -> [String: String] {
        var m: [String: String] = ["cores": "\(ProcessInfo.processInfo.activeProcessorCount)",
                                   "memory_mb": "\(ProcessInfo.processInfo.physicalMemory >> 20)",
                                   "spool_dir": dir]
        if let kernel = try? FileSystem.readText("/proc/sys/kernel/osrelease") { m["kernel"] = kernel.trimmingCharacters(in: .whitespacesAndNewlines) }
        if let cpu = (try? FileSystem.readText("/proc/cpuinfo"))?.split(separator: "\n").first(where: { $0.hasPrefix("model name") }) {
            m["cpu"] = cpu.split(separator: ":", maxSplits: 1).last?.trimmingCharacters(in: .whitespaces)
        }
        if let fs = filesystem(of: dir) { m["filesystem"] = fs }
        return m
    }
}

extension Bench {
    /// The type and device of the mount holding `dir`, from `/proc/self/mounts`.
    static func filesystem(of dir: String) -> String? {
        guard let mounts = try? FileSystem.readText("/proc/self/mounts") else { return nil }
        var best: (point: String, text: String)? = nil
        for line in mounts.split(separator: "\n") {
            let f = line.split(separator: " ").map(String.init)
            guard f.count > 2 else { continue }
            let point = f[1]
            let covers = dir == point || point == "/" || dir.hasPrefix(point + "/")
            if covers, point.count >= (best?.point.count ?? -1) { best = (point, "\(f[2]) on \(f[0])") }
        }
        return best?.text
    }
}

/// Progress on stderr, so stdout stays the table.
func log(_ message: String) {
    FileHandle.standardError.write(Data((message + "\n").utf8))
}
