import Foundation

/// A value that crosses threads, reachable only inside `withLock`.
///
/// `Synchronization.Mutex` is the same thing without `@unchecked`, but it needs macOS 15 and the
/// package builds for macOS 13 (`mtor submit --to` runs there); until the floor moves, this one
/// type vouches for its lock by hand, so the types built on it need no `@unchecked` of their own.
final class LockBox<Value>: @unchecked Sendable {  // guarded by `lock`: `value` is touched only inside `withLock`
    private let lock = NSLock()
    private var value: Value

    init(_ value: Value) { self.value = value }

    /// Runs `body` on the value while holding the lock.
    func withLock<R>(_ body: (inout Value) throws -> R) rethrows -> R {
        lock.lock()
        defer { lock.unlock() }
        return try body(&value)
    }

    /// Empties the list, returning what it held (what other threads appended since the last take).
    func takeAll<Element>() -> [Element] where Value == [Element] {
        withLock { list in
            defer { list.removeAll() }
            return list
        }
    }
}
