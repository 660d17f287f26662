import Foundation
import Testing
import MtorCore
import MtorPlatform

@Suite("Graceful stop and a full disk lose nothing", .serialized)
struct StopAndDiskTests {
    @Test("SIGTERM lets a running attempt finish within the grace period", .timeLimit(.minutes(10)))
    func gracefulFinish() throws {
        let s = try Sandbox("term-finish")
        s.lockfile(Lockfiles.make([]))
        let worker = try BackgroundWorker(s)
        defer { worker.stop() }
        try worker.waitUntilStarted()
        try s.submit("short.md", "---\nrepo: ~/code/widget\nharness: sh\nexpect: nothing\n---\nsleep 2\necho finished\n")
        try worker.waitFor { s.exists("claimed/short.md") }
        worker.child.signal(SIGTERM, group: true)
        try worker.waitFor(timeout: 20) { worker.child.isReaped || worker.stderr.contains("worker stopped") }
        #expect(try s.result("short").status == .succeeded)
    }

    @Test("SIGTERM past the grace period interrupts the attempt and requeues the spec to inbox/", .timeLimit(.minutes(10)))
    func gracefulRequeue() throws {
        let s = try Sandbox("term-requeue")
        s.lockfile(Lockfiles.make([]))
        let worker = try BackgroundWorker(s, extra: ["--grace", "1"])
        defer { worker.stop() }
        try worker.waitUntilStarted()
        try s.submit("long.md", "---\nrepo: ~/code/widget\nharness: sh\n---\nsleep 60 &\nsleep 60\n")
        try worker.waitFor { s.read("state/worker.json").contains("\"pid\" : ") && s.exists("claimed/long.md") }
        worker.child.signal(SIGTERM, group: true)
        try worker.waitFor(timeout: 30) { worker.stderr.contains("worker stopped") }
        #expect(s.exists("inbox/long.md"), "\(s.listing())")
        #expect(!s.exists("claimed/long.md"))
        #expect(s.read("state/attempts/long.json").contains("interrupted"))
        #expect(s.read("state/ledger.jsonl").contains("\"requeued\""))
    }

    @Test("ENOSPC while writing the result: the spec stays claimed, the worker says so, and it finishes once space returns", .timeLimit(.minutes(10)), .requiresMounts)
    func diskFull() throws {
        let s = try Sandbox("enospc")
        s.lockfile(Lockfiles.make([]))
        try FileManager.default.createDirectory(atPath: s.spool, withIntermediateDirectories: true)
        let mount = try ChildProcess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", s.spool], environment: ["PATH": "/usr/bin:/bin:/usr/sbin:/sbin"])
        try #require(mount.0.succeeded, "mount -t tmpfs: \(String(decoding: mount.stderr, as: UTF8.self))")
        defer { _ = try? ChildProcess.run(["umount", "-l", s.spool], environment: ["PATH": "/usr/bin:/bin:/usr/sbin:/sbin"]) }
        // The verify step fills the spool's disk: unsandboxed on purpose (a sandboxed verify sees no spool).
        let worker = try BackgroundWorker(s, extra: ["--sandbox", "none"])
        defer { worker.stop() }
        try worker.waitUntilStarted()
        // The verify step fills the spool's filesystem after the agent is done, just before the sidecar is written.
        // The sidecar's temporary file is the task's claim, emptied: a result that fits in the claim's space is
        // written even on a full disk. This one carries 8 KB of metadata, so it needs space the disk no longer has.
        let note = String(repeating: "n", count: 8000)
        try s.submit("fill.md", "---\nrepo: ~/code/widget\nharness: sh\nverify: head -c 20000000 /dev/zero > \(s.spool)/filler 2>/dev/null; true\nexpect: nothing\nworkspace: in-place\nx-note: \(note)\n---\necho agent done\n")
        try worker.waitFor(timeout: 30) { worker.stderr.contains("cannot write its result yet") }
        // state/worker.json says so too, though the disk it lives on is full (it keeps disk set aside).
        try worker.waitFor(timeout: 10) { s.read("state/worker.json").contains("waiting for disk") }
        let state = try JSONSerialization.jsonObject(with: Data(s.read("state/worker.json").utf8)) as? [String: Any]
        #expect(((state?["running"] as? [[String: Any]])?.first?["phase"] as? String)?.contains("No space left") == true, "\(s.read("state/worker.json"))")
        #expect(s.exists("claimed/fill.md"))
        #expect(!s.exists("done/fill.result.json") && !s.exists("failed/fill.result.json"))
        try FileManager.default.removeItem(atPath: s.spool + "/filler")
        try worker.waitFor(timeout: 60) { s.exists("done/fill.md") }
        let r = try s.result("fill")
        #expect(r.status == .succeeded)
        #expect(!s.exists("claimed/fill.md"))
    }
}
