import Foundation
import MtorCore
import MtorPlatform

/// Every task of the spool by where its spec is, to find what a `depends_on` name means and
/// where that task stands. Taken from directory listings; nothing in it is trusted beyond one turn.
struct TaskDirectory {
    /// Queued: the id each inbox/ file will get → its file name.
    private(set) var queued: [String: String] = [:]
    private(set) var claimed: Set<String> = []
    private(set) var done: Set<String> = []
    private(set) var failed: Set<String> = []
    /// The newest id `submit` made from each file-name slug (`parser` → `20261201T220000-parser-3f2a`).
    private var newestBySlug: [String: String] = [:]

    /// Lists claimed/, done/ and failed/; `inboxNames` are the inbox/ files (listed when nil).
    static func scan(_ spool: Spool, inboxNames: [String]? = nil) -> TaskDirectory {
        var d = TaskDirectory()
        func ids(_ dir: String) -> [String] {
            ((try? FileSystem.list(dir)) ?? []).filter { $0.hasSuffix(".md") && !TaskID.isTemporary($0) }.map { String($0.dropLast(3)) }
        }
        for name in inboxNames ?? ((try? FileSystem.list(spool.inbox)) ?? []) where name.hasSuffix(".md") && !TaskID.isTemporary(name) {
            d.queued[TaskID.from(fileName: name)] = name
        }
        d.claimed = Set(ids(spool.claimed))
        d.done = Set(ids(spool.done))
        d.failed = Set(ids(spool.failed))
        for id in Array(d.queued.keys) + Array(d.claimed) + Array(d.done) + Array(d.failed) {
            guard let slug = SpecName.slugPart(of: id) else { continue }
            if let other = d.newestBySlug[slug], other >= id { continue }
            d.newestBySlug[slug] = id
        }
        return d
    }

    func knows(_ id: String) -> Bool { queued[id] != nil || claimed.contains(id) || done.contains(id) || failed.contains(id) }

    /// The task a `depends_on` name means: a task id, the name of a file as dropped in inbox/, or
    /// the name of a file as it was submitted (`parser.md` or `parser`: the newest task `submit` made from it).
    func resolve(_ name: String) -> String? {
        let stem = name.hasSuffix(".md") ? String(name.dropLast(3)) : name
        for candidate in [stem, TaskID.from(fileName: stem + ".md")] where knows(candidate) { return candidate }
        return newestBySlug[SpecName.slug(stem)]
    }

    /// Where the task stands, for the scheduler: a failed one is read from its sidecar for its class.
    func state(of id: String, in spool: Spool) -> Scheduler.Dependency {
        if done.contains(id) { return .succeeded }
        if failed.contains(id) {
            guard let r = spool.result(id) else { return .failed("unknown") }
            if r.status == .succeeded { return .succeeded }
            return r.status == .cancelled ? .cancelled : .failed(r.class.rawValue)
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
