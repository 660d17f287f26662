import Foundation
import Testing
@testable import MtorPlatform

/// A task's memory cgroup against the real kernel: every process joins it before exec, the OOM killer
/// acts at the cap and is counted, the peak is the attempt's own, and nothing is left behind.
@Suite("Memory cgroups: the cap holds for everything a task starts")
struct MemoryCgroupTests {
    static let support = Containment.memoryCapSupport(.auto)

    func box(_ label: String, preference: Containment.Preference = .auto) -> Containment {
        Containment.create(name: "w\(getpid())-mem-\(label)-\(UUID().uuidString.prefix(6))", preference: preference)
    }

    @Test("a 600 MiB allocation two processes down dies at a 32 MiB cap; the kill is counted and the peak stays at the cap", .timeLimit(.minutes(10)),
          arguments: usableMethods.filter { $0 != .marker })
    func oomAtCap(method: Containment.Method) throws {
        if case .failure(let why) = Self.support { Issue.record("this host cannot cap memory: \(why)"); return }
        let box = self.box("oom", preference: Containment.Preference(rawValue: method.rawValue)!)
        defer { box.dispose() }
        try box.capMemory(32 << 20)
        let memory = try #require(box.memory)
        #expect(memory.cap == 32 << 20)
        let mark = memory.begin()
        let script = "sh -c 'head -c 600M /dev/zero | tail >/dev/null; echo $?'"
        let r = try ChildProcess.run(["/bin/sh", "-c", script], environment: ["PATH": "/usr/bin:/bin"], timeout: 60, containment: box)
        let used = memory.end(mark)
        // Which processes the OOM killer takes is the kernel's choice: tail first (the largest); when the
        // cgroup is still over its cap (page cache is charged too), the shell that would report it may follow.
        // Then the outer shell says so instead: dash does not exec its last command, so it exits 137 for the
        // inner shell's SIGKILL (or is killed itself).
        let said = String(decoding: r.stdout, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        let shellKilled = r.0 == .exited(128 + SIGKILL) || r.0 == .signaled(SIGKILL)
        #expect(said == "137" || (said.isEmpty && shellKilled), "tail died of SIGKILL (or its shell too): said '\(said)', \(r.0)")
        #expect((used.oomKills ?? 0) >= 1, "the OOM kill is counted: \(String(describing: used.oomKills))")
        let peak = try #require(used.peakBytes)
        #expect(peak <= 32 << 20 && peak > 16 << 20, "peak \(peak)")
        // The next attempt starts from a fresh peak and count.
        let second = memory.begin()
        _ = try ChildProcess.run(["/bin/true"], environment: [:], containment: box)
        let quiet = memory.end(second)
        #expect(quiet.oomKills == 0)
        #expect((quiet.peakBytes ?? .max) < 16 << 20, "the second attempt's own peak: \(String(describing: quiet.peakBytes))")
    }

    @Test("every spawned process is in the memory cgroup before it execs, and the cgroup is gone after dispose", .timeLimit(.minutes(10)))
    func joinsBeforeExec() throws {
        if case .failure(let why) = Self.support { Issue.record("this host cannot cap memory: \(why)"); return }
        let box = self.box("join")
        try box.capMemory(256 << 20)
        let memory = try #require(box.memory)
        // The child reads its own /proc/self/cgroup: the first thing it runs is already inside.
        let r = try ChildProcess.run(["/bin/cat", "/proc/self/cgroup"], environment: [:], containment: box)
        let lines = String(decoding: r.stdout, as: UTF8.self)
        let leaf = memory.path.split(separator: "/").last.map(String.init) ?? "?"
        #expect(lines.split(separator: "\n").contains { $0.contains(memory.controller == .cgroup1 ? ":memory:" : "0::") && $0.hasSuffix("/" + leaf) },
                "\(lines)")
        let child = try ChildProcess(executable: "/bin/sh", argv: ["/bin/sh", "-c", "setsid sleep 30 & sleep 30"], environment: ["PATH": "/usr/bin:/bin"],
                                     directory: nil, containment: box)
        var members: [Int32] = []
        for _ in 0..<200 where members.count < 3 {
            members = box.members()
            Thread.sleep(forTimeInterval: 0.01)
        }
        #expect(members.count == 3)
        box.dispose()
        _ = child.capture(timeout: 5)
        #expect(!FileManager.default.fileExists(atPath: memory.path), "the memory cgroup was removed")
    }

    @Test("a marker-contained task is capped through the v1 memory hierarchy when the host has one, and refused with the reason when not", .timeLimit(.minutes(10)))
    func markerCap() throws {
        let mounts = try String(contentsOfFile: "/proc/self/mounts", encoding: .utf8)
        let hasV1Memory = mounts.split(separator: "\n").contains { $0.split(separator: " ").count > 3 && $0.split(separator: " ")[2] == "cgroup" && $0.split(separator: " ")[3].split(separator: ",").contains("memory") }
        let box = self.box("marker", preference: .marker)
        defer { box.dispose() }
        do {
            try box.capMemory(64 << 20)
            #expect(hasV1Memory && getuid() == 0, "a cap was set without a v1 memory hierarchy to set it in")
            #expect(box.memory?.controller == .cgroup1)
            let limit = try String(contentsOfFile: (box.memory?.path ?? "/nonexistent") + "/memory.limit_in_bytes", encoding: .utf8)
            #expect(limit.trimmingCharacters(in: .whitespacesAndNewlines) == "\(64 << 20)")
        } catch {
            #expect(!(hasV1Memory && getuid() == 0), "root with a v1 memory hierarchy could not cap: \(error)")
            #expect(box.memory == nil)
            #expect("\(error)".contains("contained by marker") && "\(error)".contains("remove the cap"), "\(error)")
        }
    }
}

/// The cgroup v2 delegation step behind memory caps on systemd hosts (`Delegate=yes`), proven with the
/// `hugetlb` controller, which this kind of host offers in its unified hierarchy (memory is bound to v1
/// here): the worker leaves its own cgroup for a leaf so that cgroup can hand the controller down.
@Suite("cgroup v2 delegation: a controller enabled down to a task's cgroup", .serialized)
struct DelegationTests {
    static let mount = Hierarchy.unified()?.mount
    static let hasHugetlb: Bool = {
        guard let mount else { return false }
        let text = (try? String(contentsOfFile: mount + "/cgroup.controllers", encoding: .utf8)) ?? ""
        return getuid() == 0 && text.split(whereSeparator: \.isWhitespace).contains("hugetlb")
    }()

    func sleeper() throws -> ChildProcess {
        try ChildProcess(executable: "/bin/sleep", argv: ["/bin/sleep", "60"], environment: [:], directory: nil)
    }

    func procs(_ dir: String) -> [Int32] {
        ((try? String(contentsOfFile: dir + "/cgroup.procs", encoding: .utf8)) ?? "").split(separator: "\n").compactMap { Int32($0) }
    }

    @Test("the worker moves itself into a leaf and the controller reaches the task's cgroup; no other process is ever moved",
          .enabled(if: hasHugetlb, "needs root and hugetlb in the unified hierarchy's root"), .timeLimit(.minutes(10)))
    func delegates() throws {
        let mount = try #require(Self.mount)
        let rootBefore = (try? String(contentsOfFile: mount + "/cgroup.subtree_control", encoding: .utf8)) ?? ""
        let own = mount + "/mtor-delegation-\(getpid())-\(UUID().uuidString.prefix(6))"
        let other = own + "-shared"
        let worker = try sleeper(), bystander = try sleeper(), sharedWorker = try sleeper()
        defer {
            for p in [worker, bystander, sharedWorker] { kill(p.pid, SIGKILL); _ = p.capture(timeout: 5) }
            for dir in [own + "/mtor/task", own + "/mtor", own + "/mtor-worker", own, other + "/mtor/task", other + "/mtor", other + "/mtor-worker", other] { rmdir(dir) }
            if !rootBefore.contains("hugetlb") { _ = try? "-hugetlb".write(toFile: mount + "/cgroup.subtree_control", atomically: false, encoding: .utf8) }
        }
        for dir in [own, own + "/mtor", own + "/mtor/task", other, other + "/mtor", other + "/mtor/task"] {
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: false)
        }
        try "\(worker.pid)".write(toFile: own + "/cgroup.procs", atomically: false, encoding: .utf8)
        // The worker alone in its cgroup: it moves to the leaf, and the task's cgroup gets the controller.
        #expect(Hierarchy.enable("hugetlb", below: own + "/mtor/task", mount: mount, ownDir: own, pid: worker.pid))
        #expect(procs(own + "/mtor-worker") == [worker.pid])
        #expect(procs(own).isEmpty)
        let controllers = try String(contentsOfFile: own + "/mtor/task/cgroup.controllers", encoding: .utf8)
        #expect(controllers.contains("hugetlb"), "\(controllers)")
        // A cgroup shared with a process that is not the worker: the worker moves, the other stays, and the answer is no.
        try "\(sharedWorker.pid)".write(toFile: other + "/cgroup.procs", atomically: false, encoding: .utf8)
        try "\(bystander.pid)".write(toFile: other + "/cgroup.procs", atomically: false, encoding: .utf8)
        #expect(!Hierarchy.enable("hugetlb", below: other + "/mtor/task", mount: mount, ownDir: other, pid: sharedWorker.pid))
        #expect(procs(other) == [bystander.pid], "the bystander was never moved")
        // A refusal from a cgroup that is not the worker's own moves nothing.
        try "\(sharedWorker.pid)".write(toFile: other + "/cgroup.procs", atomically: false, encoding: .utf8)
        #expect(!Hierarchy.enable("hugetlb", below: other + "/mtor/task", mount: mount, ownDir: own, pid: sharedWorker.pid))
        #expect(Set(procs(other)) == [bystander.pid, sharedWorker.pid])
    }
}
