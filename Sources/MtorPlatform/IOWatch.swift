#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import Synchronization

/// The file system calls in flight, one per thread, so that a call that does not return (a
/// network filesystem whose server stopped answering) can be named by another thread: the path
/// and how long it has waited.
///
/// Off until `enable()`: the worker enables it on a network spool, `status` always. The calls
/// that name a path go through it: `syscall(_:path:_:)` (open, fstat, read, rename, fsync …),
/// `FileSystem.kind` (`lstat`) and `FileSystem.list` (`opendir`/`readdir`). A call inside another
/// (a read's open) is counted from the outer one.
public enum IOWatch {
    private static let on = Atomic<Bool>(false)
    private static let lock = NSLock()
    nonisolated(unsafe) private static var calls: [UInt: (path: String, since: Double)] = [:]  // guarded by `lock`

    public static func enable() { on.store(true, ordering: .relaxed) }

    /// Runs `body`, a call on `path`, recorded while it runs.
    @inline(__always)
    public static func around<T, E: Error>(_ path: String, _ body: () throws(E) -> T) throws(E) -> T {
        guard on.load(ordering: .relaxed) else { return try body() }
        let me = pthread_self_id()
        let outer = lock.withLock { () -> Bool in
            if calls[me] != nil { return false }
            calls[me] = (path, now())
            return true
        }
        defer { if outer { lock.withLock { _ = calls.removeValue(forKey: me) } } }
        return try body()
    }

    /// The call that has waited longest, when it has waited at least `threshold` seconds.
    public static func oldest(over threshold: Double) -> (path: String, seconds: Double)? {
        let t = now()
        return lock.withLock {
            calls.values.min { $0.since < $1.since }.flatMap { t - $0.since >= threshold ? ($0.path, t - $0.since) : nil }
        }
    }

    private static func pthread_self_id() -> UInt {
        #if canImport(Glibc)
        return UInt(pthread_self())
        #else
        return UInt(bitPattern: pthread_self())
        #endif
    }
}
