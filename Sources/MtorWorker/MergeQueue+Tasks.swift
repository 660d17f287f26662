import Foundation
import MtorCore
import MtorPlatform

/// `mtor merge ID... | --all | --resolve ID`: finished tasks through the merge queue, one line each.
extension MergeQueue {
    /// What happened to one named task.
    public struct Line: Codable, Sendable {
        public var id: String
        /// `landed`, `conflict`, `verify_failed`, `skipped`, or `queued` (a follow-up was queued).
        public var state: String
        public var reason: String
        /// The task whose branch was merged in its place (its follow-up), when not itself.
        public var via: String? = nil
        public var commits: [String]? = nil
        public var files: [String]? = nil
        public var verifyTail: String? = nil
        public var followUp: String? = nil
        enum CodingKeys: String, CodingKey {
            case id, state, reason, via, commits, files, verifyTail = "verify_tail", followUp = "follow_up"
        }
    }

    /// Every task in done/ with its sidecar.
    public static func finished(_ spool: Spool) -> [TaskResult] {
        let names = (try? FileSystem.list(spool.done)) ?? []
        return names.filter { $0.hasSuffix(".result.json") && !$0.hasPrefix(".") }.compactMap { name in
            guard let bytes = try? FileSystem.read("\(spool.done)/\(name)", limit: 16 << 20) else { return nil }
            return try? JSONDecoder().decode(TaskResult.self, from: Data(bytes))
        }
    }

    /// How many tasks are in each merge state (`landed`, `conflict`, ...), from the merge records alone.
    public static func stateCounts(_ spool: Spool) -> [String: Int] {
        var counts: [String: Int] = [:]
        for name in (try? FileSystem.list(spool.done)) ?? [] where name.hasSuffix(".merge.json") && !name.hasPrefix(".") {
            if let r = spool.mergeRecord(String(name.dropLast(".merge.json".count))) { counts[r.state.rawValue, default: 0] += 1 }
        }
        return counts
    }

    /// `--all`: what is ready to land, in finish order.
    public static func ready(_ spool: Spool, repo: String?) -> [TaskResult] {
        let results = finished(spool)
        var records: [String: MergeRecord] = [:]
        for r in results { records[r.id] = spool.mergeRecord(r.id) }
        return MergePlan.pending(results, records: records, repo: repo)
    }

    /// Lands task `id` (or the follow-up that replaced it), writing its merge record unless a dry run.
    public func merge(_ id: String, spool: Spool) -> Line {
        guard var result = spool.result(id) else {
            return Line(id: id, state: "skipped", reason: "no finished task '\(id)' in \(spool.root); `mtor status` lists tasks")
        }
        var via: String? = nil
        if let record = spool.mergeRecord(id), let next = record.followUp {
            guard let follow = spool.result(next), follow.status == .succeeded else {
                return Line(id: id, state: "skipped", reason: "its follow-up \(next) has not succeeded yet; `mtor show \(next)`", followUp: next)
            }
            result = follow
            via = next
        }
        if let record = spool.mergeRecord(result.id), record.state == .landed {
            return Line(id: id, state: "landed", reason: "already landed at \(record.commit?.prefix(10) ?? "?") (\(record.at))", via: via,
                        commits: [])
        }
        let (candidate, why) = Candidate.from(result, replacing: MergePlan.origin(of: result).flatMap { spool.result($0) })
        guard let candidate else { return Line(id: id, state: "skipped", reason: "task \(result.id): \(why ?? "cannot be merged")", via: via) }
        let record = land(candidate, spool: spool)
        var line = Line(id: id, state: record.state.rawValue, reason: record.reason, via: via, commits: record.commits, files: record.files,
                        verifyTail: record.state == .verifyFailed ? record.verify.map { String($0.outputTail.suffix(600)) } : nil)
        // `on_conflict: agent`: the follow-up is queued at once (never for a follow-up itself).
        if record.state == .conflict, !setup.dryRun, MergePlan.origin(of: result) == nil,
           let text = try? FileSystem.readText(spool.spec(in: spool.done, result.id), limit: Spec.maxBytes), let spec = try? Frontmatter.split(text),
           spec.entries.contains(where: { $0.key == "on_conflict" && $0.text == WorkSettings.OnConflict.agent.rawValue }) {
            line.followUp = queueFollowUp(spec, candidate: candidate, record: record, spool: spool)
        }
        return line
    }

    /// `--resolve ID`: queues a follow-up of a conflicted task on the same provider, from the base
    /// as it is now, with the original prompt and the conflict as context; the origin's record names it.
    public func resolve(_ id: String, spool: Spool) -> Line {
        guard let result = spool.result(id), let record = spool.mergeRecord(id) else {
            return Line(id: id, state: "skipped", reason: "task \(id) has no merge record; run `mtor merge \(id)` first")
        }
        guard record.state == .conflict, let files = record.files else {
            return Line(id: id, state: "skipped", reason: "task \(id) is \(record.state.rawValue), not in conflict: nothing to resolve")
        }
        if let existing = record.followUp { return Line(id: id, state: "skipped", reason: "its follow-up \(existing) is already queued",
                                                        followUp: existing) }
        guard let c = Candidate.from(result).0, let base = c.base else { return Line(id: id, state: "skipped",
                                                                                     reason: "task \(id) names no base branch") }
        guard let text = try? FileSystem.readText(spool.spec(in: spool.done, id),
                                                  limit: Spec.maxBytes), let spec = try? Frontmatter.split(text) else {
            return Line(id: id, state: "skipped", reason: "the spec of \(id) in done/ cannot be read")
        }
        guard let queued = queueFollowUp(spec, candidate: c, record: record, spool: spool) else {
            return Line(id: id, state: "skipped", reason: "could not queue a follow-up of \(id) (inbox/ is not writable)")
        }
        return Line(id: id, state: "queued",
                    reason: "follow-up \(queued) queued from \(base) with the conflict in \(files.joined(separator: ", "))", followUp: queued)
    }

    /// Queues the follow-up of conflicted task `c` (spec `spec`) and records it in the origin's merge
    /// record, under the repository's lock; returns its id.
    public func queueFollowUp(_ spec: Frontmatter, candidate c: Candidate, record: MergeRecord, spool: Spool) -> String? {
        guard let base = c.base, let files = record.files else { return nil }
        return locked(c.repo) { () -> String? in
            let sides = conflictSides(repo: c.repo, base: base, headAfter: c.headAfter, files: files)
            let prompt = MergePlan.followUpPrompt(original: spec.body, id: c.id, base: base, files: files, sides: sides)
            let follow = spool.freeID(for: String("\(c.id)-resolve".prefix(100)))
            let bytes = Array(Self.followUpSpec(spec, repo: c.repo, base: base, origin: c.id, prompt: prompt).utf8)
            let staged = "\(spool.tmp)/.\(follow).md.\(ProcessControl.pid).part"
            do {
                try FileSystem.makeDirectories(spool.tmp)
                try FileSystem.writeAtomically(bytes, to: staged, mode: 0o644)
                try FileSystem.renameNoReplace(staged, spool.spec(in: spool.inbox, follow))
            } catch {
                FileSystem.remove(staged)
                return nil
            }
            var updated = record
            updated.followUp = follow
            try? spool.writeMergeRecord(updated)
            return follow
        } ?? nil
    }

    /// Keys of the original spec a follow-up keeps; `repo:` (absolute), `base:` and the origin are its own.
    static let keptKeys: Set<String> = ["provider", "fallback", "harness", "model", "timeout", "stall", "retries", "verify", "setup", "expect",
                                        "integrate", "memory", "priority", "on_conflict", "copy", "paths", "title"]

    /// The follow-up's spec text.
    static func followUpSpec(_ original: Frontmatter, repo: String, base: String, origin: String, prompt: String) -> String {
        func quoted(_ s: String) -> String {
            let data = (try? JSONEncoder().encode(s)) ?? Data("\"\"".utf8)
            return String(decoding: data, as: UTF8.self)
        }
        var lines = ["---", "repo: \(quoted(repo))", "base: \(quoted(base))", "\(MergePlan.originKey): \(quoted(origin))"]
        for e in original.entries where keptKeys.contains(e.key) {
            switch e.value {
            case .integer, .float, .boolean: lines.append("\(e.key): \(e.text ?? "")")
            case .string(let text): lines.append("\(e.key): \(quoted(text))")
            case .list(let items):
                let words = items.compactMap { if case .string(let w) = $0 { return quoted(w) } else { return nil } }
                if words.count == items.count { lines.append("\(e.key): [\(words.joined(separator: ", "))]") }
            case .null, .map: continue
            }
        }
        lines.append("---")
        return lines.joined(separator: "\n") + "\n" + prompt
    }
}
