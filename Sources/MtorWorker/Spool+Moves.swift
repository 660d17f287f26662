import Foundation
import MtorCore
import MtorPlatform

extension Spool {
    /// Claims `inbox/<name>` by renaming it to `claimed/<id>.md` without replacing anything.
    /// Returns the id, or nil when the file vanished (another worker claimed it).
    func claim(name: String) throws(SystemError) -> (id: String, lock: Int32)? {
        // Locked before it moves, so it is never in claimed/ without its owner's flock: another
        // worker's recovery, which takes a free lock to mean a dead owner, can never requeue it.
        // Two workers racing for one spec: one gets the lock, the other skips it.
        guard let lock = FileSystem.tryLock("\(inbox)/\(name)") else { return nil }
        // The lock is on the file the name led to; on a network filesystem that lookup may be a
        // second stale (the file already moved on by another host). The listing, from the server,
        // says whether it is still here; holding its lock, no one else moves it from now on.
        guard let me = FileIdentity.of(descriptor: lock), !networked || FileIdentity.listed(inbox, name) == me.inode else {
            FileSystem.closeDescriptor(lock)
            return nil
        }
        let wanted = TaskID.from(fileName: name)
        // claimed/<id>.md seeming to name this very file is a move cut between its link and its unlink
        // (a requeue whose worker died), or a stale lookup on a network filesystem: the move settles
        // which, by the server's word, and the task keeps its id either way.
        let there = networked ? FileIdentity.listed(claimed, "\(wanted).md") : FileIdentity.of(spec(in: claimed, wanted)).map(\.inode)
        if there == me.inode {
            do {
                try FileSystem.linkThenUnlink("\(inbox)/\(name)", spec(in: claimed, wanted))
                return (wanted, lock)
            } catch {
                FileSystem.closeDescriptor(lock)
                if error.isNotFound { return nil }
                throw error
            }
        }
        var id = freeID(for: wanted)
        for _ in 0..<100 {
            do {
                try FileSystem.renameNoReplace("\(inbox)/\(name)", spec(in: claimed, id))
                return (id, lock)
            } catch where error.isNotFound {
                FileSystem.closeDescriptor(lock)
                return nil
            } catch where error.isExists {
                // A name just gone from claimed/ may still answer from this client's cache for up to
                // a second (the FUSE entry timeout): the listing tells; wait it out, keep the id.
                if networked, FileIdentity.listed(claimed, "\(id).md") == nil {
                    Thread.sleep(forTimeInterval: 0.1)
                    continue
                }
                id = freeID(for: id + "-x")
            } catch {
                FileSystem.closeDescriptor(lock)
                throw error
            }
        }
        FileSystem.closeDescriptor(lock)
        throw SystemError("renameat2", path: name, errno: 17)
    }

    /// Writes `claimed/<id>.claim.json`.
    func writeClaim(_ claim: ClaimRecord) throws(SystemError) {
        try writeJSON(claim, to: claimFile(claim.id), tmpDir: tmp, durable: false, spare: spares?.take())
    }

    /// Finishes a task: the sidecar is written durably first, then the spec moves beside it.
    func finish(_ result: TaskResult) throws(SystemError) {
        let dest = result.status == .succeeded ? done : failed
        let sidecarPath = sidecar(in: dest, result.id)
        // Written once: an existing regular sidecar is a crash's finished write; anything else there is moved aside.
        if FileSystem.kind(sidecarPath).regularSize == nil {
            // The temp name sits beside the sidecar: one directory, one rename, whatever happens to tmp/.
            // On a local disk the task's claim, which goes now anyway, becomes that temp file (see
            // `FileSystem.writeAtomically(reusing:)`); a kill after that leaves a claimed spec without a
            // claim, which recovery requeues as it does one killed before its claim was written.
            // A network filesystem keeps the plain create and remove: one rename per file there.
            try writeJSON(result, to: sidecarPath, reusing: networked ? nil : claimFile(result.id))
        }
        recordOutcome(result)
        try completeMove(result.id, to: dest)
    }

    /// The ledger line that says how a task ended.
    func recordOutcome(_ result: TaskResult) {
        let duration = Stamp.date(result.claimedAt).flatMap { start in Stamp.date(result.finishedAt).map { $0.timeIntervalSince(start) } }
        var entry = LedgerEntry(t: Stamp.iso(), id: result.id, event: LedgerEntry.Event(rawValue: result.status.rawValue) ?? .failed,
                                class: result.class, provider: result.spec.provider, attempt: result.attempts.count, pid: ProcessControl.pid,
                                durationS: duration.map { ($0 * 1000).rounded() / 1000 })
        entry.inputTokens = result.usage?.inputTokens
        entry.outputTokens = result.usage?.outputTokens
        entry.costUSD = result.usage?.costUSD
        if let flags = result.review?.flags, !flags.isEmpty { entry.flags = flags.map(\.rawValue).joined(separator: ",") }
        record(entry, result: result)
    }

    /// Moves `claimed/<id>.md` next to its already-written sidecar and clears the claim.
    func completeMove(_ id: String, to dest: String) throws(SystemError) {
        do {
            try FileSystem.renameNoReplace(spec(in: claimed, id), spec(in: dest, id))
        } catch where error.isNotFound {
            // Already moved (a crash after the rename): nothing to do.
        }
        // Not fsynced: the sidecar already is (CONTRACT invariant 2), and a move lost in a crash leaves
        // the spec in claimed/ beside a durable sidecar, which recovery completes (`recover`).
        FileSystem.remove(claimFile(id))
        FileSystem.remove(attemptsFile(id))
        FileSystem.remove("\(cancel)/\(id)")
    }

    /// Puts a claimed spec back in inbox/, keeping the attempts made so far.
    func requeue(_ id: String, attempts: [TaskResult.Attempt], because cls: FailureClass? = nil) throws(SystemError) {
        try writeJSON(attempts, to: attemptsFile(id), tmpDir: tmp)
        try FileSystem.renameNoReplace(spec(in: claimed, id), spec(in: inbox, id))
        try FileSystem.syncDirectory(inbox)
        FileSystem.remove(claimFile(id))
        record(LedgerEntry(t: Stamp.iso(), id: id, event: .requeued, class: cls ?? attempts.last?.class, attempt: attempts.count, pid: ProcessControl.pid))
    }

    /// `claimed/<id>.claim.json`, when it exists and parses.
    public func claim(_ id: String) -> ClaimRecord? {
        readFile(claimFile(id)).flatMap { try? JSONDecoder().decode(ClaimRecord.self, from: Data($0)) }
    }

    /// Attempts a task made before it was requeued.
    func priorAttempts(_ id: String) -> [TaskResult.Attempt] {
        guard let bytes = readFile(attemptsFile(id)) else { return [] }
        return (try? JSONDecoder().decode([TaskResult.Attempt].self, from: Data(bytes))) ?? []
    }
}
