#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CMtorShims

/// A whole directory tree as `lstat(2)` sees it, for proving a recycled worktree holds nothing
/// but what git put there: no link is ever followed, and a directory an earlier owner made
/// unreadable is opened up (`u+rwx`) before it is listed.
public enum FileTree {
    /// One entry below the walked root.
    public struct Entry: Equatable, Sendable {
        /// The path relative to the root (`src/a.swift`).
        public var path: String
        public var kind: FileSystem.Kind
        /// The permission bits, set-id and sticky bits included (`st_mode & 07777`).
        public var mode: UInt32
        /// Hard links to the file (`st_nlink`).
        public var links: UInt64
        /// The entry carries an extended attribute in the `user.` namespace.
        public var userXattr: Bool
    }

    /// What a walk found.
    public struct Listing: Sendable {
        public var entries: [Entry] = []
        /// A name that is not UTF-8, or a directory that could not be opened even after `chmod u+rwx`:
        /// the tree cannot be accounted for.
        public var unaccounted: [String] = []
    }

    /// Every entry below `root` (not `root` itself), directories before their contents, never
    /// following a link. With `openUp`, a directory lacking `u+rwx` gets it before it is listed.
    /// Names in `skip` directly under the root are listed but not descended into.
    public static func walk(_ root: String, openUp: Bool, skip: Set<String> = []) -> Listing {
        var listing = Listing()
        var pending: [String] = [""]
        while let rel = pending.popLast() {
            let dir = rel.isEmpty ? root : root + "/" + rel
            guard let handle = opendir(dir) else {
                listing.unaccounted.append(rel.isEmpty ? "." : rel)
                continue
            }
            var names: [String] = []
            while let entry = readdir(handle) {
                let raw = FileSystem.rawName(entry)
                guard let name = String(validating: raw, as: UTF8.self) else {
                    listing.unaccounted.append((rel.isEmpty ? "" : rel + "/") + String(decoding: raw, as: UTF8.self))
                    continue
                }
                if name != "." && name != ".." { names.append(name) }
            }
            closedir(handle)
            for name in names {
                let path = rel.isEmpty ? name : rel + "/" + name
                let full = root + "/" + path
                var st = stat()
                guard lstat(full, &st) == 0 else {
                    listing.unaccounted.append(path)
                    continue
                }
                var mode = UInt32(st.st_mode) & 0o7777
                let kind = FileSystem.kind(full)
                if kind == .directory, openUp, mode & 0o700 != 0o700 {
                    if chmod(full, mode_t(mode | 0o700)) == 0 { mode |= 0o700 }
                }
                listing.entries.append(Entry(path: path, kind: kind, mode: mode, links: UInt64(st.st_nlink),
                                             userXattr: kind == .symlink ? false : hasUserXattr(full)))
                if kind == .directory, !(rel.isEmpty && skip.contains(name)) { pending.append(path) }
            }
        }
        return listing
    }

    /// Whether `path` (not followed when a link) has an attribute in the `user.` namespace; the
    /// corresponding C function is `llistxattr(2)`.
    static func hasUserXattr(_ path: String) -> Bool {
        var buffer = [CChar](repeating: 0, count: 4096)
        let n = mtor_llistxattr(path, &buffer, UInt(buffer.count))
        if n < 0 { return errno == ERANGE }
        guard n > 0 else { return false }
        return buffer[0..<Int(n)].split(separator: 0).contains { String(decoding: $0.map { UInt8(bitPattern: $0) }, as: UTF8.self).hasPrefix("user.") }
    }

    /// Sets the permission bits of `path`, which must not be a symlink; the corresponding C function is `chmod(2)`.
    public static func setMode(_ path: String, _ mode: UInt32) -> Bool {
        guard FileSystem.kind(path) != .symlink else { return false }
        return chmod(path, mode_t(mode)) == 0
    }

    /// This process's umask, read from `/proc/self/status` (calling `umask(2)` to read it would
    /// change it for every thread for a moment).
    public static var umask: UInt32 {
        guard let text = try? FileSystem.readText("/proc/self/status", limit: 1 << 16),
              let line = text.split(separator: "\n").first(where: { $0.hasPrefix("Umask:") }),
              let value = UInt32(String(line.dropFirst(6).filter { !$0.isWhitespace }), radix: 8) else { return 0o022 }
        return value
    }
}
