import Foundation
import MtorCore
import MtorPlatform

/// Every task of the spool by where its spec is, to find what a `depends_on` name means and
/// where that task stands. Taken from directory listings; nothing in it is trusted beyond one turn
/// (the worker's `Listing` is kept up to a second, patched with what this worker claimed and ended).
struct TaskDirectory {
    /// Queued: the id each inbox/ file will get → its file name.
    private(set) var queued: [String: String] = [:]
    private(set) var claimed: Set<String> = []
    private(set) var done: Set<String> = []
    private(set) var failed: Set<String> = []
    /// The newest id `submit` made from each file-name slug, built on the first name that needs it.
    private let slugs = SlugIndex()

    /// claimed/, done/ and failed/ as listed at `at` (monotonic), with later changes patched in.
    struct Listing {
        var claimed: Set<String> = []
        var done: Set<String> = []
        var failed: Set<String> = []
        var at = 0.0

        static func list(_ spool: Spool) -> Listing {
            func ids(_ dir: String) -> Set<String> {
                Set(((try? FileSystem.list(dir)) ?? []).filter { $0.hasSuffix(".md") && !TaskID.isTemporary($0) }.map { String($0.dropLast(3)) })
            }
            return Listing(claimed: ids(spool.claimed), done: ids(spool.done), failed: ids(spool.failed), at: now())
        }

        /// This worker claimed `id`.
        mutating func claimed(_ id: String) { claimed.insert(id) }

        /// A task of this worker ended: its spec is in done/ or failed/ now (or back in inbox/).
        mutating func ended(_ id: String, in spool: Spool) {
            claimed.remove(id)
            if FileSystem.kind(spool.spec(in: spool.done, id)) != .missing { done.insert(id) }
            else if FileSystem.kind(spool.spec(in: spool.failed, id)) != .missing { failed.insert(id) }
        }
    }

    private final class SlugIndex {
        var newest: [String: String]?
    }

    /// Lists claimed/, done/ and failed/; `inboxNames` are the inbox/ files (listed when nil).
    static func scan(_ spool: Spool, inboxNames: [String]? = nil) -> TaskDirectory {
        var queued: [String: String] = [:]
        for name in inboxNames ?? ((try? FileSystem.list(spool.inbox)) ?? []) where name.hasSuffix(".md") && !TaskID.isTemporary(name) {
            queued[TaskID.from(fileName: name)] = name
        }
        return TaskDirectory(queued: queued, listing: .list(spool))
    }

    init() {}

    /// `queued` maps the ids of the inbox/ files to their names.
    init(queued: [String: String], listing: Listing) {
        self.queued = queued
        claimed = listing.claimed
        done = listing.done
        failed = listing.failed
    }

    /// The newest id `submit` made from each file-name slug (`parser` → `20261201T220000-parser-3f2a`).
    private func newestBySlug() -> [String: String] {
        if let built = slugs.newest { return built }
        var newest: [String: String] = [:]
        for id in Array(queued.keys) + Array(claimed) + Array(done) + Array(failed) {
            guard let slug = SpecName.slugPart(of: id) else { continue }
            if let other = newest[slug], other >= id { continue }
            newest[slug] = id
        }
        slugs.newest = newest
        return newest
    }

    func knows(_ id: String) -> Bool { queued[id] != nil || claimed.contains(id) || done.contains(id) || failed.contains(id) }

    /// The task a `depends_on` name means: a task id, the name of a file as dropped in inbox/, or
    /// the name of a file as it was submitted (`parser.md` or `parser`: the newest task `submit` made from it).
    func resolve(_ name: String) -> String? {
        let stem = name.hasSuffix(".md") ? String(name.dropLast(3)) : name
        for candidate in [stem, TaskID.from(fileName: stem + ".md")] where knows(candidate) { return candidate }
        return newestBySlug()[SpecName.slug(stem)]
    }

    /// Where the task stands, for the scheduler: a failed one is read from its sidecar for its class.
    func state(of id: String, in spool: Spool) -> Scheduler.Dependency {
        if done.contains(id) { return .succeeded }
        if failed.contains(id) {
            guard let r = spool.result(id) else { return .failed(.unknown) }
            if r.status == .succeeded { return .succeeded }
            return r.status == .cancelled ? .cancelled : .failed(r.class)
        }
        if queued[id] != nil || claimed.contains(id) { return .pending }
        return .absent
    }
}

/// What the CLI asks of the spool's tasks by name, answered by the rule `depends_on` uses.
public enum TaskNames {
    /// The task `name` means as `depends_on` resolves it (an id, a file name dropped in inbox/, or a file
    /// name as submitted: its newest task); nil when no task queued, running or finished has that name.
    public static func resolve(_ name: String, in spool: Spool) -> String? {
        TaskDirectory.scan(spool).resolve(name)
    }
}
