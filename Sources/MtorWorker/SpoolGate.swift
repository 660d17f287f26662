import Foundation
import MtorCore
import MtorPlatform

/// The worker's one way into its spool files: every byte it writes there is redacted, and an
/// entry that is not a regular file (a FIFO, symlink, socket, device or directory where a file
/// should be) is moved aside to `<name>.bad-<time>` and reported, never followed
/// and never waited on.
public final class SpoolGate: @unchecked Sendable {  // `lock` guards `current` and `reports`; `sink` is set once, before any task runs
    private let lock = NSLock()
    private var current: Redactor
    private var reports: [String] = []

    public init(redactor: Redactor = Redactor(secrets: [])) { current = redactor }

    /// Told every ledger line this process appends (the worker's telemetry), after it is written.
    /// Set once, before any task runs.
    public var sink: (any LedgerSink)?

    /// The secrets to hide; replaced when the worker reloads its env file.
    public var redactor: Redactor {
        get { lock.withLock { current } }
        set { lock.withLock { current = newValue } }
    }

    /// Entries moved aside since the last call, one sentence each, for `state/worker.json`.
    public func takeReports() -> [String] {
        lock.withLock {
            defer { reports.removeAll() }
            return reports
        }
    }

    /// Runs `body` on `path`; when the entry there is refused as not a regular file, moves it
    /// aside, reports it, and runs `body` once more on the now free name.
    func guarded<T>(_ path: String, _ body: () throws(SystemError) -> T) throws(SystemError) -> T {
        do {
            return try body()
        } catch where error.isNotRegular {
            moveAside(path, error)
            return try body()
        }
    }

    private func moveAside(_ path: String, _ error: SystemError) {
        let stamp = Stamp.iso().filter { $0.isNumber || $0 == "T" || $0 == "Z" }
        var target = "\(path).bad-\(stamp)"
        for n in 2...100 {
            do {
                try FileSystem.renameNoReplace(path, target)
                report("\(error.description); moved it aside to \(FileSystem.basename(of: target)) — remove it once you have looked at it")
                return
            } catch where error.isExists {
                target = "\(path).bad-\(stamp)-\(n)"
            } catch where error.isNotFound {
                return  // another thread or worker moved it first
            } catch {
                report("\(error.description); it could not be moved aside (\(error)) — remove it by hand")
                return
            }
        }
    }

    private func report(_ message: String) {
        lock.withLock {
            reports.append(message)
            if reports.count > 50 { reports.removeFirst(reports.count - 50) }
        }
    }
}

extension Spool {
    /// Encodes `value` as the spool's JSON with every string redacted.
    func encode(_ value: some Encodable, pretty: Bool = true) -> [UInt8] {
        let bytes: [UInt8]
        if pretty, let written = (value as? any PrettyJSONWritable)?.prettyJSON {
            bytes = written
        } else {
            guard let data = try? Stamp.encoder(pretty: pretty).encode(value) else { return [] }
            bytes = Array(data)
        }
        return gate?.redactor.redact(json: bytes) ?? bytes
    }

    /// Writes `value` as redacted JSON, atomically (see `FileSystem.writeAtomically`).
    func writeJSON(_ value: some Encodable, to path: String, tmpDir: String? = nil, durable: Bool = true, reserve: Int = 0,
                   reusing: String? = nil, spare: String? = nil) throws(SystemError) {
        let bytes = encode(value)
        try guarded(path) { () throws(SystemError) in
            try FileSystem.writeAtomically(bytes, to: path, tmpDir: tmpDir, durable: durable, reserve: reserve, reusing: reusing, spare: spare)
        }
    }

    /// Rewrites a state file this process alone writes (worker.json, its host file, metrics.prom) ten
    /// times a second at most: on a local spool through a spare in tmp/ that trades names with it
    /// (`FileSystem.writeExchanging`: no inode freed per write), elsewhere by create and rename.
    func writeState(_ bytes: [UInt8], to path: String, mode: mode_t = FileSystem.fileMode, reserve: Int = 0) throws(SystemError) {
        try guarded(path) { () throws(SystemError) in
            if networked {
                try FileSystem.writeAtomically(bytes, to: path, tmpDir: tmp, mode: mode, durable: false, reserve: reserve)
            } else {
                try FileSystem.writeExchanging(bytes, to: path, spare: stateSpare(path), mode: mode, reserve: reserve)
            }
        }
    }

    /// The spare `writeState` keeps for `path`: tmp/.<name>.<pid>.spare, removed when the worker stops
    /// (`removeStateSpares`) or, left by a crash, with tmp/'s day-old files.
    func stateSpare(_ path: String) -> String {
        "\(tmp)/.\(FileSystem.basename(of: path)).\(ProcessControl.pid).spare"
    }

    /// Appends a JSON line (redacted here) to `path`.
    func appendLine(_ json: [UInt8], to path: String) throws(SystemError) {
        try appendRedacted(gate?.redactor.redact(json: json) ?? json, to: path)
    }

    /// Appends `value` as one redacted JSON line.
    func appendJSONLine(_ value: some Encodable, to path: String) throws(SystemError) {
        try appendRedacted(encode(value, pretty: false), to: path)  // `encode` redacts
    }

    private func appendRedacted(_ bytes: [UInt8], to path: String) throws(SystemError) {
        guard !bytes.isEmpty else { return }
        try guarded(path) { () throws(SystemError) in try FileSystem.appendLine(bytes, to: path) }
    }

    /// Reads a spool file; nil when it is missing, unreadable or was moved aside.
    func readFile(_ path: String, limit: Int = 64 << 20) -> [UInt8]? {
        try? guarded(path) { () throws(SystemError) in try FileSystem.read(path, limit: limit) }
    }

    /// Runs `body` through the gate when there is one (the worker's spool), else as it is.
    func guarded<T>(_ path: String, _ body: () throws(SystemError) -> T) throws(SystemError) -> T {
        guard let gate else { return try body() }
        return try gate.guarded(path, body)
    }
}
