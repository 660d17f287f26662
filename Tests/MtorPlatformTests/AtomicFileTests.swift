import Foundation
import Testing
@testable import MtorPlatform

@Suite("Spool file operations")
struct AtomicFileTests {
    @Test("rename without replace refuses to overwrite")
    func noReplace() throws {
        let t = TempDir()
        t.write("a", "A")
        t.write("b", "B")
        #expect(throws: SystemError.self) { try FileSystem.renameNoReplace(t.path + "/a", t.path + "/b") }
        #expect(try FileSystem.readText(t.path + "/b") == "B")
        try FileSystem.renameNoReplace(t.path + "/a", t.path + "/c")
        #expect(try FileSystem.readText(t.path + "/c") == "A")
        #expect(FileSystem.kind(t.path + "/a") == .missing)
    }

    @Test("an atomic write leaves no temp file and replaces the old content")
    func atomic() throws {
        let t = TempDir()
        t.write("x.json", "old")
        try FileSystem.writeAtomically(Array("new".utf8), to: t.path + "/x.json")
        #expect(try FileSystem.readText(t.path + "/x.json") == "new")
        #expect(try FileSystem.list(t.path) == ["x.json"])
        #expect(FileSystem.mode(t.path + "/x.json") == 0o600)
    }

    @Test("reads never follow symlinks or block on FIFOs", .timeLimit(.minutes(10)))
    func hostile() throws {
        let t = TempDir()
        t.write("real", "secret")
        symlink(t.path + "/real", t.path + "/link")
        mkfifo(t.path + "/fifo", 0o600)
        #expect(throws: SystemError.self) { try FileSystem.read(t.path + "/link") }
        #expect(throws: SystemError.self) { try FileSystem.read(t.path + "/fifo") }
        #expect(FileSystem.kind(t.path + "/link") == .symlink)
        #expect(FileSystem.kind(t.path + "/fifo") == .fifo)
    }

    @Test("a flock held by one descriptor is refused to another until released")
    func lock() throws {
        let t = TempDir()
        t.write("claim", "")
        let first = try #require(FileSystem.tryLock(t.path + "/claim"))
        #expect(FileSystem.tryLock(t.path + "/claim") == nil)
        FileSystem.closeDescriptor(first)
        // A spawn on another test's thread may hold a copy of the descriptor until its child
        // closes it (microseconds): the lock is free once that copy is gone too.
        var second = FileSystem.tryLock(t.path + "/claim")
        for _ in 0..<100 where second == nil {
            usleep(10_000)
            second = FileSystem.tryLock(t.path + "/claim")
        }
        #expect(second != nil)
        second.map(FileSystem.closeDescriptor)
    }
}
