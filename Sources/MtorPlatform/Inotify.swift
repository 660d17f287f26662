#if canImport(Glibc)
import Glibc

/// A Linux inotify instance watching directories for files that arrive complete.
public final class Inotify: @unchecked Sendable {  // no lock: `watches` is used only by the thread that reads its events
    /// One event: the watched directory's path and the name that arrived.
    public struct Event: Equatable, Sendable {
        public var directory: String
        public var name: String
        public var overflow: Bool
        /// The watched directory itself was removed, renamed or unmounted: its watch is gone.
        public var watchLost = false
        /// The name is not valid UTF-8; `name` is a repaired copy that names no file.
        public var undecodable = false
    }

    public let fd: Int32
    private var watches: [Int32: String] = [:]

    /// The corresponding C function is `inotify_init1(2)`, with `IN_CLOEXEC | IN_NONBLOCK`.
    public init() throws(SystemError) {
        fd = try syscall("inotify_init1") { inotify_init1(Int32(IN_CLOEXEC | IN_NONBLOCK)) }
    }

    deinit { close(fd) }

    /// Watches `directory` for files renamed into it or closed after writing.
    /// The corresponding C function is `inotify_add_watch(2)`.
    public func watch(_ directory: String, mask: UInt32 = UInt32(IN_MOVED_TO | IN_CLOSE_WRITE | IN_ONLYDIR)) throws(SystemError) {
        // Told when the directory itself goes, so a removed and recreated inbox/ is watched again.
        let full = mask | UInt32(IN_DELETE_SELF | IN_MOVE_SELF)
        let wd = try syscall("inotify_add_watch", path: directory) { inotify_add_watch(fd, directory, full) }
        for (old, dir) in watches where dir == directory && old != wd { watches[old] = nil }
        watches[wd] = directory
    }

    /// Reads every pending event without blocking.
    public func read() -> [Event] {
        var events: [Event] = []
        let size = 64 * 1024
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 8)
        defer { buffer.deallocate() }
        while true {
            let n = Glibc.read(fd, buffer, size)
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            var offset = 0
            while offset < n {
                let event = buffer.advanced(by: offset).assumingMemoryBound(to: inotify_event.self)
                let length = Int(event.pointee.len)
                let mask = event.pointee.mask
                if mask & UInt32(IN_Q_OVERFLOW) != 0 {
                    events.append(Event(directory: "", name: "", overflow: true))
                } else if mask & UInt32(IN_IGNORED | IN_DELETE_SELF | IN_MOVE_SELF) != 0, let dir = watches[event.pointee.wd] {
                    if mask & UInt32(IN_IGNORED) != 0 { watches[event.pointee.wd] = nil }
                    events.append(Event(directory: dir, name: "", overflow: false, watchLost: true))
                } else if length > 0, let dir = watches[event.pointee.wd] {
                    let namePointer = buffer.advanced(by: offset + MemoryLayout<inotify_event>.size).assumingMemoryBound(to: CChar.self)
                    if let name = String(validatingCString: namePointer) {
                        events.append(Event(directory: dir, name: name, overflow: false))
                    } else {
                        events.append(Event(directory: dir, name: String(cString: namePointer), overflow: false, undecodable: true))
                    }
                }
                offset += MemoryLayout<inotify_event>.size + length
            }
        }
        return events
    }
}
#endif
