import Foundation
import MtorCore
import MtorPlatform

/// `logs/<id>.log`: the agent's output (already redacted by the runner) and mtor's own notes, capped.
final class TaskLog: @unchecked Sendable {  // no lock: its `var`s are touched only by the thread running its task
    static let defaultCap = 50 << 20

    private let path: String
    private let cap: Int
    private let redactor: Redactor
    private var fd: Int32 = -1
    private var written = 0
    private var cut = false

    /// Opens the log through the spool's gate: a FIFO or symlink in its place is moved aside, never waited on.
    init(spool: Spool, id: String, cap: Int, redactor: Redactor) {
        path = spool.log(id)
        self.cap = cap
        self.redactor = redactor
        let path = self.path
        _ = spool.spares?.place(at: path)  // a spare renamed in: no inode allocated on the way to the agent
        fd = (try? spool.guarded(path) { () throws(SystemError) in try FileSystem.openForAppend(path) }) ?? -1
        written = Int(FileSystem.kind(path).regularSize ?? 0)
    }

    deinit {
        if fd >= 0 { FileSystem.closeDescriptor(fd) }
    }

    /// Writes a line of mtor's own (attempt headers and the like), redacted.
    func note(_ text: String) {
        emit(Array("[mtor \(Stamp.iso())] \(redactor.redact(text))\n".utf8))
    }

    /// Appends agent output that has passed the runner's redaction stream.
    func append(redacted bytes: [UInt8]) {
        emit(bytes)
    }

    private func emit(_ bytes: [UInt8]) {
        guard fd >= 0, !cut, !bytes.isEmpty else { return }
        if written + bytes.count > cap {
            let room = max(0, cap - written)
            try? FileSystem.writeAll(fd, bytes.prefix(room), path: path)
            let marker = "\n[mtor] log cut at \(cap) bytes (the per-task cap); further output was discarded\n"
            try? FileSystem.writeAll(fd, Array(marker.utf8), path: path)
            written = cap
            cut = true
            return
        }
        try? FileSystem.writeAll(fd, bytes, path: path)
        written += bytes.count
    }
}

extension FileSystem.Kind {
    var regularSize: Int64? { if case .regular(let s) = self { return s } else { return nil } }
}
