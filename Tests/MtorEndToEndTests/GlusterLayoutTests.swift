import Foundation
import Testing
import MtorCore
import MtorPlatform

/// The GlusterFS suite on the layouts real sites use: a volume distributed over three bricks
/// (DHT: a rename is a lock, a link and an unlink across subvolumes) and a replica-3 volume
/// (AFR) losing a brick mid-run. Three hosts, `--concurrency 2`, every spec holding a per-spec
/// `flock` on local disk while it runs, so a concurrent double run anywhere leaves a mark.
extension GlusterSpoolTests {
    /// A volume of a test's own. The suite's shared cluster comes first, so that it, not this
    /// volume (deleted when the test ends), owns the glusterd they share.
    static func volume(bricks: Int, replica: Int? = nil) throws -> GlusterCluster {
        _ = try #require(sharedCluster).get()
        return try GlusterCluster(bricks: bricks, replica: replica)
    }

    /// Drops `ids`, waits for them all (a frozen worker shows as a timeout), checks the invariants
    /// and that the spool holds no file with a writer on every host; returns runs per host.
    /// `givingUp`: a spec may end `interrupted` once its worker died under every one of its attempts.
    static func run(_ w: World, _ ids: [String], sleep: String = "0.1", givingUp: Bool = false, timeout: Double = 300, during: (() throws -> Void)? = nil,
                    sourceLocation: SourceLocation = #_sourceLocation) throws -> (elapsed: Double, perHost: [String: Int]) {
        let began = Date()
        for id in ids { try w.drop(id, sleep: sleep) }
        try during?()
        let finished = w.waitFinished(ids, timeout: timeout)
        let elapsed = Date().timeIntervalSince(began)
        #expect(finished, "not all finished within \(Int(timeout)) s (a hang): \(w.sandbox.listingOf(w.spool))\n\(w.hosts.map { "\($0.name): \($0.log.suffix(2500))" }.joined(separator: "\n"))\n\((try? w.sandbox.mtor(["status", "--spool", w.spool]).out) ?? "")", sourceLocation: sourceLocation)
        let results = w.checkInvariants(ids, sourceLocation: sourceLocation)
        let ok = { (r: TaskResult) in r.status == .succeeded || (givingUp && r.class == .interrupted && r.attempts.allSatisfy { $0.class == .interrupted }) }
        #expect(results.values.allSatisfy(ok), "failed: \(results.filter { $0.value.status != .succeeded }.map { "\($0.key) \($0.value.class.rawValue): \($0.value.reason); attempts: \($0.value.attempts.map { a in "\(a.n) \(a.class.rawValue) \(a.startedAt)–\(a.endedAt) \(a.reason)" })" }.prefix(5))\n\(w.hosts.map(\.log).joined(separator: "\n").suffix(6000))", sourceLocation: sourceLocation)
        var perHost: [String: Int] = [:]
        for r in results.values { perHost[r.worker.host, default: 0] += 1 }
        // One writer per file: nothing every worker would rewrite lives under a shared name.
        for shared in ["state/worker.json", "state/providers.json", "state/metrics.prom", "state/ledger.jsonl"] {
            #expect(!FileManager.default.fileExists(atPath: "\(w.spool)/\(shared)"), "\(shared) exists on a shared spool", sourceLocation: sourceLocation)
        }
        return (elapsed, perHost)
    }

    @Test("distributed volume (3 bricks, DHT): 300 specs over three hosts run exactly once, none hangs; state and metrics have one writer each", .timeLimit(.minutes(10)))
    func distributedVolume() throws {
        let cluster = try Self.volume(bricks: 3)
        defer { cluster.shutdown() }
        let w = try World("dht", on: cluster)
        defer { w.stop() }
        try w.startHosts(["hA", "hB", "hC"])
        let ids = (0..<300).map { String(format: "d%03d", $0) }
        let (elapsed, perHost) = try Self.run(w, ids)
        #expect(Set(perHost.keys) == ["hA", "hB", "hC"], "work spreads over all three hosts: \(perHost)")
        #expect(w.names("runs").count == ids.count, "each spec ran once: \(w.names("runs").count) runs")
        let status = try w.sandbox.mtor(["status", "--spool", w.spool])
        #expect(status.out.contains("workers: 3 alive of 3"), "status lists every worker: \(status.out)")
        // Metrics stay on each host (its own HOME), and status says where.
        for host in w.hosts {
            #expect(FileManager.default.fileExists(atPath: "\(w.sandbox.root)/home-\(host.name)/.local/state/mtor/metrics.prom"), "\(host.name) keeps its metrics on its own disk")
        }
        #expect(status.out.contains("metrics: \(w.sandbox.home)/.local/state/mtor/metrics.prom on h"), "status names the metrics file: \(status.out)")
        print("GlusterFS distributed (3 bricks): \(ids.count) specs in \(String(format: "%.1f", elapsed)) s; per host \(perHost.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))")
    }

    @Test("replica-3 volume, one brick SIGKILLed mid-run and restarted: 300 specs, nothing lost, nothing run twice at once", .timeLimit(.minutes(10)))
    func replicatedVolumeLosesABrick() throws {
        let cluster = try Self.volume(bricks: 3, replica: 3)
        defer { cluster.shutdown() }
        let w = try World("afr", on: cluster)
        defer { w.stop() }
        try w.startHosts(["rA", "rB", "rC"])
        let ids = (0..<300).map { String(format: "r%03d", $0) }
        var killed: (brick: String, pid: Int32)?
        let (elapsed, perHost) = try Self.run(w, ids, timeout: 400) {
            // Once a third has finished, the second brick's server dies; it comes back 10 s later.
            let until = Date().addingTimeInterval(200)
            while w.names("spool/done").filter({ $0.hasSuffix(".result.json") }).count < 100, Date() < until { Thread.sleep(forTimeInterval: 0.3) }
            let pids = try cluster.brickPids()
            let brick = cluster.bricks[1]
            let pid = try #require(pids[brick], "brick \(brick) has a server: \(pids)")
            kill(pid, SIGKILL)
            // In the whole suite this process is a subreaper (the platform tests make it one), so the
            // brick server, orphaned by glusterd's daemonizing, is our child: unreaped, it stays a zombie
            // whose pid glusterd takes for a running brick, and `start force` would never restart it.
            let gone = Date().addingTimeInterval(10)
            while kill(pid, 0) == 0, Date() < gone {
                ChildProcess.reapIfOrphan(pid)
                Thread.sleep(forTimeInterval: 0.05)
            }
            killed = (brick, pid)
            Thread.sleep(forTimeInterval: 10)
            try cluster.restartBricks()
            // glusterd answers one transaction at a time: a `start force` that met another test's
            // volume operation may not have restarted the brick, so it is asked again every 10 s.
            let back = Date().addingTimeInterval(180)
            var asked = Date()
            while (try? cluster.brickPids())?[brick] == nil, Date() < back {
                Thread.sleep(forTimeInterval: 0.5)
                if Date().timeIntervalSince(asked) > 10 { try? cluster.restartBricks(); asked = Date() }
            }
            #expect((try? cluster.brickPids())?[brick] != nil, "the killed brick came back")
        }
        #expect(killed != nil)
        #expect(w.names("runs").count >= ids.count)
        print("GlusterFS replica 3, brick \(killed.map { FileSystem.basename(of: $0.brick) } ?? "-") killed for 10 s: \(ids.count) specs in \(String(format: "%.1f", elapsed)) s; per host \(perHost.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")); \(w.names("runs").count) runs")
    }

    /// How many short runs `shortRunsRepeated` makes: 10 in CI, `MTOR_GLUSTER_REPEAT` by hand.
    static let repeats = ProcessInfo.processInfo.environment["MTOR_GLUSTER_REPEAT"].flatMap(Int.init) ?? 10

    @Test("a short run on a distributed volume, repeated: every time it finishes, exactly once, with no hang", .timeLimit(.minutes(20)))
    func shortRunsRepeated() throws {
        let cluster = try Self.volume(bricks: 3)
        defer { cluster.shutdown() }
        var times: [Double] = []
        for rep in 0..<Self.repeats {
            let w = try World("rep\(rep)", on: cluster)
            defer { w.stop() }
            try w.startHosts(["p\(rep)a", "p\(rep)b", "p\(rep)c"])
            let ids = (0..<40).map { String(format: "p%02d", $0) }
            let (elapsed, _) = try Self.run(w, ids, sleep: "0.05", timeout: 120)
            #expect(w.names("runs").count == ids.count, "run \(rep): each spec ran once: \(w.names("runs").count) runs")
            times.append(elapsed)
            w.stop()
        }
        print("GlusterFS distributed short runs: \(times.count) × 40 specs over 3 hosts, \(times.map { String(format: "%.1f", $0) }.joined(separator: " ")) s")
    }

    @Test("ten SIGKILLs of random hosts' workers on a distributed volume, each restarted: nothing lost, nothing run twice at once", .timeLimit(.minutes(10)))
    func killsOnDistributedVolume() throws {
        let cluster = try Self.volume(bricks: 3)
        defer { cluster.shutdown() }
        let w = try World("dkill", on: cluster)
        defer { w.stop() }
        try w.startHosts(["kA", "kB", "kC"])
        let ids = (0..<150).map { String(format: "q%03d", $0) }
        var kills = 0
        var last = -1
        _ = try Self.run(w, ids, sleep: "0.3", givingUp: true, timeout: 300) {
            while kills < 10 {
                Thread.sleep(forTimeInterval: Double.random(in: 1...3))
                // A random host, never the one just restarted: that one claims the specs its predecessor
                // lost, and killing it again and again would only use up their retries.
                let pick = (last + Int.random(in: 1..<w.hosts.count)) % w.hosts.count
                last = pick
                let host = w.hosts[pick]
                w.cluster.killWorker(host)
                kills += 1
                try w.startWorker(host)
            }
        }
        #expect(kills == 10)
        print("GlusterFS distributed, \(kills) SIGKILLs: \(ids.count) specs, \(w.names("runs").count) runs, \(w.names("doubles").count) concurrent double runs, \(w.names("spool/failed").filter { $0.hasSuffix(".result.json") }.count) gave up after \(6) interrupted attempts")
    }
}

extension GlusterSpoolTests {
    /// By hand (`MTOR_GLUSTER_SCALE=1`): what N hosts' workers ask of the volume, from GlusterFS's
    /// own profile (calls counted at the brick), idle and with 300 specs held by a pause.
    @Test("scale: directory listings per second the hosts make, with 3 and 6 hosts", .timeLimit(.minutes(15)),
          .enabled(if: ProcessInfo.processInfo.environment["MTOR_GLUSTER_SCALE"] != nil, "by hand: MTOR_GLUSTER_SCALE=1"))
    func listingRates() throws {
        for count in [3, 6] {
            let cluster = try Self.volume(bricks: 1)
            defer { cluster.shutdown() }
            let w = try World("scale\(count)", on: cluster)
            defer { w.stop() }
            _ = try w.sandbox.mtor(["pause", "--spool", w.spool])
            try w.startHosts((0..<count).map { "n\(count)h\($0)" }, rescan: "60")
            Thread.sleep(forTimeInterval: 10)
            for phase in ["idle", "300 queued"] {
                if phase != "idle" { for i in 0..<300 { try w.drop(String(format: "z%03d", i), sleep: "0") } ; Thread.sleep(forTimeInterval: 5) }
                try cluster.sh("gluster --mode=script volume profile \(cluster.volume) start >/dev/null 2>&1; gluster --mode=script volume profile \(cluster.volume) info clear")
                let window = 30.0
                Thread.sleep(forTimeInterval: window)
                let info = try cluster.sh("gluster --mode=script volume profile \(cluster.volume) info incremental")
                var calls: [String: Int] = [:]
                for line in info.split(whereSeparator: \.isNewline) {
                    let parts = line.split(separator: " ")
                    guard parts.count >= 2, let fop = parts.last, let n = Int(parts[parts.count - 2]) else { continue }
                    calls[String(fop), default: 0] += n
                }
                try cluster.sh("gluster --mode=script volume profile \(cluster.volume) stop >/dev/null 2>&1 || true")
                let per = { (fop: String) in String(format: "%.1f", Double(calls[fop] ?? 0) / window) }
                print("GlusterFS scale, \(count) hosts, \(phase): OPENDIR \(per("OPENDIR"))/s, READDIRP \(per("READDIRP"))/s, READDIR \(per("READDIR"))/s, LOOKUP \(per("LOOKUP"))/s, STATFS \(per("STATFS"))/s, all calls \(String(format: "%.0f", Double(calls.values.reduce(0, +)) / window))/s")
            }
        }
    }
}
