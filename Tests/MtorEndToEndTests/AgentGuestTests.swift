import Foundation
import MtorCore
import MtorPlatform
import Testing

/// Issue 21: an agent is a guest. A probe spec, run as a task's agent, tries each attack of the
/// outside review and prints what it reached; with the sandbox nothing is reached, the probe runs
/// to its end, and the same probe run with `--sandbox none` reaches them (so the probe can fail).
@Suite("An agent is a guest: it reaches no secret, no verdict, no other repository path and no other process", .serialized)
struct AgentGuestTests {
    /// A world whose worker may run as `uid` (root, or nobody with every file of the world its own).
    struct World {
        let s: Sandbox
        let uid: UInt32
        let mtor: String
        let otherSecret = "other-secret-\(UInt32.random(in: 100_000...999_999))"
        let sshKey = "ssh-private-\(UInt32.random(in: 100_000...999_999))"

        init(_ label: String, uid: UInt32) throws {
            s = try Sandbox(label)
            self.uid = uid
            s.lockfile(Lockfiles.make([], extraHarnesses: "").replacingOccurrences(of: #""local": { "harness": "sh" }"#, with: """
                "local": { "harness": "sh" },
                "other": { "harness": "sh", "auth_env": "OTHER_TOKEN", "secret_env": "OTHER_SECRET" }
                """))
            s.envFile("OTHER_SECRET=\(otherSecret)\n")
            try FileManager.default.createDirectory(atPath: s.home + "/.ssh", withIntermediateDirectories: true)
            writeFixture(s.home + "/.ssh/id_ed25519", Data((sshKey + "\n").utf8))
            for dir in ["inbox", "tmp", "done", "failed", "state"] {
                try FileManager.default.createDirectory(atPath: "\(s.spool)/\(dir)", withIntermediateDirectories: true)
            }
            // The binary where any user can run it (a CI checkout may live under /root).
            let bin = s.root + "/bin"
            try FileManager.default.createDirectory(atPath: bin, withIntermediateDirectories: true)
            mtor = bin + "/mtor"
            try FileManager.default.copyItem(atPath: mtorBinary, toPath: mtor)
            guard uid != 0 else { return }
            let r = try ChildProcess.run(["chown", "-R", "\(uid):\(uid)", s.root], environment: ["PATH": "/usr/bin:/bin"])
            try #require(r.0.succeeded, "chown: \(String(decoding: r.stderr, as: UTF8.self))")
            _ = chmod(s.root, 0o755)
        }

        /// `mtor worker` in the background, as this world's user.
        func start(_ extra: [String]) throws -> BackgroundWorker {
            var env = s.environment
            env["USER"] = uid == 0 ? "root" : "nobody"
            let worker = ["worker", "--spool", s.spool, "--providers", s.etc + "/providers.json", "--env-file", s.etc + "/mtor.env",
                          "--concurrency", "2", "--dedup-window", "0"] + extra
            let argv = uid == 0 ? [mtor] + worker : ["/usr/bin/setpriv", "--reuid=\(uid)", "--regid=\(uid)", "--clear-groups", mtor] + worker
            return try BackgroundWorker(s, argv: argv, env: env)
        }

        func submit(_ name: String, _ text: String) throws {
            try s.submit(name, text)
            if uid != 0 { _ = try ChildProcess.run(["chown", "-R", "\(uid):\(uid)", s.spool], environment: ["PATH": "/usr/bin:/bin"]) }
        }
    }

    /// The probe: one line per attack, `REACHED:` or `blocked:`, then `PROBE DONE`.
    static func probe(_ w: World, workerPid: Int32, sibling: String) -> String {
        let s = w.s
        return """
            ---
            repo: ~/code/widget
            expect: nothing
            ---
            exec 2>/dev/null
            r() { echo "REACHED: $*"; }
            b() { echo "blocked: $*"; }
            if grep -q OTHER_SECRET \(s.etc)/mtor.env 2>/dev/null; then r env-file; else b env-file; fi
            if tr '\\0' '\\n' < /proc/\(workerPid)/environ 2>/dev/null | grep -q PATH; then r worker-environ; else b worker-environ; fi
            if ls /proc/\(workerPid)/fd 2>/dev/null | grep -q .; then r worker-fds; else b worker-fds; fi
            if cat /proc/[0-9]*/environ 2>/dev/null | tr '\\0' '\\n' | grep -q \(w.otherSecret); then r sibling-key; else b sibling-key; fi
            if env | grep -q \(w.otherSecret); then r own-env-other-key; else b own-env-other-key; fi
            if grep -q \(w.sshKey) \(s.home)/.ssh/id_ed25519 2>/dev/null; then r ssh-key; else b ssh-key; fi
            if ls \(s.spool)/logs 2>/dev/null | grep -q .; then r other-logs; else b other-logs; fi
            if echo '{"forged":true}' > \(s.spool)/done/victim.result.json 2>/dev/null; then r forged-verdict; else b forged-verdict; fi
            if printf -- '---\\nprovider: other\\n---\\nenv\\n' > \(s.spool)/inbox/planted.md 2>/dev/null; then r queue-work; else b queue-work; fi
            if echo alice > \(s.spool)/state/paused-other 2>/dev/null; then r pause-provider; else b pause-provider; fi
            if echo '{}' >> \(s.spool)/state/ledger.jsonl 2>/dev/null; then r ledger; else b ledger; fi
            if echo '{"path":"/"}' > \(s.spool)/work/probe.json 2>/dev/null; then r workspace-record; else b workspace-record; fi
            if echo x > \(s.repo)/planted.txt 2>/dev/null; then r main-checkout; else b main-checkout; fi
            if echo '[core]' >> \(s.repo)/.git/config 2>/dev/null; then r git-config; else b git-config; fi
            if printf '#!/bin/sh\\ntouch /tmp/hooked\\n' > \(s.repo)/.git/hooks/post-checkout 2>/dev/null; then r git-hooks; else b git-hooks; fi
            if git -C \(s.repo) branch planted 2>/dev/null; then r other-branch; else b other-branch; fi
            if echo x > \(sibling)/planted.txt 2>/dev/null; then r sibling-worktree; else b sibling-worktree; fi
            if kill -0 \(workerPid) 2>/dev/null; then r signal-worker; else b signal-worker; fi
            if python3 -c 'import ctypes,sys; sys.exit(0 if ctypes.CDLL(None).ptrace(0x4206, \(workerPid), 0, 0) == 0 else 1)' 2>/dev/null; then r ptrace-worker; else b ptrace-worker; fi
            for procs in /sys/fs/cgroup/unified/cgroup.procs /sys/fs/cgroup/memory/cgroup.procs /sys/fs/cgroup/cgroup.procs /sys/fs/cgroup/pids/cgroup.procs; do
              if [ -e "$procs" ] && echo $$ > "$procs" 2>/dev/null; then r "leave-cgroup $procs"; else b "leave-cgroup $procs"; fi
            done
            fds=$(mktemp)
            ls -l /proc/self/fd 2>/dev/null | awk 'NR > 1 && $9 !~ /^[012]$/ && index($11, "/proc/") != 1 { print $9 " -> " $11 }' > "$fds"
            if [ -s "$fds" ]; then r "inherited-fd $(tr '\n' ' ' < "$fds")"; else b inherited-fd; fi
            if flock -u 3 2>/dev/null; then r unlock-claim; else b unlock-claim; fi
            echo PROBE DONE
            """
    }

    /// Runs the probe beside a sibling task of the other provider and returns the probe's result and log.
    static func run(_ w: World, extra: [String]) throws -> (TaskResult, String) {
        let worker = try w.start(extra)
        defer { worker.stop() }
        try worker.waitUntilStarted()
        try w.submit("sibling.md", "---\nrepo: ~/code/widget\nprovider: other\nexpect: nothing\n---\nsleep 4\n")
        try worker.waitFor { w.s.exists("claimed/sibling.md") }
        let sibling = w.s.spool + "/work/sibling"
        try w.submit("probe.md", probe(w, workerPid: worker.child.pid, sibling: sibling))
        try worker.waitFor(timeout: 120) { w.s.exists("done/probe.result.json") || w.s.exists("failed/probe.result.json") }
        try worker.waitFor(timeout: 60) { w.s.exists("done/sibling.result.json") || w.s.exists("failed/sibling.result.json") }
        return (try w.s.result("probe"), w.s.read("logs/probe.log"))
    }

    static func reached(_ log: String) -> [String] {
        log.split(separator: "\n").filter { $0.hasPrefix("REACHED:") }.map(String.init)
    }

    /// The sandboxed probe's verdict, printed for the CI log: it succeeded in the sandbox, ran to
    /// its end, reached nothing and was blocked at every one of its 25 attacks.
    static func expectNothingReached(_ label: String, _ result: TaskResult, _ log: String) {
        let lines = log.split(separator: "\n").filter { $0.hasPrefix("REACHED") || $0.hasPrefix("blocked") || $0.hasPrefix("PROBE") }
        print("probe \(label):\n" + lines.joined(separator: "\n"))
        #expect(result.status == .succeeded, "\(result.reason)\n\(log)")
        #expect(result.sandbox?.method == "bwrap")
        #expect(log.contains("PROBE DONE"), "the probe ran to its end:\n\(log)")
        #expect(reached(log).isEmpty, "the agent reached:\n\(reached(log).joined(separator: "\n"))")
        #expect(lines.filter { $0.hasPrefix("blocked:") }.count >= 25, "\(log)")
    }

    @Test("as root: the probe reaches nothing and runs to its end; the spool, the repository and the host are as they were",
          .timeLimit(.minutes(15)), .enabled(if: getuid() == 0, "needs root"))
    func probeAsRoot() throws {
        let w = try World("guest-root", uid: 0)
        let headsBefore = try w.s.git(["for-each-ref", "--format=%(refname)", "refs/heads"])
        let configBefore = w.s.readAbsolute(w.s.repo + "/.git/config")
        let (result, log) = try Self.run(w, extra: [])
        Self.expectNothingReached("as root", result, log)
        // What the attacks would have left, looked at from outside.
        #expect(!w.s.exists("done/victim.result.json") && !w.s.exists("inbox/planted.md") && !w.s.exists("state/paused-other"))
        #expect(!w.s.exists("done/planted.result.json") && !w.s.exists("failed/planted.result.json"))
        #expect(!FileManager.default.fileExists(atPath: w.s.repo + "/planted.txt"))
        #expect(!FileManager.default.fileExists(atPath: w.s.repo + "/.git/hooks/post-checkout"))
        #expect(w.s.readAbsolute(w.s.repo + "/.git/config") == configBefore)
        let headsAfter = try w.s.git(["for-each-ref", "--format=%(refname)", "refs/heads"])
        // No branch planted; the two tasks' own branches carry no commit, so they went with their tasks.
        #expect(Set(headsAfter.split(separator: "\n")) == Set(headsBefore.split(separator: "\n")))
        #expect(!w.s.read("logs/probe.log").contains(w.otherSecret) && !w.s.read("logs/probe.log").contains(w.sshKey))
        #expect(try w.s.result("sibling").status == .succeeded)
    }

    @Test("as an unprivileged worker (uid 65534): the same probe reaches nothing and runs to its end",
          .timeLimit(.minutes(15)), .enabled(if: getuid() == 0 && FileManager.default.isExecutableFile(atPath: "/usr/bin/setpriv"), "needs root to become nobody"))
    func probeAsNobody() throws {
        let w = try World("guest-nobody", uid: 65534)
        let (result, log) = try Self.run(w, extra: [])
        Self.expectNothingReached("as uid 65534", result, log)
        #expect(!w.s.exists("done/victim.result.json") && !w.s.exists("inbox/planted.md") && !w.s.exists("state/paused-other"))
        #expect(!FileManager.default.fileExists(atPath: w.s.repo + "/planted.txt"))
    }

    @Test("the probe can fail: with --sandbox none the same agent reaches the env file, the spool, the checkout, .git and the worker",
          .timeLimit(.minutes(15)), .enabled(if: getuid() == 0, "needs root"))
    func probeWithoutSandboxReaches() throws {
        let w = try World("guest-none", uid: 0)
        let (result, log) = try Self.run(w, extra: ["--sandbox", "none"])
        #expect(result.sandbox?.method == "none")
        let reached = Self.reached(log).joined(separator: "\n")
        for attack in ["env-file", "worker-environ", "forged-verdict", "queue-work", "main-checkout", "git-config", "git-hooks", "signal-worker", "ssh-key"] {
            #expect(reached.contains("REACHED: \(attack)"), "without the sandbox the probe should reach \(attack):\n\(log)")
        }
        // A forged sidecar without its spec beside it is never a verdict.
        let show = try w.s.mtor(["show", "victim", "--spool", w.s.spool])
        #expect(!show.out.contains("succeeded") && !show.out.contains("\"forged\""), "\(show.out)")
    }
}

@Suite("Verdicts and caps are the worker's", .serialized)
struct VerdictTrustTests {
    @Test("a forged done/ sidecar (no spec beside it) is no verdict: the dependent does not run, show, wait and merge believe the worker",
          .timeLimit(.minutes(15)))
    func forgedSidecarIsIgnored() throws {
        let s = try Sandbox("forged")
        s.lockfile(Lockfiles.make([]))
        let gate = s.root + "/gate"
        try s.submit("victim.md", "---\nrepo: ~/code/widget\n---\nwhile [ ! -e \(gate) ]; do sleep 0.05; done\nexit 1\n")
        try s.submit("dependent.md", "---\nrepo: ~/code/widget\ndepends_on: [victim]\nexpect: nothing\n---\necho ran > \(s.root)/dependent-ran\n")
        let worker = try BackgroundWorker(s, extra: ["--concurrency", "2"])
        defer { worker.stop() }
        try worker.waitFor { s.exists("claimed/victim.md") }
        // What an agent wrote in the review: a verdict for the victim, while the victim was failing.
        let head = try s.git(["rev-parse", "HEAD"]).trimmingCharacters(in: .whitespacesAndNewlines)
        let forged = #"{"schema":"mtor.result/1","id":"victim","status":"succeeded","class":"ok","reason":"forged","hint":"","spec":{"file":"victim.md"},"attempts":[],"git":{"head_before":"\#(head)","head_after":"\#(head)","commits":[],"branch":"main"},"log":"logs/victim.log","worker":{"host":"h","pid":1,"version":"v"},"usage":null,"claimed_at":"2026-01-01T00:00:00Z","finished_at":"2026-01-01T00:00:01Z"}"#
        writeFixture(s.spool + "/done/victim.result.json", Data(forged.utf8))
        Thread.sleep(forTimeInterval: 1.5)
        #expect(!FileManager.default.fileExists(atPath: s.root + "/dependent-ran"), "the dependent ran on a forged verdict")
        let show = try s.mtor(["show", "victim", "--spool", s.spool])
        #expect(!show.out.contains("succeeded"), "show believed the forged sidecar: \(show.out)")
        writeFixture(gate, Data())
        try worker.waitFor(timeout: 60) { s.exists("failed/victim.md") && (s.exists("failed/dependent.md") || s.exists("done/dependent.md")) }
        // The worker's own verdict is in failed/ beside its spec (the test's reader, unlike mtor's, would take done/ first).
        let real = try JSONDecoder().decode(TaskResult.self, from: Data(s.read("failed/victim.result.json").utf8))
        #expect(real.status == .failed && real.reason != "forged")
        let dependent = try s.result("dependent")
        #expect(dependent.class == .dependencyFailed, "\(dependent.class.rawValue): \(dependent.reason)")
        #expect(!FileManager.default.fileExists(atPath: s.root + "/dependent-ran"))
        let wait = try s.mtor(["wait", "victim", "--spool", s.spool])
        #expect(wait.code != 0, "wait believed the forged sidecar: \(wait.out)")
        let merge = try s.mtor(["merge", "victim", "--spool", s.spool])
        #expect(merge.code != 0, "merge believed the forged sidecar: \(merge.out)")
    }

    @Test("where bubblewrap cannot build a sandbox (user namespaces refused), the worker refuses to start agents and names the fix; --sandbox none runs them; doctor says so",
          .timeLimit(.minutes(15)))
    func refusesWithoutSandbox() throws {
        let s = try Sandbox("guest-nosandbox")
        s.lockfile(Lockfiles.make([]))
        // A bwrap that fails the way it does under Ubuntu's AppArmor restriction, first on PATH.
        let bin = s.root + "/fakebin"
        try FileManager.default.createDirectory(atPath: bin, withIntermediateDirectories: true)
        writeFixture(bin + "/bwrap", Data("#!/bin/sh\necho 'bwrap: setting up uid map: Permission denied' >&2\nexit 1\n".utf8))
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: bin + "/bwrap")
        s.extraPath.insert(bin, at: 0)
        try s.submit("waits.md", "---\nrepo: ~/code/widget\nexpect: nothing\n---\necho ran\n")
        let refused = try s.mtor(["worker", "--once", "--spool", s.spool, "--providers", s.etc + "/providers.json"])
        #expect(refused.code != 0, "\(refused.err)")
        #expect(refused.err.contains("uid map") && refused.err.contains("--sandbox none") && refused.err.contains("apparmor_restrict_unprivileged_userns"), "\(refused.err)")
        #expect(s.exists("inbox/waits.md"), "nothing ran unconfined")
        let doctor = try s.mtor(["doctor", "--spool", s.spool, "--providers", s.etc + "/providers.json"], timeout: 90)
        #expect(doctor.out.contains("FAIL  sandbox"), "\(doctor.out)")
        let unconfined = try s.drain(["--sandbox", "none"])
        #expect(unconfined.code == 0, "\(unconfined.err)")
        #expect(unconfined.err.contains("sandboxed by nothing (--sandbox none)"), "\(unconfined.err.prefix(600))")
        let result = try s.result("waits")
        #expect(result.status == .succeeded && result.sandbox?.method == "none")
    }

    @Test("a sandboxed agent's daemon (setsid, TERM ignored) ends with the agent: nothing writes after the sidecar, nothing is left running",
          .timeLimit(.minutes(15)))
    func daemonEndsWithAgent() throws {
        let s = try Sandbox("guest-daemon")
        s.lockfile(Lockfiles.make([]))
        let marker = "300.\(UInt32.random(in: 100_000...999_999))"
        try s.submit("daemon.md", "---\nrepo: ~/code/widget\nworkspace: in-place\nexpect: nothing\n---\nsetsid sh -c 'trap \"\" TERM; sleep \(marker); echo late > LATE.txt' &\nsleep 0.3\nexit 0\n")
        let r = try s.drain()
        #expect(r.code == 0, "\(r.err.suffix(1500))")
        #expect(try s.result("daemon").status == .succeeded)
        let alive = ProcessTable.all().filter { pid in
            ((try? String(contentsOfFile: "/proc/\(pid)/cmdline", encoding: .utf8)) ?? "").contains(marker)
        }
        #expect(alive.isEmpty, "left running: \(alive)")
        Thread.sleep(forTimeInterval: 0.5)
        #expect(!FileManager.default.fileExists(atPath: s.repo + "/LATE.txt"))
    }

    @Test("an agent that tries to leave its cgroups and then allocates 200 MiB under memory: 32M ends out_of_memory",
          .timeLimit(.minutes(15)))
    func capHoldsAgainstEscape() throws {
        guard let s = try MemoryCapTests.cappedSandbox("escape-cap") else { return }
        let body = """
            for procs in /sys/fs/cgroup/unified/cgroup.procs /sys/fs/cgroup/memory/cgroup.procs /sys/fs/cgroup/cgroup.procs; do
              [ -e "$procs" ] && echo $$ > "$procs" 2>/dev/null && echo "left via $procs"
            done
            python3 -c 'a = bytearray(200 << 20); print("allocated", len(a))'
            """
        try s.submit("escape.md", "---\nrepo: ~/code/widget\nexpect: nothing\nretries: 0\nmemory: 32M\n---\n\(body)\n")
        let r = try s.drain()
        #expect(r.code == 0, "\(r.err.suffix(1500))")
        let result = try s.result("escape")
        #expect(result.class == .outOfMemory, "\(result.class.rawValue): \(result.reason)")
        let log = s.read("logs/escape.log")
        #expect(!log.contains("left via") && !log.contains("allocated"), "\(log)")
    }
}

extension Sandbox {
    /// A file's text by absolute path ("" when unreadable).
    func readAbsolute(_ path: String) -> String { (try? String(contentsOfFile: path, encoding: .utf8)) ?? "" }
}
