#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CMtorShims

/// What kind of filesystem holds a path, and whether other hosts may share it: a network or
/// cluster filesystem (FUSE, NFS, CephFS, SMB, ...) where inotify never sees what other
/// clients write and `renameat2(RENAME_NOREPLACE)` is usually refused.
public struct SpoolMount: Equatable, Sendable, CustomStringConvertible {
    /// The filesystem's name: the mount table's type when it is known (`fuse.glusterfs`, `nfs4`),
    /// else the name of its `statfs` magic number.
    public var type: String
    /// `f_type` from `statfs(2)`.
    public var magic: UInt64
    /// Whether files there can be written by other hosts behind this kernel's back.
    public var isNetwork: Bool

    public init(type: String, magic: UInt64, isNetwork: Bool) {
        self.type = type
        self.magic = magic
        self.isNetwork = isNetwork
    }

    public var description: String { isNetwork ? "\(type) (network filesystem)" : type }

    /// `statfs` magic numbers of filesystems whose files other hosts can change (linux/magic.h and
    /// the filesystems' own headers).
    static let networkMagics: [UInt64: String] = [
        0x6573_5546: "fuse", 0x6969: "nfs", 0x00C3_6400: "ceph", 0x517B: "smb", 0xFF53_4D42: "cifs",
        0xFE53_4D42: "smb2", 0x5346_414F: "afs", 0x6B41_4653: "afs", 0x0102_1997: "9p", 0x0BD0_0BD0: "lustre",
        0x4750_4653: "gpfs", 0x7461_636F: "ocfs2", 0x0116_1970: "gfs2", 0x564C: "ncp",
    ]

    static let localMagics: [UInt64: String] = [
        0xEF53: "ext4", 0x5846_5342: "xfs", 0x9123_683E: "btrfs", 0x0102_1994: "tmpfs", 0x794C_7630: "overlay",
        0x2FC1_2FC1: "zfs", 0xF2F5_2010: "f2fs",
    ]

    /// Classifies a mount from its `statfs` magic and, when known, its type in the mount table.
    /// FUSE counts as network unless its subtype is a known local one (e.g. `fuse.bindfs`).
    public static func classify(magic: UInt64, mountType: String?) -> SpoolMount {
        let localFuse: Set<String> = ["fuse.bindfs", "fuse.mergerfs", "fuse.fuse-overlayfs", "fuse.lxcfs", "fuse.encfs", "fuse.gocryptfs"]
        let name = mountType ?? networkMagics[magic] ?? localMagics[magic] ?? "0x" + String(magic, radix: 16)
        if let type = mountType, localFuse.contains(type) { return SpoolMount(type: name, magic: magic, isNetwork: false) }
        let networkType = mountType.map { t in ["nfs", "nfs4", "ceph", "cifs", "smb3", "9p", "glusterfs", "lustre", "gpfs", "afs"].contains(t) || t.hasPrefix("fuse.") } ?? false
        let network = networkMagics[magic] != nil || networkType
        return SpoolMount(type: name, magic: magic, isNetwork: network)
    }

    /// The filesystem holding `path`; the corresponding C function is `statfs(2)`, and the type
    /// name comes from `/proc/self/mountinfo` (the mount point that is the longest prefix of the path).
    public static func of(_ path: String) throws(SystemError) -> SpoolMount {
        var type: UInt64 = 0
        try syscall("statfs", path: path) { mtor_statfs_type(path, &type) }
        let magic = type & 0xFFFF_FFFF
        return classify(magic: magic, mountType: mountType(of: FileSystem.realPath(path) ?? path))
    }

    /// The filesystem type (`fuse.glusterfs`, `nfs4`, `ext4`) the mount table gives the mount holding `path`.
    static func mountType(of path: String) -> String? {
        guard let table = try? FileSystem.readText("/proc/self/mountinfo", limit: 4 << 20) else { return nil }
        var best: (point: String, type: String)?
        for line in table.split(separator: "\n") {
            // id parent major:minor root mountpoint options [optional...] - fstype source superoptions
            let fields = line.split(separator: " ", omittingEmptySubsequences: false)
            guard fields.count > 6, let dash = fields.firstIndex(of: "-"), dash + 1 < fields.count else { continue }
            let point = unescape(String(fields[4]))
            let inside = point == "/" || path == point || path.hasPrefix(point + "/")
            // Later lines are mounted over earlier ones: on an equal prefix, the last wins.
            if inside, point.count >= (best?.point.count ?? 0) { best = (point, String(fields[dash + 1])) }
        }
        return best?.type
    }

    /// mountinfo escapes space, tab, newline and backslash as octal (`\040`).
    private static func unescape(_ s: String) -> String {
        guard s.contains("\\") else { return s }
        var out: [UInt8] = []
        let b = Array(s.utf8)
        var i = 0
        while i < b.count {
            if b[i] == 92, i + 3 < b.count, let v = UInt8(String(decoding: b[(i + 1)...(i + 3)], as: UTF8.self), radix: 8) {
                out.append(v)
                i += 4
            } else {
                out.append(b[i])
                i += 1
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}
