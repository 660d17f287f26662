import Foundation
import Testing
@testable import MtorCore

/// One mistake made to an otherwise valid lockfile, and what the error must say.
struct LockMistake: Sendable, CustomTestStringConvertible {
    var name: String
    var mutate: @Sendable (inout [String: Any]) -> Void
    var mentions: [String]
    var testDescription: String { name }
}

/// The lockfile from CONTRACT.md section 4, as a JSON object to break in one place.
func contractLockfile() -> [String: Any] {
    [
        "schema": "mtor.providers/1",
        "default": "zhipu",
        "harnesses": [
            "claude": [
                "argv": ["claude", "-p", "--output-format", "stream-json", "--verbose",
                         "--permission-mode", "acceptEdits", "--model", "{model}"],
                "prompt": "stdin",
                "stream": "claude-stream-json",
                "auth_headers": ["ANTHROPIC_AUTH_TOKEN": "bearer", "ANTHROPIC_API_KEY": "x-api-key"],
                "base_url_env": "ANTHROPIC_BASE_URL",
            ] as [String: Any],
            "sh": ["argv": ["/bin/sh", "-s"], "prompt": "stdin"] as [String: Any],
        ] as [String: Any],
        "providers": [
            "zhipu": [
                "harness": "claude",
                "api": "anthropic",
                "base_url": "https://open.bigmodel.cn/api/anthropic",
                "auth_env": "ANTHROPIC_AUTH_TOKEN",
                "secret_env": "ZHIPU_API_KEY",
                "model": "glm-5.1",
                "concurrency": 3,
                "env": ["API_TIMEOUT_MS": "3000000"],
            ] as [String: Any],
        ] as [String: Any],
    ]
}

/// Sets `value` at a dotted path such as `providers.zhipu.auth_env`; nil removes the key.
func setting(_ path: String, _ value: Any?) -> @Sendable (inout [String: Any]) -> Void {
    // Safe: `value` is a JSON-like literal of value types (strings, numbers, arrays, dictionaries), never mutated.
    nonisolated(unsafe) let value = value
    return { object in
        func set(_ dict: inout [String: Any], _ keys: ArraySlice<Substring>) {
            let key = String(keys.first!)
            if keys.count == 1 {
                dict[key] = value
            } else {
                var inner = dict[key] as? [String: Any] ?? [:]
                set(&inner, keys.dropFirst())
                dict[key] = inner
            }
        }
        set(&object, path.split(separator: ".")[...])
    }
}

func lockData(_ object: [String: Any]) throws -> Data {
    try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
}

@Suite("Providers lockfile")
struct LockfileTests {
    static let repoRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    @Test("the repository's etc/providers.json parses and agrees with itself")
    func realLockfile() throws {
        let url = Self.repoRoot.appendingPathComponent("etc/providers.json")
        let lock = try Lockfile.parse(Data(contentsOf: url), file: url.path)
        #expect(lock.schema == Lockfile.schemaName)
        let defaultName = try #require(lock.default)
        #expect(lock.providers[defaultName] != nil)
        for (name, provider) in lock.providers {
            let harness = try #require(lock.harnesses[provider.harness], "provider \(name)")
            #expect(!harness.argv.isEmpty)
            if let auth = provider.authEnv {
                #expect(harness.authHeaders?[auth] != nil, "provider \(name) auth_env \(auth)")
                #expect(provider.secretEnv != nil)
            }
        }
        let claude = try #require(lock.harnesses["claude"])
        #expect(claude.argv.first == "claude")
        #expect(claude.argv.contains("{model}"))
        #expect(!claude.argv.contains { $0.contains("{prompt") } || claude.promptInFile)
        #expect(claude.stream == "claude-stream-json")
        #expect(claude.needsProvider)
        #expect(claude.authHeaders?["ANTHROPIC_AUTH_TOKEN"] == "bearer")
        #expect(claude.authHeaders?["ANTHROPIC_API_KEY"] == "x-api-key")
        let zhipu = try #require(lock.providers["zhipu"])
        #expect(zhipu.authEnv == "ANTHROPIC_AUTH_TOKEN")
        #expect(zhipu.secretEnv == "ZHIPU_API_KEY")
        #expect(zhipu.baseURL == "https://open.bigmodel.cn/api/anthropic")
        #expect(lock.harnesses["sh"]?.needsProvider == false)
    }

    @Test("the contract's example lockfile parses")
    func contractExample() throws {
        let lock = try Lockfile.parse(lockData(contractLockfile()), file: "etc/providers.json")
        #expect(lock.providers["zhipu"]?.concurrency == 3)
        #expect(lock.providers["zhipu"]?.env == ["API_TIMEOUT_MS": "3000000"])
        #expect(lock.harnesses["claude"]?.baseURLEnv == "ANTHROPIC_BASE_URL")
        #expect(lock.harnesses["claude"]?.promptInFile == false)
    }

    @Test("a prompt passed in a file needs {prompt_file} and is then valid")
    func promptFile() throws {
        var object = contractLockfile()
        setting("harnesses.sh", ["argv": ["/bin/sh", "{prompt_file}"], "prompt": "file"])(&object)
        let lock = try Lockfile.parse(lockData(object), file: "etc/providers.json")
        #expect(lock.harnesses["sh"]?.promptInFile == true)
    }

    @Test("a provider without credentials is valid (e.g. a plain sh harness)")
    func noCredentials() throws {
        var object = contractLockfile()
        setting("providers.local", ["harness": "sh"])(&object)
        let lock = try Lockfile.parse(lockData(object), file: "etc/providers.json")
        #expect(lock.providers["local"]?.authEnv == nil)
    }

    static let mistakes: [LockMistake] = [
        LockMistake(name: "wrong schema", mutate: setting("schema", "mtor.providers/2"),
                    mentions: ["'schema'", "mtor.providers/2", "mtor.providers/1"]),
        LockMistake(name: "missing schema", mutate: setting("schema", nil), mentions: ["schema", "missing"]),
        LockMistake(name: "default names an unknown provider", mutate: setting("default", "zhipuu"),
                    mentions: ["'default'", "zhipuu"]),
        LockMistake(name: "provider names an unknown harness", mutate: setting("providers.zhipu.harness", "claud"),
                    mentions: ["providers.zhipu.harness", "claud", "claude, sh"]),
        LockMistake(name: "auth_env is not one of the harness's auth_headers",
                    mutate: setting("providers.zhipu.auth_env", "ZHIPU_API_KEY"),
                    mentions: ["providers.zhipu.auth_env", "ZHIPU_API_KEY", "ANTHROPIC_AUTH_TOKEN", "ANTHROPIC_API_KEY"]),
        LockMistake(name: "auth_env without secret_env", mutate: setting("providers.zhipu.secret_env", nil),
                    mentions: ["providers.zhipu", "secret_env"]),
        LockMistake(name: "prompt 'file' without {prompt_file}", mutate: setting("harnesses.claude.prompt", "file"),
                    mentions: ["harnesses.claude.prompt", "{prompt_file}"]),
        LockMistake(name: "prompt neither stdin nor file", mutate: setting("harnesses.sh.prompt", "argv"),
                    mentions: ["harnesses.sh.prompt", "argv"]),
        LockMistake(name: "unknown placeholder in argv",
                    mutate: setting("harnesses.claude.argv", ["claude", "-p", "{prompt}", "--model", "{model}"]),
                    mentions: ["harnesses.claude.argv", "{prompt}"]),
        LockMistake(name: "missing argv", mutate: setting("harnesses.sh.argv", nil),
                    mentions: ["harnesses.sh.argv", "missing"]),
        LockMistake(name: "empty argv", mutate: setting("harnesses.sh.argv", [String]()),
                    mentions: ["harnesses.sh.argv", "empty"]),
        LockMistake(name: "empty program name", mutate: setting("harnesses.sh.argv", [""]),
                    mentions: ["harnesses.sh.argv"]),
        LockMistake(name: "argv is a string, not a list", mutate: setting("harnesses.sh.argv", "/bin/sh -s"),
                    mentions: ["harnesses.sh.argv", "wrong type"]),
        LockMistake(name: "unknown auth header kind", mutate: setting("harnesses.claude.auth_headers.ANTHROPIC_AUTH_TOKEN", "basic"),
                    mentions: ["harnesses.claude.auth_headers.ANTHROPIC_AUTH_TOKEN", "basic"]),
        LockMistake(name: "unknown api", mutate: setting("providers.zhipu.api", "gemini"),
                    mentions: ["providers.zhipu.api", "gemini"]),
        LockMistake(name: "concurrency 0", mutate: setting("providers.zhipu.concurrency", 0),
                    mentions: ["providers.zhipu.concurrency", "0"]),
        LockMistake(name: "concurrency of the wrong type", mutate: setting("providers.zhipu.concurrency", "three"),
                    mentions: ["providers.zhipu.concurrency", "wrong type"]),
        LockMistake(name: "base_url is not a URL", mutate: setting("providers.zhipu.base_url", "open.bigmodel.cn"),
                    mentions: ["providers.zhipu.base_url", "open.bigmodel.cn"]),
        LockMistake(name: "provider without harness", mutate: setting("providers.zhipu.harness", nil),
                    mentions: ["providers.zhipu.harness", "missing"]),
        LockMistake(name: "no providers at all", mutate: setting("providers", nil), mentions: ["providers", "missing"]),
    ]

    @Test("each mistake is an error naming the key and the file", arguments: mistakes)
    func mistake(_ m: LockMistake) throws {
        var object = contractLockfile()
        m.mutate(&object)
        let data = try lockData(object)
        let error = #expect(throws: LockfileError.self) {
            try Lockfile.parse(data, file: "/etc/mtor/providers.json")
        }
        #expect(error?.file == "/etc/mtor/providers.json")
        #expect(error?.description.hasPrefix("/etc/mtor/providers.json: ") == true)
        for word in m.mentions {
            #expect(error?.message.contains(word) == true, "\(error?.message ?? "no error") does not mention \(word)")
        }
    }

    @Test("text that is not JSON names the file")
    func notJSON() {
        let error = #expect(throws: LockfileError.self) {
            try Lockfile.parse(Data("{\"schema\": \"mtor.providers/1\",".utf8), file: "etc/providers.json")
        }
        #expect(error?.file == "etc/providers.json")
        #expect(error?.message.contains("JSON") == true)
    }

    @Test("placeholders in an argv element", arguments: [
        ("{model}", ["model"]), ("--base={base_url}/v1", ["base_url"]), ("{repo}{prompt_file}", ["repo", "prompt_file"]),
        ("plain", []), ("{unclosed", []), ("Bash(git add:*)", []),
    ])
    func placeholders(_ arg: String, _ names: [String]) {
        #expect(Lockfile.placeholders(in: arg) == names)
    }
}
