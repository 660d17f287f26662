import Foundation
import MtorCore
import MtorPlatform
import MtorWorker

/// What `validate` and `submit` check specs against: the worker's own lockfile, HOME and allow-list when
/// `state/worker.json` names them, else this shell's; and which checks cannot be made here, and why.
struct SpecChecks {
    var settings: Settings?
    var home: String
    var checkRepo: Bool
    var allowed: [String]
    /// Where the lockfile, HOME and allow-list came from, for the report.
    var basis: String
    /// Checks not made, each a sentence saying why.
    var skipped: [String] = []
    /// Whether the env file was read, so a provider's missing key can be told.
    var secretsKnown = true

    static func from(_ args: Arguments) throws(WorkerError) -> SpecChecks {
        let env = ProcessInfo.processInfo.environment
        let spool = Spool(root: args.spool)
        // state/worker.json, or on a shared spool the state file of a worker of this host (else the newest).
        let worker = spool.workerState()
        let lockPath = args.values["--providers"] ?? worker?.providers.flatMap { FileSystem.exists($0) ? $0 : nil } ?? args.providers
        var skipped: [String] = []
        var settings: Settings? = nil
        var readEnv = true
        if FileSystem.exists(lockPath) {
            let envPath = args.values["--env-file"] ?? worker?.envFile
            // A submitter in the worker's group may read the lockfile but not the worker's secrets (0600):
            // the checks need no key, so they go on without it and say so.
            let implied = envPath ?? FileSystem.directory(of: lockPath) + "/mtor.env"
            if args.values["--env-file"] == nil, FileSystem.exists(implied), access(implied, R_OK) != 0 {
                skipped.append("that provider keys are set: the env file \(implied) is readable only by the worker's account")
                readEnv = false
            }
            settings = try Settings.load(providers: lockPath, envPath: envPath, readEnv: readEnv)
        } else {
            skipped.append("provider, fallback and harness names: no lockfile at \(lockPath) (pass --providers FILE)")
        }
        let home = worker?.home ?? env["HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? "/"
        if worker?.home == nil, (try? WorkerOptions.usableHome(env)) == nil {
            skipped.append("'~' in repo: this shell has no usable HOME to expand it with")
        }
        let roots: (String) -> [String] = { $0.split(separator: ":").map(String.init) }
        var allowed = [home]
        if let flag = args.values["--allow-repos"] { allowed = roots(flag) }
        else if let fromWorker = worker?.allowedRepos { allowed = fromWorker }
        else if let fromEnv = env["MTOR_ALLOWED_REPOS"] { allowed = roots(fromEnv) }
        let checkRepo = !args.flags.contains("--no-repo-check")
        if !checkRepo { skipped.append("that repo exists and is a git work tree: --no-repo-check") }
        let list = allowed.joined(separator: ":")
        let origin = worker.map { "the settings of the worker (pid \($0.pid) on \($0.host)) in "
            + "\(spool.singleWorkerState()?.pid == $0.pid ? spool.state + "/worker.json" : spool.workerFile(host: $0.host, pid: $0.pid))" }
            ?? "this shell's HOME\(args.values["--allow-repos"] == nil && env["MTOR_ALLOWED_REPOS"] == nil ? " (the worker's default allow-list too)" : ""); no worker has run on \(spool.root), so one with another HOME or --allow-repos may decide otherwise"
        let basis = "with lockfile \(settings?.lockPath ?? "none"), HOME \(home) and allow-list \(list), from \(origin)"
        var checks = SpecChecks(settings: settings, home: home, checkRepo: checkRepo, allowed: allowed, basis: basis, skipped: skipped)
        checks.secretsKnown = readEnv
        return checks
    }
}

/// The verdict on a list of spec files, shared by `validate` and `submit`.
struct SpecReport: Codable {
    struct Entry: Codable {
        var file: String
        var valid: Bool
        var `class`: String?
        var error: String?
        var repo: String?
        var provider: String?
        var harness: String?
        /// Valid, but the worker holds its provider as unhealthy: it will wait in inbox/.
        var warning: String?
    }

    var entries: [Entry]
    var basis: String?
    var notChecked: [String]?
    var allValid: Bool { entries.allSatisfy(\.valid) }

    enum CodingKeys: String, CodingKey { case entries, basis, notChecked = "not_checked" }

    static func check(_ files: [String], _ checks: SpecChecks) -> SpecReport {
        SpecReport(entries: files.map { entry(for: $0, checks) }, basis: checks.basis, notChecked: checks.skipped)
    }

    /// The worker's checks, in its order: parse, repo, providers, then the allow-list.
    static func entry(for file: String, _ checks: SpecChecks) -> Entry {
        let bytes: [UInt8]
        do {
            bytes = try FileSystem.read(file, limit: Spec.maxBytes)
        } catch {
            let why = error.errno == EFBIG ? "the spec is larger than 1 MiB" : "\(error)"
            return Entry(file: file, valid: false, class: FailureClass.specInvalid.rawValue, error: why)
        }
        do {
            let (spec, targets) = try SpecCheck.check(bytes, home: checks.home, settings: checks.settings, checkRepo: checks.checkRepo)
            try SpecCheck.boundary(spec, allowed: checks.allowed)
            return Entry(file: file, valid: true, repo: spec.repo, provider: targets.first?.providerName ?? spec.provider,
                         harness: targets.first?.harnessName ?? spec.harness)
        } catch {
            return Entry(file: file, valid: false, class: error.failureClass.rawValue, error: error.description)
        }
    }

    /// Marks valid specs identical (same repo, provider and prompt) to one queued or running in `spool` as
    /// duplicates, as the worker would refuse them, naming the original and `mtor submit --force`.
    mutating func refuseDuplicates(_ spool: Spool, _ checks: SpecChecks) {
        guard let settings = checks.settings, entries.contains(where: \.valid) else { return }
        let active = ActiveSpecs.twins(spool, settings: settings, home: checks.home)
        guard !active.isEmpty else { return }
        for i in entries.indices where entries[i].valid {
            guard let bytes = try? FileSystem.read(entries[i].file, limit: Spec.maxBytes),
                  let spec = try? Spec.parse(bytes, home: checks.home), spec.dedup,
                  let target = (try? settings.targets(for: spec))?.first,
                  let twins = active[spec.fingerprint(provider: target.providerName ?? "harness:" + target.harnessName)],
                  let original = ActiveSpecs.original(among: twins) else { continue }
            entries[i].valid = false
            entries[i].class = FailureClass.duplicate.rawValue
            entries[i].error = Scheduler.Refusal.duplicate(of: original, window: 0).sentence
        }
    }

    /// Marks valid specs whose provider the spool's worker holds as unhealthy (state/providers.json).
    mutating func warnUnhealthy(_ spool: Spool) {
        guard let providers = spool.providerHealth() else { return }
        let sick = Dictionary(providers.filter { $0.state == .unhealthy }.map { ($0.provider, $0) }, uniquingKeysWith: { a, _ in a })
        for i in entries.indices where entries[i].valid {
            guard let p = entries[i].provider, let e = sick[p] else { continue }
            entries[i].warning = "the worker holds provider \(p) as unhealthy "
                + "(\(e.class?.rawValue ?? "?"): \(e.reason ?? ""))\(e.hint.map { $0.isEmpty ? "" : "; hint: \($0)" } ?? ""); the spec stays "
                + "queued until the provider passes its next preflight\(e.nextProbeAt.map { " (at \($0))" } ?? "")"
        }
    }

    /// Marks valid specs that will wait: the spool or their provider paused (`mtor pause`), or their
    /// provider's key missing from the worker's env file (a spec with no `provider:` runs on the default).
    mutating func warnWaits(_ spool: Spool, _ checks: SpecChecks) {
        let pauses = PauseMarker.all(spool)
        for i in entries.indices where entries[i].valid {
            var said: [String] = []
            if let all = pauses.first(where: { $0.provider == nil }) {
                said.append("the spool is \(all.sentence): the spec waits in inbox/ until `mtor resume`")
            }
            if let p = entries[i].provider, let m = pauses.first(where: { $0.provider == p }) {
                said.append("provider \(p) is \(m.sentence): the spec waits in inbox/ until `mtor resume --provider \(p)`")
            }
            if checks.secretsKnown, let settings = checks.settings, let name = entries[i].provider, let provider = settings.lock.providers[name],
               let secretEnv = provider.secretEnv, settings.secret(for: provider) == nil {
                let how = entries[i].file.isEmpty ? "" : (specNamesProvider(entries[i].file, checks) ? "" : " (the spec names no 'provider', "
                    + "so it runs on the lockfile's default)")
                said.append("provider \(name)\(how) reads its key from \(secretEnv), which is not set in "
                    + "\(settings.envPath ?? "the env file (none found)") or the worker's environment: the worker cannot run it until the "
                    + "key is there")
            }
            guard !said.isEmpty else { continue }
            entries[i].warning = ([entries[i].warning].compactMap { $0 } + said).joined(separator: "; ")
        }
    }

    /// Marks valid specs whose `depends_on` names a task the spool does not know (queued, running or
    /// finished) and no spec of this batch is named after: the worker would wait `--dependency-timeout` for it.
    mutating func warnUnknownDependencies(_ spool: Spool, _ checks: SpecChecks) {
        let batch = Set(entries.map { SpecName.slug(FileSystem.basename(of: $0.file).hasSuffix(".md") ? String(FileSystem.basename(of: $0.file).dropLast(3)) : FileSystem.basename(of: $0.file)) })
        for i in entries.indices where entries[i].valid {
            guard let bytes = try? FileSystem.read(entries[i].file, limit: Spec.maxBytes),
                  let spec = try? Spec.parse(bytes, home: checks.home) else { continue }
            let unknown = spec.dependsOn.filter { dep in
                TaskNames.resolve(dep, in: spool) == nil && !batch.contains(SpecName.slug(dep.hasSuffix(".md") ? String(dep.dropLast(3)) : dep))
            }
            guard !unknown.isEmpty else { continue }
            let said = "'depends_on' names \(unknown.map { "'\($0)'" }.joined(separator: ", ")), which no task in \(spool.root) has (queued, "
                + "running or finished): the spec would wait for it until the worker's --dependency-timeout (default 24 h); check the name, "
                + "or submit that task first"
            entries[i].warning = ([entries[i].warning].compactMap { $0 } + [said]).joined(separator: "; ")
        }
    }

    private func specNamesProvider(_ file: String, _ checks: SpecChecks) -> Bool {
        guard let bytes = try? FileSystem.read(file, limit: Spec.maxBytes), let spec = try? Spec.parse(bytes, home: checks.home) else { return true }
        return spec.provider != nil
    }

    /// The warnings of valid specs, one line each, on stderr.
    func printWarnings() {
        for e in entries where e.valid { if let w = e.warning { Output.error("warning: \(e.file): \(w)") } }
    }

    func print(json: Bool) {
        if json { return Output.json(self) }
        for e in entries {
            if e.valid {
                let runs = e.harness.map { h in e.provider.map { "provider \($0), harness \(h)" } ?? "harness \(h), no provider" } ?? "provider \(e.provider ?? "default"), not checked"
                Swift.print("ok      \(e.file) (repo \(e.repo ?? "?"), \(runs))")
                if let w = e.warning { Swift.print("        warning: \(w)") }
            }
            else { Swift.print("invalid \(e.file): \(e.class ?? ""): \(e.error ?? "")") }
        }
        if let basis { Swift.print("checked \(basis)") }
        for s in notChecked ?? [] { Swift.print("not checked: \(s)") }
    }
}
