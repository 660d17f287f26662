import Foundation
import Testing
import MtorCore
import MtorPlatform

/// Issue 10 point 7: inbox names, stale cancels and a recreated inbox/, against the built binary.
@Suite("Inbox edges never silently stall a spec", .serialized)
struct InboxEdgeTests {
    @Test("an inbox name that is not valid UTF-8 is renamed, reported, and run", .timeLimit(.minutes(10)))
    func undecodableName() throws {
        let s = try Sandbox("utf8")
        s.lockfile(Lockfiles.make([]))
        _ = try s.drain()
        let raw: [UInt8] = Array("\(s.spool)/inbox/caf".utf8) + [0xE9] + Array(" task.md".utf8) + [0]
        let fd = raw.withUnsafeBufferPointer { $0.withMemoryRebound(to: CChar.self) { open($0.baseAddress!, O_WRONLY | O_CREAT | O_EXCL, 0o600) } }
        try #require(fd >= 0)
        let text = Array("---\nrepo: ~/code/widget\nworkspace: in-place\n---\necho latin1 > latin1.txt\n".utf8)
        _ = text.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        close(fd)
        let r = try s.drain()
        #expect(r.code == 0)
        #expect(r.err.contains("not valid UTF-8"), "the rename is reported: \(r.err.suffix(800))")
        let done = try FileManager.default.contentsOfDirectory(atPath: s.spool + "/done").filter { $0.hasSuffix(".result.json") }
        #expect(done.count == 1 && done[0].hasPrefix("caf_-task"), "ran under a repaired name: \(done)")
        #expect(FileManager.default.fileExists(atPath: s.repo + "/latin1.txt"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: s.spool + "/inbox").isEmpty)
    }

    @Test("a cancel for an id that does not exist yet is removed and never cancels a later task of that name", .timeLimit(.minutes(10)))
    func cancelOfAFutureID() throws {
        let s = try Sandbox("future-cancel")
        s.lockfile(Lockfiles.make([]))
        let worker = try BackgroundWorker(s)
        defer { worker.stop() }
        try worker.waitUntilStarted()
        writeFixture(s.spool + "/cancel/later", Data())
        try worker.waitFor { !s.exists("cancel/later") }
        #expect(worker.stderr.contains("cancel/later names no queued or running task"))
        try s.submit("later.md", "---\nrepo: ~/code/widget\nexpect: nothing\n---\ntrue\n")
        try worker.waitFor { s.exists("done/later.result.json") || s.exists("failed/later.result.json") }
        #expect(try s.result("later").status == .succeeded)
    }

    @Test("inbox/ removed and recreated under a running worker is watched again: the next spec is picked up at once, not at the rescan", .timeLimit(.minutes(10)))
    func recreatedInbox() throws {
        let s = try Sandbox("rewatch")
        s.lockfile(Lockfiles.make([]))
        let worker = try BackgroundWorker(s, extra: ["--rescan", "1h"])
        defer { worker.stop() }
        try worker.waitUntilStarted()
        try FileManager.default.removeItem(atPath: s.spool + "/inbox")
        try worker.waitFor { worker.stderr.contains("watched again") }
        // The worker recreated it; a user may also recreate it: both leave a watched inbox/.
        try? FileManager.default.createDirectory(atPath: s.spool + "/inbox", withIntermediateDirectories: true)
        try s.submit("after.md", "---\nrepo: ~/code/widget\nexpect: nothing\n---\ntrue\n")
        try worker.waitFor(timeout: 20) { s.exists("done/after.result.json") }
        #expect(try s.result("after").status == .succeeded)
    }
}
