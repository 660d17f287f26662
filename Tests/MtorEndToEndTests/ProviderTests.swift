import Foundation
import Testing
import MtorCore
import MtorPlatform

/// Reads `state/providers.json` for one provider.
func providerState(_ s: Sandbox, _ name: String) -> [String: Any]? {
    guard let object = try? JSONSerialization.jsonObject(with: Data(s.read("state/providers.json").utf8)) as? [String: Any] else { return nil }
    return (object["providers"] as? [[String: Any]])?.first { ($0["provider"] as? String) == name }
}

@Suite("Preflight proves a provider answers before it gets work", .serialized, .requiresClaude)
struct PreflightTests {
    @Test("a bad key: the spec stays in inbox/, providers.json says auth_failed, the real CLI is stopped within 15 s; after the key is fixed and SIGHUP, the spec runs", .timeLimit(.minutes(10)))
    func badKeyThenFixed() throws {
        let s = try Sandbox("preflight")
        let p = try ScriptedProvider(scenario: "commit", key: "sk-right-key-2024")
        s.lockfile(Lockfiles.make([.init(name: "zhipu", baseURL: p.baseURL)]))
        s.envFile("export SCRIPTED_KEY=sk-wrong-key-0000\n")
        try s.submit("task.md", "---\nrepo: ~/code/widget\nprovider: zhipu\n---\nCreate hello.txt and commit it.\n")
        let worker = try BackgroundWorker(s)
        defer { worker.stop() }
        let start = Date()
        try worker.waitFor(timeout: 60) { (providerState(s, "zhipu")?["state"] as? String) == "unhealthy" }
        let verdictAfter = Date().timeIntervalSince(start)
        #expect(verdictAfter < 15, "preflight verdict after \(verdictAfter) s")
        let entry = try #require(providerState(s, "zhipu"))
        #expect(entry["class"] as? String == "auth_failed")
        #expect((entry["reason"] as? String)?.contains("401") == true, "\(entry)")
        #expect(s.exists("inbox/task.md"), "the spec waits, no attempt burned: \(s.listing())")
        #expect(!s.exists("failed/task.result.json"))
        try worker.waitFor(timeout: 10) { s.read("state/worker.json").contains("failed preflight") }
        let state = s.read("state/worker.json")
        #expect(state.contains("inbox/task.md") && state.contains("failed preflight"), "\(state)")
        // The CLI of the preflight is gone: no process of its group is left.
        let log = s.read("logs/.preflight-zhipu.log")
        #expect(log.contains("auth_failed"), "\(log)")
        #expect(!log.contains("sk-wrong-key-0000"))
        // Fix the key, tell the worker.
        s.envFile("export SCRIPTED_KEY=sk-right-key-2024\n")
        worker.child.signal(SIGHUP, group: true)
        try worker.waitFor(timeout: 90) { s.exists("done/task.result.json") }
        let r = try s.result("task")
        #expect(r.status == .succeeded)
        #expect(r.attempts.count == 1)
        #expect((providerState(s, "zhipu")?["state"] as? String) == "healthy")
        // Stopped first: a running worker's worktree pool refills its clones under work/, and a
        // directory removed during the walk fails it.
        worker.stop()
        for file in try FileManager.default.subpathsOfDirectory(atPath: s.spool) {
            let text = (try? String(contentsOfFile: s.spool + "/" + file, encoding: .utf8)) ?? ""
            #expect(!text.contains("sk-right-key-2024") && !text.contains("sk-wrong-key-0000"), "secret leaked into \(file)")
        }
    }
}

extension PreflightTests {
    @Test("a provider that fails preflight hands its specs to a healthy fallback, burning no attempt on itself", .timeLimit(.minutes(10)))
    func unhealthyToFallback() throws {
        let s = try Sandbox("preflight-fallback")
        let bad = try ScriptedProvider(scenario: "401")
        let good = try ScriptedProvider(scenario: "commit", key: "sk-fallback-good")
        s.lockfile(Lockfiles.make([.init(name: "bad", baseURL: bad.baseURL, secretEnv: "BAD_KEY"),
                                   .init(name: "good", baseURL: good.baseURL, secretEnv: "GOOD_KEY")]))
        s.envFile("BAD_KEY=sk-fallback-bad\nGOOD_KEY=sk-fallback-good\n")
        let r = try runSpec(s, "handover", "provider: bad\nfallback: [good]")
        #expect(r.status == .succeeded, "\(r.reason)")
        #expect(r.attempts.map(\.provider) == ["good"])
        #expect((providerState(s, "bad")?["class"] as? String) == "auth_failed")
    }
}

@Suite("mtor doctor makes real calls with the harness's own header", .serialized)
struct DoctorTests {
    func doctor(_ s: Sandbox, _ provider: String) throws -> (code: Int32, check: [String: Any], out: String) {
        let run = try s.mtor(["doctor", "--json", "--provider", provider, "--spool", s.spool, "--providers", s.etc + "/providers.json"], timeout: 60)
        let report = try #require(try JSONSerialization.jsonObject(with: Data(run.out.utf8)) as? [String: Any], "doctor said: \(run.out) \(run.err)")
        let checks = report["checks"] as? [[String: Any]] ?? []
        let check = try #require(checks.first { ($0["area"] as? String) == "provider" && ($0["name"] as? String) == provider && $0["probe"] != nil || ($0["area"] as? String) == "provider" && ($0["status"] as? String) == "fail" })
        return (run.code, check, "\(run.out)")
    }

    func verdict(_ check: [String: Any]) -> String? { (check["probe"] as? [String: Any])?["verdict"] as? String }

    @Test("good key → ok; bad key → auth within 15 s; billing → quota; nothing listening → connection", .timeLimit(.minutes(10)))
    func verdicts() throws {
        let s = try Sandbox("doctor")
        let good = try ScriptedProvider(scenario: "ok", key: "sk-doctor-good")
        let billing = try ScriptedProvider(scenario: "402")
        s.lockfile(Lockfiles.make([
            .init(name: "good", baseURL: good.baseURL, secretEnv: "GOOD_KEY"),
            .init(name: "badkey", baseURL: good.baseURL, secretEnv: "BAD_KEY"),
            .init(name: "broke", baseURL: billing.baseURL, secretEnv: "GOOD_KEY"),
            .init(name: "down", baseURL: "http://127.0.0.1:\(closedPort())", secretEnv: "GOOD_KEY"),
        ]))
        s.envFile("GOOD_KEY=sk-doctor-good\nBAD_KEY=sk-doctor-bad\n")
        let ok = try doctor(s, "good")
        #expect(verdict(ok.check) == "ok", "\(ok.out)")
        let start = Date()
        let bad = try doctor(s, "badkey")
        #expect(Date().timeIntervalSince(start) < 15)
        #expect(bad.code == 3)
        #expect(verdict(bad.check) == "auth", "\(bad.out)")
        #expect(!bad.out.contains("sk-doctor-bad"))
        let broke = try doctor(s, "broke")
        #expect(verdict(broke.check) == "quota", "\(broke.out)")
        let down = try doctor(s, "down")
        #expect(verdict(down.check) == "connection", "\(down.out)")
        #expect(down.code == 3)
        // The request really carried the Bearer header the harness would send for ANTHROPIC_AUTH_TOKEN.
        #expect(good.requests.contains { ($0["auth_header"] as? String) == "Bearer sk-doctor-good" })
    }

    @Test("Bearer-only provider, lockfile says ANTHROPIC_API_KEY: auth, and the fix names ANTHROPIC_AUTH_TOKEN", .timeLimit(.minutes(10)))
    func wrongVariable() throws {
        let s = try Sandbox("doctor-var")
        let p = try ScriptedProvider(scenario: "bearer-only", key: "sk-bearer-doctor")
        s.lockfile(Lockfiles.make([.init(name: "zhipu", baseURL: p.baseURL, authEnv: "ANTHROPIC_API_KEY")]))
        s.envFile("SCRIPTED_KEY=sk-bearer-doctor\n")
        let run = try doctor(s, "zhipu")
        #expect(verdict(run.check) == "auth")
        let fix = run.check["fix"] as? String ?? ""
        #expect(fix.contains("ANTHROPIC_AUTH_TOKEN"), "fix: \(fix)")
        #expect((run.check["summary"] as? String ?? "").contains("ANTHROPIC_API_KEY"))
    }

    @Test("doctor flags a secret under the wrong variable and export lines systemd would drop")
    func flags() throws {
        let s = try Sandbox("doctor-flags")
        s.lockfile(Lockfiles.make([.init(name: "zhipu", baseURL: "http://127.0.0.1:\(closedPort())")]))
        s.envFile("export SCRIPTED_KEY=sk-flag-1234\nANTHROPIC_API_KEY=sk-flag-1234\n")
        let run = try s.mtor(["doctor", "--spool", s.spool, "--providers", s.etc + "/providers.json"], timeout: 60)
        #expect(run.code == 3)
        #expect(run.out.contains("ANTHROPIC_API_KEY is set"), "\(run.out)")
        #expect(run.out.contains("does not understand 'export'"), "\(run.out)")
        #expect(!run.out.contains("sk-flag-1234"))
    }
}

@Suite("mtor lock check keeps scripts and the lockfile in agreement")
struct LockCheckTests {
    @Test("a script setting ANTHROPIC_API_KEY for a provider locked to ANTHROPIC_AUTH_TOKEN, and an unset of a locked variable, are caught")
    func catches() throws {
        let s = try Sandbox("lock")
        s.lockfile(Lockfiles.make([.init(name: "zhipu", baseURL: "https://open.bigmodel.cn/api/anthropic", secretEnv: "ZHIPU_API_KEY")]))
        s.envFile("ZHIPU_API_KEY=sk-lock-1\n")
        let clean = try s.mtor(["lock", "check", "--providers", s.etc + "/providers.json"])
        #expect(clean.code == 0, "\(clean.out)")
        writeFixture(s.etc + "/run-agent.sh", Data("""
            #!/bin/sh
            export ANTHROPIC_API_KEY="$ZHIPU_API_KEY"
            unset ANTHROPIC_AUTH_TOKEN
            exec claude -p
            """.utf8))
        let run = try s.mtor(["lock", "check", "--providers", s.etc + "/providers.json"])
        #expect(run.code == 1)
        #expect(run.out.contains("etc/run-agent.sh:2: sets ANTHROPIC_API_KEY from ZHIPU_API_KEY"), "\(run.out)")
        #expect(run.out.contains("etc/run-agent.sh:3: unsets ANTHROPIC_AUTH_TOKEN"), "\(run.out)")
    }

    @Test("the repository's own etc/ passes lock check, and the pre-commit hook runs it")
    func repositoryEtc() throws {
        let s = try Sandbox("lock-repo")
        let run = try s.mtor(["lock", "check", "--providers", packageRoot + "/etc/providers.json", "--env-file", packageRoot + "/etc/mtor.env.example"])
        #expect(run.code == 0, "\(run.out + run.err)")
        let hook = try String(contentsOfFile: packageRoot + "/etc/hooks/pre-commit", encoding: .utf8)
        #expect(hook.contains("lock check"))
    }
}

@Suite("The canonical systemd unit")
struct SystemdUnitTests {
    @Test("systemd-analyze verify passes on etc/mtor-worker.service, which never uses EnvironmentFile=", .timeLimit(.minutes(10)),
          .requires("systemd-analyze", at: ["/usr/bin/systemd-analyze", "/bin/systemd-analyze"], install: "apt-get install systemd"))
    func verify() throws {
        let unit = try String(contentsOfFile: packageRoot + "/etc/mtor-worker.service", encoding: .utf8)
        #expect(!unit.split(separator: "\n").contains { $0.hasPrefix("EnvironmentFile=") })
        #expect(unit.contains("--env-file"))
        let analyze = try #require(systemdAnalyze)
        // verify insists that ExecStart exists: point it at the binary under test unless mtor is installed.
        var path = packageRoot + "/etc/mtor-worker.service"
        if !FileManager.default.isExecutableFile(atPath: "/usr/local/bin/mtor") {
            let dir = NSTemporaryDirectory() + "unit-\(UUID().uuidString.prefix(6))"
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            path = dir + "/mtor-worker.service"
            try unit.replacingOccurrences(of: "/usr/local/bin/mtor", with: mtorBinary).write(toFile: path, atomically: true, encoding: .utf8)
        }
        let r = try ChildProcess.run([analyze, "verify", path], environment: ["PATH": "/usr/bin:/bin"], timeout: 50)
        let said = String(decoding: r.stdout + r.stderr, as: UTF8.self)
        #expect(r.0 == .exited(0), "\(said)")
        #expect(!said.contains("Unknown key"), "\(said)")
    }
}
