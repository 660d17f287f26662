import Foundation
import MtorCore
import MtorPlatform

/// What wants to know each state change as the ledger records it.
public protocol LedgerSink: AnyObject, Sendable {
    /// `result`: the task's result when `entry` is its outcome and the caller holds it (else the sink reads the sidecar).
    func observe(_ entry: LedgerEntry, result: TaskResult?)
}

/// The spool directory: state is which directory a spec is in (CONTRACT.md section 2).
public struct Spool: Sendable {
    public static let directories = ["inbox", "claimed", "done", "failed", "logs", "tmp", "cancel", "state"]

    public let root: String
    /// The worker's redaction and hostile-entry gate; nil for commands that only read.
    public let gate: SpoolGate?
    /// The ledger `record` appends to: `ledger`, or this host's own on a shared spool (see `SpoolSharing`).
    public var appendLedger: String?
    /// On a network filesystem (other hosts write it): where a lookup by path may be a second
    /// stale, claims ask the directory listing instead (see `claim(name:)`).
    public var networked = false
    /// Empty files the worker keeps in tmp/ on a local spool, taken for a task's claim and log so no
    /// inode is allocated between inbox/ and the agent's start (see `SpareFiles`); nil elsewhere.
    public var spares: SpareFiles?

    public init(root: String, gate: SpoolGate? = nil) {
        self.gate = gate
        var path = root
        if !path.hasPrefix("/") { path = FileManager.default.currentDirectoryPath + "/" + path }
        while path.count > 1 && path.hasSuffix("/") { path.removeLast() }
        self.root = path
    }

    public var inbox: String { root + "/inbox" }
    public var claimed: String { root + "/claimed" }
    public var done: String { root + "/done" }
    public var failed: String { root + "/failed" }
    public var logs: String { root + "/logs" }
    public var tmp: String { root + "/tmp" }
    public var cancel: String { root + "/cancel" }
    public var state: String { root + "/state" }
    public var ledger: String { state + "/ledger.jsonl" }

    public func spec(in dir: String, _ id: String) -> String { "\(dir)/\(id).md" }
    public func sidecar(in dir: String, _ id: String) -> String { "\(dir)/\(id).result.json" }
    public func claimFile(_ id: String) -> String { "\(claimed)/\(id).claim.json" }
    public func log(_ id: String) -> String { "\(logs)/\(id).log" }
    public func attemptsFile(_ id: String) -> String { "\(state)/attempts/\(id).json" }

    /// Creates missing directories (0700) and refuses a spool spread over several filesystems.
    public func prepare() throws(WorkerError) {
        do {
            for dir in Spool.directories { try FileSystem.makeDirectories("\(root)/\(dir)") }
            for dir in ["attempts", "workers", "ledgers"] { try FileSystem.makeDirectories("\(state)/\(dir)") }
        } catch {
            throw .environment("cannot create the spool at \(root): \(error)")
        }
        // The worker never follows a link below the spool's root: a linked directory would send its files elsewhere.
        for dir in Spool.directories + ["state/attempts", "state/workers", "state/ledgers"] {
            let kind = FileSystem.kind("\(root)/\(dir)")
            if kind != .directory {
                throw .environment("spool directory \(root)/\(dir) is \(kind), not a directory; mtor never writes through links below the spool — replace it with a real directory")
            }
        }
        try checkOneFilesystem()
    }

    /// Claims and sidecars move by rename, so every spool directory must be on one filesystem.
    public func checkOneFilesystem() throws(WorkerError) {
        var devices: [String: UInt64] = [:]
        for dir in Spool.directories {
            do {
                devices[dir] = try FileSystem.device("\(root)/\(dir)")
            } catch {
                throw .environment("spool directory \(root)/\(dir) is unusable: \(error)")
            }
        }
        let rootDevice = devices["inbox"]!
        if let odd = Spool.directories.first(where: { devices[$0] != rootDevice }) {
            throw .environment("spool directory \(root)/\(odd) is on a different filesystem from \(root)/inbox; claims and results move by rename, which only works within one filesystem — put every spool directory on the same filesystem")
        }
    }

    // MARK: - Ledger and lookup

    /// Appends one state change to `state/ledger.jsonl` (`result`: the task's result, for an outcome line).
    public func record(_ entry: LedgerEntry, result: TaskResult? = nil) {
        try? appendLine(entry.jsonLine, to: appendLedger ?? ledger)
        gate?.sink?.observe(entry, result: result)
    }

    /// Where a task is now: the directory holding `<id>.md`.
    public func locate(_ id: String) -> (dir: String, name: String)? {
        for (dir, name) in [(done, "done"), (failed, "failed"), (claimed, "claimed"), (inbox, "inbox")] {
            if FileSystem.exists(spec(in: dir, id)) { return (dir, name) }
        }
        return nil
    }

    /// Reads a finished task's sidecar, believed only as the worker leaves it: beside its spec in
    /// `done/` (succeeded) or `failed/` (failed, cancelled), naming its own id. A sidecar dropped
    /// into the spool without its spec (a forged verdict) is never a result. `completingMove`
    /// is recovery's view: a sidecar whose spec is still in `claimed/` (the worker was killed
    /// between writing it and moving the spec) is the worker's, to finish the move.
    public func result(_ id: String, completingMove: Bool = false) -> TaskResult? {
        for dir in [done, failed] {
            guard let bytes = readFile(sidecar(in: dir, id)),
                  let r = try? JSONDecoder().decode(TaskResult.self, from: Data(bytes)), r.id == id,
                  (r.status == .succeeded) == (dir == done) else { continue }
            let besideSpec = FileSystem.exists(spec(in: dir, id))
            if besideSpec || (completingMove && FileSystem.exists(spec(in: claimed, id))) { return r }
        }
        return nil
    }

    /// A task id not used by any spec in claimed/, done/ or failed/.
    public func freeID(for wanted: String) -> String {
        var candidate = wanted
        var n = 1
        // claimed/ is asked by listing on a network filesystem: a name that just left it may still
        // answer a lookup from this client's cache, and the task would get a new id for nothing.
        let taken: (String) -> Bool = { id in
            if networked ? FileIdentity.listed(claimed, "\(id).md") != nil : FileSystem.exists(spec(in: claimed, id)) { return true }
            return [done, failed].contains { FileSystem.exists(spec(in: $0, id)) || FileSystem.exists(sidecar(in: $0, id)) }
        }
        while taken(candidate) {
            n += 1
            candidate = "\(wanted.prefix(95))-\(n)"
        }
        return candidate
    }
}
