#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CMtorShims

/// Waits for descriptors to become readable.
public enum Poll {
    /// Returns the subset of `fds` that are readable (or hung up) within `timeout` seconds.
    /// The corresponding C function is `poll(2)`; EINTR returns early with nothing ready.
    public static func readable(_ fds: [Int32], timeout: Double) -> [Int32] {
        guard !fds.isEmpty else {
            if timeout > 0 { usleep(UInt32(min(timeout, 3600) * 1_000_000)) }
            return []
        }
        var pollfds = fds.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
        let ms = timeout < 0 ? -1 : Int32(min(timeout * 1000, 3_600_000).rounded(.up))
        let n = poll(&pollfds, nfds_t(pollfds.count), ms)
        guard n > 0 else { return [] }
        return pollfds.filter { $0.revents != 0 }.map(\.fd)
    }
}

/// A pipe whose write end wakes a `poll` loop from another thread.
public final class WakePipe: Sendable {
    public let readFD: Int32
    public let writeFD: Int32

    public init() throws(SystemError) {
        var fds: [Int32] = [0, 0]
        try syscall("pipe") { mtor_pipe_cloexec(&fds, 1) }
        readFD = fds[0]
        writeFD = fds[1]
    }

    deinit {
        close(readFD)
        close(writeFD)
    }

    public func wake() {
        var byte: UInt8 = 1
        _ = write(writeFD, &byte, 1)
    }

    public func drain() {
        var buffer = [UInt8](repeating: 0, count: 256)
        while read(readFD, &buffer, buffer.count) > 0 {}
    }
}
