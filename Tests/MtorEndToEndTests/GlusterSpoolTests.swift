import Foundation
import Testing
import MtorCore
import MtorPlatform

/// The cluster every test of the suite shares: one glusterd, one volume; stopped at exit.
let sharedCluster: Result<GlusterCluster, any Error>? = {
    guard GlusterCluster.unavailable == nil else { return nil }
    let result = Result { try GlusterCluster() }
    if case .success = result { atexit { if case .success(let c)? = sharedCluster { c.shutdown() } } }
    return result
}()

/// Three "hosts" (mount + UTS namespaces, each with its own FUSE client of one GlusterFS volume)
/// run `mtor worker --concurrency 2` on one spool.
@Suite("GlusterFS: three hosts share one spool", .serialized,
       .enabled(if: GlusterCluster.unavailable == nil, Comment(rawValue: GlusterCluster.unavailable ?? "GlusterFS is available")))
struct GlusterSpoolTests {
    /// One test's world on the volume: a spool, three hosts, and on local disk (which every
    /// "host" shares, being one kernel) the per-spec locks and the marks each run leaves.
    final class World {
        let cluster: GlusterCluster
        let sandbox: Sandbox
        let base: String
        let spool: String
        /// Local: `locks/`, `runs/`, `doubles/`.
        let marks: String
        var hosts: [GlusterCluster.Host] = []

        /// On the suite's one-brick volume, or on `cluster` (a test's own layout).
        init(_ label: String, on cluster: GlusterCluster? = nil) throws {
            let shared = try #require(sharedCluster).get()
            self.cluster = cluster ?? shared
            sandbox = try Sandbox("gluster-\(label)")
            sandbox.lockfile(Lockfiles.make([]))
            base = self.cluster.mount + "/\(label)-\(UUID().uuidString.prefix(6))"
            spool = base + "/spool"
            marks = sandbox.root + "/marks"
            for dir in ["spool/tmp", "spool/inbox"] {
                try FileManager.default.createDirectory(atPath: "\(base)/\(dir)", withIntermediateDirectories: true)
            }
            for dir in ["locks", "runs", "doubles"] { try FileManager.default.createDirectory(atPath: "\(marks)/\(dir)", withIntermediateDirectories: true) }
        }

        func startHosts(_ names: [String], rescan: String = "1", extra: [String] = [], environment: [String: String] = [:]) throws {
            for name in names {
                // Each host its own clone of the repo, at the same path (~/code/widget).
                let own = "\(sandbox.root)/home-\(name)"
                try cluster.sh("cp -a \(sandbox.home) \(own)")
                let host = try cluster.addHost(name, binds: [(own, sandbox.home)])
                hosts.append(host)
                try startWorker(host, rescan: rescan, extra: extra, environment: environment)
            }
        }

        func startWorker(_ host: GlusterCluster.Host, rescan: String = "1", extra: [String] = [], environment: [String: String] = [:]) throws {
            // Worktrees on each host's own disk, as README's runbook says.
            try cluster.startWorker(on: host, ["--spool", spool, "--providers", sandbox.etc + "/providers.json", "--concurrency", "2", "--rescan", rescan,
                                               "--workspaces", "\(sandbox.root)/work-\(host.name)",
                                               // Agents are sandboxed: the marks they leave go where the worker lets them write.
                                               "--sandbox-writable", ["locks", "runs", "doubles"].map { "\(marks)/\($0)" }.joined(separator: ":")] + extra,
                                    environment: sandbox.environment.merging(environment) { $1 })
        }

        /// A spec that holds its own flock on local disk while it runs (a second run at the same
        /// time, on any host, finds it taken and leaves a mark) and leaves one mark per run.
        func drop(_ id: String, sleep: String, retries: Int = 5) throws {
            let text = """
                ---
                repo: ~/code/widget
                retries: \(retries)
                expect: nothing
                ---
                exec 9>>\(marks)/locks/\(id).lock
                if ! flock -n 9; then touch \(marks)/doubles/\(id).$(hostname).$$; exit 3; fi
                touch \(marks)/runs/\(id).$(hostname).$$
                sleep \(sleep)
                """
            let staged = "\(spool)/tmp/.\(id).md.staged"
            writeFixture(staged, Data(text.utf8))
            try FileSystem.renameNoReplace(staged, "\(spool)/inbox/\(id).md")
        }

        func names(_ dir: String) -> [String] {
            let root = ["locks", "runs", "doubles"].contains(dir) ? marks : base
            return ((try? FileManager.default.contentsOfDirectory(atPath: "\(root)/\(dir)")) ?? []).sorted()
        }

        /// Waits until every id has a sidecar in done/ or failed/.
        func waitFinished(_ ids: [String], timeout: Double) -> Bool {
            let deadline = Date().addingTimeInterval(timeout)
            while Date() < deadline {
                let finished = Set((names("spool/done") + names("spool/failed")).filter { $0.hasSuffix(".result.json") })
                if ids.allSatisfy({ finished.contains("\($0).result.json") }) { return true }
                Thread.sleep(forTimeInterval: 0.5)
            }
            return false
        }

        /// Where each spec is, its sidecar, and the invariants: exactly one place, one sidecar, no double run.
        func checkInvariants(_ ids: [String], sourceLocation: SourceLocation = #_sourceLocation) -> [String: TaskResult] {
            var location: [String: [String]] = [:]
            for dir in ["inbox", "claimed", "done", "failed"] {
                for name in names("spool/\(dir)") where name.hasSuffix(".md") { location[String(name.dropLast(3)), default: []].append(dir) }
            }
            #expect(Set(location.keys) == Set(ids), "no spec lost, none duplicated under a new name: \(Set(location.keys).symmetricDifference(ids).sorted().prefix(10))", sourceLocation: sourceLocation)
            var results: [String: TaskResult] = [:]
            for id in ids {
                let places = location[id] ?? []
                #expect(places == ["done"] || places == ["failed"], "\(id) is in \(places)", sourceLocation: sourceLocation)
                let sidecars = ["done", "failed"].filter { FileManager.default.fileExists(atPath: "\(spool)/\($0)/\(id).result.json") }
                #expect(sidecars.count == 1, "\(id) has sidecars in \(sidecars)", sourceLocation: sourceLocation)
                if let r = try? sandbox.resultIn(spool, id) { results[id] = r } else { Issue.record("\(id): sidecar missing or unreadable", sourceLocation: sourceLocation) }
            }
            #expect(names("doubles").isEmpty, "specs run twice at the same time: \(names("doubles").prefix(10))", sourceLocation: sourceLocation)
            // Every ledger line, on every host's ledger, is one whole JSON object.
            var lines = 0
            for ledger in [spool + "/state/ledger.jsonl"] + names("spool/state/ledgers").map({ "\(spool)/state/ledgers/\($0)" }) {
                let text = (try? String(contentsOfFile: ledger, encoding: .utf8)) ?? ""
                for line in text.split(separator: "\n") {
                    lines += 1
                    if (try? JSONDecoder().decode(LedgerEntry.self, from: Data(line.utf8))) == nil { Issue.record("torn ledger line in \(ledger): \(line.prefix(200))", sourceLocation: sourceLocation) }
                }
            }
            #expect(lines >= ids.count * 2, "the ledgers hold \(lines) lines for \(ids.count) specs", sourceLocation: sourceLocation)
            return results
        }

        func stop() {
            for host in hosts { cluster.killHost(host) }
            hosts = []
        }

        deinit { stop() }
    }

    @Test("300 specs dropped through one client run exactly once, spread over three hosts; sidecars and ledgers intact", .timeLimit(.minutes(10)))
    func threeHostsShareTheWork() throws {
        let w = try World("spread")
        defer { w.stop() }
        try w.startHosts(["gA", "gB", "gC"])
        let ids = (0..<300).map { String(format: "s%03d", $0) }
        let began = Date()
        for id in ids { try w.drop(id, sleep: "0.1") }
        #expect(w.waitFinished(ids, timeout: 240), "not all finished: \(w.sandbox.listingOf(w.spool))\n\(w.hosts.map(\.log).joined(separator: "\n").suffix(3000))")
        let elapsed = Date().timeIntervalSince(began)
        let results = w.checkInvariants(ids)
        #expect(results.values.allSatisfy { $0.status == .succeeded }, "failed: \(results.filter { $0.value.status != .succeeded }.map { "\($0.key) \($0.value.class.rawValue): \($0.value.reason)" }.prefix(5))")
        var perHost: [String: Int] = [:]
        for r in results.values { perHost[r.worker.host, default: 0] += 1 }
        #expect(Set(perHost.keys) == ["gA", "gB", "gC"], "work spreads over all three hosts: \(perHost)")
        let runs = w.names("runs").count
        let twice = Dictionary(grouping: w.names("runs"), by: { $0.prefix(4) }).filter { $0.value.count > 1 }
        #expect(runs == ids.count, "each spec ran exactly once: \(runs) runs for \(ids.count) specs; twice: \(twice.map { "\($0.key) \($0.value) \(results[String($0.key)].map { r in r.attempts.map { "\($0.class.rawValue): \($0.reason)" } } ?? [])" })")
        let status = try w.sandbox.mtor(["status", "--spool", w.spool])
        #expect(status.out.contains("workers: 3 alive of 3"), "status lists every worker: \(status.out)")
        #expect(status.out.contains("fuse.glusterfs, a network filesystem"), "status says the spool is polled: \(status.out)")
        print("GlusterFS 3 hosts: \(ids.count) specs in \(String(format: "%.1f", elapsed)) s; per host \(perHost.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")); \(runs) runs")
    }

    @Test("random SIGKILLs of workers on all hosts: nothing lost, no duplicate sidecar, no concurrent double run", .timeLimit(.minutes(10)))
    func killsOnAllHosts() throws {
        let w = try World("kills")
        defer { w.stop() }
        try w.startHosts(["kA", "kB", "kC"])
        let ids = (0..<120).map { String(format: "k%03d", $0) }
        for (i, id) in ids.enumerated() { try w.drop(id, sleep: "0.\(2 + i % 5)") }
        var kills = 0
        let deadline = Date().addingTimeInterval(150)
        while kills < 30, Date() < deadline {
            Thread.sleep(forTimeInterval: Double.random(in: 0.3...1.2))
            let host = w.hosts[Int.random(in: 0..<w.hosts.count)]
            w.cluster.killWorker(host)
            kills += 1
            try w.startWorker(host)
        }
        #expect(w.waitFinished(ids, timeout: 200), "not all finished: \(w.sandbox.listingOf(w.spool))")
        let results = w.checkInvariants(ids)
        let interrupted = results.values.reduce(0) { $0 + $1.attempts.filter { $0.class == .interrupted }.count }
        print("GlusterFS kills: \(kills) SIGKILLs over 3 hosts, \(ids.count) specs, \(w.names("runs").count) runs, \(interrupted) interrupted attempts, \(w.names("doubles").count) concurrent double runs")
    }

    @Test("a whole host dies (worker and FUSE client killed): the others recover its claims once the lock is free", .timeLimit(.minutes(10)))
    func hostDies() throws {
        let w = try World("death")
        defer { w.stop() }
        try w.startHosts(["dA", "dB", "dC"])
        let ids = (0..<12).map { String(format: "d%02d", $0) }
        for id in ids { try w.drop(id, sleep: "4") }
        // Wait until the victim holds claims.
        let victim = w.hosts[2]
        var theirs: [String] = []
        let until = Date().addingTimeInterval(60)
        while theirs.isEmpty, Date() < until {
            Thread.sleep(forTimeInterval: 0.2)
            theirs = w.names("spool/claimed").filter { $0.hasSuffix(".claim.json") }.compactMap { name -> String? in
                let data = FileManager.default.contents(atPath: "\(w.spool)/claimed/\(name)")
                let claim = data.flatMap { try? JSONDecoder().decode(ClaimRecord.self, from: $0) }
                return claim?.host == victim.name ? claim?.id : nil
            }
        }
        try #require(!theirs.isEmpty, "host \(victim.name) never claimed anything")
        let killedAt = Date()
        w.cluster.killHost(victim)
        w.hosts.removeLast()
        // Recovered: none of its claims is still in claimed/ under its name.
        var recoveredAfter: Double?
        let limit = Date().addingTimeInterval(150)
        while Date() < limit {
            let still = theirs.filter { id in
                let data = FileManager.default.contents(atPath: "\(w.spool)/claimed/\(id).claim.json")
                return data.flatMap { try? JSONDecoder().decode(ClaimRecord.self, from: $0) }?.host == victim.name
            }
            if still.isEmpty { recoveredAfter = Date().timeIntervalSince(killedAt); break }
            Thread.sleep(forTimeInterval: 0.1)
        }
        #expect(recoveredAfter != nil, "claims of the dead host were never recovered: \(theirs)")
        #expect(w.waitFinished(ids, timeout: 120), "not all finished: \(w.sandbox.listingOf(w.spool))")
        let results = w.checkInvariants(ids)
        for id in theirs {
            let r = results[id]
            #expect(r?.status == .succeeded && r?.attempts.contains { $0.class == .interrupted } == true, "\(id) was rerun after its host died: \(String(describing: r?.attempts.map { "\($0.class.rawValue): \($0.reason)" })) → \(r?.class.rawValue ?? "-"): \(r?.reason ?? "")")
            #expect(r?.worker.host != victim.name, "\(id) finished on a live host")
        }
        print("GlusterFS host death: \(theirs.count) claims of \(victim.name) recovered \(String(format: "%.1f", recoveredAfter ?? -1)) s after its worker and FUSE client were killed (--rescan 1)")
    }

    @Test("mtor-bench --shared-spool measures pickup through another client's mount", .timeLimit(.minutes(10)),
          .enabled(if: FileManager.default.isExecutableFile(atPath: BenchSmokeTests.benchBinary), "no mtor-bench beside mtor; run swift build first"))
    func benchSharedSpool() throws {
        let cluster = try #require(sharedCluster).get()
        let second = try cluster.secondMount()
        let dir = NSTemporaryDirectory() + "mtor-bench-shared-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let json = dir + "/bench.json"
        let quick = ProcessInfo.processInfo.environment["MTOR_BENCH_SHARED_FULL"] == nil
        let r = try ChildProcess.run([BenchSmokeTests.benchBinary] + (quick ? ["--quick"] : []) + ["--only", "shared", "--shared-spool", "\(cluster.mount):\(second)",
                                      "--mtor", mtorBinary, "--dir", dir, "--json-out", json],
                                     environment: ["PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": dir, "LANG": "C.UTF-8", "TMPDIR": dir], timeout: quick ? 120 : 400)
        let out = String(decoding: r.stdout, as: UTF8.self), err = String(decoding: r.stderr, as: UTF8.self)
        #expect(r.0 == .exited(0), "mtor-bench said:\n\(err.suffix(3000))")
        let data = try #require(FileManager.default.contents(atPath: json))
        let report = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let figures = try #require(report["figures"] as? [[String: Any]])
        let pickup = figures.filter { ($0["figure"] as? String ?? "").hasPrefix("shared spool pickup") }
        #expect(pickup.count == 2 && pickup.allSatisfy { ($0["mtor"] as? Double ?? 0) > 0 }, "\(pickup)")
        #expect(out.contains("polled: network filesystem detected"), "the worker saw a network filesystem: \(out)")
        print(out.split(separator: "\n").filter { $0.contains("shared spool") }.joined(separator: "\n"))
    }

    @Test("appends through one client stay whole lines; the per-host ledger relies on it", .timeLimit(.minutes(10)))
    func appendsThroughOneClient() throws {
        let cluster = try #require(sharedCluster).get()
        let dir = cluster.mount + "/append-\(UUID().uuidString.prefix(6))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let path = dir + "/ledger.jsonl"
        let writers = 4, perWriter = 500
        let threads = (0..<writers).map { n in
            Thread {
                let pad = String(repeating: "x", count: 200 + n * 50)
                for i in 0..<perWriter { try? FileSystem.appendLine(Array("{\"w\":\(n),\"i\":\(i),\"pad\":\"\(pad)\"}".utf8), to: path) }
            }
        }
        threads.forEach { $0.start() }
        while threads.contains(where: { !$0.isFinished }) { Thread.sleep(forTimeInterval: 0.05) }
        let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n")
        let whole = lines.filter { (try? JSONSerialization.jsonObject(with: Data($0.utf8))) != nil }
        #expect(lines.count == writers * perWriter && whole.count == lines.count, "\(lines.count) lines, \(whole.count) whole, of \(writers * perWriter)")
    }
}

extension Sandbox {
    func resultIn(_ spool: String, _ id: String) throws -> TaskResult {
        for dir in ["done", "failed"] {
            if let data = FileManager.default.contents(atPath: "\(spool)/\(dir)/\(id).result.json") { return try JSONDecoder().decode(TaskResult.self, from: data) }
        }
        throw SandboxError("no result for \(id)")
    }

    func listingOf(_ spool: String) -> String {
        ["inbox", "claimed", "done", "failed"].map { dir in "\(dir)/: " + (((try? FileManager.default.contentsOfDirectory(atPath: "\(spool)/\(dir)")) ?? []).filter { $0.hasSuffix(".md") }.count).description }.joined(separator: "; ")
    }
}
