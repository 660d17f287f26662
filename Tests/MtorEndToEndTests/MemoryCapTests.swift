import Foundation
import Testing
import MtorCore
import MtorPlatform

/// Issue 15, memory: a task's cap holds for the agent and everything it starts, a kill at the cap is
/// named as such and never retried at that cap, and the sidecar records each attempt's peak.
/// Real allocations against the real kernel, through the built `mtor` binary.
@Suite("Memory caps: a task cannot eat the host", .serialized)
struct MemoryCapTests {
    /// Allocates about 600 MiB: `tail` keeps a line with no newline in memory until it ends.
    static let hog = "head -c 600M /dev/zero | tail >/dev/null"

    /// Whether this host can cap memory at all; every root host with cgroups (this one, CI) can.
    static let support = Containment.memoryCapSupport(.auto)

    /// A sandbox with an empty lockfile, or nil (recorded as an issue, never a silent pass) where this host cannot cap memory.
    static func cappedSandbox(_ name: String) throws -> Sandbox? {
        if case .failure(let why) = support {
            Issue.record("this host cannot cap memory: \(why)")
            return nil
        }
        let s = try Sandbox(name)
        s.lockfile(Lockfiles.make([]))
        return s
    }

    static func spec(_ body: String, memory: String? = nil) -> String {
        "---\nrepo: ~/code/widget\nworkspace: in-place\nexpect: nothing\nretries: 2\n\(memory.map { "memory: \($0)\n" } ?? "")---\n\(body)\n"
    }

    @Test("memory: 64M and a 600 MiB allocation: out_of_memory at the 64 MiB cap, one attempt, peak near the cap; the next spec runs normally",
          .timeLimit(.minutes(10)))
    func oomIsNamed() throws {
        guard let s = try Self.cappedSandbox("oom") else { return }
        try s.submit("a-hog.md", Self.spec(Self.hog, memory: "64M"))
        try s.submit("b-after.md", Self.spec("head -c 100M /dev/zero | tail >/dev/null && echo fine"))
        let r = try s.drain()
        #expect(r.code == 0, "\(r.err.suffix(1500))")
        #expect(r.err.contains("memory caps by"), "the start line says how memory is capped: \(r.err.prefix(800))")
        let hog = try s.result("a-hog")
        #expect(hog.status == .failed)
        #expect(hog.class == .outOfMemory, "\(hog.class.rawValue): \(hog.reason)")
        #expect(hog.reason.contains("killed by the kernel's out-of-memory killer at the 64 MiB cap"), "\(hog.reason)")
        #expect(!hog.reason.contains("signal 9"))
        #expect(hog.attempts.count == 1, "never retried at the same cap: \(hog.attempts.map(\.class))")
        #expect(hog.attempts.first?.retryable == false)
        let peak = try #require(hog.attempts.first?.peakMemoryBytes, "the peak is recorded")
        #expect(peak > 48 << 20 && peak <= 64 << 20, "peak \(peak) bytes, near the 64 MiB cap and never above it")
        #expect(hog.containment?.memoryCapBytes == 64 << 20)
        #expect(["cgroup1", "cgroup2"].contains(hog.containment?.memoryController ?? ""))
        let json = s.read("failed/a-hog.result.json")
        #expect(json.contains("\"peak_memory_bytes\""))
        let after = try s.result("b-after")
        #expect(after.status == .succeeded, "an uncapped spec after the kill runs normally: \(after.reason)")
        #expect(after.containment?.memoryCapBytes == nil)
        // `show` names the cap and the peak.
        let show = try s.mtor(["show", "a-hog"]).out
        #expect(show.contains("memory: capped at 64 MiB per attempt") && show.contains(", peak memory "), "\(show)")
    }

    @Test("a descendant that left the agent's session and allocates is still inside the cap", .timeLimit(.minutes(10)))
    func descendantsAreInside() throws {
        guard let s = try Self.cappedSandbox("oomchild") else { return }
        let rc = s.root + "/rc.txt"
        try s.submit("fork.md", Self.spec("""
            setsid sh -c '\(Self.hog); echo $? > \(rc)' &
            wait $!
            exit 3
            """, memory: "64M"))
        let r = try s.drain()
        #expect(r.code == 0, "\(r.err.suffix(1500))")
        let result = try s.result("fork")
        #expect(result.class == .outOfMemory, "\(result.class.rawValue): \(result.reason)")
        #expect(result.reason.contains("a process of the attempt was killed by the kernel's out-of-memory killer at the 64 MiB cap; the agent then exited 3"), "\(result.reason)")
        let status = try String(contentsOfFile: rc, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(status == "137", "the allocating pipeline died of SIGKILL (128 + 9), got \(status)")
    }

    @Test("verify runs under the task's cap too, and a verify killed there says so", .timeLimit(.minutes(10)))
    func verifyIsCapped() throws {
        guard let s = try Self.cappedSandbox("oomverify") else { return }
        try s.submit("v.md", "---\nrepo: ~/code/widget\nworkspace: in-place\nexpect: nothing\nmemory: 64M\nverify: \(Self.hog)\n---\necho agent done\n")
        let r = try s.drain()
        #expect(r.code == 0, "\(r.err.suffix(1500))")
        let result = try s.result("v")
        #expect(result.class == .verifyFailed)
        #expect(result.verify?.exitCode == 137)
        #expect(result.reason.contains("killed by the kernel's out-of-memory killer at the 64 MiB cap"), "\(result.reason)")
    }

    @Test("--task-memory caps a spec that names no cap; a spec's own memory: wins and its peak is recorded", .timeLimit(.minutes(10)))
    func workerDefault() throws {
        guard let s = try Self.cappedSandbox("taskmem") else { return }
        try s.submit("a-default.md", Self.spec(Self.hog))
        try s.submit("b-own.md", Self.spec("head -c 200M /dev/zero | tail >/dev/null && echo fine", memory: "1G"))
        let r = try s.drain(["--task-memory", "64M"])
        #expect(r.code == 0, "\(r.err.suffix(1500))")
        #expect(r.err.contains("64 MiB per task"), "\(r.err.prefix(800))")
        let capped = try s.result("a-default")
        #expect(capped.class == .outOfMemory)
        #expect(capped.reason.contains("at the 64 MiB cap"), "\(capped.reason)")
        let own = try s.result("b-own")
        #expect(own.status == .succeeded, "\(own.reason)")
        #expect(own.containment?.memoryCapBytes == 1 << 30)
        let peak = try #require(own.attempts.first?.peakMemoryBytes)
        #expect(peak > 150 << 20 && peak < 1 << 30, "a 200 MiB line held by tail: peak \(peak)")
    }

    @Test("six capped tasks at --concurrency 3: each OOM names its own cap, the tasks that fit succeed, no memory cgroup is left", .timeLimit(.minutes(10)))
    func concurrentCaps() throws {
        guard let s = try Self.cappedSandbox("oommany") else { return }
        let caps = ["32M": "32 MiB", "48M": "48 MiB", "96M": "96 MiB"]
        for (cap, _) in caps {
            try s.submit("hog-\(cap).md", Self.spec(Self.hog, memory: cap))
            try s.submit("fits-\(cap).md", Self.spec("head -c 16M /dev/zero | tail >/dev/null; sleep 0.3; echo fine", memory: cap))
        }
        let r = try s.drain(["--concurrency", "3"])
        #expect(r.code == 0, "\(r.err.suffix(1500))")
        var pid: Int32 = 0
        for (cap, shown) in caps {
            let hog = try s.result("hog-\(cap)")
            #expect(hog.class == .outOfMemory && hog.reason.contains("at the \(shown) cap"), "hog-\(cap): \(hog.reason)")
            #expect(hog.attempts.count == 1)
            let fits = try s.result("fits-\(cap)")
            #expect(fits.status == .succeeded, "fits-\(cap): \(fits.reason)")
            #expect((fits.attempts.first?.peakMemoryBytes ?? 0) > 16 << 20, "a 16 MiB line held by tail counts")
            pid = hog.worker.pid
        }
        let base = try #require(memoryBase(), "the v1 memory hierarchy or the unified one with memory")
        let left = ((try? FileManager.default.contentsOfDirectory(atPath: base)) ?? []).filter { $0.hasPrefix("w\(pid)-") }
        #expect(left.isEmpty, "memory cgroups left behind: \(left)")
    }

    @Test("a worker SIGKILLed while a capped task runs: the next worker kills the agent and removes its memory cgroup", .timeLimit(.minutes(10)))
    func recoveryRemovesMemoryCgroup() throws {
        guard let s = try Self.cappedSandbox("oomcrash") else { return }
        let pids = s.root + "/pids"
        try s.submit("stuck.md", Self.spec("setsid sleep 120 & echo $! >> \(pids)\necho $$ >> \(pids)\nsleep 120", memory: "256M"))
        // Unsandboxed: recovery's kill is for agents that outlive their worker (a sandboxed one dies with it).
        let worker = try BackgroundWorker(s, extra: ["--sandbox", "none"])
        try worker.waitFor { ((try? String(contentsOfFile: pids, encoding: .utf8))?.split(separator: "\n").count ?? 0) >= 2 }
        let claim = try JSONDecoder().decode(ClaimRecord.self, from: Data(s.read("claimed/stuck.claim.json").utf8))
        worker.child.signal(SIGKILL)
        let cgroup = try #require(claim.memoryCgroup ?? claim.cgroup, "the claim names the task's memory cgroup")
        #expect(claim.memoryCapBytes == 256 << 20)
        #expect(FileManager.default.fileExists(atPath: cgroup))
        writeFixture("\(s.spool)/cancel/stuck", Data())
        let r = try s.drain()
        #expect(r.code == 0, "\(r.err.suffix(1500))")
        let started = (try String(contentsOfFile: pids, encoding: .utf8)).split(separator: "\n").compactMap { Int32($0) }
        Thread.sleep(forTimeInterval: 0.2)
        #expect(started.filter { ProcessTable.isRunning($0) }.isEmpty, "the dead worker's agent and its daemon are gone; drain said: \(r.err.suffix(2000))")
        #expect(!FileManager.default.fileExists(atPath: cgroup), "the dead worker's memory cgroup was removed")
    }

    /// Where task memory cgroups live on this host: `mtor/` under this process's cgroup in the v1 memory
    /// hierarchy, else in the unified one.
    func memoryBase() -> String? {
        guard let mounts = try? String(contentsOfFile: "/proc/self/mounts", encoding: .utf8),
              let own = try? String(contentsOfFile: "/proc/self/cgroup", encoding: .utf8) else { return nil }
        let fields = mounts.split(separator: "\n").map { $0.split(separator: " ") }.filter { $0.count > 3 }
        let owned = own.split(separator: "\n").map { $0.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false) }.filter { $0.count == 3 }
        func join(_ mount: Substring, _ path: Substring) -> String { "\(mount)\(path == "/" ? "" : path)/mtor" }
        if let v1 = fields.first(where: { $0[2] == "cgroup" && $0[3].split(separator: ",").contains("memory") }),
           let mine = owned.first(where: { $0[1].split(separator: ",").contains("memory") }) {
            return join(v1[1], mine[2])
        }
        if let v2 = fields.first(where: { $0[2] == "cgroup2" }), let mine = owned.first(where: { $0[0] == "0" }) { return join(v2[1], mine[2]) }
        return nil
    }

    @Test("hostile memory values are refused with a sentence naming the problem and the fix", .timeLimit(.minutes(10)),
          arguments: [("lots", "must be a size such as 512M or 4G"), ("0", "cannot run in no memory"), ("99999T", "larger than 64 TiB"),
                      ("4M", "below 8 MiB"), ("99999999999999999999G", "larger than 64 TiB"), ("-1G", "must be a size"), ("[1G]", "must be a size such as 512M or 4G")])
    func hostileValues(value: String, says: String) throws {
        let s = try Sandbox("memval")
        s.lockfile(Lockfiles.make([]))
        try s.submit("bad.md", Self.spec("echo never", memory: value))
        let v = try s.mtor(["validate", "\(s.spool)/inbox/bad.md"])
        #expect(v.code != 0)
        #expect((v.out + v.err).contains(says), "validate: \(v.out) \(v.err)")
        let r = try s.drain()
        #expect(r.code == 0, "\(r.err.suffix(1500))")
        let result = try s.result("bad")
        #expect(result.class == .specInvalid)
        #expect(result.reason.contains("'memory'") && result.reason.contains(says), "\(result.reason)")
        #expect(result.attempts.isEmpty, "nothing ran")
    }

    @Test("a hostile --task-memory is a usage error before the worker starts", .timeLimit(.minutes(10)))
    func hostileFlag() throws {
        let s = try Sandbox("memflag")
        s.lockfile(Lockfiles.make([]))
        for value in ["lots", "0", "1P"] {
            let r = try s.drain(["--task-memory", value])
            #expect(r.code == 2, "--task-memory \(value): \(r.err)")
            #expect(r.err.contains("--task-memory"))
        }
    }
}
