import Foundation
import MtorCore
import MtorPlatform

/// The queued specs the worker knows, each read once per version of its file, and each turn's
/// `Scheduler` snapshot built from them and the spool (QueueBook+Plan.swift).
///
/// A turn must not cost work per queued spec: with 10 000 specs queued the worker still starts
/// hundreds a second. So the book keeps the *plain* specs (priority 0, no `depends_on`, no
/// `not_before`: most of a queue) in arrival order, and a turn offers the scheduler every other
/// spec but only the oldest plain ones, a window at a time, until the free slots are filled.
/// Among plain specs arrival order is the scheduler's own order (aging raises the oldest first).
struct QueueBook {
    /// One inbox/ spec as the scheduler sees it.
    struct Entry {
        var name: String
        var id: String
        /// The file's modification time: its arrival, the base of `not_before: 2h` and of aging.
        var arrived: Double
        var size: Int64
        /// What the scheduler reads of the spec (not its prompt: a queue of large specs stays small in
        /// memory); nil when the spec is invalid: it is offered to start, and fails at once with the reason.
        var terms: Terms?
        /// The first provider of its chain ("" for none), for per-provider pause.
        var provider: String = ""
        var fingerprint: UInt64?
        /// The queued, running or recently finished original it duplicates, described, once dedup has judged it.
        var duplicateOf: Scheduler.Original?

        var isPlain: Bool { terms.map { $0.priority == 0 && $0.dependsOn.isEmpty && $0.notBefore == nil } ?? false }
    }

    /// The spec's scheduling keys.
    struct Terms {
        var priority: Int
        var dependsOn: [String]
        var notBefore: NotBefore?
        var dedup: Bool
    }

    private(set) var entries: [String: Entry] = [:]
    /// The last few specs read into the book, as read and parsed: a spec that starts in the turn it
    /// arrived (the usual case when the queue is short) is not parsed a second time to start.
    private var recentlyParsed: [(name: String, bytes: [UInt8], spec: Spec)] = []
    /// Plain specs by (arrival, name).
    private(set) var plainOrder: [(arrived: Double, name: String)] = []
    /// Every other spec: prioritised, dependent, delayed or invalid.
    private(set) var others: Set<String> = []
    /// Names not judged by dedup yet.
    var unjudged: Set<String> = []
    /// Queued specs by fingerprint, for dedup among queued specs.
    private(set) var byFingerprint: [UInt64: [String]] = [:]
    var duplicates = DuplicateIndex()
    /// Whether dedup judged specs since claimed/ and done/ were last listed (`refreshDuplicates`).
    var judgedSinceListing = false
    /// The last reading of pauses and memory (`hostState`).
    var host: HostState?
    /// Refusals found at ingest (a cycle, a duplicate) and not acted on yet: the worker acts on a
    /// bounded number a turn, so the loop stays responsive while a 10 000-spec cascade settles.
    var refusals: [String: Scheduler.Refusal] = [:]
    /// Task ids the worker has refused and claimed whose sidecars may not be in failed/ yet, with
    /// their class: their dependents fail at once instead of waiting for the sidecar.
    var condemned: [String: FailureClass] = [:]
    /// Queued ids → inbox/ names.
    private(set) var ids: [String: String] = [:]
    /// Moves whenever an entry other than a plain spec comes (one that goes is patched out of the kept turn).
    private(set) var othersVersion = 0
    /// Non-plain specs that left the book since the kept turn was made (`OthersTurn`).
    var othersGone: Set<String> = []
    /// Tasks this worker ended since the kept turn was made: their dependents are decided again.
    var endedSinceTurn: [String] = []
    /// Holds of the kept turn not yet handed to the worker (each is handed once, when decided).
    var unshownHolds: [Scheduler.Decision] = []
    /// The scheduler's last decisions for the non-plain specs, reused while nothing they depend on changed.
    var othersTurn: OthersTurn?
    /// claimed/, done/ and failed/, listed again at most every second while dependents wait, and
    /// patched meanwhile with what this worker claims and ends (other hosts' changes wait for the listing).
    var listing: TaskDirectory.Listing?

    struct HostState {
        var readAt: Double
        var pausedAll: Scheduler.Pause?
        var pausedProviders: [String: Scheduler.Pause]
        var memory: Int64?
    }

    var count: Int { entries.count }

    /// The entry for a name already read, trusted without a system call until `invalidate` (an inotify
    /// event for the name, or the worker starting it) or `prune` (a rescan that no longer lists it).
    func cached(_ name: String) -> Entry? { entries[name] }

    mutating func invalidate(_ name: String) {
        guard let e = entries.removeValue(forKey: name) else { return }
        if others.remove(name) != nil { othersGone.insert(name) }
        unjudged.remove(name)
        refusals[name] = nil
        if ids[e.id] == name { ids[e.id] = nil }
        if let f = e.fingerprint {
            byFingerprint[f]?.removeAll { $0 == name }
            if byFingerprint[f]?.isEmpty == true { byFingerprint[f] = nil }
        }
        if e.isPlain {
            let i = position(of: (e.arrived, name))
            if i < plainOrder.count, plainOrder[i].name == name, plainOrder[i].arrived == e.arrived { plainOrder.remove(at: i) }
        }
    }

    /// Where `key` is, or belongs, in `plainOrder` (binary search).
    private func position(of key: (Double, String)) -> Int {
        var lo = 0, hi = plainOrder.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if (plainOrder[mid].arrived, plainOrder[mid].name) < key { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }

    mutating func prune(keeping names: Set<String>) {
        for name in entries.keys where !names.contains(name) { invalidate(name) }
    }

    /// Reads inbox/`name` and files it.
    mutating func load(name: String, path: String, size: Int64, settings: Settings, home: String) -> Entry? {
        guard let mtime = FileSystem.modificationTime(path), let bytes = try? FileSystem.read(path, limit: Spec.maxBytes) else { return nil }
        invalidate(name)
        var e = Entry(name: name, id: TaskID.from(fileName: name), arrived: mtime, size: size)
        let parsed = try? Spec.parse(bytes, home: home)
        if let parsed, bytes.count <= 64 << 10 {
            if recentlyParsed.count >= 16 { recentlyParsed.removeFirst() }
            recentlyParsed.append((name, bytes, parsed))
        }
        if let spec = parsed, let target = (try? settings.targets(for: spec))?.first {
            e.terms = Terms(priority: spec.priority, dependsOn: spec.dependsOn, notBefore: spec.notBefore, dedup: spec.dedup)
            e.provider = target.providerName ?? ""
            e.fingerprint = spec.fingerprint(provider: target.providerName ?? "harness:" + target.harnessName)
        }
        entries[name] = e
        ids[e.id] = name
        unjudged.insert(name)
        if let f = e.fingerprint { byFingerprint[f, default: []].append(name) }
        if e.isPlain {
            // Usually the newest: appended; otherwise inserted in place (binary search).
            if let last = plainOrder.last, (last.arrived, last.name) > (e.arrived, name) {
                plainOrder.insert((e.arrived, name), at: position(of: (e.arrived, name)))
            } else {
                plainOrder.append((e.arrived, name))
            }
        } else {
            others.insert(name)
            othersVersion += 1
        }
        return e
    }

    /// The spec `name` parsed when it was read into the book, if `bytes` (read again to start it) are
    /// still what was parsed then.
    func parsed(_ name: String, bytes: [UInt8]) -> Spec? {
        recentlyParsed.last { $0.name == name && $0.bytes == bytes }?.spec
    }

    /// Replaces an entry's judgement (its place in the book is unchanged).
    mutating func store(_ e: Entry) { entries[e.name] = e }

    /// Up to `count` plain entries from `cursor` on, in arrival order; `cursor` moves past them.
    func plain(from cursor: inout Int, count: Int) -> [Entry] {
        var out: [Entry] = []
        while cursor < plainOrder.count, out.count < count {
            let (arrived, name) = plainOrder[cursor]
            cursor += 1
            if let e = entries[name], e.arrived == arrived { out.append(e) }
        }
        return out
    }
}
