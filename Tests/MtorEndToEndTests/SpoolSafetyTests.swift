import Foundation
import Testing
import MtorCore
import MtorPlatform
import MtorWorker

@Suite("The spool is private, and a vanishing spec or a read-only disk loses nothing", .serialized)
struct SpoolSafetyTests {
    @Test("spool directories are 0700 and every file the worker writes is 0600; a world-writable spool is warned about", .timeLimit(.minutes(10)))
    func modes() throws {
        let s = try Sandbox("modes")
        s.lockfile(Lockfiles.make([]))
        try s.submit("ok.md", "---\nrepo: ~/code/widget\nexpect: nothing\n---\necho fine\n")
        try s.submit("bad.md", "---\nrepo: ~/code/widget\nrpeo: x\n---\necho never\n")
        let run = try s.drain(timeout: 60)
        #expect(run.code == 0, "\(run.err)")
        for dir in Spool.directories where dir != "inbox" && dir != "tmp" {
            #expect(FileSystem.mode("\(s.spool)/\(dir)") == 0o700, "\(dir)/ is \(String(FileSystem.mode("\(s.spool)/\(dir)") ?? 0, radix: 8))")
        }
        let written = try FileManager.default.subpathsOfDirectory(atPath: s.spool).filter { path in
            { if case .regular = FileSystem.kind("\(s.spool)/\(path)") { return true } else { return false } }() && !path.hasPrefix("inbox/") && !path.hasPrefix("tmp/")
        }
        #expect(written.contains("done/ok.result.json") && written.contains("logs/ok.log") && written.contains("state/ledger.jsonl"), "\(written)")
        // Specs keep the mode they were submitted with; a clone in the worktree pool has the modes a checkout gives
        // (like a running task's clone), private through work/'s 0700.
        #expect(FileSystem.mode("\(s.spool)/work") == 0o700)
        func poolTreeFile(_ path: String) -> Bool {
            let parts = path.split(separator: "/")
            return parts.count > 4 && parts[1].hasPrefix(".pool-")  // work/.pool-<host>/<key>/<tree>/…; the lock and markers are the worker's own
        }
        for path in written where !path.hasSuffix(".md") && !poolTreeFile(path) {
            #expect(FileSystem.mode("\(s.spool)/\(path)") == 0o600, "\(path) is \(String(FileSystem.mode("\(s.spool)/\(path)") ?? 0, radix: 8))")
        }
        // Opened up to everyone: the worker still runs, and says why that is dangerous.
        chmod(s.spool, 0o777)
        _ = try s.drain(timeout: 60)
        #expect(s.read("state/worker.json").contains("world-writable"), "\(s.read("state/worker.json"))")
    }

    @Test("specs that vanish between the inotify event and the claim: the worker neither crashes nor invents anything", .timeLimit(.minutes(10)))
    func vanishing() throws {
        let s = try Sandbox("vanish")
        s.lockfile(Lockfiles.make([]))
        let worker = try BackgroundWorker(s, extra: ["--concurrency", "2"])
        defer { worker.stop() }
        try worker.waitUntilStarted()
        let away = s.root + "/taken-back"
        try FileManager.default.createDirectory(atPath: away, withIntermediateDirectories: true)
        var takenBack = 0
        let count = 300
        for i in 0..<count {
            let name = "flicker\(i).md"
            try s.submit(name, "---\nrepo: ~/code/widget\nexpect: nothing\n---\necho \(i)\n")
            // Take it straight back out, racing the worker's claim.
            if i % 3 != 2 { usleep(UInt32.random(in: 0...300)) }
            if rename("\(s.spool)/inbox/\(name)", "\(away)/\(name)") == 0 { takenBack += 1 }
        }
        try s.submit("last.md", "---\nrepo: ~/code/widget\nexpect: nothing\n---\necho last\n")
        try worker.waitFor(timeout: 60) { s.exists("done/last.result.json") }
        try worker.waitFor(timeout: 30) {
            ((try? FileManager.default.contentsOfDirectory(atPath: s.spool + "/claimed")) ?? []).isEmpty
        }
        #expect(!worker.child.isReaped, "the worker is still running")
        let finished = try ["done", "failed"].flatMap { dir in
            try FileManager.default.contentsOfDirectory(atPath: "\(s.spool)/\(dir)").filter { $0.hasPrefix("flicker") && $0.hasSuffix(".result.json") }
        }
        // Every spec is either back with the user or has exactly one result — none lost, none doubled.
        #expect(takenBack + finished.count == count, "taken back \(takenBack), finished \(finished.count), spool: \(s.listing())")
        for file in finished {
            let r = try s.result(String(file.dropLast(".result.json".count)))
            #expect(r.status == .succeeded, "\(r.id): \(r.class.rawValue) \(r.reason)")
        }
        #expect(!worker.stderr.contains("recovery failed") && !worker.stderr.contains("Fatal"), "\(worker.stderr.suffix(2000))")
        print("vanishing specs: \(takenBack) taken back before the claim, \(finished.count) ran")
    }

    @Test("done/ turned read-only while the result is written: the spec stays claimed and finishes once it is writable", .timeLimit(.minutes(10)), .requiresMounts)
    func readOnly() throws {
        let s = try Sandbox("readonly")
        s.lockfile(Lockfiles.make([]))
        // The verify step remounts the spool's done/ as root on the host: unsandboxed on purpose
        // (a sandboxed verify sees no spool and holds no capability).
        let worker = try BackgroundWorker(s, extra: ["--sandbox", "none"])
        defer { worker.stop() }
        try worker.waitUntilStarted()
        let done = s.spool + "/done"
        let sbin = ["PATH": "/usr/bin:/bin:/usr/sbin:/sbin"]
        // The verify step, after the agent is done and just before the sidecar is written, makes
        // done/ a read-only bind mount of itself: writes there fail with EROFS, as on a read-only disk.
        let probe = try ChildProcess.run(["sh", "-c", "d=$(mktemp -d) && mount --bind $d $d && umount $d; r=$?; rmdir $d; exit $r"], environment: sbin)
        try #require(probe.0.succeeded, "mount --bind: \(String(decoding: probe.stderr, as: UTF8.self))")
        defer { _ = try? ChildProcess.run(["umount", "-l", done], environment: sbin) }
        try s.submit("ro.md", "---\nrepo: ~/code/widget\nverify: mount --bind \(done) \(done) && mount -o remount,bind,ro \(done)\nexpect: nothing\n---\necho agent done\n")
        try worker.waitFor(timeout: 30) { worker.stderr.contains("cannot write its result yet") }
        #expect(worker.stderr.contains("Read-only file system"), "\(worker.stderr.suffix(1500))")
        try worker.waitFor(timeout: 10) { s.read("state/worker.json").contains("waiting for disk") }
        #expect(s.exists("claimed/ro.md"))
        #expect(!s.exists("done/ro.result.json") && !s.exists("failed/ro.result.json"))
        let back = try ChildProcess.run(["umount", done], environment: sbin)
        #expect(back.0.succeeded, "\(String(decoding: back.stderr, as: UTF8.self))")
        try worker.waitFor(timeout: 60) { s.exists("done/ro.md") }
        let r = try s.result("ro")
        #expect(r.status == .succeeded, "\(r.reason)")
        #expect(!s.exists("claimed/ro.md"))
    }
}
