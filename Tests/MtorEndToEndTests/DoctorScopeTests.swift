import Foundation
import Testing
import MtorPlatform

/// `mtor doctor` on a fresh clone reports only real problems.
@Suite("doctor checks what is in use", .serialized)
struct DoctorScopeTests {
    /// The repository's own lockfile with its default provider pointed at a scripted provider that accepts `key`.
    func freshClone(_ s: Sandbox, provider: ScriptedProvider, key: String) throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: packageRoot + "/etc/providers.json"))
        var lock = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let name = try #require(lock["default"] as? String)
        var providers = try #require(lock["providers"] as? [String: Any])
        var entry = try #require(providers[name] as? [String: Any])
        entry["base_url"] = provider.baseURL
        providers[name] = entry
        lock["providers"] = providers
        writeFixture(s.etc + "/providers.json", try JSONSerialization.data(withJSONObject: lock))
        let secret = try #require(entry["secret_env"] as? String)
        s.envFile("\(secret)=\(key)\n")
        chmod(s.etc + "/mtor.env", 0o600)
    }

    @Test("a fresh clone with a working default provider: exit 0, unused providers not checked, the missing spool will be created; --all checks every one",
          .timeLimit(.minutes(10)), .requiresClaude)
    func freshCloneIsClean() throws {
        let s = try Sandbox("doctor-fresh")
        let provider = try ScriptedProvider(scenario: "ok", key: "sk-fresh-1")
        try freshClone(s, provider: provider, key: "sk-fresh-1")
        try "[user]\n\tname = New User\n\temail = new@example.invalid\n".write(toFile: s.home + "/.gitconfig", atomically: true, encoding: .utf8)
        let r = try s.mtor(["doctor", "--spool", s.spool, "--providers", s.etc + "/providers.json"], timeout: 90)
        #expect(r.code == 0, "\(r.out)\(r.err)")
        #expect(r.out.contains("the worker will create it"), "\(r.out)")
        #expect(r.out.contains("agents commit as New User"), "\(r.out)")
        #expect(!r.out.contains("FAIL"), "\(r.out)")
        for unused in ["aider", "gemini", "goose"] { #expect(!r.out.contains("provider \(unused)") && !r.out.contains("harness \(unused)"), "\(r.out)") }
        #expect(!FileManager.default.fileExists(atPath: s.spool), "doctor created the spool")
        let all = try s.mtor(["doctor", "--all", "--spool", s.spool, "--providers", s.etc + "/providers.json"], timeout: 120)
        #expect(all.code == 3, "\(all.out)")
        #expect(all.out.contains("FAIL  provider"), "\(all.out)")
    }

    @Test("no git identity in the agents' HOME, and an empty key, are named with fixes that suit a worker not run by systemd", .timeLimit(.minutes(10)))
    func identityAndEmptyKey() throws {
        let s = try Sandbox("doctor-identity")
        s.lockfile(Lockfiles.make([.init(name: "zhipu", baseURL: "http://127.0.0.1:9", secretEnv: "ZHIPU_API_KEY")]))
        s.envFile("ZHIPU_API_KEY=\n")
        let r = try s.mtor(["doctor", "--spool", s.spool, "--providers", s.etc + "/providers.json"], timeout: 90)
        #expect(r.code == 3)
        #expect(r.out.contains("Author identity unknown"), "\(r.out)")
        #expect(r.out.contains("ZHIPU_API_KEY is empty"), "\(r.out)")
        #expect(!r.out.contains("all parsed"), "\(r.out)")
        if !FileManager.default.fileExists(atPath: "/etc/systemd/system/mtor-worker.service") {
            #expect(!r.out.contains("systemctl"), "\(r.out)")
        }
    }
}
