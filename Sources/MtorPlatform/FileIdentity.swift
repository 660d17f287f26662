#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CMtorShims

/// Which file a name leads to, and how many names it has: on a shared spool, two names of one
/// file are the trace of a move reported failed that in fact happened.
public struct FileIdentity: Equatable, Sendable {
    public var device: UInt64
    public var inode: UInt64
    public var links: UInt64

    /// The same file (links aside).
    public func isSameFile(as other: FileIdentity) -> Bool { device == other.device && inode == other.inode }

    /// The corresponding C function is `lstat(2)`; nil when the name is missing.
    public static func of(_ path: String) -> FileIdentity? {
        var st = stat()
        guard IOWatch.around(path, { lstat(path, &st) }) == 0 else { return nil }
        return FileIdentity(device: UInt64(st.st_dev), inode: UInt64(st.st_ino), links: UInt64(st.st_nlink))
    }

    /// The file an open descriptor holds; the corresponding C function is `fstat(2)`.
    public static func of(descriptor fd: Int32) -> FileIdentity? {
        var st = stat()
        guard fstat(fd, &st) == 0 else { return nil }
        return FileIdentity(device: UInt64(st.st_dev), inode: UInt64(st.st_ino), links: UInt64(st.st_nlink))
    }
}

extension FileIdentity {
    /// The inode number `dir`'s listing gives `name`, or nil when the listing lacks it. On a network
    /// filesystem a listing comes from the server, while a lookup by path may be answered from a
    /// client's cache for a second after another host moved the file: where a stale answer would
    /// run a spec twice or drop its last name, ask the listing. The corresponding C function is `readdir(3)`.
    public static func listed(_ dir: String, _ name: String) -> UInt64? {
        guard let d = IOWatch.around(dir, { opendir(dir) }) else { return nil }
        defer { closedir(d) }
        while let entry = readdir(d) {
            let found = withUnsafePointer(to: entry.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
            }
            if found == name { return UInt64(entry.pointee.d_ino) }
        }
        return nil
    }
}

extension FileSystem {
    /// The move `renameNoReplace` makes where `renameat2` is refused (FUSE, NFS, CephFS): link,
    /// then unlink, with a call reported failed that in fact happened settled by the file's
    /// identity. Public so tests can drive it on any filesystem.
    public static func linkThenUnlink(_ from: String, _ to: String) throws(SystemError) {
        try syscall("link+unlink", path: "\(from) -> \(to)") { mtor_link_then_unlink(AT_FDCWD, from, AT_FDCWD, to) }
    }
}
