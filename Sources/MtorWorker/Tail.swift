import MtorCore

/// The last `limit` bytes of a stream, for sidecar tails; fed bytes that are already redacted,
/// so a cut can never leave part of a secret behind.
struct Tail {
    let limit: Int
    private(set) var bytes: [UInt8] = []
    private(set) var total = 0

    init(limit: Int = 2048) { self.limit = limit }

    mutating func append(_ chunk: [UInt8]) {
        total += chunk.count
        bytes.append(contentsOf: chunk.suffix(limit))
        if bytes.count > limit { bytes.removeFirst(bytes.count - limit) }
    }

    var text: String { String(decoding: bytes, as: UTF8.self) }
}

/// The agent's stdout and stderr as everything downstream sees them (log, tails, stream
/// scanner, classifier): each passes the redaction gate as a stream before any of them reads it.
struct RedactedOutput {
    private var stdout: Redactor.Stream
    private var stderr: Redactor.Stream
    /// Bytes the agent wrote to stdout, before redaction.
    private(set) var stdoutBytes = 0

    init(_ redactor: Redactor) {
        stdout = redactor.stream()
        stderr = redactor.stream()
    }

    mutating func feed(_ bytes: UnsafeRawBufferPointer, isStdout: Bool) -> [UInt8] {
        if isStdout {
            stdoutBytes += bytes.count
            return stdout.feed(bytes)
        }
        return stderr.feed(bytes)
    }

    /// What each stream still holds back, once the agent has exited.
    mutating func finish() -> (stdout: [UInt8], stderr: [UInt8]) {
        (stdout.finish(), stderr.finish())
    }
}
