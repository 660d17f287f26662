#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CMtorShims
import Synchronization

/// File operations the spool needs, each one system call deep.
public enum FileSystem {
    /// What `lstat(2)` says a directory entry is.
    public enum Kind: Equatable, Sendable {
        case regular(size: Int64), directory, symlink, fifo, socket, device, missing
    }

    /// The corresponding C function is `lstat(2)`; symlinks are never followed.
    public static func kind(_ path: String) -> Kind {
        var st = stat()
        guard IOWatch.around(path, { lstat(path, &st) }) == 0 else { return .missing }
        return kind(of: st)
    }

    private static func kind(of st: stat) -> Kind {
        switch st.st_mode & S_IFMT {
        case S_IFREG: return .regular(size: Int64(st.st_size))
        case S_IFDIR: return .directory
        case S_IFLNK: return .symlink
        case S_IFIFO: return .fifo
        case S_IFSOCK: return .socket
        default: return .device
        }
    }

    /// Whether anything (a dangling symlink too) is at `path`: one `lstat(2)`.
    public static func exists(_ path: String) -> Bool { kind(path) != .missing }

    /// The device a path lives on; the corresponding C function is `stat(2)`.
    public static func device(_ path: String) throws(SystemError) -> UInt64 {
        var st = stat()
        try syscall("stat", path: path) { stat(path, &st) }
        return UInt64(st.st_dev)
    }

    /// Seconds since the path was last modified.
    public static func age(_ path: String) -> Double? {
        var st = stat()
        guard IOWatch.around(path, { lstat(path, &st) }) == 0 else { return nil }
        #if canImport(Glibc)
        let mtime = Double(st.st_mtim.tv_sec)
        #else
        let mtime = Double(st.st_mtimespec.tv_sec)
        #endif
        return Double(time(nil)) - mtime
    }

    /// When the path was last modified, in seconds since 1970 with nanoseconds; the corresponding C function is `lstat(2)`.
    public static func modificationTime(_ path: String) -> Double? {
        var st = stat()
        guard IOWatch.around(path, { lstat(path, &st) }) == 0 else { return nil }
        #if canImport(Glibc)
        return Double(st.st_mtim.tv_sec) + Double(st.st_mtim.tv_nsec) / 1e9
        #else
        return Double(st.st_mtimespec.tv_sec) + Double(st.st_mtimespec.tv_nsec) / 1e9
        #endif
    }

    /// The permission bits of a path.
    public static func mode(_ path: String) -> UInt32? {
        var st = stat()
        guard IOWatch.around(path, { stat(path, &st) }) == 0 else { return nil }
        return UInt32(st.st_mode) & 0o7777
    }

    /// Whether what this process creates is shared with its group: a spool whose root is setgid (the
    /// systemd setup's `mtor` group of submitters) gets files 0660 and directories 0770 (setgid kept by
    /// the kernel), so a submitter in the group drops specs and reads results; otherwise 0600 and 0700.
    private static let groupShared = Atomic<Bool>(false)

    /// Shares what this process creates from now on with its group when `spoolRoot` is a setgid directory.
    public static func shareWithGroup(if spoolRoot: String) {
        var st = stat()
        guard IOWatch.around(spoolRoot, { stat(spoolRoot, &st) }) == 0, (st.st_mode & S_IFMT) == S_IFDIR, st.st_mode & S_ISGID != 0 else { return }
        groupShared.store(true, ordering: .relaxed)
    }

    /// The mode of files this process creates: 0600, or 0660 on a group-shared spool.
    public static var fileMode: mode_t { groupShared.load(ordering: .relaxed) ? 0o660 : 0o600 }
    /// The mode of directories this process creates: 0700, or 0770 on a group-shared spool.
    public static var directoryMode: mode_t { groupShared.load(ordering: .relaxed) ? 0o770 : 0o700 }

    /// Creates a directory and its parents; existing ones are left as they are. A directory this
    /// creates gets `mode` whatever the umask (a submitter's 022 would make a group-shared spool's
    /// `cancel/` 2750, which the worker of the group could not empty), keeping the setgid bit the
    /// kernel gave it below a setgid parent.
    public static func makeDirectories(_ path: String, mode: mode_t = FileSystem.directoryMode) throws(SystemError) {
        if case .directory = kind(path) { return }
        let parent = (path as String).split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/")
        if !parent.isEmpty, kind(parent) == .missing { try makeDirectories(parent, mode: mode) }
        if mkdir(path, mode) != 0 {
            if errno != EEXIST { throw SystemError("mkdir", path: path, errno: errno) }
            return
        }
        var st = stat()
        guard lstat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR else { return }
        let wanted = mode | (st.st_mode & S_ISGID)
        if st.st_mode & 0o7777 != wanted { try syscall("chmod", path: path) { chmod(path, wanted) } }
    }

    /// Names in a directory, without `.` and `..`; the corresponding C function is `readdir(3)`.
    public static func list(_ path: String) throws(SystemError) -> [String] {
        try IOWatch.around(path) { () throws(SystemError) -> [String] in try listing(path) }
    }

    private static func listing(_ path: String) throws(SystemError) -> [String] {
        guard let dir = opendir(path) else { throw SystemError("opendir", path: path, errno: errno) }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafePointer(to: entry.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    /// A directory entry's name as the bytes `readdir(3)` gave, which need not be UTF-8.
    public static func rawName(_ entry: UnsafeMutablePointer<dirent>) -> [UInt8] {
        withUnsafePointer(to: entry.pointee.d_name) {
            $0.withMemoryRebound(to: UInt8.self, capacity: 256) { p in
                var bytes: [UInt8] = []
                var i = 0
                while i < 256 && p[i] != 0 { bytes.append(p[i]); i += 1 }
                return bytes
            }
        }
    }

    /// Names in a directory that are not valid UTF-8, as raw bytes (`list` can only repair them,
    /// and a repaired name no longer opens the file).
    public static func undecodableNames(_ path: String) -> [[UInt8]] {
        guard let dir = opendir(path) else { return [] }
        defer { closedir(dir) }
        var out: [[UInt8]] = []
        while let entry = readdir(dir) {
            let raw = rawName(entry)
            if String(validating: raw, as: UTF8.self) == nil { out.append(raw) }
        }
        return out
    }

    /// Renames the entry whose raw name is `raw` in `dir` to `name`, never replacing anything.
    public static func renameRaw(in dir: String, _ raw: [UInt8], to name: String) throws(SystemError) {
        let from = Array(dir.utf8) + [UInt8(ascii: "/")] + raw + [0]
        let to = "\(dir)/\(name)"
        try syscall("renameat2", path: to) {
            from.withUnsafeBufferPointer { p in
                p.withMemoryRebound(to: CChar.self) { mtor_rename_noreplace(AT_FDCWD, $0.baseAddress!, AT_FDCWD, to) }
            }
        }
    }

    /// Reads a regular file without following symlinks or blocking on FIFOs; refuses files over `limit`.
    public static func read(_ path: String, limit: Int = 64 << 20) throws(SystemError) -> [UInt8] {
        let (fd, st) = try openChecked(path, O_RDONLY, mode: fileMode)
        defer { close(fd) }
        guard Int(st.st_size) <= limit else { throw SystemError("read", path: path, errno: EFBIG) }
        var out: [UInt8] = []
        out.reserveCapacity(Int(st.st_size))
        // Sized to the file (a /proc file says 0: a page), never zeroed: the worker reads small files
        // on every turn, and a 64 KiB zeroed buffer each time was a tenth of its time at 1,000 specs/s.
        let size = min(65536, max(4096, Int(st.st_size) + 1))
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: size, alignment: 16)
        defer { buffer.deallocate() }
        while out.count <= limit {
            let n = try syscall("read", path: path) { Glibc_read(fd, buffer.baseAddress, size) }
            if n == 0 { break }
            out.append(contentsOf: UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
            // All the size fstat gave: the file as it was then, without a read to see the end.
            if st.st_size > 0, out.count == Int(st.st_size) { break }
        }
        guard out.count <= limit else { throw SystemError("read", path: path, errno: EFBIG) }
        return out
    }

    public static func readText(_ path: String, limit: Int = 64 << 20) throws(SystemError) -> String {
        String(decoding: try read(path, limit: limit), as: UTF8.self)
    }

    /// Writes all of `bytes` to `fd`.
    public static func writeAll(_ fd: Int32, _ bytes: some Collection<UInt8>, path: String? = nil) throws(SystemError) {
        let array = Array(bytes)
        var offset = 0
        while offset < array.count {
            let n = try syscall("write", path: path) {
                array.withUnsafeBytes { Glibc_write(fd, $0.baseAddress! + offset, $0.count - offset) }
            }
            offset += n
        }
    }

    /// Writes a file durably: temp name in `tmpDir`, fsync, rename into place, fsync the directory.
    ///
    /// `reserve` bytes of disk are set aside for the new file beyond its size (where the file
    /// system can), so `overwriteInPlace` can still update it when the disk is full.
    ///
    /// `reusing`: a file of ours that is to disappear anyway (a finished task's claim) becomes the
    /// temporary file, so no inode is made here and none freed there. On ext4 without a journal
    /// every file creation scans past each inode freed in the last 5–10 s (`recently_deleted`):
    /// one file made and deleted per task made every creation cost more the faster tasks ran.
    /// Only a regular file with one link, owned by this user, is reused; otherwise (or when it is
    /// gone) the temporary file is made afresh and `reusing` is left as it is.
    /// `spare`: a file of this process's own under a name nobody else uses (`SpareFiles`), written in
    /// place and renamed onto `path`; one that is not a regular file of this user with one link is
    /// removed and a new file made.
    public static func writeAtomically(_ bytes: some Collection<UInt8>, to path: String, tmpDir: String? = nil, mode: mode_t = FileSystem.fileMode,
                                       durable: Bool = true, reserve: Int = 0, reusing: String? = nil, spare: String? = nil) throws(SystemError) {
        let dir = directory(of: path)
        var tmp = "\(tmpDir ?? dir)/.\(basename(of: path)).\(ProcessControl.pid).\(UInt32.random(in: 0...UInt32.max)).tmp"
        // Never replaces a FIFO, symlink or directory silently: the caller moves it aside and says so.
        switch kind(path) {
        case .missing, .regular: break
        case let other: throw .notRegular(path, other.description)
        }
        var (fd, oldSize) = (Int32(-1), 0)
        if let spare, let opened = adopt(spare, as: nil, mode: mode) {
            (fd, oldSize) = opened
            tmp = spare
        } else if let reusing, let opened = adopt(reusing, as: tmp, mode: mode) {
            (fd, oldSize) = opened
        }
        if fd < 0 { fd = try syscall("open", path: tmp) { open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, mode) } }
        do {
            defer { close(fd) }
            if reserve > 0 { _ = mtor_reserve(fd, Int64(reserve)) }
            try writeAll(fd, bytes, path: tmp)
            try cutAfterWrite(fd, written: bytes.count, oldSize: oldSize, path: tmp)
            if durable { try syscall("fsync", path: tmp) { fsync(fd) } }
        } catch {
            unlink(tmp)
            throw error
        }
        do {
            try syscall("rename", path: path) { rename(tmp, path) }
        } catch {
            unlink(tmp)
            throw error
        }
        if durable { try syncDirectory(dir) }
    }

    /// Replaces `path` with `bytes` as `writeAtomically` does (readers see the old content or the
    /// new, whole), but frees no inode: the content is written into `spare`, which then trades
    /// names with `path` (`renameat2(RENAME_EXCHANGE)`), so the old content is the next write's spare.
    /// Why: on ext4 without a journal every file created walks past each inode freed in the last
    /// one to six minutes; a state file rewritten ten times a second by create-and-rename frees
    /// one each time and made every file the spool creates (a task's log, its claim) slower.
    /// A spare is rewritten only when it is a regular file of this user with one link that nobody
    /// has open (`mtor_sole_opener`): a reader still holding the old content keeps it, and a fresh
    /// spare takes its place. No exchange on this filesystem: the plain create and rename.
    /// Not durable (state that is rewritten anyway, never results).
    public static func writeExchanging(_ bytes: [UInt8], to path: String, spare: String, mode: mode_t = FileSystem.fileMode,
                                       reserve: Int = 0) throws(SystemError) {
        switch kind(path) {
        case .regular: break
        case .missing: return try writeAtomically(bytes, to: path, tmpDir: directory(of: spare), mode: mode, durable: false, reserve: reserve)
        case let other: throw .notRegular(path, other.description)
        }
        let (fd, oldSize) = try openSpare(spare, mode: mode)
        do {
            defer { close(fd) }
            if reserve > 0 { _ = mtor_reserve(fd, Int64(reserve)) }
            try writeAll(fd, bytes, path: spare)
            try cutAfterWrite(fd, written: bytes.count, oldSize: oldSize, path: spare)
        } catch {
            unlink(spare)
            throw error
        }
        if mtor_rename_exchange(spare, path) == 0 { return }
        // Gone meanwhile, or no exchange here: the spare becomes the file.
        do {
            try syscall("rename", path: path) { rename(spare, path) }
        } catch {
            unlink(spare)
            throw error
        }
    }

    /// `spare` opened for writing from its start, with its size: the file there when it may be
    /// reused, else a new one.
    private static func openSpare(_ spare: String, mode: mode_t) throws(SystemError) -> (fd: Int32, size: Int) {
        let fd = open(spare, O_WRONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK)
        if fd >= 0 {
            var st = stat()
            if fstat(fd, &st) == 0, isOwnSingleFile(st), mtor_sole_opener(fd) == 1, st.st_mode & 0o7777 == mode || fchmod(fd, mode) == 0 {
                return (fd, Int(st.st_size))
            }
            close(fd)
        }
        // Missing, or not ours to write through (a link, a FIFO, a file someone reads): a new one.
        unlink(spare)
        return (try syscall("open", path: spare) { open(spare, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, mode) }, 0)
    }

    /// Whether a file may be written through when reused: a regular file of this user with one link
    /// (never a link to someone's file, a FIFO or a device planted under the name).
    static func isOwnSingleFile(_ st: stat) -> Bool {
        st.st_mode & S_IFMT == S_IFREG && st.st_nlink == 1 && st.st_uid == geteuid()
    }

    /// Drops what a reused file held beyond the `written` bytes just written over its start. Never
    /// truncated to zero first: on ext4 a file cut to zero and rewritten has its data flushed to disk
    /// when closed (`auto_da_alloc`), a disk write per claim and per state file that nobody asked for.
    private static func cutAfterWrite(_ fd: Int32, written: Int, oldSize: Int, path: String) throws(SystemError) {
        guard oldSize > written else { return }
        try syscall("ftruncate", path: path) { ftruncate(fd, off_t(written)) }
    }

    /// Moves `file` to `tmp` (nil: leaves it where it is) and opens it for writing from its start (its
    /// size returned: what is left beyond the new content is cut after writing), with `mode`, when it
    /// is a regular file of this user with one link; nil (and `file` left alone, or removed once
    /// moved or when it stays where it is) otherwise.
    private static func adopt(_ file: String, as tmp: String?, mode: mode_t) -> (Int32, Int)? {
        if let tmp { guard rename(file, tmp) == 0 else { return nil } }
        let tmp = tmp ?? file
        let fd = open(tmp, O_WRONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK)
        var st = stat()
        guard fd >= 0, fstat(fd, &st) == 0, isOwnSingleFile(st), st.st_mode & 0o7777 == mode || fchmod(fd, mode) == 0 else {
            if fd >= 0 { close(fd) }
            unlink(tmp)
            return nil
        }
        return (fd, Int(st.st_size))
    }

    /// Rewrites an existing file in place: no new inode, so no new blocks when the content fits
    /// in what the file already holds (see `writeAtomically(reserve:)`). Shorter content is
    /// padded with `pad` to the old length rather than truncated, because truncation would
    /// give the reserved blocks back. Not atomic: for state that must still be told while the
    /// disk is full (JSON, padded with spaces), never for results.
    public static func overwriteInPlace(_ bytes: [UInt8], to path: String, pad: UInt8 = 0x20) throws(SystemError) {
        let fd = try openSpoolFile(path, O_WRONLY)
        defer { close(fd) }
        var st = stat()
        try syscall("fstat", path: path) { fstat(fd, &st) }
        var content = bytes
        if content.count < Int(st.st_size) { content += [UInt8](repeating: pad, count: Int(st.st_size) - content.count) }
        try writeAll(fd, content, path: path)
    }

    /// Replaces a regular file's content on its own inode (truncate, write, fsync), so its other hard
    /// links, owner and mode stay: for a user's file with several names, never for spool state.
    public static func replaceContent(_ bytes: [UInt8], of path: String) throws(SystemError) {
        let fd = try syscall("open", path: path) { open(path, O_WRONLY | O_TRUNC | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK) }
        defer { close(fd) }
        try writeAll(fd, bytes, path: path)
        try syscall("fsync", path: path) { fsync(fd) }
    }

    /// fsyncs a directory so a rename in it survives a crash.
    /// Threads of one process that ask at once share one fsync: a caller returns once an fsync of
    /// `dir` that began after it asked has succeeded (its own, or another caller's that covered it),
    /// so every rename made before the call is durable; a failed fsync covers nobody.
    public static func syncDirectory(_ dir: String) throws(SystemError) {
        try directorySyncs.sync(dir) { () throws(SystemError) in
            let fd = try syscall("open", path: dir) { open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC) }
            defer { close(fd) }
            try syscall("fsync", path: dir) { fsync(fd) }
        }
    }

    private static let directorySyncs = GroupSync()

    /// Renames without ever replacing `to`; throws EEXIST when it exists.
    public static func renameNoReplace(_ from: String, _ to: String) throws(SystemError) {
        try syscall("renameat2", path: "\(from) -> \(to)") { mtor_rename_noreplace(AT_FDCWD, from, AT_FDCWD, to) }
    }

    public static func remove(_ path: String) {
        unlink(path)
    }

    /// Appends one line with a single `write(2)` on an `O_APPEND` descriptor.
    public static func appendLine(_ line: some Collection<UInt8>, to path: String) throws(SystemError) {
        let fd = try openForAppend(path)
        defer { close(fd) }
        try writeAll(fd, Array(line) + [UInt8(ascii: "\n")], path: path)
    }

    /// Opens a file for appending (created 0600); anything but a regular file is refused.
    public static func openForAppend(_ path: String) throws(SystemError) -> Int32 {
        try openSpoolFile(path, O_WRONLY | O_APPEND | O_CREAT)
    }

    /// Opens a file of the spool: never follows a symlink, never waits on a FIFO, and refuses
    /// (with `SystemError.isNotRegular`) anything but a regular file. Hard links are left to the
    /// kernel's `fs.protected_hardlinks` (backup tools link spool files legitimately). The
    /// corresponding C functions are `open(2)` with `O_NOFOLLOW | O_NONBLOCK` and `fstat(2)`.
    public static func openSpoolFile(_ path: String, _ flags: Int32, mode: mode_t = FileSystem.fileMode) throws(SystemError) -> Int32 {
        try openChecked(path, flags, mode: mode).fd
    }

    /// `openSpoolFile`, with what `fstat(2)` said of the file.
    private static func openChecked(_ path: String, _ flags: Int32, mode: mode_t) throws(SystemError) -> (fd: Int32, stat: stat) {
        let fd: Int32
        do {
            fd = try syscall("open", path: path) { open(path, flags | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, mode) }
        } catch {
            // ELOOP (a symlink), ENXIO (a FIFO with no reader, a socket), EISDIR: say what it is.
            switch kind(path) {
            case .missing, .regular: throw error
            case let other: throw .notRegular(path, other.description)
            }
        }
        var st = stat()
        guard fstat(fd, &st) == 0 else {
            let code = errno
            close(fd)
            throw SystemError("fstat", path: path, errno: code)
        }
        let found = kind(of: st)
        guard case .regular = found else {
            close(fd)
            throw .notRegular(path, found.description)
        }
        return (fd, st)
    }

    public static func closeDescriptor(_ fd: Int32) {
        close(fd)
    }

    /// Takes an exclusive `flock(2)` on `path` without blocking; returns the descriptor that
    /// holds it (close it to release), or nil when another process holds it.
    public static func tryLock(_ path: String) -> Int32? {
        guard let fd = try? openSpoolFile(path, O_RDONLY) else { return nil }
        if flock(fd, LOCK_EX | LOCK_NB) == 0 { return fd }
        close(fd)
        return nil
    }

    /// Takes an exclusive `flock(2)` on `path` (created when missing, never through a symlink),
    /// waiting for it; returns the descriptor that holds it (close it to release), or nil when
    /// the file cannot be opened.
    public static func lockWaiting(_ path: String) -> Int32? {
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard fd >= 0 else { return nil }
        while flock(fd, LOCK_EX) != 0 {
            if errno != EINTR { close(fd); return nil }
        }
        return fd
    }

    /// Free bytes for unprivileged users on the filesystem of `path`.
    public static func freeBytes(_ path: String) -> UInt64? {
        var st = statvfs()
        guard statvfs(path, &st) == 0 else { return nil }
        return UInt64(st.f_bavail) * UInt64(st.f_frsize)
    }

    public static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }

    public static func basename(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return path }
        return String(path[path.index(after: slash)...])
    }

    /// The canonical absolute path with symlinks resolved (`realpath(3)`).
    public static func realPath(_ path: String) -> String? {
        #if os(Linux)
        // The kernel resolves the whole path in one open: three system calls, where realpath(3)
        // makes one readlink per component (a task resolves its repo several times).
        let fd = IOWatch.around(path, { mtor_open_path(path) })
        guard fd >= 0 else { return nil }
        var buffer = [UInt8](repeating: 0, count: Int(PATH_MAX) + 1)
        let n = buffer.withUnsafeMutableBytes { readlink("/proc/self/fd/\(fd)", $0.baseAddress!.assumingMemoryBound(to: CChar.self), Int(PATH_MAX)) }
        close(fd)
        if n > 0 {
            let resolved = String(decoding: buffer[0..<n], as: UTF8.self)
            // Not a deleted directory's leftover name, nor a pseudo path: else realpath(3) decides.
            if resolved.hasPrefix("/"), !resolved.hasSuffix(" (deleted)") { return resolved }
        }
        #endif
        guard let p = IOWatch.around(path, { realpath(path, nil) }) else { return nil }
        defer { free(p) }
        return String(cString: p)
    }

    public static func hostName() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        gethostname(&buffer, 255)
        return String(cString: buffer)
    }
}

extension FileSystem.Kind: CustomStringConvertible {
    public var description: String {
        switch self {
        case .regular: return "a regular file"
        case .directory: return "a directory"
        case .symlink: return "a symlink"
        case .fifo: return "a FIFO"
        case .socket: return "a socket"
        case .device: return "a device"
        case .missing: return "missing"
        }
    }
}

@inline(__always) func Glibc_read(_ fd: Int32, _ p: UnsafeMutableRawPointer?, _ n: Int) -> Int { read(fd, p, n) }
@inline(__always) func Glibc_write(_ fd: Int32, _ p: UnsafeRawPointer?, _ n: Int) -> Int { write(fd, p, n) }

/// Group commit of directory fsyncs (see `FileSystem.syncDirectory`): each request takes a ticket;
/// one fsync runs at a time in the process, on behalf of every ticket taken before it began.
final class GroupSync: Sendable {
    private struct Directory {
        var asked: UInt64 = 0
        var covered: UInt64 = 0
    }
    private let tickets = Mutex<[String: Directory]>([:])
    private let turn = Mutex<Void>(())

    func sync(_ dir: String, _ body: () throws(SystemError) -> Void) throws(SystemError) {
        let ticket = tickets.withLock { t in
            t[dir, default: Directory()].asked += 1
            return t[dir]!.asked
        }
        try turn.withLock { _ throws(SystemError) in
            // Covered by an fsync that began after this caller asked: nothing left to do.
            guard let covers = tickets.withLock({ t in t[dir]!.covered >= ticket ? nil : t[dir]!.asked }) else { return }
            try body()
            tickets.withLock { t in t[dir]!.covered = max(t[dir]!.covered, covers) }
        }
    }
}
