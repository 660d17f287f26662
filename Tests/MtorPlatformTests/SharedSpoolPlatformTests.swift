import Foundation
import Testing
@testable import MtorPlatform

/// What a shared spool needs from the platform: knowing it is shared, and moves that settle a
/// call reported failed that in fact happened.
@Suite("Shared spool: filesystem detection and link+unlink moves")
struct SharedSpoolPlatformTests {
    @Test("statfs magic and mount type classify network filesystems", arguments: [
        (UInt64(0x6573_5546), "fuse.glusterfs", true), (0x6573_5546, "fuse.sshfs", true), (0x6573_5546, "fuse.bindfs", false),
        (0x6969, "nfs4", true), (0x00C3_6400, "ceph", true), (0xFF53_4D42, "cifs", true), (0xFE53_4D42, "smb3", true),
        (0xEF53, "ext4", false), (0x0102_1994, "tmpfs", false), (0x794C_7630, "overlay", false), (0x5846_5342, "xfs", false),
    ] as [(UInt64, String, Bool)])
    func classify(magic: UInt64, type: String, network: Bool) {
        let m = SpoolMount.classify(magic: magic, mountType: type)
        #expect(m.isNetwork == network, "\(type)")
        #expect(m.type == type)
    }

    @Test("without a mount table entry the magic number alone decides")
    func magicAlone() {
        #expect(SpoolMount.classify(magic: 0x6969, mountType: nil) == SpoolMount(type: "nfs", magic: 0x6969, isNetwork: true))
        #expect(SpoolMount.classify(magic: 0xEF53, mountType: nil).isNetwork == false)
        #expect(SpoolMount.classify(magic: 0x1234, mountType: nil).type == "0x1234")
    }

    @Test("this machine's temp directory is found and named from the mount table")
    func detectsTemp() throws {
        let dir = TempDir("mount")
        let m = try SpoolMount.of(dir.path)
        #expect(!m.type.isEmpty && !m.type.hasPrefix("0x"), "\(m)")
        #expect(throws: SystemError.self) { try SpoolMount.of(dir.path + "/missing") }
    }

    @Test("link+unlink moves a file and never replaces another")
    func moves() throws {
        let dir = TempDir("link")
        dir.write("a", "A")
        dir.write("b", "B")
        #expect(throws: SystemError.self) { try FileSystem.linkThenUnlink(dir.path + "/a", dir.path + "/b") }
        #expect(try FileSystem.readText(dir.path + "/b") == "B", "the existing file is untouched")
        #expect(FileSystem.exists(dir.path + "/a"), "the source stays when the move is refused")
        try FileSystem.linkThenUnlink(dir.path + "/a", dir.path + "/c")
        #expect(!FileSystem.exists(dir.path + "/a"))
        #expect(try FileSystem.readText(dir.path + "/c") == "A")
        #expect(FileIdentity.of(dir.path + "/c")?.links == 1)
    }

    @Test("a link reported failed that happened (the target already names this very file) completes the move")
    func linkThatHappened() throws {
        let dir = TempDir("linked")
        dir.write("a", "A")
        #expect(link(dir.path + "/a", dir.path + "/b") == 0)
        try FileSystem.linkThenUnlink(dir.path + "/a", dir.path + "/b")
        #expect(!FileSystem.exists(dir.path + "/a"))
        #expect(FileIdentity.of(dir.path + "/b")?.links == 1)
    }

    @Test("a source already gone fails with ENOENT and leaves no new name")
    func sourceGone() throws {
        let dir = TempDir("gone")
        #expect(throws: SystemError.self) { try FileSystem.linkThenUnlink(dir.path + "/a", dir.path + "/b") }
        #expect(!FileSystem.exists(dir.path + "/b"))
    }

    @Test("identity tells two names of one file from two files")
    func identity() throws {
        let dir = TempDir("ident")
        dir.write("a", "A")
        dir.write("c", "A")
        #expect(link(dir.path + "/a", dir.path + "/b") == 0)
        let a = try #require(FileIdentity.of(dir.path + "/a")), b = try #require(FileIdentity.of(dir.path + "/b")), c = try #require(FileIdentity.of(dir.path + "/c"))
        #expect(a.isSameFile(as: b) && a.links == 2)
        #expect(!a.isSameFile(as: c))
        let fd = open(dir.path + "/b", O_RDONLY)
        defer { close(fd) }
        #expect(FileIdentity.of(descriptor: fd)?.isSameFile(as: a) == true)
    }
}
