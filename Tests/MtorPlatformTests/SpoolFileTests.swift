import Foundation
import Testing
@testable import MtorPlatform

/// `FileSystem.openSpoolFile`: the one way spool files are opened never follows, never waits,
/// and names what it refused. A hard link is an ordinary file to it (backup tools make them).
@Suite("Opening spool files: regular files only, never followed, never waited on")
struct SpoolFileTests {
    enum Entry: String, CaseIterable { case fifo, fifoWithReader, symlink, directory, socket, hardLink }

    /// Plants `entry` at `dir/x`; returns a descriptor to close afterwards (the FIFO's reader), or -1.
    static func plant(_ entry: Entry, in dir: String) throws -> Int32 {
        let path = dir + "/x"
        switch entry {
        case .fifo:
            #expect(mkfifo(path, 0o600) == 0)
        case .fifoWithReader:
            #expect(mkfifo(path, 0o600) == 0)
            return open(path, O_RDONLY | O_NONBLOCK)
        case .symlink:
            #expect(FileManager.default.createFile(atPath: dir + "/target", contents: Data("target\n".utf8)))
            try FileManager.default.createSymbolicLink(atPath: path, withDestinationPath: dir + "/target")
        case .directory:
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false)
        case .socket:
            let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
            var address = sockaddr_un()
            address.sun_family = sa_family_t(AF_UNIX)
            withUnsafeMutableBytes(of: &address.sun_path) { raw in
                for (i, b) in path.utf8.enumerated() where i < raw.count - 1 { raw[i] = b }
            }
            let bound = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) } }
            #expect(bound == 0)
            return fd
        case .hardLink:
            #expect(FileManager.default.createFile(atPath: dir + "/target", contents: Data("target\n".utf8)))
            #expect(link(dir + "/target", path) == 0)
        }
        return -1
    }

    @Test("appending, overwriting and atomic writes refuse the entry with a typed error, return at once, and leave any target alone",
          .timeLimit(.minutes(10)), arguments: Entry.allCases.filter { $0 != .hardLink })
    func writesRefused(_ entry: Entry) throws {
        let t = TempDir("spoolfile")
        let extra = try Self.plant(entry, in: t.path)
        defer { if extra >= 0 { close(extra) } }
        let path = t.path + "/x"
        Self.expectRefused(entry) { try FileSystem.appendLine(Array("line".utf8), to: path) }
        Self.expectRefused(entry) { try FileSystem.overwriteInPlace(Array("over".utf8), to: path) }
        Self.expectRefused(entry) { _ = try FileSystem.openForAppend(path) }
        #expect(throws: SystemError.self) { try FileSystem.writeAtomically(Array("new".utf8), to: path) }
        if case .regular = FileSystem.kind(t.path + "/target") {
            #expect(try FileSystem.readText(t.path + "/target") == "target\n")
        }
    }

    static func expectRefused(_ entry: Entry, _ write: () throws -> Void) {
        do {
            try write()
            Issue.record("\(entry): a write went through")
        } catch {
            let e = error as? SystemError
            #expect(e?.isNotRegular == true, "\(entry): \(error)")
            #expect(e?.description.contains("not a regular file") == true, "\(error)")
        }
    }

    @Test("reading refuses everything but a regular file, and a hard link may be read", .timeLimit(.minutes(10)), arguments: Entry.allCases)
    func reads(_ entry: Entry) throws {
        let t = TempDir("spoolread")
        let extra = try Self.plant(entry, in: t.path)
        defer { if extra >= 0 { close(extra) } }
        if entry == .hardLink {
            #expect(try FileSystem.readText(t.path + "/x") == "target\n")
        } else {
            #expect(performing: { try FileSystem.read(t.path + "/x") }, throws: { ($0 as? SystemError)?.isNotRegular == true })
            #expect(FileSystem.tryLock(t.path + "/x") == nil)
        }
    }

    @Test("a regular file, a hard-linked one, or a missing one with O_CREAT, opens")
    func regular() throws {
        let t = TempDir("spoolok")
        _ = try Self.plant(.hardLink, in: t.path)
        try FileSystem.appendLine(Array("linked".utf8), to: t.path + "/x")
        #expect(try FileSystem.readText(t.path + "/target") == "target\nlinked\n")
        try FileSystem.appendLine(Array("one".utf8), to: t.path + "/ledger")
        try FileSystem.appendLine(Array("two".utf8), to: t.path + "/ledger")
        #expect(try FileSystem.readText(t.path + "/ledger") == "one\ntwo\n")
        #expect(FileSystem.mode(t.path + "/ledger") == 0o600)
        #expect(throws: SystemError.self) { try FileSystem.read(t.path + "/missing") }
    }
}
