import Foundation
import Testing
import MtorCore
import MtorPlatform

@Suite("Hostile files in the inbox never crash, block or escape the worker")
struct HostileInboxTests {
    /// Runs `--once` over an inbox prepared by `prepare`, plus one good spec that must still succeed.
    func drain(_ label: String, _ prepare: (Sandbox) throws -> Void) throws -> (Sandbox, String) {
        let s = try Sandbox(label)
        s.lockfile(Lockfiles.make([]))
        try FileManager.default.createDirectory(atPath: s.spool + "/inbox", withIntermediateDirectories: true)
        try prepare(s)
        try s.submit("good.md", "---\nrepo: ~/code/widget\nharness: sh\nexpect: nothing\n---\necho fine\n")
        let run = try s.drain(timeout: 60)
        #expect(run.code == 0, "\(run.err)")
        #expect(try s.result("good").status == .succeeded, "the worker kept working")
        return (s, run.err)
    }

    func invalid(_ s: Sandbox, _ id: String) throws -> TaskResult {
        let r = try s.result(id)
        #expect(r.status == .failed)
        #expect(r.class == .specInvalid, "\(r.reason)")
        #expect(r.attempts.isEmpty)
        return r
    }

    @Test("a symlink is never followed and stays untouched, with a warning", .timeLimit(.minutes(10)))
    func symlinkSpec() throws {
        let outside = NSTemporaryDirectory() + "outside-\(UUID().uuidString.prefix(6)).md"
        try "---\nrepo: /\nharness: sh\n---\ntouch /tmp/pwned\n".write(toFile: outside, atomically: true, encoding: .utf8)
        let (s, err) = try drain("symlink") { s in
            #expect(symlink(outside, s.spool + "/inbox/link.md") == 0)
        }
        #expect(FileSystem.kind(s.spool + "/inbox/link.md") == .symlink)
        #expect(err.contains("symlink"))
        #expect(s.read("state/worker.json").contains("link.md"))
    }

    @Test("a FIFO does not block the worker and stays untouched", .timeLimit(.minutes(10)))
    func fifo() throws {
        let (s, _) = try drain("fifo") { s in #expect(mkfifo(s.spool + "/inbox/pipe.md", 0o600) == 0) }
        #expect(FileSystem.kind(s.spool + "/inbox/pipe.md") == .fifo)
        #expect(s.read("state/worker.json").contains("pipe.md"))
    }

    @Test("a directory and a device node stay untouched", .timeLimit(.minutes(10)))
    func directoryAndDevice() throws {
        let (s, _) = try drain("dir") { s in
            try FileManager.default.createDirectory(atPath: s.spool + "/inbox/folder.md", withIntermediateDirectories: true)
            _ = mknod(s.spool + "/inbox/null.md", S_IFCHR | 0o600, dev_t((1 << 8) | 3))
        }
        #expect(FileSystem.kind(s.spool + "/inbox/folder.md") == .directory)
        #expect(s.read("state/worker.json").contains("folder.md"))
    }

    @Test("a zero-byte file fails as spec_invalid", .timeLimit(.minutes(10)))
    func empty() throws {
        let (s, _) = try drain("empty") { s in s.write("inbox/empty.md", Data()) }
        _ = try invalid(s, "empty")
    }

    @Test("a 50 MB file fails as spec_invalid without being read", .timeLimit(.minutes(10)))
    func huge() throws {
        let (s, _) = try drain("huge") { s in s.write("inbox/huge.md", Data(count: 50 << 20)) }
        let r = try invalid(s, "huge")
        #expect(r.reason.contains("1 MiB"))
    }

    @Test("invalid UTF-8 and binary garbage fail as spec_invalid", .timeLimit(.minutes(10)))
    func garbage() throws {
        let (s, _) = try drain("garbage") { s in
            s.write("inbox/latin1.md", Data([0x2D, 0x2D, 0x2D, 0x0A, 0xE9, 0xFF, 0xFE, 0x0A]))
            s.write("inbox/binary.md", Data((0..<4096).map { UInt8(truncatingIfNeeded: $0 &* 7919) }))
        }
        #expect(try invalid(s, "latin1").reason.contains("UTF-8"))
        _ = try invalid(s, "binary")
    }

    @Test("names with spaces, unicode, newlines and dots get safe ids; nothing is lost", .timeLimit(.minutes(10)))
    func names() throws {
        let body = "---\nrepo: ~/code/widget\nharness: sh\nexpect: nothing\n---\necho named\n"
        let names = ["my spec.md", "résumé ✓.md", "line\nbreak.md", "a..b.md"]
        let (s, _) = try drain("names") { s in
            for name in names { s.write("inbox/\(name)", Data(body.utf8)) }
        }
        let done = try FileManager.default.contentsOfDirectory(atPath: s.spool + "/done").filter { $0.hasSuffix(".result.json") }
        #expect(done.count == names.count + 1, "\(done)")
        for file in done {
            let id = String(file.dropLast(".result.json".count))
            #expect(TaskID.isValid(id), "\(id)")
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: s.spool + "/inbox").isEmpty)
    }

    @Test("a repo outside the allowed directories (even through a symlink) is spec_invalid", .timeLimit(.minutes(10)))
    func boundary() throws {
        let (s, _) = try drain("boundary") { s in
            let outside = NSTemporaryDirectory() + "outside-repo-\(UUID().uuidString.prefix(6))"
            _ = try ChildProcess.run(["git", "init", "-q", outside], environment: ["PATH": "/usr/bin:/bin"])
            #expect(symlink(outside, s.home + "/code/escape") == 0)
            s.write("inbox/escape.md", Data("---\nrepo: ~/code/escape\nharness: sh\n---\ntouch pwned\n".utf8))
        }
        let r = try invalid(s, "escape")
        #expect(r.reason.contains("outside"))
    }
}

extension Sandbox {
    func write(_ relative: String, _ data: Data) {
        #expect(FileManager.default.createFile(atPath: "\(spool)/\(relative)", contents: data))
    }
}
