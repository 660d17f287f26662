import Foundation
import MtorCore
import MtorPlatform

/// `mtor doctor`: real checks, each with a one-line explanation and the fix.
public struct Doctor {
    /// One finding.
    public struct Check: Codable, Sendable {
        public enum Status: String, Codable, Sendable { case ok, warn, fail }
        public var area: String
        public var name: String
        public var status: Status
        public var summary: String
        public var fix: String
        public var probe: ProviderProbe.Outcome?
    }

    public struct Report: Codable, Sendable {
        public var checks: [Check]
        public var ok: Bool { !checks.contains { $0.status == .fail } }
    }

    let settings: Settings
    let spool: Spool
    let probe: ProviderProbe

    public init(settings: Settings, spool: Spool, probe: ProviderProbe = ProviderProbe()) {
        self.settings = settings
        self.spool = spool
        self.probe = probe
    }

    /// Checks `only` that provider, or every provider (`all`), or by default the providers in use
    /// (the lockfile's `default` and every provider a queued spec or its `fallback` names).
    public func run(only provider: String? = nil, all: Bool = false) throws(WorkerError) -> Report {
        if let provider, settings.lock.providers[provider] == nil {
            var sentence = "no provider '\(provider)' in \(settings.lockPath)"
            if let near = Spelling.closest(to: provider, in: Array(settings.lock.providers.keys)) { sentence += "; did you mean '\(near)'?" }
            throw .notFound(sentence + " (known: \(settings.lock.providers.keys.sorted().joined(separator: ", ")))")
        }
        let providers = provider.map { [$0] } ?? (all ? settings.lock.providers.keys.sorted() : providersInUse())
        var checks: [Check] = []
        if provider == nil && !all {
            let skipped = settings.lock.providers.count - providers.count
            let checking = providers.isEmpty ? "no provider" : providers.joined(separator: ", ")
            let others = skipped > 0 ? "; \(skipped) other(s) in \(settings.lockPath) not checked (--all checks every one)" : ""
            checks.append(Check(area: "scope", name: "providers", status: .ok,
                summary: "checking \(checking) (the default and those queued specs name)\(others)", fix: ""))
        }
        // The default provider no queued spec uses yet (a fresh spool, an `sh`-only queue) is checked, but
        // what is wrong with it is a warning until a spec needs it: a spec with no 'provider' would.
        let queued = provider == nil && !all ? queuedProviders() : Set(providers)
        let idle = providers.filter { !queued.contains($0) }
        let idleHarnesses = Set(idle.compactMap { settings.lock.providers[$0]?.harness })
            .subtracting(queued.compactMap { settings.lock.providers[$0]?.harness })
        func soften(_ c: Check) -> Check {
            guard c.status == .fail else { return c }
            var c = c
            c.status = .warn
            c.summary += " (no queued spec uses it yet; a spec with no 'provider' would)"
            return c
        }
        for name in providers { checks += providerChecks(name).map { idle.contains(name) ? soften($0) : $0 } }
        let harnessNames = Set(providers.compactMap { settings.lock.providers[$0]?.harness })
        for name in harnessNames.sorted() { checks.append(idleHarnesses.contains(name) ? soften(harnessCheck(name)) : harnessCheck(name)) }
        checks.append(homeCheck())
        checks.append(sandboxCheck())
        checks.append(gitIdentityCheck(providers: providers))
        checks += envFileChecks()
        checks += LockCheck(settings: settings).run().map { Check(area: "lock", name: $0.file, status: .fail, summary: $0.message, fix: $0.fix) }
        checks += spoolChecks()
        checks += queuedRepoChecks()
        return Report(checks: checks)
    }

    // MARK: - Sandbox

    /// Whether agents can be sandboxed here (bubblewrap, tried for real), what it confines, and how to enable it.
    func sandboxCheck() -> Check {
        let found = Sandbox.findBwrap(searchPath: settings.processEnvironment["PATH"] ?? "/usr/bin:/bin")
        if let why = Sandbox.probe(bwrap: found) {
            return Check(area: "sandbox", name: "bwrap", status: .fail,
                         summary: "agents cannot be sandboxed on this host: \(why); the worker will not start agents unless started with "
                             + "--sandbox none",
                         fix: "install bubblewrap and allow unprivileged user namespaces (see README, Trust model); or run the worker with "
                             + "--sandbox none, and every agent sees what the worker sees")
        }
        return Check(area: "sandbox", name: "bwrap", status: .ok, summary: "agents run in \(WorkerOptions.sandboxSummary(bwrap: found))", fix: "")
    }

    // MARK: - Providers

    func providerChecks(_ name: String) -> [Check] {
        let p = settings.lock.providers[name]!
        guard let harness = settings.lock.harnesses[p.harness] else { return [] }
        var out: [Check] = []
        // A secret under a variable the harness would read, but not the one the lockfile names.
        if let authEnv = p.authEnv {
            for other in (harness.authHeaders ?? [:]).keys.sorted() where other != authEnv {
                if settings.envFile.values[other] != nil || settings.processEnvironment[other] != nil {
                    let setIn = settings.envFile.values[other] != nil ? settings.envPath ?? "env file" : "worker environment"
                    out.append(Check(area: "provider", name: name, status: .warn,
                        summary: "\(other) is set (\(setIn)), but provider \(name) hands its secret to \(p.harness) as \(authEnv); "
                            + "mtor never passes \(other) to agents",
                        fix: "remove \(other); put the key in \(p.secretEnv ?? "the secret variable") — or, if the provider needs \(other), "
                            + "set auth_env to \(other) in \(settings.lockPath)"))
                }
            }
        }
        guard p.baseURL != nil, let authEnv = p.authEnv else {
            out.append(Check(area: "provider", name: name, status: .ok,
                             summary: "no API behind this provider (harness \(p.harness)); nothing to call", fix: ""))
            return out
        }
        guard settings.secret(for: p) != nil else {
            let empty = settings.envFile.assignments.last(where: { $0.key == p.secretEnv && $0.value.isEmpty })
            let envFile = settings.envPath ?? "the env file"
            out.append(Check(area: "provider", name: name, status: .fail,
                summary: empty.map { "\($0.key) is empty in \(envFile) line \($0.line); an empty value counts as not set" }
                    ?? "\(p.secretEnv ?? "its secret variable") is not set in "
                        + "\(settings.envPath ?? "an env file (none found)") or the worker's environment",
                fix: "add \(p.secretEnv ?? "the key")=... to "
                    + "\(settings.envPath ?? FileSystem.directory(of: settings.lockPath) + "/mtor.env"), then \(reloadHint)"))
            return out
        }
        let api = p.api ?? "anthropic"
        let header = ProviderProbe.header(for: authEnv, harness: harness, api: api)
        // Both checked above, so the call is made.
        guard let outcome = settings.directCall(name, probe: probe, headerOverride: header) else { return out }
        let via = "\(header) from \(authEnv)"
        switch outcome.verdict {
        case .ok:
            out.append(Check(area: "provider", name: name, status: .ok,
                             summary: "answered in \(outcome.latencyMs) ms (\(via), model \(p.model ?? "-"))", fix: "", probe: outcome))
        case .auth:
            var fix = "check the key in \(p.secretEnv ?? "the env file")"
            let otherHeader = header == "x-api-key" ? "Authorization: Bearer" : "x-api-key"
            let otherVariable = (harness.authHeaders ?? [:]).first { ($0.value == "x-api-key") == (otherHeader == "x-api-key") }?.key
            let retry = settings.directCall(name, probe: probe, headerOverride: otherHeader) ?? outcome
            if retry.verdict == .ok || retry.verdict == .rate || retry.verdict == .quota {
                fix = "the same key works as "
                    + "\(otherHeader)\(otherVariable.map { ": set auth_env to \($0) for \(name) in \(settings.lockPath)" } ?? "")"
            } else if let otherVariable {
                fix += "; the provider also refused it as \(otherHeader) (\(otherVariable)), so the key itself is wrong"
            }
            out.append(Check(area: "provider", name: name, status: .fail,
                             summary: "auth: the provider refused the key sent as \(via) — \(outcome.detail)", fix: fix, probe: outcome))
        case .quota:
            out.append(Check(area: "provider", name: name, status: .fail, summary: "quota: plan or balance exhausted — \(outcome.detail)",
                             fix: "top up the account or move specs to a fallback provider", probe: outcome))
        case .rate:
            out.append(Check(area: "provider", name: name, status: .warn,
                             summary: "rate: the key works but is rate-limited right now — "
                                 + "\(outcome.detail)", fix: "lower concurrency for \(name) or wait", probe: outcome))
        case .config where ProviderProbe.probeMissing(outcome):
            out.append(Check(area: "provider", name: name, status: .fail, summary: "cannot call \(name): \(outcome.detail)",
                             fix: "install mtor-probe beside mtor (e.g. install -m755 .build/release/mtor-probe next to the mtor binary) or "
                                 + "point $MTOR_PROBE at it", probe: outcome))
        case .connection, .config:
            out.append(Check(area: "provider", name: name, status: .fail, summary: "connection: \(outcome.detail)",
                             fix: "check base_url in \(settings.lockPath) and the network from this machine", probe: outcome))
        }
        return out
    }

    func harnessCheck(_ name: String) -> Check {
        let h = settings.lock.harnesses[name]!
        let path = settings.baseEnvironment["PATH"] ?? ""
        guard let exe = ChildProcess.resolve(h.argv[0], searchPath: path) else {
            return Check(area: "harness", name: name, status: .fail, summary: "'\(h.argv[0])' is not on the agents' PATH (\(path))",
                         fix: "install \(name) or put its full path in argv[0] in \(settings.lockPath)")
        }
        let argv = h.versionArgv ?? [exe, "--version"]
        let version = (try? ChildProcess.run(argv, environment: settings.baseEnvironment, timeout: 20)).map {
            String(decoding: $0.stdout + $0.stderr, as: UTF8.self).split(separator: "\n").first.map(String.init) ?? ""
        } ?? ""
        return Check(area: "harness", name: name, status: .ok, summary: "\(exe)\(version.isEmpty ? "" : ": \(version)")", fix: "")
    }

    // MARK: - Env file and spool

    func envFileChecks() -> [Check] {
        guard let path = settings.envPath else {
            return [Check(area: "env", name: "env file", status: .warn,
                          summary: "no env file loaded; secrets come from the worker's own "
                              + "environment only", fix: "create \(FileSystem.directory(of: settings.lockPath))/mtor.env "
                              + "(etc/mtor.env.example in the repository shows its form), or pass --env-file FILE")]
        }
        var out: [Check] = []
        for a in settings.envFile.assignments {
            if let w = a.systemdWarning {
                let fix = a.exported ? "drop 'export' if any unit still uses EnvironmentFile= for this file" : "write \(a.key)=value without "
                    + "spaces around '='"
                out.append(Check(area: "env", name: "\(path):\(a.line)", status: .warn,
                                 summary: "\(a.key): \(w) (mtor reads it correctly itself)", fix: fix))
            }
            if a.value.isEmpty {
                out.append(Check(area: "env", name: "\(path):\(a.line)", status: .warn,
                                 summary: "\(a.key) is empty; an empty value counts as not set", fix: "give \(a.key) a value, or delete the line"))
            }
        }
        if let mode = FileSystem.mode(path), mode & 0o077 != 0 {
            out.append(Check(area: "env", name: path, status: .warn,
                             summary: "the env file holds secrets but is readable by others (mode "
                                 + "\(String(mode, radix: 8)))", fix: "chmod 600 \(path)"))
        }
        if out.isEmpty { out.append(Check(area: "env", name: path, status: .ok,
                                          summary: "\(settings.envFile.assignments.count) variable(s), all parsed and set", fix: "")) }
        return out
    }

    func spoolChecks() -> [Check] {
        var out: [Check] = []
        if let missing = missingSpoolCheck() {
            out.append(missing)
        } else {
            do {
                try spool.checkOneFilesystem()
                out.append(Check(area: "spool", name: spool.root, status: .ok, summary: "all directories on one filesystem", fix: ""))
            } catch {
                out.append(Check(area: "spool", name: spool.root, status: .fail, summary: error.description,
                                 fix: "create the spool with `mtor worker` once, on a single filesystem"))
            }
        }
        let limits = ["max_user_watches", "max_user_instances", "max_queued_events"].map { key -> String in
            let value = (try? FileSystem.readText("/proc/sys/fs/inotify/\(key)"))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "?"
            return "\(key)=\(value)"
        }
        let instancesText = (try? FileSystem.readText("/proc/sys/fs/inotify/max_user_instances")) ?? ""
        let instances = Int(instancesText.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 128
        out.append(Check(area: "inotify", name: "limits", status: instances < 8 ? .warn : .ok, summary: limits.joined(separator: " "),
                         fix: instances < 8 ? "sysctl fs.inotify.max_user_instances=128" : ""))
        if let free = FileSystem.freeBytes(FileSystem.exists(spool.root) ? spool.root : ".") {
            let mib = free >> 20
            let status: Check.Status = mib < 100 ? .fail : mib < 1024 ? .warn : .ok
            out.append(Check(area: "disk", name: spool.root, status: status, summary: "\(mib) MiB free",
                             fix: status == .ok ? "" : "free space: results and logs are written there"))
        }
        return out
    }
}
