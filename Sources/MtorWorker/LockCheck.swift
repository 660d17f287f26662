import Foundation
import MtorCore
import MtorPlatform

/// `mtor lock check`: the env file, the lockfile and every script and unit in `etc/` agree.
public struct LockCheck {
    public struct Problem: Codable, Equatable, Sendable {
        public var file: String
        public var line: Int?
        public var message: String
        public var fix: String
    }

    /// Variables that carry credentials for some harness, beyond those the lockfile names.
    static let wellKnownAuth = ["ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "OPENAI_API_KEY", "GEMINI_API_KEY", "GOOGLE_API_KEY",
                                "DEEPSEEK_API_KEY", "MOONSHOT_API_KEY", "CLAUDE_CODE_OAUTH_TOKEN"]

    let settings: Settings

    public init(settings: Settings) { self.settings = settings }

    public func run() -> [Problem] {
        let lock = settings.lock
        let authUsed = Set(lock.providers.values.compactMap(\.authEnv))
        let secrets = Set(lock.providers.values.compactMap(\.secretEnv))
        var authUniverse = Set(LockCheck.wellKnownAuth)
        for h in lock.harnesses.values { authUniverse.formUnion((h.authHeaders ?? [:]).keys) }
        var problems: [Problem] = []
        // The env file holds secrets under secret_env names, never harness auth variables.
        if let path = settings.envPath {
            for a in settings.envFile.assignments where authUniverse.contains(a.key) && !secrets.contains(a.key) {
                problems.append(Problem(file: path, line: a.line,
                                        message: "sets \(a.key), a harness auth variable; mtor builds agent environments from scratch and "
                                            + "never passes it on",
                                        fix: "store the key under the provider's secret_env (\(secrets.sorted().joined(separator: ", "))) instead"))
            }
        }
        let etc = FileSystem.directory(of: settings.lockPath)
        for file in LockCheck.scripts(in: etc) where file != settings.lockPath && file != settings.envPath {
            guard let text = try? FileSystem.readText(file, limit: 1 << 20) else { continue }
            let short = file.hasPrefix(etc + "/") ? "etc/" + file.dropFirst(etc.count + 1) : file
            for (index, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
                let line = raw.trimmingCharacters(in: .whitespaces)
                if line.hasPrefix("#") { continue }
                for (variable, value) in LockCheck.assignments(in: line) where authUniverse.contains(variable) {
                    if let owner = lock.providers.first(where: { $0.value.secretEnv.map { value.contains($0) } ?? false }),
                       let want = owner.value.authEnv, want != variable {
                        problems.append(Problem(file: short, line: index + 1,
                                                message: "sets \(variable) from \(owner.value.secretEnv!), but the lockfile hands provider "
                                                    + "\(owner.key)'s secret to \(owner.value.harness) as \(want)",
                                                fix: "set \(want) instead of \(variable) (or better, let `mtor worker` build the environment)"))
                    } else if !authUsed.contains(variable) {
                        problems.append(Problem(file: short, line: index + 1,
                                                message: "sets \(variable), which no provider in the lockfile uses "
                                                    + "(\(authUsed.sorted().joined(separator: ", ")))",
                                                fix: "remove it, or set the auth_env the lockfile names"))
                    }
                }
                for variable in LockCheck.unsets(in: line) where authUsed.contains(variable) || secrets.contains(variable) {
                    problems.append(Problem(file: short, line: index + 1, message: "unsets \(variable), which the lockfile relies on",
                                            fix: "remove the unset"))
                }
                if short.hasSuffix(".service"), line.hasPrefix("EnvironmentFile=") {
                    problems.append(Problem(file: short, line: index + 1,
                                            message: "uses EnvironmentFile=, which silently ignores 'export KEY=...' lines and can drop a token",
                                            fix: "let the worker load the env file itself (--env-file)"))
                }
            }
        }
        return problems
    }

    /// Scripts, units and env-like files under `etc/`.
    static func scripts(in dir: String) -> [String] {
        var out: [String] = []
        for name in ((try? FileSystem.list(dir)) ?? []).sorted() where !name.hasPrefix(".") {
            let path = "\(dir)/\(name)"
            switch FileSystem.kind(path) {
            case .directory: out += scripts(in: path)
            case .regular:
                if name.hasSuffix(".json") || name.hasSuffix(".example") || name.hasSuffix(".md") { continue }
                out.append(path)
            default: break
            }
        }
        return out
    }

    /// `KEY=value`, `export KEY=value`, `Environment=KEY=value`, `Environment="KEY=value"`, `env KEY=value cmd`.
    static func assignments(in line: String) -> [(String, String)] {
        var out: [(String, String)] = []
        let tokens = line.replacingOccurrences(of: "Environment=", with: " ").replacingOccurrences(of: ";", with: " ")
            .split(whereSeparator: { $0 == " " || $0 == "\t" }).map { $0.trimmingCharacters(in: CharacterSet(charactersIn: "\"'")) }
        for token in tokens {
            guard let eq = token.firstIndex(of: "="), eq != token.startIndex else { continue }
            let key = String(token[..<eq])
            guard key.allSatisfy({ $0.isUppercase || $0.isNumber || $0 == "_" }), key.first?.isLetter == true else { continue }
            out.append((key, String(token[token.index(after: eq)...])))
        }
        return out
    }

    static func unsets(in line: String) -> [String] {
        let tokens = line.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == ";" }).map(String.init)
        guard let at = tokens.firstIndex(where: { $0 == "unset" || $0 == "-u" }) else { return [] }
        if tokens[at] == "-u" { return at + 1 < tokens.count ? [tokens[at + 1]] : [] }
        return tokens[(at + 1)...].filter { !$0.hasPrefix("-") }.prefix { $0.first?.isLetter == true || $0.first == "_" }.map { $0 }
    }
}
