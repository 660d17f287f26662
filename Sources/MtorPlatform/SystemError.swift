#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A failed system call: which call, on which path, and errno.
public struct SystemError: Error, Equatable, Sendable, CustomStringConvertible {
    public var call: String
    public var path: String?
    public var errno: Int32
    /// Set when a spool entry was refused for what it is ("a FIFO", "a symlink", ...), not for errno.
    public var refusedEntry: String?

    public init(_ call: String, path: String? = nil, errno: Int32) {
        self.call = call
        self.path = path
        self.errno = errno
    }

    /// The entry at `path` is not a regular file mtor may use: it is never followed nor waited on.
    public static func notRegular(_ path: String, _ what: String) -> SystemError {
        var e = SystemError("open", path: path, errno: EINVAL)
        e.refusedEntry = what
        return e
    }

    public var description: String {
        if let refusedEntry, let path {
            return "\(path) is \(refusedEntry), not a regular file (mtor never follows a link or waits on a FIFO there)"
        }
        let message = String(cString: strerror(errno))
        return path.map { "\(call)(\($0)): \(message)" } ?? "\(call): \(message)"
    }

    /// The entry was refused for being a FIFO, symlink, socket, device or directory.
    public var isNotRegular: Bool { refusedEntry != nil }

    public var isNotFound: Bool { errno == ENOENT }
    public var isExists: Bool { errno == EEXIST }
    public var isNoSpace: Bool { errno == ENOSPC || errno == EDQUOT || errno == EROFS }
}

/// Runs a system call, retrying on EINTR, and throws a `SystemError` naming the call and path.
@discardableResult
@inline(__always)
public func syscall<T: BinaryInteger>(_ call: String, path: String? = nil, _ body: () -> T) throws(SystemError) -> T {
    guard let path else { return try retrying(call, path: nil, body) }
    return try IOWatch.around(path) { () throws(SystemError) -> T in try retrying(call, path: path, body) }
}

private func retrying<T: BinaryInteger>(_ call: String, path: String?, _ body: () -> T) throws(SystemError) -> T {
    while true {
        let result = body()
        if result != -1 { return result }
        let code = errno
        if code == EINTR { continue }
        throw SystemError(call, path: path, errno: code)
    }
}
