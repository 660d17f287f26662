import Foundation
import MtorCore
import MtorPlatform

// MARK: - Which providers, HOME, git identity, the spool, and how to reload

extension Doctor {
    /// The providers worth checking: the lockfile's `default` and every provider a queued or running
    /// spec names, directly or in its `fallback`. Specs that cannot be read are skipped here
    /// (the worker fails them with their own reason).
    func providersInUse() -> [String] {
        (queuedProviders().union([settings.lock.default].compactMap { $0 })).filter { settings.lock.providers[$0] != nil }.sorted()
    }

    /// The providers (and fallbacks) the specs in inbox/ and claimed/ run on.
    func queuedProviders() -> Set<String> {
        var names = Set<String>()
        let home = settings.home
        for dir in [spool.inbox, spool.claimed] {
            for name in (try? FileSystem.list(dir)) ?? [] where name.hasSuffix(".md") && !TaskID.isTemporary(name) {
                guard let bytes = try? FileSystem.read("\(dir)/\(name)", limit: Spec.maxBytes),
                      let spec = try? Spec.parse(bytes, home: home), let targets = try? settings.targets(for: spec) else { continue }
                names.formUnion(targets.compactMap(\.providerName))
            }
        }
        return names
    }

    /// `~` in specs expands to the worker's HOME, which must be an existing directory.
    func homeCheck() -> Check {
        let env = settings.processEnvironment
        do {
            let home = try WorkerOptions.usableHome(env)
            return Check(area: "home", name: "HOME", status: .ok,
                         summary: "~ expands to \(home), an existing directory; each agent gets a HOME of its own holding a copy of this "
                             + "user's git identity", fix: "")
        } catch {
            return Check(area: "home", name: "HOME", status: .fail, summary: error.description,
                         fix: "systemd: set User= in the unit (see etc/mtor-worker.service); a shell: export HOME=/home/USER")
        }
    }

    /// Agents commit with git: an identity must be visible in the environment they get
    /// (their HOME's git config, the system's, or GIT_AUTHOR_*/GIT_COMMITTER_* in the lockfile's env).
    func gitIdentityCheck(providers: [String]) -> Check {
        let lockEnv = providers.compactMap { settings.lock.providers[$0] }.flatMap { p in
            Array((p.env ?? [:]).keys) + Array((settings.lock.harnesses[p.harness]?.env ?? [:]).keys)
        }
        if ["GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL"].allSatisfy(lockEnv.contains) {
            return Check(area: "git", name: "identity", status: .ok,
                         summary: "GIT_AUTHOR_* and GIT_COMMITTER_* are set in \(settings.lockPath)", fix: "")
        }
        let env = settings.baseEnvironment
        let home = env["HOME"] ?? "/"
        guard let git = ChildProcess.resolve("git", searchPath: env["PATH"] ?? "") else {
            return Check(area: "git", name: "identity", status: .fail, summary: "git is not on the agents' PATH (\(env["PATH"] ?? ""))",
                         fix: "install git on the worker")
        }
        func value(_ key: String) -> String {
            guard let r = try? ChildProcess.run([git, "config", "--get", key], environment: env, directory: "/", timeout: 10) else { return "" }
            return String(decoding: r.stdout, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        }
        let (name, email) = (value("user.name"), value("user.email"))
        guard !name.isEmpty, !email.isEmpty else {
            let missing = [name.isEmpty ? "user.name" : nil, email.isEmpty ? "user.email" : nil].compactMap { $0 }.joined(separator: " and ")
            return Check(area: "git", name: "identity", status: .fail,
                         summary: "git sees no \(missing) for the worker's user (HOME=\(home)), whose identity each agent's HOME copies: "
                             + "agents' commits fail with 'Author identity unknown' unless the repository sets one",
                         fix: "as the worker's user: git config --global user.name 'NAME' && git config --global user.email 'EMAIL' (or set "
                             + "GIT_AUTHOR_NAME, GIT_AUTHOR_EMAIL, GIT_COMMITTER_NAME, GIT_COMMITTER_EMAIL in the provider's env in "
                             + "\(settings.lockPath))")
        }
        return Check(area: "git", name: "identity", status: .ok, summary: "agents commit as \(name) <\(email)> (HOME=\(home))", fix: "")
    }

    /// A missing spool is fine when the worker can create it.
    func missingSpoolCheck() -> Check? {
        guard !FileSystem.exists(spool.root) else { return nil }
        var parent = FileSystem.directory(of: spool.root)
        while !FileSystem.exists(parent), parent != "/" { parent = FileSystem.directory(of: parent) }
        if access(parent, W_OK) == 0 {
            return Check(area: "spool", name: spool.root, status: .ok,
                         summary: "does not exist yet; the worker will create it (\(parent) is writable)", fix: "")
        }
        return Check(area: "spool", name: spool.root, status: .fail,
                     summary: "does not exist, and the worker cannot create it: \(parent) is not writable",
                     fix: "create it as root and chown it to the worker's user, or pass --spool DIR")
    }

    /// How to make a running worker re-read its settings, as this machine runs it.
    var reloadHint: String {
        let units = ["/etc/systemd/system/mtor-worker.service", "/lib/systemd/system/mtor-worker.service",
                     "/usr/lib/systemd/system/mtor-worker.service"]
        if units.contains(where: FileSystem.exists) { return "`systemctl reload mtor-worker` (SIGHUP)" }
        let here = FileSystem.hostName()
        if let state = spool.publishedStates().first(where: { $0.exitedAt == nil && $0.host == here && ProcessControl.isAlive($0.pid) }) {
            return "send SIGHUP to the worker: kill -HUP \(state.pid)"
        }
        return "start the worker (none is running on \(spool.root) now)"
    }
}
