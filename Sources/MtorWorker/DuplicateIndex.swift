import Foundation
import MtorCore
import MtorPlatform

/// What `dedup` compares a new spec with: the tasks running (claimed/) and succeeded (done/), each by
/// the fingerprint of its repo, provider and prompt. A failed or cancelled task (failed/) never blocks
/// a re-submission: dedup stops accidental double submission, not re-runs. A finished task is read
/// once; one that ended before the oldest window that matters is only stat'ed.
struct DuplicateIndex {
    private struct Known {
        var fingerprint: UInt64?
        /// Its spec's modification time: when it arrived.
        var arrived: Double
        /// When its sidecar was written; nil while it runs.
        var finishedAt: Double?
        /// Whether it made an attempt (a refused or cancelled-before-start task is no original).
        var ran: Bool
        /// Whether the fingerprint was read (false: it ended too long ago to matter so far).
        var loaded: Bool
    }

    /// "claimed/<id>", "done/<id>" → what is known of it.
    private var known: [String: Known] = [:]
    /// The keys of `known` by fingerprint, so a new spec is compared with its few twins, not with every task.
    private var keysByPrint: [UInt64: [String]] = [:]
    /// When the directories were last listed (monotonic clock).
    private var listedAt = -Double.infinity

    /// A task this worker starts now: known at once, before the next listing shows it in claimed/.
    mutating func noteStarted(id: String, fingerprint: UInt64?, arrived: Double) {
        let key = "claimed/\(id)"
        known[key] = Known(fingerprint: fingerprint, arrived: arrived, finishedAt: nil, ran: true, loaded: true)
        if let f = fingerprint { keysByPrint[f, default: []].append(key) }
    }

    /// A task this worker started has ended: succeeded, it is known in done/ at once (no listing
    /// needs to find it, and its sidecar is not read back); otherwise it is no original any more.
    mutating func noteEnded(_ id: String, in spool: Spool) {
        guard var k = known.removeValue(forKey: "claimed/\(id)") else { return }
        if let f = k.fingerprint { keysByPrint[f]?.removeAll { $0 == "claimed/\(id)" } }
        guard let finished = FileSystem.modificationTime(spool.sidecar(in: spool.done, id)) else { return }
        k.finishedAt = finished
        known["done/\(id)"] = k
        if let f = k.fingerprint { keysByPrint[f, default: []].append("done/\(id)") }
    }

    /// Seconds since claimed/ and done/ were last listed.
    var age: Double { now() - listedAt }

    /// Lists claimed/ and done/ when the last listing is `maxAge` seconds old (specs may arrive by
    /// the thousand) and reads what is new; finished tasks that ended before `since` are not read.
    mutating func refresh(_ spool: Spool, since: Double, settings: Settings, home: String, maxAge: Double = 1) {
        guard now() - listedAt >= maxAge else { return }
        listedAt = now()
        var next: [String: Known] = [:]
        for (dir, label) in [(spool.claimed, "claimed"), (spool.done, "done")] {
            for name in (try? FileSystem.list(dir)) ?? [] where name.hasSuffix(".md") && !TaskID.isTemporary(name) {
                let id = String(name.dropLast(3))
                let key = "\(label)/\(id)"
                if var k = known[key] {
                    if !k.loaded, let f = k.finishedAt, f >= since {
                        k = read(spool, dir: dir, id: id, running: false, settings: settings, home: home) ?? k
                    }
                    next[key] = k
                    continue
                }
                if label != "claimed" {
                    guard let finished = FileSystem.modificationTime(spool.sidecar(in: dir, id)) else { continue }  // its sidecar is a moment away
                    if finished < since {
                        next[key] = Known(fingerprint: nil, arrived: 0, finishedAt: finished, ran: false, loaded: false)
                        continue
                    }
                }
                // A task this worker started is known by its fingerprint already: only its sidecar is read.
                if label != "claimed", var k = known["claimed/\(id)"], k.loaded {
                    k.finishedAt = FileSystem.modificationTime(spool.sidecar(in: dir, id))
                    k.ran = Self.madeAttempts(spool.sidecar(in: dir, id))
                    next[key] = k
                    continue
                }
                if let k = read(spool, dir: dir, id: id, running: label == "claimed", settings: settings, home: home) { next[key] = k }
            }
        }
        known = next
        keysByPrint = [:]
        for (key, k) in next { if let f = k.fingerprint { keysByPrint[f, default: []].append(key) } }
    }

    private func read(_ spool: Spool, dir: String, id: String, running: Bool, settings: Settings, home: String) -> Known? {
        let path = spool.spec(in: dir, id)
        guard let arrived = FileSystem.modificationTime(path), let bytes = try? FileSystem.read(path, limit: Spec.maxBytes) else { return nil }
        var k = Known(fingerprint: nil, arrived: arrived, finishedAt: nil, ran: running, loaded: true)
        if !running {
            k.finishedAt = FileSystem.modificationTime(spool.sidecar(in: dir, id))
            k.ran = Self.madeAttempts(spool.sidecar(in: dir, id))
        }
        if let spec = try? Spec.parse(bytes, home: home), let target = (try? settings.targets(for: spec))?.first {
            k.fingerprint = spec.fingerprint(provider: target.providerName ?? "harness:" + target.harnessName)
        }
        return k
    }

    /// Whether a sidecar records at least one attempt (only that much of it is decoded).
    static func madeAttempts(_ path: String) -> Bool {
        struct Brief: Decodable { var attempts: [Skip] }
        struct Skip: Decodable { init(from decoder: any Decoder) throws {} }
        guard let bytes = try? FileSystem.read(path, limit: 16 << 20),
              let brief = try? JSONDecoder().decode(Brief.self, from: Data(bytes)) else { return false }
        return !brief.attempts.isEmpty
    }

    /// The tasks in claimed/ and done/ with this fingerprint, as evidence for `Scheduler.original`.
    func twins(of fingerprint: UInt64) -> [Scheduler.Twin] {
        (keysByPrint[fingerprint] ?? []).compactMap { key in
            guard let k = known[key] else { return nil }
            let (label, id) = (key.prefix { $0 != "/" }, String(key.drop { $0 != "/" }.dropFirst()))
            return Scheduler.Twin(id: id, arrived: k.arrived, state: label == "claimed" ? .running : .succeeded(at: k.finishedAt, ran: k.ran))
        }
    }
}

// MARK: - Asked before submission

/// The specs `validate` and `submit` compare a spec with before it is sent.
public enum ActiveSpecs {
    /// The specs queued (inbox/) or running (claimed/) in `spool`, by fingerprint: the twins
    /// `Scheduler.original` judges a spec against before it is sent, as the worker will.
    public static func twins(_ spool: Spool, settings: Settings, home: String) -> [UInt64: [Scheduler.Twin]] {
        var found: [UInt64: [Scheduler.Twin]] = [:]
        let places: [(String, Scheduler.Twin.State)] = [(spool.claimed, .running), (spool.inbox, .queued)]
        for (dir, state) in places {
            for name in ((try? FileSystem.list(dir)) ?? []).sorted() where name.hasSuffix(".md") && !TaskID.isTemporary(name) {
                let path = dir + "/" + name
                guard let arrived = FileSystem.modificationTime(path), let bytes = try? FileSystem.read(path, limit: Spec.maxBytes),
                      let spec = try? Spec.parse(bytes, home: home), spec.dedup,
                      let target = (try? settings.targets(for: spec))?.first else { continue }
                let print = spec.fingerprint(provider: target.providerName ?? "harness:" + target.harnessName)
                found[print, default: []].append(Scheduler.Twin(id: String(name.dropLast(3)), name: name, arrived: arrived, state: state))
            }
        }
        return found
    }

    /// The original a spec about to be submitted duplicates: every twin queued or running arrived before it.
    public static func original(among twins: [Scheduler.Twin]) -> Scheduler.Original? {
        let unsent = Scheduler.Twin(id: "", name: "", arrived: .infinity, state: .queued)
        return Scheduler.original(of: unsent, among: twins, finishedSince: .infinity)
    }
}
