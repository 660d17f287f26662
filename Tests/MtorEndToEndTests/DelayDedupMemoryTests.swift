import Foundation
import Testing
import MtorCore
import MtorPlatform
import MtorWorker

@Suite("not_before, duplicates and the memory floor", .serialized)
struct DelayDedupMemoryTests {
    @Test("not_before (a time, and a duration from submission) is honoured to within a second across a worker restart, and status lists the next starts",
          .timeLimit(.minutes(10)))
    func notBeforeAcrossRestart() throws {
        let s = try Sandbox.scheduling("not-before")
        let at = (Date().timeIntervalSince1970 + 5).rounded(.up)
        let iso = Stamp.iso(Date(timeIntervalSince1970: at))
        try s.shSpec("timed", "not_before: \(iso)\nexpect: nothing", body: "echo timed")
        try s.shSpec("relative", "not_before: 6s\nexpect: nothing", body: "echo relative")
        let submitted = try #require(FileSystem.modificationTime(s.spool + "/inbox/relative.md"))
        try s.shSpec("now", "expect: nothing", body: "echo now")
        var worker = try BackgroundWorker(s)
        defer { worker.stop() }
        try worker.waitFor { s.exists("done/now.result.json") }
        try worker.waitFor { s.heldReason("timed") != nil }
        #expect(s.heldReason("timed")?.hasPrefix("not before \(iso.prefix(19).replacingOccurrences(of: "T", with: " ")) UTC (not_before), in ") == true, "\(s.heldReason("timed") ?? "none")")
        let status = try s.mtor(["status", "--spool", s.spool])
        #expect(status.out.contains("next starts (not_before):") && status.out.contains("inbox/timed.md") && status.out.contains("inbox/relative.md"), "\(status.out)")
        worker.stop()  // a restart in the middle of the wait
        #expect(s.exists("inbox/timed.md") && s.exists("inbox/relative.md"), "not started early: \(s.listing())")
        worker = try BackgroundWorker(s)
        try worker.waitFor(timeout: 40) { s.exists("done/timed.result.json") && s.exists("done/relative.result.json") }
        for (id, due) in [("timed", at), ("relative", submitted + 6)] {
            let r = try s.result(id)
            let claimed = try #require(Stamp.date(r.claimedAt)?.timeIntervalSince1970)
            let started = try #require(r.attempts.first.flatMap { Stamp.date($0.startedAt) }?.timeIntervalSince1970)
            #expect(claimed >= due - 0.01, "\(id) was claimed \(due - claimed) s early")
            #expect(started < due + 10, "\(id) started \(started - due) s after its time (generous bound; the promise is 1 s)")
        }
    }

    @Test("a duplicate (same repo, provider and prompt) of a queued or recently finished task is refused naming the original; --force and dedup: false run it",
          .timeLimit(.minutes(10)))
    func duplicates() throws {
        let s = try Sandbox.scheduling("dedup")
        let window = ["--dedup-window", "10m"]
        let dir = s.root + "/specs"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let text = "---\nrepo: ~/code/widget\nexpect: nothing\n---\necho nightly report\n"
        writeFixture(dir + "/report.md", Data(text.utf8))
        let submit = { (extra: [String]) throws -> String in
            let r = try s.mtor(["submit", "--spool", s.spool, "--providers", s.etc + "/providers.json"] + extra + [dir + "/report.md"])
            #expect(r.code == 0, "\(r.err)")
            return try #require(r.out.split(separator: " ").dropFirst(3).first.map(String.init))
        }
        let original = try submit([])
        #expect(try s.drain(window).code == 0)
        #expect(try s.result(original).status == .succeeded)
        let again = try submit([])
        // Queued twice at once: the later arrival is the duplicate.
        try s.submit("twin-a.md", "---\nrepo: ~/code/widget\nexpect: nothing\n---\necho twins\n")
        try s.submit("twin-b.md", "---\nrepo: ~/code/widget\nexpect: nothing\n---\necho twins\n")
        try s.submit("other-provider.md", "---\nrepo: ~/code/widget\nprovider: other\nexpect: nothing\n---\necho nightly report\n")
        try s.submit("on-purpose.md", "---\nrepo: ~/code/widget\nexpect: nothing\ndedup: false\n---\necho nightly report\n")
        #expect(try s.drain(window).code == 0)
        let refused = try s.result(again)
        #expect(refused.class == .duplicate && refused.attempts.isEmpty)
        #expect(refused.reason.contains("duplicate spec") && refused.reason.contains(original) && refused.reason.contains("succeeded (done/)"), "\(refused.reason)")
        #expect(refused.reason.contains("mtor submit --force") && refused.reason.contains("dedup: false"))
        #expect(try s.result("twin-a").status == .succeeded)
        let twin = try s.result("twin-b")
        #expect(twin.class == .duplicate && twin.reason.contains("identical (same repo, provider and prompt) to twin-a, queued in inbox/"), "\(twin.reason)")
        #expect(try s.result("other-provider").status == .succeeded, "another provider is other work")
        #expect(try s.result("on-purpose").status == .succeeded)
        let forced = try submit(["--force"])
        #expect(String(decoding: FileManager.default.contents(atPath: "\(s.spool)/inbox/\(forced).md") ?? Data(), as: UTF8.self).contains("dedup: false"))
        #expect(try s.drain(window).code == 0)
        #expect(try s.result(forced).status == .succeeded, "--force runs it again")
        #expect(try s.drain(["--dedup-window", "0"]).code == 0)
    }

    @Test("--min-free-memory above what the host has holds a spec and says so in status and show; the wait ends when memory returns or the floor is lowered",
          .timeLimit(.minutes(10)))
    func memoryFloor() throws {
        let s = try Sandbox.scheduling("memory")
        #expect(HostMemory.available(meminfo: "/proc/meminfo").map { $0 > 1 << 30 } == true, "this host has over 1 GiB available")
        try s.shSpec("hungry", "expect: nothing", body: "echo ran")
        var worker = try BackgroundWorker(s, extra: ["--min-free-memory", "1P"])
        defer { worker.stop() }
        try worker.waitFor { s.heldReason("hungry") != nil }
        let why = try #require(s.heldReason("hungry"))
        #expect(why.hasPrefix("only ") && why.contains(" GiB of memory"), "\(why)")
        #expect(why.contains("of memory is available, below --min-free-memory 1 PiB; it starts when memory returns"), "\(why)")
        #expect(try s.mtor(["status", "--spool", s.spool]).out.contains("below --min-free-memory 1 PiB"))
        #expect(try s.mtor(["show", "--spool", s.spool, "hungry"]).out.contains("held: only "))
        Thread.sleep(forTimeInterval: 1.5)
        #expect(s.exists("inbox/hungry.md"))
        worker.stop()
        worker = try BackgroundWorker(s)  // the default floor (1 GiB) is below what this host has
        try worker.waitFor { s.exists("done/hungry.result.json") }

        // Memory returning without a restart: the worker reads MemAvailable each turn.
        let meminfo = s.root + "/meminfo"
        writeFixture(meminfo, Data("MemTotal:       16000000 kB\nMemAvailable:     300000 kB\n".utf8))
        worker.stop()
        try s.shSpec("patient", "expect: nothing", body: "echo patient")
        worker = try BackgroundWorker(s, extra: ["--min-free-memory", "1G"], env: ["MTOR_TEST_MEMINFO": meminfo])
        try worker.waitFor { s.heldReason("patient") != nil }
        #expect(s.heldReason("patient") == "only 293 MiB of memory is available, below --min-free-memory 1 GiB; it starts when memory returns")
        writeFixture(meminfo + ".new", Data("MemTotal:       16000000 kB\nMemAvailable:    8000000 kB\n".utf8))
        #expect(rename(meminfo + ".new", meminfo) == 0)
        try worker.waitFor(timeout: 10) { s.exists("done/patient.result.json") }
    }
}
