import Foundation
import MtorCore
import MtorPlatform

/// How one worker shares its spool with workers on other hosts: the filesystem found at start,
/// the inbox poll that follows from it, and the files only this worker (or host) writes.
///
/// On GlusterFS, `O_APPEND` writes through two clients (two hosts' mounts) of one file were seen
/// to overwrite each other (tens of torn lines in thousands), while appends through one client
/// never were. So on a network filesystem each host appends to its own ledger,
/// `state/ledgers/<host>.jsonl`, and `status` merges them; a local spool keeps `state/ledger.jsonl`.
struct SpoolSharing: Sendable {
    /// The spool's filesystem; nil when `statfs` failed (then it is treated as local).
    let mount: SpoolMount?
    /// Polls inbox/ and cancel/ besides inotify.
    var poll: PollPlan

    var isNetwork: Bool { mount?.isNetwork ?? false }

    /// `statfs` on the spool's inbox/ and the poll that follows.
    static func detect(_ spool: Spool, requestedPoll: Double?, now: Double) -> SpoolSharing {
        let mount = try? SpoolMount.of(spool.inbox)
        let poll = PollPlan(requested: requestedPoll, filesystem: mount?.type ?? "an unknown filesystem", network: mount?.isNetwork ?? false, now: now)
        return SpoolSharing(mount: mount, poll: poll)
    }

    /// The ledger this worker appends to: its host's own on a network filesystem.
    func ledger(_ spool: Spool, host: String) -> String {
        isNetwork ? "\(spool.ledgers)/\(SpoolSharing.fileName(host)).jsonl" : spool.ledger
    }

    /// Worktrees belong on this host's disk: git worktrees of each host's own repos, on a filesystem
    /// other hosts share, are slow and another host's sweep could meet them.
    func workspaceWarning(_ workRoot: String, spool: Spool) -> String? {
        guard isNetwork, workRoot == spool.root || workRoot.hasPrefix(spool.root + "/") else { return nil }
        return "task worktrees go to \(workRoot), on the shared spool (\(mount?.type ?? "a network filesystem")); pass --workspaces DIR on this host's own disk"
    }

    /// A host name as a file name: anything but `[A-Za-z0-9._-]` becomes `_`.
    static func fileName(_ host: String) -> String {
        let safe = String(host.unicodeScalars.map { c -> Character in
            c.isASCII && (CharacterSet.alphanumerics.contains(c) || c == "." || c == "_" || c == "-") ? Character(c) : "_"
        })
        return safe.isEmpty || safe.hasPrefix(".") ? "_" + safe : safe
    }
}

extension Spool {
    /// `state/ledgers/`: one ledger per host when the spool is shared through a network filesystem.
    public var ledgers: String { state + "/ledgers" }
    /// `state/workers/`: one heartbeat file per running worker.
    public var workers: String { state + "/workers" }

    /// `state/workers/<host>-<pid>.json`.
    public func workerFile(host: String, pid: Int32) -> String { "\(workers)/\(SpoolSharing.fileName(host))-\(pid).json" }

    /// Every ledger of this spool: `state/ledger.jsonl` and the per-host ones.
    public var allLedgers: [String] {
        let perHost = ((try? FileSystem.list(ledgers)) ?? []).filter { $0.hasSuffix(".jsonl") && !$0.hasPrefix(".") }.sorted()
        return [ledger] + perHost.map { "\(ledgers)/\($0)" }
    }

    /// For a command that appends to the ledger (`mtor retry`): on a network filesystem it appends
    /// to this host's own ledger, as this host's workers do, so no ledger has writers on two hosts.
    public mutating func appendAsThisHost() {
        guard (try? SpoolMount.of(inbox))?.isNetwork == true else { return }
        networked = true
        appendLedger = "\(ledgers)/\(SpoolSharing.fileName(FileSystem.hostName())).jsonl"
        try? FileSystem.makeDirectories(ledgers)
    }

    /// Removes heartbeat files of workers silent for over a day (killed long ago; a clean exit removes its own).
    func pruneWorkerFiles() {
        for name in (try? FileSystem.list(workers)) ?? [] where name.hasSuffix(".json") {
            if let age = FileSystem.age("\(workers)/\(name)"), age > 86400 { FileSystem.remove("\(workers)/\(name)") }
        }
    }
}
