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

    /// The one rule for what a task's name means, in `depends_on` and on every command line
    /// (show, logs, wait, cancel, retry, merge): the task with that id — an id names one task for
    /// good (CONTRACT §2: a colliding name gets a suffix, and `depends_on` lists ids), so a re-dropped
    /// `hello.md`, claimed as `hello-2`, never takes over the name `hello`; else the id a file of that
    /// name dropped in inbox/ gets (`my task (1)` → `my-task--1-`); else the newest task `submit`
    /// made from a file of that name (`parser.md` or `parser` → `20261201T220000-parser-3f2a`).
    func resolve(_ name: String) -> String? {
        let stem = name.hasSuffix(".md") ? String(name.dropLast(3)) : name
        for candidate in [stem, TaskID.from(fileName: stem + ".md")] where knows(candidate) { return candidate }
        return newestBySlug()[SpecName.slug(stem)]
    }

    /// The tasks other than `chosen` that came from a file of the same name as `name` (a re-dropped
    /// `hello.md` claimed as `hello-2`, a queued one not claimed yet, the tasks `submit` made from
    /// `hello.md`), each with where it stands; for `show` and `wait` to say the name is ambiguous.
    func namesakes(of name: String, chosen: String, in spool: Spool) -> [TaskNames.Namesake] {
        let stem = name.hasSuffix(".md") ? String(name.dropLast(3)) : name
        let base = TaskID.from(fileName: stem + ".md"), slug = SpecName.slug(stem)
        var out: [TaskNames.Namesake] = []
        // A file of this name waiting in inbox/ while a task of its id already ran: a new task to be.
        if let file = queued[base], claimed.contains(base) || done.contains(base) || failed.contains(base) {
            out.append(.init(id: "inbox/\(file)", state: "queued; claimed as \(spool.freeID(for: base)) unless that is taken first"))
        }
        for id in Set(queued.keys).union(claimed).union(done).union(failed).sorted() where id != chosen {
            if id == base || id == stem || SpecName.slugPart(of: id) == slug {
                out.append(.init(id: id, state: standing(id)))
            } else if id.hasPrefix(base + "-"), id.dropFirst(base.count + 1).allSatisfy(\.isNumber) {
                // `hello-2` is hello.md's only when its claim or sidecar says it was dropped as hello.md.
                let file = queued[id] ?? spool.claim(id)?.file ?? spool.result(id)?.spec.file
                if let file, TaskID.from(fileName: file) == base { out.append(.init(id: id, state: standing(id))) }
            }
        }
        return out
    }

    private func standing(_ id: String) -> String {
        if done.contains(id) { return "succeeded" }
        if failed.contains(id) { return "failed" }
        if claimed.contains(id) { return "running" }
        return "queued"
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
    /// Another task a name could have meant, and where it stands.
    public struct Namesake: Equatable, Sendable {
        public var id: String
        public var state: String
    }

    /// The task `name` means (`TaskDirectory.resolve`: its id, else a dropped file's id, else the
    /// newest task submitted from a file of that name); nil when no task queued, running or finished has it.
    public static func resolve(_ name: String, in spool: Spool) -> String? {
        let stem = name.hasSuffix(".md") ? String(name.dropLast(3)) : name
        // The rule's first step without listing the spool: a task with that very id.
        if TaskID.isValid(stem), spool.locate(stem) != nil { return stem }
        return TaskDirectory.scan(spool).resolve(name)
    }

    /// The task `name` means and the other tasks made from a file of that name (empty unless ambiguous).
    public static func match(_ name: String, in spool: Spool) -> (id: String, others: [Namesake])? {
        let directory = TaskDirectory.scan(spool)
        guard let id = directory.resolve(name) else { return nil }
        return (id, directory.namesakes(of: name, chosen: id, in: spool))
    }

    /// One line saying which task `name` was taken to mean and which others it could have meant; nil when it names one.
    public static func ambiguity(_ name: String, in spool: Spool) -> String? {
        guard let m = match(name, in: spool), !m.others.isEmpty else { return nil }
        let stem = name.hasSuffix(".md") ? String(name.dropLast(3)) : name
        let why = m.id == stem ? "the task with that id" : (SpecName.slugPart(of: m.id) != nil ? "the newest task submitted from \(stem).md" : "the task \(stem).md became")
        let list = m.others.map { "\($0.id) (\($0.state))" }.joined(separator: ", ")
        return "note: '\(name)' is taken to mean \(m.id), \(why); \(m.others.count == 1 ? "another task" : "\(m.others.count) other tasks") came from a file named \(stem).md: \(list) — name one by its id to see it"
    }
}
