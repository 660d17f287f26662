import Foundation
import MtorCore
import MtorPlatform

/// The worker's own log: one readable line per event on stderr, secrets redacted.
public final class Logger: @unchecked Sendable {  // `lock` guards `redactor` and each write; `quiet` is set before the logger is shared
    private let lock = NSLock()
    private var redactor: Redactor
    public var quiet = false

    public init(redactor: Redactor = Redactor(secrets: [])) {
        self.redactor = redactor
    }

    func setRedactor(_ r: Redactor) { lock.withLock { redactor = r } }

    public func info(_ message: String) { emit("info", message) }
    public func warn(_ message: String) { emit("warn", message) }
    public func error(_ message: String) { emit("error", message) }

    private func emit(_ level: String, _ message: String) {
        lock.withLock {
            guard !quiet || level != "info" else { return }
            let line = "\(Stamp.iso()) mtor[\(ProcessControl.pid)] \(level): \(redactor.redact(message))\n"
            FileHandle.standardError.write(Data(line.utf8))
        }
    }
}
