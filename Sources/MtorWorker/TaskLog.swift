import Foundation
import MtorCore
import MtorPlatform

/// `logs/<id>.log`: the agent's output, redacted line by line and capped.
final class TaskLog: @unchecked Sendable {
    static let defaultCap = 50 << 20

    private let path: String
    private let cap: Int
    private let redactor: Redactor
    private var fd: Int32 = -1
    private var written: Int
    private var cut = false
    private var pending: [UInt8] = []

    init(path: String, cap: Int, redactor: Redactor) {
        self.path = path
        self.cap = cap
        self.redactor = redactor
        written = Int(FileSystem.kind(path).regularSize ?? 0)
        fd = (try? FileSystem.openForAppend(path)) ?? -1
    }

    deinit {
        flush()
        if fd >= 0 { FileSystem.closeDescriptor(fd) }
    }

    /// Writes a line of mtor's own (attempt headers and the like).
    func note(_ text: String) {
        flush()
        emit(Array("[mtor \(Stamp.iso())] \(redactor.redact(text))\n".utf8))
    }

    /// Appends agent output; whole lines are redacted before they are written.
    func append(_ bytes: UnsafeRawBufferPointer) {
        guard !cut else { return }
        pending.append(contentsOf: bytes)
        if let lastNewline = pending.lastIndex(of: UInt8(ascii: "\n")) {
            let lines = Array(pending[...lastNewline])
            pending.removeSubrange(...lastNewline)
            emit(redactor.redact(bytes: lines))
        } else if pending.count > 256 << 10 {
            flush()
        }
    }

    func flush() {
        guard !pending.isEmpty else { return }
        let rest = pending
        pending.removeAll()
        emit(redactor.redact(bytes: rest))
    }

    private func emit(_ bytes: [UInt8]) {
        guard fd >= 0, !cut else { return }
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
