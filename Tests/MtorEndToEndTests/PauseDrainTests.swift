import Foundation
import Testing
import MtorCore
import MtorPlatform
import MtorWorker

/// An `sh` body that waits (at most a minute) for `gate` to exist, then prints `word`.
func gatedBody(_ gate: String, _ word: String) -> String {
    "i=0; while [ ! -e \(gate) ] && [ $i -lt 1200 ]; do sleep 0.05; i=$((i+1)); done; echo \(word)"
}

@Suite("Priorities, pause, resume and drain", .serialized)
struct PauseDrainTests {
    @Test("20 specs of mixed priority, all queued before the worker starts, run at --concurrency 1 highest first, arrival order within a priority",
          .timeLimit(.minutes(10)))
    func priorityOrder() throws {
        let s = try Sandbox.scheduling("prio")
        let priorities = [0, 3, -1, 0, 7, 3, 0, -5, 7, 1, 0, 3, 2, -1, 0, 9, 1, 0, 3, 2]
        for (n, p) in priorities.enumerated() {
            // Names sort against arrival, so neither the file name nor inotify order can pass for the rule.
            try s.shSpec("t\(String(format: "%02d", 19 - n))", "priority: \(p)\nexpect: nothing", body: "echo task \(n)")
        }
        let expected = priorities.enumerated().sorted { a, b in a.element != b.element ? a.element > b.element : a.offset < b.offset }
            .map { "t\(String(format: "%02d", 19 - $0.offset))" }
        let run = try s.drain(["--concurrency", "1"])
        #expect(run.code == 0, "\(run.err)")
        #expect(s.claimOrder() == expected)
        #expect(s.count("done") == 20)
    }

    @Test("pause with 3 running and 5 queued: the running finish, none starts, a worker restart keeps the pause, resume runs the rest",
          .timeLimit(.minutes(10)))
    func pauseKeepsAcrossRestart() throws {
        let s = try Sandbox.scheduling("pause")
        let gate = s.root + "/gate"
        for n in 0..<8 { try s.shSpec("job\(n)", "expect: nothing", body: gatedBody(gate, "job \(n)")) }
        var worker = try BackgroundWorker(s, extra: ["--concurrency", "3"], env: ["USER": "nightops"])
        defer { worker.stop() }
        try worker.waitFor { s.count("claimed") == 3 }
        let paused = try s.mtor(["pause", "--spool", s.spool], extraEnv: ["USER": "nightops"])
        #expect(paused.code == 0 && paused.out.contains("paused since") && paused.out.contains("by nightops"), "\(paused)")
        #expect(s.exists("state/paused"), "the pause is a file: \(s.listing())")
        writeFixture(gate, Data())
        try worker.waitFor { s.count("done") == 3 }
        Thread.sleep(forTimeInterval: 2)  // twice the promised reaction time
        #expect(s.count("claimed") == 0 && s.count("inbox") == 5, "none started while paused: \(s.listing())")
        let status = try s.mtor(["status", "--spool", s.spool])
        #expect(status.out.contains("spool paused since ") && status.out.contains(" by nightops"), "\(status.out)")
        let queued = try #require(try FileManager.default.contentsOfDirectory(atPath: s.spool + "/inbox").first { $0.hasSuffix(".md") })
        let show = try s.mtor(["show", "--spool", s.spool, String(queued.dropLast(3))])
        #expect(show.out.contains("held: the spool is paused since") && show.out.contains("by nightops (`mtor resume` starts it again)"), "\(show.out)")
        let json = try s.mtor(["show", "--json", "--spool", s.spool, String(queued.dropLast(3))])
        #expect(json.out.contains("\"held\" : \"the spool is paused since"), "\(json.out)")

        worker.stop()
        worker = try BackgroundWorker(s, extra: ["--concurrency", "3"])
        try worker.waitUntilStarted()
        Thread.sleep(forTimeInterval: 2)
        #expect(s.count("claimed") == 0 && s.count("inbox") == 5, "the pause outlived the worker: \(s.listing())")
        #expect(s.heldReason(String(queued.dropLast(3)))?.contains("by nightops") == true)

        let resumed = try s.mtor(["resume", "--spool", s.spool])
        #expect(resumed.code == 0 && resumed.out.contains("resumed"), "\(resumed)")
        try worker.waitFor { s.count("done") == 8 }
        #expect(!s.exists("state/paused"))
        #expect(try s.mtor(["resume", "--spool", s.spool]).out.contains("was not paused"))
    }

    @Test("a per-provider pause holds only that provider's specs, says so in show, and resume --provider starts them", .timeLimit(.minutes(10)))
    func providerPause() throws {
        let s = try Sandbox.scheduling("pause-provider")
        // Run from cron or a unit, with no USER or LOGNAME: the pause names the uid's user from the password database.
        var env = s.environment
        env["USER"] = nil
        let unnamed = try ChildProcess.run([mtorBinary, "pause", "--spool", s.spool, "--provider", "other"], environment: env, directory: s.root, timeout: 60)
        let own = try #require(getpwuid(getuid())).pointee.pw_name.map { String(cString: $0) } ?? "?"
        #expect(unnamed.0 == .exited(0))
        #expect(String(decoding: unnamed.stdout, as: UTF8.self).contains("by \(own);"), "\(String(decoding: unnamed.stdout, as: UTF8.self))")
        #expect(s.exists("state/paused-other"))
        #expect(try s.mtor(["pause", "--spool", s.spool, "--provider", "../etc"]).code == 2, "a provider name never makes a path")
        for n in 0..<2 {
            try s.shSpec("mine\(n)", "expect: nothing", body: "echo mine \(n)")
            try s.shSpec("theirs\(n)", "provider: other\nexpect: nothing", body: "echo theirs \(n)")
        }
        let worker = try BackgroundWorker(s, extra: ["--concurrency", "2"])
        defer { worker.stop() }
        try worker.waitFor { s.count("done") == 2 }
        try worker.waitFor { s.heldReason("theirs0") != nil }
        #expect(s.count("inbox") == 2)
        #expect(s.heldReason("theirs0")?.hasPrefix("provider other is paused since") == true, "\(s.heldReason("theirs0") ?? "none")")
        let show = try s.mtor(["show", "--spool", s.spool, "theirs1"])
        #expect(show.out.contains("provider other is paused since") && show.out.contains("mtor resume --provider other"), "\(show.out)")
        #expect(try s.mtor(["status", "--spool", s.spool]).out.contains("provider other paused since"))
        #expect(try s.mtor(["resume", "--spool", s.spool, "--provider", "other"]).code == 0)
        try worker.waitFor { s.count("done") == 4 }
    }

    @Test("drain pauses, exits 1 at --timeout while a task runs (the pause stays), and exits 0 once nothing runs; queued specs stay queued",
          .timeLimit(.minutes(10)))
    func drain() throws {
        let s = try Sandbox.scheduling("drain")
        let gate = s.root + "/gate"
        try s.shSpec("long", "expect: nothing", body: gatedBody(gate, "long"))
        let worker = try BackgroundWorker(s)
        defer { worker.stop() }
        try worker.waitFor { s.count("claimed") == 1 }
        try s.shSpec("queued", "expect: nothing", body: "echo queued")
        let early = try s.mtor(["drain", "--spool", s.spool, "--timeout", "1s"])
        #expect(early.code == 1 && early.err.contains("1 task(s) still running after --timeout 1s") && early.err.contains("stays paused"), "\(early)")
        #expect(s.exists("state/paused"))
        let started = Date()
        let drainer = try ChildProcess(executable: mtorBinary, argv: [mtorBinary, "drain", "--spool", s.spool, "--timeout", "60s"], environment: s.environment, directory: s.root)
        Thread.sleep(forTimeInterval: 1)
        #expect(ProcessControl.isAlive(drainer.pid), "drain waits while a task runs")
        writeFixture(gate, Data())
        let sink = OutputSink()
        let status = drainer.drive(onOutput: { _, bytes in sink.append(bytes) }, stop: { false })
        #expect(status.exitCode == 0, "\(sink.text)")
        #expect(sink.text.contains("drained: nothing runs"))
        #expect(Date().timeIntervalSince(started) < 30)
        #expect(s.exists("done/long.result.json") && s.exists("inbox/queued.md"), "\(s.listing())")
        #expect(try s.mtor(["resume", "--spool", s.spool]).code == 0)
        try worker.waitFor { s.exists("done/queued.result.json") }
    }
}
