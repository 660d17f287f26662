#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CMtorShims
import Synchronization

/// Empty files made ahead of need in one directory (the spool's tmp/), so the files a task needs
/// on its way to starting (its claim, its log) are renames rather than inode allocations there.
/// On ext4 without a journal an allocation walks past every inode freed in the last one to six
/// minutes, one buffer lookup each: measured 9 µs a file on a quiet disk and 335 µs five seconds
/// after 3,000 files were removed. A task takes its files from here and makes new ones once its
/// agent runs (`refill`), off the path from inbox/ to the agent's first command.
///
/// Spares are named `.<pid>.<n>.spare`: another worker never takes them, and those of a worker
/// that died go with tmp/'s day-old files. A spare is used only while it is a regular file of this
/// user with one link (`FileSystem.writeAtomically(reusing:)` and `place` check it).
public final class SpareFiles: Sendable {
    public let directory: String
    private let keep: Int
    private let state = Mutex<State>(State())

    private struct State {
        var ready: [String] = []
        var made = 0
    }

    /// `keep`: how many `refill` keeps ready.
    public init(directory: String, keep: Int) {
        self.directory = directory
        self.keep = keep
    }

    /// A ready spare's path, or nil when none is (the caller creates its file as it would without).
    public func take() -> String? {
        state.withLock { $0.ready.popLast() }
    }

    /// Renames a spare to `path` when nothing is there (never replacing): whether one was placed.
    /// The spare is checked first: a link or FIFO planted under its name is removed, never moved in.
    public func place(at path: String) -> Bool {
        while let spare = take() {
            var st = stat()
            guard lstat(spare, &st) == 0, FileSystem.isOwnSingleFile(st), st.st_size == 0 else {
                unlink(spare)
                continue
            }
            if mtor_rename_noreplace(AT_FDCWD, spare, AT_FDCWD, path) == 0 { return true }
            give(spare)  // something is there already: kept for the next
            return false
        }
        return false
    }

    /// Creates spares until `keep` are ready; best effort (a full disk makes none, and tasks
    /// create their files as they would without).
    public func refill() {
        while true {
            let name: String? = state.withLock { s in
                guard s.ready.count < keep else { return nil }
                s.made += 1
                return "\(directory)/.\(ProcessControl.pid).\(s.made).spare"
            }
            guard let name else { return }
            let fd = open(name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, FileSystem.fileMode)
            guard fd >= 0 else { return }
            close(fd)
            give(name)
        }
    }

    /// Removes every ready spare (the worker stops).
    public func removeAll() {
        for spare in state.withLock({ s in defer { s.ready = [] }; return s.ready }) { unlink(spare) }
    }

    private func give(_ spare: String) {
        state.withLock { $0.ready.append(spare) }
    }
}
