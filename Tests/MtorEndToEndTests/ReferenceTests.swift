import Foundation
import Testing
@testable import MtorCore
import MtorWorker
@testable import mtor

/// The reference (`mtor help TOPIC`, README's Reference section) is complete: every spec key, class,
/// sidecar field, lockfile key, spool directory, exit code and command in the code has its entry.
/// When one of these tests fails after you added something, document it in MtorCore/Reference*.swift
/// and regenerate README's section with `mtor help --markdown`.
@Suite("The reference is complete and README carries it")
struct ReferenceTests {
    @Test("every spec key the parser accepts is documented, with its default")
    func specKeys() {
        for key in Spec.knownKeys {
            #expect(Reference.spec.row(key) != nil, "spec key '\(key)' is not in Reference.spec")
        }
        #expect(Reference.spec.row("timeout")?[2] == DurationText.format(Spec.defaultTimeout))
        #expect(Reference.spec.row("retries")?[2] == "\(Spec.defaultRetries)")
    }

    @Test("every failure class has its meaning, whether it is retried, and what to do")
    func classes() {
        for c in FailureClass.allCases {
            let row = Reference.classes.row(c.rawValue)
            #expect(row != nil, "class '\(c.rawValue)' is not in Reference.classAdvice")
            #expect(row?.allSatisfy { !$0.isEmpty } == true)
        }
        #expect(Reference.retried(.agentFailed) == "never")
        #expect(Reference.retried(.stalled) == "once more")
        #expect(Reference.retried(.authFailed).contains("fallback"))
        #expect(Reference.retried(.rateLimited).hasPrefix("yes"))
    }

    @Test("every sidecar field is documented (a fully populated sidecar, walked key by key)")
    func sidecar() throws {
        let retry = StreamScanner.APIRetry(attempt: 1, status: 401, error: "authentication_failed", delayMs: 500)
        var attempt = TaskResult.Attempt(n: 1, provider: "p", harness: "h", model: "m", startedAt: "t", endedAt: "t", durationS: 1, exitCode: 1,
                                         signal: 9, stdoutBytes: 1, stderrTail: "e", class: .agentFailed, retryable: false, reason: "r",
                                         stoppedBy: "timeout", apiRetries: [retry],
                                         usage: .init(inputTokens: 1, outputTokens: 1, cacheReadTokens: 1, cacheWriteTokens: 1, costUSD: 0.1,
                                                      numTurns: 1, apiDurationS: 1, sessionID: "s"))
        attempt.peakMemoryBytes = 1
        attempt.usage?.pricedCostUSD = 0.2
        var result = TaskResult(id: "x", status: .failed, class: .agentFailed, reason: "r", hint: "h",
                                spec: .init(file: "x.md", repo: "/r", provider: "p", harness: "h", model: "m"), attempts: [attempt],
                                git: .init(headBefore: "a", headAfter: "b", commits: [.init(sha: "s", subject: "j")]),
                                verify: .init(command: "true", exitCode: 0, durationS: 1, outputTail: "o"), log: "logs/x.log",
                                worker: .init(host: "h", pid: 1, version: "v"), containment: .init(method: "cgroup2", leftoversKilled: 1, memoryCapBytes: 1, memoryController: "cgroup2"),
                                claimedAt: "t", finishedAt: "t")
        result.usage?.sessionID = "s" // a sum has no session of its own; set so the walk sees every key
        result.git?.branch = "mtor/x"
        result.git?.base = "main"
        result.git?.diffstat = .init(files: 1, insertions: 1, deletions: 1)
        result.git?.integrated = "branch"
        result.git?.integratedReason = "main has moved on"
        result.setup = .init(command: "make", exitCode: 0, durationS: 1, outputTail: "o")
        result.review = Review(flags: [.autoCommitted], diffstat: .init(files: 1, insertions: 1, deletions: 1), notes: ["n"])
        result.answer = "a"
        result.sandbox = .init(method: "bwrap", writable: ["/w"], hidden: ["/s"])
        #expect(unset(result).isEmpty, "populate these in the sample so their keys are checked: \(unset(result))")
        let json = try JSONSerialization.jsonObject(with: JSONEncoder().encode(result))
        for path in keyPaths(json) { #expect(Reference.sidecar.row(path) != nil, "sidecar field '\(path)' is not in Reference.sidecar") }
    }

    @Test("every field of a merge record (done/<id>.merge.json) is documented under merge.")
    func mergeRecordFields() throws {
        var record = MergeRecord(id: "x", state: .landed, at: "t", commit: "c", base: "main", reason: "r")
        record.commits = ["c"]
        record.files = ["f"]
        record.verify = .init(command: "true", exitCode: 0, durationS: 1, outputTail: "o")
        record.followUp = "y"
        let json = try JSONSerialization.jsonObject(with: JSONEncoder().encode(record))
        for path in keyPaths(json) { #expect(Reference.sidecar.row("merge." + path) != nil, "merge record field '\(path)' is not in Reference.sidecar") }
    }

    @Test("every lockfile key is documented")
    func lockfileKeys() throws {
        let harness = Lockfile.Harness(argv: ["a"], prompt: "stdin", stream: "codex-json", authHeaders: ["K": "bearer"], baseURLEnv: "U", env: ["A": "1"],
                                       versionArgv: ["a"], preflightPrompt: "p", tested: true, notes: "n")
        var provider = Lockfile.Provider(harness: "h", api: "anthropic", baseURL: "http://x", authEnv: "K", secretEnv: "S", model: "m", models: ["m"],
                                         concurrency: 1, env: ["A": "1"], tested: true, notes: "n")
        provider.prices = ["m": Budget.Price(input: 3, output: 15, cacheRead: 0.3, cacheWrite: 3.75)]
        provider.budgetUSDPerDay = 10
        var lock = Lockfile(schema: Lockfile.schemaName, default: "p", harnesses: ["h": harness], providers: ["p": provider],
                            onFinish: "true", onAttention: "true")
        lock.budgetUSDPerDay = 20
        for value in [harness, provider, lock] as [Any] { #expect(unset(value).isEmpty, "populate these in the sample: \(unset(value))") }
        let json = try #require(try JSONSerialization.jsonObject(with: JSONEncoder().encode(lock)) as? [String: Any])
        let harnessKeys = ((json["harnesses"] as? [String: Any])?["h"] as? [String: Any])?.keys.sorted() ?? []
        let providerKeys = ((json["providers"] as? [String: Any])?["p"] as? [String: Any])?.keys.sorted() ?? []
        #expect(!harnessKeys.isEmpty && !providerKeys.isEmpty)
        for key in json.keys.sorted() + harnessKeys + providerKeys {
            #expect(Reference.lockfile.row(key) != nil, "lockfile key '\(key)' is not in Reference.lockfile")
        }
    }

    @Test("every spool directory and every exit code is documented")
    func spoolAndExitCodes() {
        for dir in Spool.directories { #expect(Reference.spool.row(dir + "/") != nil, "spool directory \(dir)/ is not in Reference.spool") }
        let errors: [WorkerError] = [.failed(""), .usage(""), .environment(""), .notFound("")]
        for code in [0] + errors.map({ Int($0.exitCode) }) { #expect(Reference.exitCodes.row("\(code)") != nil, "exit code \(code) is not documented") }
    }

    @Test("every command in the registry has a usage, and README's Reference section is exactly `mtor help --markdown`")
    func readme() throws {
        for c in CLI.commands {
            #expect(!c.summary.isEmpty && c.usage.contains("usage: mtor \(c.name)"))
            #expect(HelpCommand.markdown.contains("`\(c.synopsis)`"), "command \(c.name) is not in the reference")
        }
        let readme = try String(contentsOfFile: packageRoot + "/README.md", encoding: .utf8)
        let generated = try Sandbox("reference").mtor(["help", "--markdown"]).out
        #expect(!generated.isEmpty)
        let upToDate = readme.contains(generated)
        #expect(upToDate, "README's Reference section is out of date: replace it with the output of `mtor help --markdown`")
        let missing = Reference.topics.flatMap { t in t.names.filter { !readme.contains("`\($0)`") }.map { "\(t.name): \($0)" } }
        #expect(missing.isEmpty, "README lacks these reference entries: \(missing)")
        let citesContract = readme.contains("CONTRACT.md")
        #expect(!citesContract, "README cites a CONTRACT.md that is not in the repository")
    }

    @Test("the Claude Code, Codex and Aider versions README quotes are the ones .ci/run pins")
    func pinnedVersions() throws {
        let run = try String(contentsOfFile: packageRoot + "/.ci/run", encoding: .utf8)
        let readme = try String(contentsOfFile: packageRoot + "/README.md", encoding: .utf8)
        for name in ["CLAUDE_AGENT_SDK_VERSION", "CLAUDE_CODE_VERSION", "CODEX_CLI_BIN_VERSION", "CODEX_VERSION", "AIDER_CHAT_VERSION"] {
            let pin = try #require(run.firstMatch(of: try Regex("(?m)^\(name)=([0-9][0-9.]*)"))?.output[1].substring).description
            let quoted = readme.contains(" \(pin)")
            #expect(quoted, "README does not quote \(name)=\(pin) from .ci/run")
        }
    }

    // MARK: - Walking values

    /// Dotted paths of every key in a JSON value; array elements add `[]`.
    func keyPaths(_ value: Any, _ prefix: String = "") -> [String] {
        if let dict = value as? [String: Any] {
            return dict.keys.sorted().flatMap { key -> [String] in
                let path = prefix.isEmpty ? key : "\(prefix).\(key)"
                return [path] + keyPaths(dict[key]!, path)
            }
        }
        if let array = value as? [Any], let first = array.first { return keyPaths(first, prefix + "[]") }
        return []
    }

    /// Stored properties left nil anywhere in a value (so a new optional field cannot hide from the walk).
    func unset(_ value: Any, _ path: String = "") -> [String] {
        Mirror(reflecting: value).children.flatMap { child -> [String] in
            let name = path.isEmpty ? (child.label ?? "?") : "\(path).\(child.label ?? "?")"
            let m = Mirror(reflecting: child.value)
            if m.displayStyle == .optional {
                guard let inner = m.children.first?.value else { return [name] }
                return unset(inner, name)
            }
            if m.displayStyle == .struct { return unset(child.value, name) }
            if m.displayStyle == .collection, let first = m.children.first?.value, Mirror(reflecting: first).displayStyle == .struct { return unset(first, name + "[]") }
            return []
        }
    }
}
