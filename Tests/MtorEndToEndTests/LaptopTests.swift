import Foundation
import Testing
import MtorCore
import MtorPlatform
import MtorWorker

/// The laptop side: submit over real ssh/rsync/scp to a worker's spool, then watch, inspect and cancel.
@Suite("From the laptop: submit, wait, status, cancel over real ssh")
struct LaptopTests {
    static let shSpec = "---\nrepo: ~/code/widget\nharness: sh\nexpect: nothing\n---\n"

    @Test("submit --to over rsync and scp lands in inbox/ through tmp/, and --wait prints the result", .timeLimit(.minutes(10)), .requiresSSH,
          arguments: ["rsync", "scp"])
    func submitAndWait(via: String) throws {
        let world = try RemoteWorld("laptop-\(via)")
        defer { withExtendedLifetime(world) {} }
        let (s, laptop, worker) = (world.sandbox, world.laptop, world.worker!)
        try laptop.write("Add a Greeting!.md", LaptopTests.shSpec + "sleep 1\necho hello > greeting.txt\ngit add greeting.txt && git commit -q -m 'greeting via \(via)'\necho done\n")
        try laptop.write("broken.md", LaptopTests.shSpec + "echo 'nothing to do here'\nexit 3\n")

        let ok = try laptop.run(["submit", "Add a Greeting!.md", "--to", "mtor-test:\(s.spool)", "--via", via, "--wait"])
        print("$ mtor submit 'Add a Greeting!.md' --to mtor-test:\(s.spool) --via \(via) --wait\n\(ok.text)exit \(ok.code)")
        #expect(ok.code == 0, "\(ok.text)\nworker: \(worker.stderr)")
        let id = try #require(ok.text.firstMatch(of: #/submitted .* as (\d{8}T\d{6}-add-a-greeting-[0-9a-f]{4})/#)?.1).description
        #expect(ok.text.contains("\(id): succeeded (ok)"))
        // Progress is shown while it runs (the phase may still be "preparing workspace" when the line is printed).
        #expect(ok.text.contains("\(id): running (attempt 1") || ok.text.contains("\(id): preparing workspace (attempt 1"), "progress is shown: \(ok.text)")
        #expect(try s.result(id).git?.commits.map(\.subject) == ["greeting via \(via)"])
        #expect(s.read("done/\(id).md").contains("echo hello"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: s.spool + "/tmp").filter { $0.hasSuffix(".md") }.isEmpty)

        let bad = try laptop.run(["submit", "broken.md", "--to", "mtor-test:\(s.spool)", "--via", via, "--wait"])
        #expect(bad.code == 1, "\(bad.text)")
        #expect(bad.text.contains("failed (agent_failed)") && bad.text.contains("reason:") && bad.text.contains("exited 3"), "\(bad.text)")

        // The everyday commands over ssh, run by the remote mtor.
        let status = try laptop.run(["status", "--json", "--to", "mtor-test:\(s.spool)"], merge: false)
        #expect(status.code == 0, "\(status.text)")
        let st = try JSONDecoder().decode(SpoolStatus.self, from: Data(status.text.utf8))
        #expect(st.counts.done == 1 && st.counts.failed == 1 && st.counts.inbox == 0)
        #expect(st.recent.succeeded == 1 && st.recent.failed == 1)
        #expect(st.worker?.alive == true)
        let logs = try laptop.run(["logs", id, "--to", "mtor-test:\(s.spool)"], merge: false)
        #expect(logs.code == 0 && logs.text.contains("done"), "\(logs.text)")
        let show = try laptop.run(["show", id, "--to", "mtor-test:\(s.spool)"], merge: false)
        #expect(show.code == 0 && show.text.contains("succeeded"), "\(show.text)")
        // The morning after, from the laptop: what finished, then land it.
        let review = try laptop.run(["review", "--json", "--to", "mtor-test:\(s.spool)"], merge: false)
        #expect(review.code == 0 && review.text.contains("\"merge\" : \"ready\""), "\(review.text)")
        let merged = try laptop.run(["merge", "--all", "--to", "mtor-test:\(s.spool)"], merge: false)
        #expect(merged.code == 0 && merged.text.contains("\(id): landed"), "\(merged.text)")
        #expect(FileManager.default.fileExists(atPath: s.repo + "/greeting.txt"), "the worker's checkout has the change")
        let missing = try laptop.run(["show", "no-such-task", "--to", "mtor-test:\(s.spool)"])
        #expect(missing.code == 4, "exit code passes through ssh: \(missing.text)")
    }

    @Test("a submit killed mid-transfer leaves nothing in inbox/ (and rsync leaves no partial file)", .timeLimit(.minutes(10)), .requiresSSH,
          arguments: ["rsync", "scp"])
    func interruptedSubmit(via: String) throws {
        let world = try RemoteWorld("laptop-cut-\(via)", worker: false, throttle: 48 * 1024)
        defer { withExtendedLifetime(world) {} }
        let (s, laptop) = (world.sandbox, world.laptop)
        let filler = String(repeating: "Context line that makes this spec large enough to take a while to upload.\n", count: 11_000)
        try laptop.write("big.md", LaptopTests.shSpec + "echo big\n<!--\n\(filler)-->\n")
        let submit = try laptop.start(["submit", "big.md", "--to", "mtor-slow:\(s.spool)", "--via", via])
        defer { submit.child.signal(SIGKILL, group: true) }
        let tmp = s.spool + "/tmp"
        func staged() -> [String] { ((try? FileManager.default.contentsOfDirectory(atPath: tmp)) ?? []).filter { $0.contains(".md") } }
        func size(_ name: String) -> Int { ((try? FileManager.default.attributesOfItem(atPath: "\(tmp)/\(name)"))?[.size] as? Int) ?? 0 }
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline, !staged().contains(where: { size($0) > 64 * 1024 }) {
            #expect(s.listing().contains("inbox/: ;"), "nothing reaches inbox/ while uploading")
            Thread.sleep(forTimeInterval: 0.05)
        }
        let partial = try #require(staged().first, "the upload was staged in tmp/: \(submit.sink.text)")
        #expect(size(partial) < 800 * 1024, "still mid-transfer")
        #expect(s.listing().contains("inbox/: ;"))
        submit.child.signal(SIGTERM) // mtor stops its transfer's process group, then dies of the signal
        try waitFor(20) { submit.child.isReaped || submit.done }
        Thread.sleep(forTimeInterval: 1)
        #expect(s.listing().contains("inbox/: ;"), "\(s.listing())")
        for dir in ["claimed", "done", "failed"] { #expect(((try? FileManager.default.contentsOfDirectory(atPath: "\(s.spool)/\(dir)")) ?? []).isEmpty) }
        if via == "rsync" {
            try waitFor(10) { staged().isEmpty } // rsync without --partial deletes its temp file
        }
    }

    @Test("an invalid spec fails locally with exit 1 and nothing is uploaded", .timeLimit(.minutes(10)), .requiresSSH)
    func invalidUploadsNothing() throws {
        let world = try RemoteWorld("laptop-invalid", worker: false)
        defer { withExtendedLifetime(world) {} }
        let (s, laptop) = (world.sandbox, world.laptop)
        try laptop.write("good.md", LaptopTests.shSpec + "echo fine\n")
        try laptop.write("typo.md", "---\nrepo: ~/code/widget\nharnes: sh\n---\necho hi\n")
        let r = try laptop.run(["submit", "good.md", "typo.md", "--to", "mtor-test:\(s.spool)"])
        #expect(r.code == 1, "\(r.text)")
        #expect(r.text.contains("'harnes'") && r.text.contains("nothing was submitted"), "\(r.text)")
        for dir in ["inbox", "tmp"] { #expect(try FileManager.default.contentsOfDirectory(atPath: "\(s.spool)/\(dir)").isEmpty) }
        // What only the worker's host can check (the repo there) is checked there, before anything reaches inbox/.
        try laptop.write("nowhere.md", "---\nrepo: \(s.root)/no-repo-here\nharness: sh\n---\necho hi\n")
        let there = try laptop.run(["submit", "nowhere.md", "--to", "mtor-test:\(s.spool)"])
        #expect(there.code == 1 && there.text.contains("workdir_missing") && there.text.contains("nothing was submitted"), "\(there.text)")
        for dir in ["inbox", "tmp"] { #expect(try FileManager.default.contentsOfDirectory(atPath: "\(s.spool)/\(dir)").isEmpty) }
        // Validation happens before any connection: an unreachable host still answers 1, not 3.
        let offline = try laptop.run(["submit", "typo.md", "--to", "unreachable.invalid:/srv/spool"])
        #expect(offline.code == 1, "\(offline.text)")
        let empty = try laptop.run(["submit", "--to", "mtor-test:\(s.spool)"])
        #expect(empty.code == 2)
    }

    @Test("cancel over ssh stops a running task's whole process group and it ends as cancelled", .timeLimit(.minutes(10)), .requiresSSH)
    func cancelRunning() throws {
        let world = try RemoteWorld("laptop-cancel")
        defer { withExtendedLifetime(world) {} }
        let (s, laptop, worker) = (world.sandbox, world.laptop, world.worker!)
        // The agent runs in its own PID namespace, so its `$!` means nothing here: its grandchild is
        // found in this host's process table by a duration no other process uses.
        let marker = "300.\(UInt32.random(in: 100_000...999_999))"
        try laptop.write("long.md", LaptopTests.shSpec + "sleep \(marker) &\nwait\n")
        let sub = try laptop.run(["submit", "long.md", "--to", "mtor-test:\(s.spool)"])
        #expect(sub.code == 0, "\(sub.text)")
        let id = try #require(sub.text.firstMatch(of: #/as (\S+) →/#)?.1).description
        func sleeperPid() -> Int32? {
            ProcessTable.all().first { pid in
                ((try? String(contentsOfFile: "/proc/\(pid)/cmdline", encoding: .utf8)) ?? "") == "sleep\0\(marker)\0"
            }
        }
        try worker.waitFor { sleeperPid() != nil && s.exists("claimed/\(id).md") }
        let sleeper = try #require(sleeperPid())
        #expect(ProcessControl.isAlive(sleeper))
        let status = try laptop.run(["status", "--to", "mtor-test:\(s.spool)"], merge: false)
        #expect(status.text.contains("running:") && status.text.contains(id), "\(status.text)")

        let cancel = try laptop.run(["cancel", id, "--to", "mtor-test:\(s.spool)"])
        #expect(cancel.code == 0 && cancel.text.contains("running"), "\(cancel.text)")
        let wait = try laptop.run(["wait", id, "--to", "mtor-test:\(s.spool)"])
        #expect(wait.code == 1, "\(wait.text)")
        let r = try s.result(id)
        #expect(r.status == .cancelled && r.class == .cancelled)
        #expect(s.exists("failed/\(id).md"))
        try waitFor(10) { !LaptopTests.running(sleeper) }

        // A queued task is cancelled too, and retry puts it back with its attempts reset.
        worker.stop()
        try laptop.write("later.md", LaptopTests.shSpec + "echo later\n")
        let queued = try laptop.run(["submit", "later.md"])
        #expect(queued.code == 0, "\(queued.text)")
        let later = try #require(queued.text.firstMatch(of: #/as (\S+) →/#)?.1).description
        #expect(try laptop.run(["cancel", later]).code == 0)
        try s.drain()
        #expect(try s.result(later).status == .cancelled)
        let retry = try laptop.run(["retry", later])
        #expect(retry.code == 0, "\(retry.text)")
        #expect(s.exists("failed/\(later).result.1.json") && s.exists("inbox/\(later).md") && !s.exists("failed/\(later).md"))
        #expect(s.read("state/ledger.jsonl").contains("\"event\":\"retried\""))
        try s.drain()
        #expect(try s.result(later).status == .succeeded)
        #expect(try laptop.run(["retry", later]).code == 1, "a succeeded task is not retried")
        #expect(try laptop.run(["retry", "never-was"]).code == 4)
    }

    @Test("status --json on a spool with 100,000 ledger lines counts the last 24 h correctly, fast", .timeLimit(.minutes(10)))
    func statusOnBigLedger() throws {
        let s = try Sandbox("laptop-ledger")
        let spool = Spool(root: s.spool)
        try spool.prepare()
        let now = Date()
        var expected = (succeeded: 0, failed: 0, cancelled: 0, auth: 0, stalled: 0)
        var text = ""
        text.reserveCapacity(14 << 20)
        let iso = ISO8601DateFormatter()
        iso.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        for i in 0..<25_000 {
            let inWindow = i >= 5_000
            let t = iso.string(from: now.addingTimeInterval(inWindow ? -Double(25_000 - i) * 3 : -2 * 86400 - Double(i)))
            let id = "20261121T101500-task-\(i)"
            let (event, cls): (String, String) = i % 10 == 0 ? ("failed", "auth_failed") : i % 10 == 1 ? ("failed", "stalled")
                : i % 20 == 2 ? ("cancelled", "cancelled") : ("succeeded", "ok")
            let retried = i % 100 == 10
            text += "{\"event\":\"claimed\",\"id\":\"\(id)\",\"pid\":42,\"t\":\"\(t)\"}\n"
            text += "{\"attempt\":1,\"event\":\"attempt\",\"id\":\"\(id)\",\"pid\":42,\"provider\":\"zhipu\",\"t\":\"\(t)\"}\n"
            if !retried { text += "{\"attempt\":1,\"event\":\"attempt\",\"id\":\"\(id)\",\"pid\":42,\"provider\":\"zhipu\",\"t\":\"\(t)\"}\n" }
            text += "{\"attempt\":1,\"class\":\"\(cls)\",\"event\":\"\(event)\",\"id\":\"\(id)\",\"pid\":42,\"provider\":\"zhipu\",\"t\":\"\(t)\"}\n"
            if retried { text += "{\"attempt\":0,\"class\":\"\(cls)\",\"event\":\"retried\",\"id\":\"\(id)\",\"pid\":7,\"t\":\"\(t)\"}\n" }
            guard inWindow, !retried else { continue }
            switch cls {
            case "auth_failed": expected.failed += 1; expected.auth += 1
            case "stalled": expected.failed += 1; expected.stalled += 1
            case "cancelled": expected.cancelled += 1
            default: expected.succeeded += 1
            }
        }
        try text.write(toFile: spool.ledger, atomically: false, encoding: .utf8)
        // One line written by the worker's own encoder, to be sure the format is the real one.
        spool.record(LedgerEntry(t: Stamp.iso(now), id: "real-encoder", event: .failed, class: .stalled, provider: "zhipu", attempt: 2, pid: 1))
        expected.failed += 1
        expected.stalled += 1
        for (dir, names) in [("inbox", ["a.md", "b.md", ".c.md.tmp"]), ("done", ["d.md", "d.result.json"]), ("failed", ["real-encoder.md", "real-encoder.result.json"])] {
            for name in names { #expect(FileManager.default.createFile(atPath: "\(s.spool)/\(dir)/\(name)", contents: Data())) }
        }
        let started = Date()
        let r = try s.mtor(["status", "--json", "--spool", s.spool])
        let seconds = Date().timeIntervalSince(started)
        print("status --json over 100,001 ledger lines took \(String(format: "%.2f", seconds)) s")
        #expect(r.code == 0, "\(r.err)")
        let st = try JSONDecoder().decode(SpoolStatus.self, from: Data(r.out.utf8))
        #expect(st.recent.ledgerLines == 100_001)
        #expect(st.recent.unreadableLines == 0)
        #expect(st.recent.succeeded == expected.succeeded)
        #expect(st.recent.failed == expected.failed)
        #expect(st.recent.cancelled == expected.cancelled)
        #expect(st.recent.failureClasses.map(\.class) == (expected.stalled > expected.auth ? ["stalled", "auth_failed"] : ["auth_failed", "stalled"]))
        #expect(Dictionary(uniqueKeysWithValues: st.recent.failureClasses.map { ($0.class, $0.count) }) == ["auth_failed": expected.auth, "stalled": expected.stalled])
        #expect(st.recent.failureClasses.first { $0.class == "stalled" }?.latest == "real-encoder")
        #expect(st.counts.inbox == 2 && st.counts.done == 1 && st.counts.failed == 1 && st.counts.claimed == 0)
        #expect(st.warnings.contains { $0.contains("no live worker") }, "\(st.warnings)")
        #expect(!st.warnings.contains { $0.contains("succeeded in the last") }, "\(st.warnings)")
        #expect(seconds < 10, "streams the ledger instead of reading sidecars")
    }

    @Test("status warns when most recent tasks fail and when every failure has one class", .timeLimit(.minutes(10)))
    func statusWarnings() throws {
        let s = try Sandbox("laptop-warn")
        let spool = Spool(root: s.spool)
        try spool.prepare()
        spool.record(LedgerEntry(t: Stamp.iso(Date(timeIntervalSinceNow: -3 * 86400)), id: "old", event: .succeeded, class: .ok))
        spool.record(LedgerEntry(t: Stamp.iso(), id: "good", event: .succeeded, class: .ok))
        for i in 0..<5 { spool.record(LedgerEntry(t: Stamp.iso(), id: "bad-\(i)", event: .failed, class: .authFailed)) }
        try "{\"providers\":[{\"provider\":\"zhipu\",\"state\":\"unhealthy\",\"class\":\"auth_failed\",\"reason\":\"401 from preflight\",\"failures\":1},{\"provider\":\"infini\",\"state\":\"healthy\",\"failures\":0}],\"updated_at\":\"2026-11-21T10:00:00Z\"}"
            .write(toFile: spool.state + "/providers.json", atomically: true, encoding: .utf8)
        let r = try s.mtor(["status", "--spool", s.spool])
        #expect(r.code == 0, "\(r.err)")
        #expect(r.out.contains("last 24 h: 1 succeeded, 5 failed, 0 cancelled, 17% success"), "\(r.out)")
        #expect(r.out.contains("warning: only 1 of 6 tasks succeeded"), "\(r.out)")
        #expect(r.out.contains("warning: every one of the 5 failures in the last 24 h is auth_failed"), "\(r.out)")
        #expect(r.out.contains("zhipu: UNHEALTHY — auth_failed: 401 from preflight") && r.out.contains("infini: healthy"), "\(r.out)")
        #expect(r.out.contains("warning: provider zhipu is unhealthy"), "\(r.out)")
    }

    static func running(_ pid: Int32) -> Bool {
        guard ProcessControl.isAlive(pid) else { return false }
        let stat = (try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)) ?? ""
        return !stat.contains(") Z ") // a zombie has ended; only the reaper has yet to collect it
    }
}

/// A sandbox whose spool is "the remote" behind a real sshd (optionally with a worker running on
/// it), and a laptop directory that reaches it as `mtor-test:SPOOL`.
final class RemoteWorld {
    let sandbox: Sandbox
    let ssh: SSHServer
    let worker: BackgroundWorker?
    let laptop: Laptop

    init(_ label: String, worker withWorker: Bool = true, throttle: Int = 65536) throws {
        sandbox = try Sandbox(label)
        sandbox.lockfile(Lockfiles.make([]))
        try Spool(root: sandbox.spool).prepare()
        ssh = try SSHServer(in: sandbox.root + "/ssh", throttle: throttle)
        worker = withWorker ? try BackgroundWorker(sandbox) : nil
        try worker?.waitUntilStarted()
        laptop = try Laptop(sandbox, ssh: ssh)
    }

    deinit {
        worker?.stop()
        ssh.stop()
    }
}

/// The laptop's view of a sandbox: a directory of specs and `mtor` with the test's ssh config.
struct Laptop {
    let sandbox: Sandbox
    let ssh: SSHServer?
    let dir: String

    init(_ s: Sandbox, ssh: SSHServer?) throws {
        sandbox = s
        self.ssh = ssh
        dir = s.root + "/laptop"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    func write(_ name: String, _ text: String) throws {
        try text.write(toFile: "\(dir)/\(name)", atomically: true, encoding: .utf8)
    }

    var environment: [String: String] {
        var env = sandbox.environment
        env["MTOR_SPOOL"] = sandbox.spool
        env["MTOR_REMOTE_MTOR"] = mtorBinary
        if let ssh { env["MTOR_SSH_CONFIG"] = ssh.config }
        return env
    }

    /// Runs `mtor ARGS` in the laptop directory; `merge` interleaves stderr into the text as a terminal would.
    func run(_ args: [String], merge: Bool = true, timeout: Double = 120) throws -> (code: Int32, text: String) {
        let argv = merge ? ["/bin/sh", "-c", "exec \"$0\" \"$@\" 2>&1", mtorBinary] + args : [mtorBinary] + args
        let r = try ChildProcess.run(argv, environment: environment, directory: dir, timeout: timeout)
        return (r.0.exitCode ?? 128 + (r.0.signal ?? 0), String(decoding: r.stdout, as: UTF8.self))
    }

    /// Starts `mtor ARGS` in the background.
    func start(_ args: [String]) throws -> Running {
        let child = try ChildProcess(executable: mtorBinary, argv: [mtorBinary] + args, environment: environment, directory: dir)
        let running = Running(child: child)
        Thread { [running] in
            _ = running.child.drive(onOutput: { _, bytes in running.sink.append(bytes) }, stop: { false })
            running.finish()
        }.start()
        return running
    }

    final class Running: @unchecked Sendable {
        let child: ChildProcess
        let sink = OutputSink()
        private let lock = NSLock()
        private var finished = false
        init(child: ChildProcess) { self.child = child }
        func finish() { lock.withLock { finished = true } }
        var done: Bool { lock.withLock { finished } }
    }
}

func waitFor(_ seconds: Double, _ condition: () throws -> Bool) throws {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if try condition() { return }
        Thread.sleep(forTimeInterval: 0.05)
    }
    throw SandboxError("condition not met within \(seconds)s")
}
