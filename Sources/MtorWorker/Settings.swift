import Foundation
import MtorCore
import MtorPlatform

/// The lockfile and env file as the worker reads them at run time, and what they imply
/// for one agent process: argv, environment, secrets to redact.
public struct Settings: Sendable {
    public let lock: Lockfile
    public let lockPath: String
    public let envFile: EnvFile
    public let envPath: String?
    /// The worker's own environment (for the base variables and secrets not in the env file).
    public let processEnvironment: [String: String]
    public let redactor: Redactor

    /// One way to run a task: a provider (or none, for harnesses like `sh`) and its harness.
    public struct Target: Equatable, Sendable {
        public var providerName: String?
        public var provider: Lockfile.Provider?
        public var harnessName: String
        public var harness: Lockfile.Harness
        public var model: String?
    }

    public init(lock: Lockfile, lockPath: String, envFile: EnvFile, envPath: String?, processEnvironment: [String: String]) {
        self.lock = lock
        self.lockPath = lockPath
        self.envFile = envFile
        self.envPath = envPath
        self.processEnvironment = processEnvironment
        var secrets = envFile.assignments.map(\.value)
        for provider in lock.providers.values {
            if let name = provider.secretEnv, let value = processEnvironment[name] { secrets.append(value) }
        }
        redactor = Redactor(secrets: secrets)
    }

    /// Loads `providers` and the env file; `envPath` nil means `etc/mtor.env` next to the lockfile when it exists.
    /// `readEnv: false` reads no env file at all (a submitter's checks where the worker's secrets are not theirs to read).
    public static func load(providers: String, envPath: String?, readEnv: Bool = true,
                            processEnvironment: [String: String] = ProcessInfo.processInfo.environment) throws(WorkerError) -> Settings {
        let lockBytes: [UInt8]
        do {
            lockBytes = try FileSystem.read(providers, limit: 4 << 20)
        } catch {
            throw .environment("cannot read the providers lockfile \(providers): \(error)")
        }
        let lock: Lockfile
        do {
            lock = try Lockfile.parse(Data(lockBytes), file: providers)
        } catch {
            throw .environment(error.description)
        }
        var envFile = EnvFile(assignments: [])
        let defaultEnv = FileSystem.directory(of: providers) + "/mtor.env"
        let path = envPath ?? (FileSystem.exists(defaultEnv) ? defaultEnv : nil)
        if readEnv, let path {
            do {
                let text = try FileSystem.readText(path, limit: 1 << 20)
                envFile = try EnvFile.parse(text, file: path)
            } catch let error as EnvFileError {
                throw .environment(error.description)
            } catch {
                throw .environment("cannot read the env file \(path): \(error)")
            }
        }
        return Settings(lock: lock, lockPath: providers, envFile: envFile, envPath: path, processEnvironment: processEnvironment)
    }

    /// Providers whose entry, harness or secret differs from `old` (added and removed ones included).
    public func changedProviders(since old: Settings) -> Set<String> {
        let names = Set(lock.providers.keys).union(old.lock.providers.keys)
        return names.filter { name in
            guard let p = lock.providers[name], let q = old.lock.providers[name] else { return true }
            return p != q || lock.harnesses[p.harness] != old.lock.harnesses[q.harness] || secret(for: p) != old.secret(for: q)
        }
    }

    // MARK: - Targets

    /// The targets a spec may run on, in order: its provider, then its fallbacks.
    public func targets(for spec: Spec) throws(SpecError) -> [Target] {
        var names: [String?]
        if let p = spec.provider {
            names = [p]
        } else if let h = spec.harness, let harness = lock.harnesses[h], !harness.needsProvider {
            names = [nil]
        } else if let d = lock.default {
            names = [d]
        } else {
            throw .invalid(key: "provider", "the spec names no 'provider' and \(lockPath) has no 'default'")
        }
        names += spec.fallback.map { Optional($0) }
        var out: [Target] = []
        for name in names {
            var provider: Lockfile.Provider? = nil
            if let name {
                guard let p = lock.providers[name] else {
                    let key = name == spec.provider ? "provider" : "fallback"
                    var sentence = "'\(key)' names provider '\(name)', which is not in \(lockPath)"
                    if let near = Spelling.closest(to: name, in: Array(lock.providers.keys)) { sentence += "; did you mean '\(near)'?" }
                    else { sentence += " (known: \(lock.providers.keys.sorted().joined(separator: ", ")))" }
                    throw .invalid(key: key, sentence)
                }
                provider = p
            }
            let harnessName = spec.harness ?? provider?.harness ?? "sh"
            guard let harness = lock.harnesses[harnessName] else {
                throw .invalid(key: "harness",
                               "'harness' is '\(harnessName)', which is not in \(lockPath) (known: "
                                   + "\(lock.harnesses.keys.sorted().joined(separator: ", ")))")
            }
            out.append(Target(providerName: name, provider: provider, harnessName: harnessName, harness: harness,
                              model: spec.model ?? provider?.model))
        }
        return out
    }

    /// The argv for one run, placeholders filled in.
    public func argv(for target: Target, repo: String, promptFile: String?) -> [String] {
        target.harness.argv.map { arg in
            arg.replacingOccurrences(of: "{model}", with: target.model ?? "")
                .replacingOccurrences(of: "{base_url}", with: target.provider?.baseURL ?? "")
                .replacingOccurrences(of: "{repo}", with: repo)
                .replacingOccurrences(of: "{prompt_file}", with: promptFile ?? "")
        }
    }

    /// The agents' HOME (`~` in specs), "/" when the worker has none.
    public var home: String { processEnvironment["HOME"] ?? "/" }

    /// The minimal base every agent process gets; nothing else is inherited.
    public var baseEnvironment: [String: String] {
        let env = processEnvironment
        return [
            "PATH": env["PATH"] ?? "/usr/local/bin:/usr/bin:/bin",
            "HOME": home,
            "USER": env["USER"] ?? env["LOGNAME"] ?? "mtor",
            "LANG": env["LANG"] ?? "C.UTF-8",
            "TMPDIR": env["TMPDIR"] ?? "/tmp",
        ]
    }

    /// The secret for a provider: from the env file, else from the worker's own environment.
    public func secret(for provider: Lockfile.Provider) -> String? {
        guard let name = provider.secretEnv else { return nil }
        if let v = envFile.values[name], !v.isEmpty { return v }
        if let v = processEnvironment[name], !v.isEmpty { return v }
        return nil
    }

    /// The environment for one agent process, built from scratch: the base, the harness's
    /// and provider's variables, the base URL, and the secret under exactly `auth_env`.
    public func environment(for target: Target) throws(WorkerError) -> [String: String] {
        var env = baseEnvironment
        for (k, v) in target.harness.env ?? [:] { env[k] = v }
        guard let provider = target.provider else { return env }
        for (k, v) in provider.env ?? [:] { env[k] = v }
        if let urlEnv = target.harness.baseURLEnv, let url = provider.baseURL { env[urlEnv] = url }
        if let authEnv = provider.authEnv, let secretEnv = provider.secretEnv {
            guard let secret = secret(for: provider) else {
                throw .environment("provider '\(target.providerName ?? "")' reads its secret from \(secretEnv), which is not set in "
                    + "\(envPath ?? "the env file (none loaded)") or the worker's environment")
            }
            env[authEnv] = secret
        }
        return env
    }
}
