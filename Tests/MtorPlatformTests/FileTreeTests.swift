import Foundation
import Testing
@testable import MtorPlatform

@Suite("FileTree: a whole tree as lstat sees it")
struct FileTreeTests {
    @Test("the walk lists every entry with its kind, mode and links, follows no link, opens up a chmod 000 directory ")
    func walk() throws {
        let t = TempDir()
        t.write("a.txt", "a")
        try FileManager.default.createDirectory(atPath: t.path + "/locked/inner", withIntermediateDirectories: true)
        t.write("locked/inner/secret", "s")
        #expect(chmod(t.path + "/locked", 0) == 0)
        #expect(symlink("/etc", t.path + "/out") == 0)
        #expect(mkfifo(t.path + "/pipe", 0o644) == 0)
        #expect(link(t.path + "/a.txt", t.path + "/hard") == 0)
        #expect(FileTree.walk(t.path, openUp: false).entries.first { $0.path == "locked" }?.mode == 0, "without openUp the mode is left as found")
        let listing = FileTree.walk(t.path, openUp: true)
        #expect(listing.unaccounted.isEmpty)
        let byPath = Dictionary(uniqueKeysWithValues: listing.entries.map { ($0.path, $0) })
        #expect(Set(byPath.keys) == ["a.txt", "locked", "locked/inner", "locked/inner/secret", "out", "pipe", "hard"], "nothing under /etc: the link is not followed")
        #expect(byPath["out"]?.kind == .symlink && byPath["pipe"]?.kind == .fifo && byPath["locked"]?.kind == .directory)
        #expect(byPath["a.txt"]?.links == 2 && byPath["hard"]?.links == 2)
        #expect(byPath["locked"].map { $0.mode & 0o700 == 0o700 } == true, "opened up before listing")
        #expect(FileTree.setMode(t.path + "/a.txt", 0o640) && FileSystem.mode(t.path + "/a.txt") == 0o640)
        #expect(!FileTree.setMode(t.path + "/out", 0o600), "a link's target is never chmodded")
    }

    @Test("a name that is not UTF-8 is unaccounted for")
    func undecodable() throws {
        let t = TempDir()
        let raw: [UInt8] = Array((t.path + "/bad").utf8) + [0xFF, 0]
        let fd = raw.withUnsafeBufferPointer { open(UnsafeRawPointer($0.baseAddress!).assumingMemoryBound(to: CChar.self), O_CREAT | O_WRONLY, 0o644) }
        #expect(fd >= 0)
        close(fd)
        #expect(FileTree.walk(t.path, openUp: true).unaccounted.count == 1)
    }

    @Test("the umask is read without changing it")
    func umaskRead() {
        let mask = FileTree.umask
        #expect(mask <= 0o777)
        #expect(FileTree.umask == mask)
    }
}
