import Foundation
import MtorCore
import MtorPlatform

/// Which queued specs name a repo this host lacks, and whether to leave them for another host.
///
/// Hosts sharing a spool each need the repos the specs name. A host without a spec's repo leaves
/// it in inbox/ while another live worker may have it (every worker says in its state file which
/// specs it lacks); when every live worker lacks it, it fails as `workdir_missing`, as on one host.
struct RepoPresence {
    /// inbox/ file name → the repo it names, missing on this host.
    private var lacking: [String: String] = [:]

    /// Whether `name`'s repo is here and, when it is not, which other live workers may have it
    /// (`Scheduler.place` leaves it to them, or, when there are none, lets it fail here).
    mutating func evidence(_ name: String, spec: Spec, spool: Spool, host: String, pid: Int32) -> Scheduler.RepoEvidence {
        do {
            try SpecCheck.repo(spec)
            lacking[name] = nil
            return .here
        } catch {
            lacking[name] = spec.repo
        }
        let others = spool.workerStates(patience: 0.5).filter { !($0.host == host && $0.pid == pid) && Spool.isAlive($0) }
        let able = others.filter { $0.missingRepos?[name] == nil }
        return .missing(repo: spec.repo, host: host, able: able.map(\.host).uniqued())
    }

    /// What this worker lacks now, for its state file (names no longer in inbox/ are dropped).
    mutating func current(_ spool: Spool) -> [String: String] {
        lacking = lacking.filter { FileSystem.exists("\(spool.inbox)/\($0.key)") }
        return lacking
    }

    /// `status` lines: which queued specs name a repo some live hosts lack.
    static func notes(_ live: [WorkerState], spool: Spool) -> [String] {
        var hosts: [String: (repo: String, hosts: [String])] = [:]
        for s in live {
            for (name, repo) in s.missingRepos ?? [:] where FileSystem.exists("\(spool.inbox)/\(name)") {
                hosts[name, default: (repo, [])].hosts.append(s.host)
            }
        }
        return hosts.sorted { $0.key < $1.key }.prefix(20).map { name, v in
            "inbox/\(name): repo \(v.repo) is missing on \(v.hosts.uniqued().sorted().joined(separator: ", ")); "
                + "it waits for a host that has it (clone it there, or fix 'repo:')"
        }
    }
}

extension Doctor {
    /// Every repo a queued spec names must exist on this host (on a shared spool, each host needs them).
    func queuedRepoChecks() -> [Check] {
        let home = settings.home
        var missing: [String: [String]] = [:]
        var named = Set<String>()
        for name in ((try? FileSystem.list(spool.inbox)) ?? []).sorted() where name.hasSuffix(".md") && !TaskID.isTemporary(name) {
            guard let bytes = try? FileSystem.read("\(spool.inbox)/\(name)", limit: Spec.maxBytes),
                  let spec = try? Spec.parse(bytes, home: home) else { continue }
            named.insert(spec.repo)
            do { try SpecCheck.repo(spec) } catch { missing[spec.repo, default: []].append(name) }
        }
        guard !named.isEmpty else { return [] }
        if missing.isEmpty {
            return [Check(area: "repos", name: "queued", status: .ok,
                          summary: "all \(named.count) repo(s) named by queued specs exist on \(FileSystem.hostName())", fix: "")]
        }
        return missing.sorted { $0.key < $1.key }.map { repo, specs in
            Check(area: "repos", name: repo, status: .warn,
                  summary: "\(specs.count) queued spec(s) name \(repo), which is not a git work tree on \(FileSystem.hostName()) "
                      + "(\(specs.prefix(3).joined(separator: ", "))\(specs.count > 3 ? ", …" : "")); this host leaves them to others",
                  fix: "clone it here (git clone URL \(repo)) so this host can run them, or fix their 'repo:'")
        }
    }
}

extension Array where Element: Hashable {
    /// The elements in order, each once.
    func uniqued() -> [Element] {
        var seen = Set<Element>()
        return filter { seen.insert($0).inserted }
    }
}
