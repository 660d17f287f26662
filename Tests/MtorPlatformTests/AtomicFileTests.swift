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

    @Test("a write reusing a file that goes anyway takes its inode; a hard link, a symlink or a FIFO there is never written through")
    func reusing() throws {
        let t = TempDir()
        let inode = { (path: String) -> UInt64 in
            var st = stat()
            return lstat(path, &st) == 0 ? UInt64(st.st_ino) : 0
        }
        // A plain file of ours: its inode becomes the result, with the result's mode and nothing of its old content.
        t.write("claim.json", String(repeating: "old claim ", count: 200))
        chmod(t.path + "/claim.json", 0o644)
        let before = inode(t.path + "/claim.json")
        try FileSystem.writeAtomically(Array("result".utf8), to: t.path + "/r.json", reusing: t.path + "/claim.json")
        #expect(try FileSystem.readText(t.path + "/r.json") == "result")
        #expect(inode(t.path + "/r.json") == before)
        #expect(FileSystem.mode(t.path + "/r.json") == 0o600)
        #expect(try FileSystem.list(t.path) == ["r.json"])
        // A hard link to another file: that file keeps its content; the result is a file of its own.
        t.write("precious", "keep me")
        #expect(link(t.path + "/precious", t.path + "/claim2.json") == 0)
        try FileSystem.writeAtomically(Array("result2".utf8), to: t.path + "/r2.json", reusing: t.path + "/claim2.json")
        #expect(try FileSystem.readText(t.path + "/precious") == "keep me")
        #expect(try FileSystem.readText(t.path + "/r2.json") == "result2")
        #expect(inode(t.path + "/r2.json") != inode(t.path + "/precious"))
        // A symlink and a FIFO: neither followed nor opened for writing; the result is made afresh.
        #expect(symlink(t.path + "/precious", t.path + "/claim3.json") == 0)
        try FileSystem.writeAtomically(Array("result3".utf8), to: t.path + "/r3.json", reusing: t.path + "/claim3.json")
        #expect(try FileSystem.readText(t.path + "/precious") == "keep me")
        #expect(try FileSystem.readText(t.path + "/r3.json") == "result3")
        #expect(mkfifo(t.path + "/claim4.json", 0o600) == 0)
        try FileSystem.writeAtomically(Array("result4".utf8), to: t.path + "/r4.json", reusing: t.path + "/claim4.json")
        #expect(try FileSystem.readText(t.path + "/r4.json") == "result4")
        // Missing: made afresh.
        try FileSystem.writeAtomically(Array("result5".utf8), to: t.path + "/r5.json", reusing: t.path + "/gone.json")
        #expect(try FileSystem.readText(t.path + "/r5.json") == "result5")
        #expect(try FileSystem.list(t.path).sorted() == ["precious", "r.json", "r2.json", "r3.json", "r4.json", "r5.json"])
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
