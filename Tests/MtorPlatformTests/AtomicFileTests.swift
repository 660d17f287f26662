import Foundation
import Synchronization
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

    @Test("a state file rewritten through its spare frees no inode; a reader's old content, a link, a FIFO there are never written through")
    func exchanging() throws {
        let t = TempDir()
        let inode = { (path: String) -> UInt64 in
            var st = stat()
            return lstat(path, &st) == 0 ? UInt64(st.st_ino) : 0
        }
        let state = t.path + "/worker.json", spare = t.path + "/.worker.json.spare"
        // Fifty writes: every one reads back whole, and only two inodes ever carry the name.
        var seen = Set<UInt64>()
        for n in 0..<50 {
            let text = "{\"n\": \(n), \"pad\": \"\(String(repeating: "x", count: n * 37))\"}"
            try FileSystem.writeExchanging(Array(text.utf8), to: state, spare: spare, mode: 0o640, reserve: 4096)
            #expect(try FileSystem.readText(state) == text)
            #expect(FileSystem.mode(state) == 0o640)
            seen.insert(inode(state))
        }
        #expect(seen.count == 2, "inodes that carried the name: \(seen.count)")
        // A reader holding the file open keeps what it opened: the next writes leave that inode alone.
        let held = open(state, O_RDONLY)
        #expect(held >= 0)
        let heldInode = inode(state)
        for n in 0..<3 { try FileSystem.writeExchanging(Array("next \(n)".utf8), to: state, spare: spare) }
        var buf = [UInt8](repeating: 0, count: 8192)
        let got = pread(held, &buf, buf.count, 0)
        close(held)
        #expect(String(decoding: buf.prefix(max(0, got)), as: UTF8.self).hasPrefix("{\"n\": 49"))
        #expect(inode(state) != heldInode)
        #expect(try FileSystem.readText(state) == "next 2")
        // A hard link, a symlink or a FIFO planted as the spare: never written through.
        t.write("precious", "keep me")
        for plant in ["link", "symlink", "fifo"] {
            unlink(spare)
            switch plant {
            case "link": #expect(link(t.path + "/precious", spare) == 0)
            case "symlink": #expect(symlink(t.path + "/precious", spare) == 0)
            default: #expect(mkfifo(spare, 0o600) == 0)
            }
            try FileSystem.writeExchanging(Array("after \(plant)".utf8), to: state, spare: spare)
            #expect(try FileSystem.readText(state) == "after \(plant)")
            #expect(try FileSystem.readText(t.path + "/precious") == "keep me")
        }
        // Missing: made by create and rename, as writeAtomically does; a directory there is refused.
        try FileSystem.writeExchanging(Array("fresh".utf8), to: t.path + "/new.json", spare: t.path + "/.new.spare")
        #expect(try FileSystem.readText(t.path + "/new.json") == "fresh")
        #expect(FileSystem.kind(t.path + "/.new.spare") == .missing)
        try FileSystem.makeDirectories(t.path + "/dir.json")
        #expect(throws: SystemError.self) { try FileSystem.writeExchanging(Array("x".utf8), to: t.path + "/dir.json", spare: spare) }
    }

    @Test("spares are placed only where nothing is, and a symlink or hard link planted under a spare's name is dropped, never moved in")
    func spares() throws {
        let t = TempDir()
        let spares = SpareFiles(directory: t.path, keep: 3)
        spares.refill()
        let made = try FileSystem.list(t.path).filter { $0.hasSuffix(".spare") }
        #expect(made.count == 3)
        // Placed: an empty regular file appears at the path; a second place there keeps the first.
        #expect(spares.place(at: t.path + "/a.log"))
        #expect(FileSystem.kind(t.path + "/a.log") == .regular(size: 0))
        t.write("b.log", "earlier attempt\n")
        #expect(!spares.place(at: t.path + "/b.log"))
        #expect(try FileSystem.readText(t.path + "/b.log") == "earlier attempt\n")
        // Every remaining spare replaced by something hostile: none is placed, each is removed.
        t.write("precious", "keep me")
        for (i, name) in try FileSystem.list(t.path).filter({ $0.hasSuffix(".spare") }).sorted().enumerated() {
            unlink(t.path + "/" + name)
            if i == 0 { #expect(symlink(t.path + "/precious", t.path + "/" + name) == 0) } else { #expect(link(t.path + "/precious", t.path + "/" + name) == 0) }
        }
        #expect(!spares.place(at: t.path + "/c.log"))
        #expect(FileSystem.kind(t.path + "/c.log") == .missing)
        #expect(try FileSystem.readText(t.path + "/precious") == "keep me")
        #expect(try FileSystem.list(t.path).filter { $0.hasSuffix(".spare") }.isEmpty)
        // Refilled, taken by a claim write, and removed when the worker stops.
        spares.refill()
        try FileSystem.writeAtomically(Array("{}".utf8), to: t.path + "/x.claim.json", durable: false, reusing: spares.take())
        #expect(try FileSystem.list(t.path).filter { $0.hasSuffix(".spare") }.count == 2)
        spares.removeAll()
        #expect(try FileSystem.list(t.path).filter { $0.hasSuffix(".spare") }.isEmpty)
    }

    @Test("directory fsyncs asked at once are shared, yet every caller returns only after an fsync that began after it asked; a failed one covers nobody")
    func groupSync() throws {
        let group = GroupSync()
        // One event counter for asks and fsync starts; `lastCovering` is the start of the latest fsync that succeeded.
        let events = Mutex<(clock: Int, running: Int, overlap: Bool, bodies: Int, lastCovering: Int, late: Int)>((0, 0, false, 0, -1, 0))
        let threads = 8, calls = 40
        DispatchQueue.concurrentPerform(iterations: threads) { _ in
            for _ in 0..<calls {
                let asked = events.withLock { e in e.clock += 1; return e.clock }
                try? group.sync("/d") { () throws(SystemError) in
                    let started = events.withLock { e in
                        e.clock += 1
                        e.running += 1
                        if e.running > 1 { e.overlap = true }
                        e.bodies += 1
                        return e.clock
                    }
                    usleep(300)
                    events.withLock { e in e.running -= 1; e.lastCovering = started }
                }
                events.withLock { e in if e.lastCovering < asked { e.late += 1 } }
            }
        }
        let e = events.withLock { $0 }
        #expect(!e.overlap, "two fsyncs of one directory ran at once")
        #expect(e.late == 0, "\(e.late) callers returned before an fsync that began after they asked")
        #expect(e.bodies >= 1 && e.bodies <= threads * calls)
        // A failing fsync: its caller gets the error, and the next caller does not count as covered by it.
        var failures = 0
        #expect(throws: SystemError.self) {
            try group.sync("/e") { () throws(SystemError) in failures += 1; throw SystemError("fsync", path: "/e", errno: EIO) }
        }
        var ran = false
        try group.sync("/e") { () throws(SystemError) in ran = true }
        #expect(failures == 1 && ran)
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
