import Foundation
import Testing
import MtorCore
import MtorPlatform

/// Issue 10, points 1–4 and the requeue loop of point 7, each under the conditions that exposed it,
/// against the built `mtor` binary.
@Suite("A sidecar never lies about processes", .serialized)
struct ProcessSafetyTests {
    @Test("100 verify tasks, each in its own repo, at --concurrency 4 with inbox activity: no wrong verdict, no lost commit", .timeLimit(.minutes(10)))
    func verifyUnderLoad() throws {
        let s = try Sandbox("reap")
        s.lockfile(Lockfiles.make([]))
        let count = 100
        for i in 0..<count {
            let repo = "\(s.home)/code/r\(i)"
            try FileManager.default.createDirectory(atPath: repo, withIntermediateDirectories: true)
            let r = try ChildProcess.run(["/bin/sh", "-c", "git init -q -b main && git -c user.name=t -c user.email=t@t commit -q --allow-empty -m initial"],
                                         environment: s.environment, directory: repo)
            #expect(r.0.succeeded)
            try s.submit(String(format: "v%03d.md", i), """
                ---
                repo: ~/code/r\(i)
                verify: exec >/dev/null 2>&1; sleep 0.2; exit 0
                ---
                echo \(i) > work.txt && git add work.txt && git -c user.name=t -c user.email=t@t commit -q -m "task \(i)"
                """)
        }
        // Noise: a dot-file in inbox/ touched all the time (inotify events the loop must handle).
        let noise = Flag()
        let spool = s.spool
        let toucher = Thread {
            var n = 0
            while !noise.isSet {
                writeFixture("\(spool)/inbox/.noise", Data("\(n)".utf8))
                n += 1
                usleep(2000)
            }
        }
        toucher.start()
        defer { noise.set() }
        let worker = try BackgroundWorker(s, extra: ["--concurrency", "4"])
        defer { worker.stop() }
        try worker.waitFor(timeout: 400) {
            ((try? FileManager.default.contentsOfDirectory(atPath: s.spool + "/done"))?.count ?? 0)
                + ((try? FileManager.default.contentsOfDirectory(atPath: s.spool + "/failed"))?.count ?? 0) >= 2 * count
        }
        var wrong: [String] = []
        for i in 0..<count {
            let r = try s.result(String(format: "v%03d", i))
            if r.status != .succeeded || r.verify?.exitCode != 0 {
                wrong.append("v\(i): \(r.class.rawValue) \(r.reason)")
            } else if r.git?.commits.map(\.subject) != ["task \(i)"] {
                wrong.append("v\(i): commits \(r.git?.commits.map(\.subject) ?? [])")
            }
        }
        #expect(wrong.isEmpty, "\(wrong.count) of \(count) wrong: \(wrong.prefix(5))")
        print("verify under load: \(count - wrong.count) of \(count) right")
    }

    @Test("the worker SIGKILLed between spawn and claim write: the agent never runs, and after recovery the spec runs exactly once", .timeLimit(.minutes(10)))
    func crashBetweenSpawnAndClaim() throws {
        let s = try Sandbox("gate")
        s.lockfile(Lockfiles.make([]))
        let runs = s.root + "/runs.txt"
        try s.submit("gated.md", "---\nrepo: ~/code/widget\nexpect: nothing\n---\necho ran >> \(runs)\nsleep 1\n")
        let worker = try BackgroundWorker(s, env: ["MTOR_TEST_PAUSE_AFTER_SPAWN": "3"])
        try worker.waitFor { s.exists("claimed/gated.md") }
        Thread.sleep(forTimeInterval: 0.5)
        worker.child.signal(SIGKILL)
        Thread.sleep(forTimeInterval: 1.5)
        #expect(!FileManager.default.fileExists(atPath: runs), "the agent ran although its claim was never written")
        let final = try s.drain()
        #expect(final.code == 0, "\(final.err.suffix(1500))")
        let lines = (try? String(contentsOfFile: runs, encoding: .utf8))?.split(separator: "\n") ?? []
        #expect(lines.count == 1, "the spec ran \(lines.count) times")
        let r = try s.result("gated")
        #expect(r.status == .succeeded)
        #expect(r.attempts.map(\.class) == [.interrupted, .ok])
    }

    @Test("recovery never signals a process it cannot prove is the dead worker's: a reused pgid, another host, another boot, a foreign cgroup", .timeLimit(.minutes(10)))
    func recoveryNeedsProof() throws {
        let s = try Sandbox("proof")
        s.lockfile(Lockfiles.make([]))
        _ = try s.drain()  // creates the spool
        // An unrelated process leading its own group: what a reused pgid would point at.
        let bystander = try ChildProcess(executable: "/bin/sleep", argv: ["sleep", "60"], environment: ["PATH": "/usr/bin:/bin"], directory: nil)
        defer { bystander.signal(SIGKILL, group: true); _ = bystander.capture(timeout: 5) }
        Thread.sleep(forTimeInterval: 0.2)
        let sleeper = bystander.pid
        let host = FileSystem.hostName()
        let start = ProcessTable.startTime(sleeper)
        func claim(_ id: String, _ edit: (inout ClaimRecord) -> Void) throws {
            var c = ClaimRecord(id: id, host: host, pid: 999_999, attempt: 1, startedAt: Stamp.iso(), file: "\(id).md")
            c.agentPgid = sleeper
            edit(&c)
            try Data("---\nrepo: ~/code/widget\nretries: 0\n---\ntrue\n".utf8).write(to: URL(fileURLWithPath: "\(s.spool)/claimed/\(id).md"))
            try Stamp.encoder().encode(c).write(to: URL(fileURLWithPath: "\(s.spool)/claimed/\(id).claim.json"))
        }
        try claim("old-format") { _ in }                                                  // no boot id, no start time
        try claim("reused-pgid") { $0.bootID = ProcessTable.bootID; $0.agentStart = (start ?? 0) + 12345 }
        try claim("other-host") { $0.host = "elsewhere"; $0.bootID = ProcessTable.bootID; $0.agentStart = start }
        try claim("other-boot") { $0.bootID = "00000000-0000-0000-0000-000000000000"; $0.agentStart = start }
        try claim("foreign-cgroup") {
            $0.agentPgid = nil
            $0.bootID = ProcessTable.bootID
            $0.containment = "cgroup2"
            $0.cgroup = "/sys/fs/cgroup/unified"
            $0.marker = "w999999-foreign-cgroup.x"
        }
        let r = try s.drain()
        #expect(r.code == 0, "\(r.err.suffix(1500))")
        #expect(ProcessTable.isRunning(sleeper), "recovery killed an unrelated process")
        for id in ["old-format", "reused-pgid", "other-host", "other-boot", "foreign-cgroup"] {
            #expect(try s.result(id).attempts.first?.class == .interrupted, "\(id) was recovered")
        }
    }

    @Test("recovery does kill what the claim proves: the dead worker's agent and the daemon it started", .timeLimit(.minutes(10)))
    func recoveryKillsProvenLeftovers() throws {
        let s = try Sandbox("leftover")
        s.lockfile(Lockfiles.make([]))
        let pids = s.root + "/pids"
        try s.submit("stuck.md", "---\nrepo: ~/code/widget\n---\nsetsid sleep 120 & echo $! >> \(pids)\necho $$ >> \(pids)\nsleep 120\n")
        // Recovery's kill is for agents that outlive their worker: unsandboxed ones (a sandboxed agent
        // dies with its worker, tested in AgentGuestTests). Their pids are this host's.
        let worker = try BackgroundWorker(s, extra: ["--sandbox", "none"])
        try worker.waitFor { ((try? String(contentsOfFile: pids, encoding: .utf8))?.split(separator: "\n").count ?? 0) >= 2 }
        worker.child.signal(SIGKILL)
        let started = (try String(contentsOfFile: pids, encoding: .utf8)).split(separator: "\n").compactMap { Int32($0) }
        #expect(started.allSatisfy(ProcessTable.isRunning), "the agent outlives its worker's SIGKILL")
        try s.submit("cancel-me.md", "---\nrepo: ~/code/widget\n---\ntrue\n")
        writeFixture("\(s.spool)/cancel/stuck", Data())
        let r = try s.drain()
        #expect(r.code == 0, "\(r.err.suffix(1500))")
        Thread.sleep(forTimeInterval: 0.2)
        let alive = started.filter { ProcessTable.isRunning($0) }
        #expect(alive.isEmpty, "left running after recovery: \(alive)")
    }

    @Test("a task's setsid'd background job is killed before the sidecar, with each containment method", .timeLimit(.minutes(10)),
          arguments: Containment.Method.allCases)
    func nothingOutlivesATask(method: Containment.Method) throws {
        try #require(Containment.resolve(Containment.Preference(rawValue: method.rawValue)!) == method, "\(method.rawValue) is not usable on this host")
        let s = try Sandbox("escape")
        s.lockfile(Lockfiles.make([]))
        try s.submit("escape.md", "---\nrepo: ~/code/widget\nworkspace: in-place\nexpect: nothing\n---\nsetsid sh -c 'sleep 3; echo late > LATE.txt' &\nsleep 0.2\nexit 0\n")
        // Unsandboxed, so the job outlives the agent until mtor ends it and counts it (in a sandbox the
        // kernel ends it with the agent's PID namespace: AgentGuestTests).
        let r = try s.drain(["--containment", method.rawValue, "--sandbox", "none"])
        #expect(r.code == 0, "\(r.err.suffix(1500))")
        let result = try s.result("escape")
        #expect(result.status == .succeeded)
        #expect(result.containment?.method == method.rawValue)
        #expect((result.containment?.leftoversKilled ?? 0) >= 1, "the escaped job was counted")
        Thread.sleep(forTimeInterval: 3.5)
        #expect(!FileManager.default.fileExists(atPath: s.repo + "/LATE.txt"), "a process of the task wrote to the repo after its sidecar")
    }

    @Test("the worker's SIGTERM leaves no process of a running task behind", .timeLimit(.minutes(10)))
    func shutdownKillsEverything() throws {
        let s = try Sandbox("term")
        s.lockfile(Lockfiles.make([]))
        let pids = s.root + "/pids"
        try s.submit("daemon.md", "---\nrepo: ~/code/widget\n---\nsetsid sh -c 'trap \"\" TERM; sleep 120' & echo $! >> \(pids)\nsleep 120\n")
        // Unsandboxed, so `$!` is this host's pid (sandboxed, the PID namespace ends with the task: AgentGuestTests).
        let worker = try BackgroundWorker(s, extra: ["--grace", "1", "--sandbox", "none"])
        try worker.waitFor { FileManager.default.fileExists(atPath: pids) }
        Thread.sleep(forTimeInterval: 0.3)
        worker.stop()
        let daemon = (try String(contentsOfFile: pids, encoding: .utf8)).split(separator: "\n").compactMap { Int32($0) }
        #expect(!daemon.isEmpty)
        let alive = daemon.filter { ProcessTable.isRunning($0) }
        #expect(alive.isEmpty, "survived the worker's SIGTERM: \(alive)")
        #expect(s.exists("inbox/daemon.md"), "the interrupted task is queued again")
    }

    @Test("a worker that dies before writing claim.json still counts the attempt: the spec cannot requeue forever", .timeLimit(.minutes(10)))
    func deathWithoutClaimCounts() throws {
        let s = try Sandbox("noclaim")
        s.lockfile(Lockfiles.make([]))
        _ = try s.drain()
        let attempts = [TaskResult.Attempt(n: 1, provider: nil, harness: nil, model: nil, startedAt: Stamp.iso(), endedAt: Stamp.iso(), durationS: 0,
                                           exitCode: nil, signal: nil, stdoutBytes: 0, stderrTail: "", class: .interrupted, retryable: true, reason: "earlier death")]
        try FileManager.default.createDirectory(atPath: s.spool + "/state/attempts", withIntermediateDirectories: true)
        try Stamp.encoder().encode(attempts).write(to: URL(fileURLWithPath: s.spool + "/state/attempts/doomed.json"))
        // In claimed/ with attempts behind it but no claim.json: the trace of a death between claim and spawn.
        try Data("---\nrepo: ~/code/widget\nretries: 1\n---\ntrue\n".utf8).write(to: URL(fileURLWithPath: s.spool + "/claimed/doomed.md"))
        let r = try s.drain()
        #expect(r.code == 0, "\(r.err.suffix(1500))")
        let result = try s.result("doomed")
        #expect(result.status == .failed && result.class == .interrupted, "\(result.class.rawValue): \(result.reason)")
        #expect(result.attempts.count == 2)
    }
}

/// A thread-safe stop flag for a test's helper thread.
final class Flag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    var isSet: Bool { lock.withLock { value } }
    func set() { lock.withLock { value = true } }
}
