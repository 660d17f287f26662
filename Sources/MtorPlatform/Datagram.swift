#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One `AF_UNIX` datagram to a socket path, the whole of the sd_notify protocol's transport.
public enum Datagram {
    /// Sends `text` to the socket at `path`; a path starting with `@` names the abstract
    /// namespace (Linux). Returns false when it could not be sent. The corresponding C
    /// functions are `socket(2)` and `sendto(2)`, with `SOCK_CLOEXEC`, `MSG_NOSIGNAL` and
    /// `MSG_DONTWAIT`: a receiver that stops reading fills its queue (`net.unix.max_dgram_qlen`,
    /// 10 by default), and a blocking send would then wait inside the worker's loop for as long
    /// as the receiver does; the message is dropped instead (`false`).
    @discardableResult
    public static func send(_ text: String, to path: String) -> Bool {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        var bytes = Array(path.utf8)
        let abstract = bytes.first == UInt8(ascii: "@")
        if abstract { bytes[0] = 0 }
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        guard !bytes.isEmpty, bytes.count < capacity else { return false }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (i, b) in bytes.enumerated() { raw[i] = b }
        }
        // Abstract names are not NUL-terminated: their length is exactly what is given.
        let length = socklen_t(MemoryLayout<sa_family_t>.size + bytes.count + (abstract ? 0 : 1))
        #if canImport(Glibc)
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        let flags = Int32(MSG_NOSIGNAL) | Int32(MSG_DONTWAIT)
        #else
        let fd = socket(AF_UNIX, SOCK_DGRAM, 0)
        let flags: Int32 = MSG_DONTWAIT
        #endif
        guard fd >= 0 else { return false }
        defer { close(fd) }
        let payload = Array(text.utf8)
        let sent = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in
                payload.withUnsafeBytes { sendto(fd, $0.baseAddress, $0.count, flags, sa, length) }
            }
        }
        return sent == payload.count
    }
}
