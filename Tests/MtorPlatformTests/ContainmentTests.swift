import Foundation
import Testing
import MtorPlatform

/// The methods this host can really use (all three on a root host with cgroups).
let usableMethods: [Containment.Method] = Containment.Method.allCases.filter { Containment.resolve(Containment.Preference(rawValue: $0.rawValue)!) == $0 }

@Suite("Containment: what a task starts never outlives it")
struct ContainmentTests {
    @Test("a setsid'd, double-forked process is found and killed by every method this host has", .timeLimit(.minutes(10)),
          arguments: Containment.Method.allCases)
    func escapeIsCaught(method: Containment.Method) throws {
        try #require(usableMethods.contains(method), "containment \(method.rawValue) is not usable on this host (root and a cgroup mount are needed)")
        let dir = NSTemporaryDirectory() + "mtor-contain-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let box = Containment.create(name: "w\(getpid())-test-\(method.rawValue)-\(UUID().uuidString.prefix(6))", preference: Containment.Preference(rawValue: method.rawValue)!)
        #expect(box.method == method)
        // The leader exits at once; its grandchild escapes the process group and the session.
        let script = "( setsid sh -c 'sleep 3; echo late > \(dir)/LATE.txt' & ) ; echo started; exit 0"
        let r = try ChildProcess.run(["/bin/sh", "-c", script], environment: ["PATH": "/usr/bin:/bin"], timeout: 30, containment: box)
        #expect(r.0 == .exited(0))
        // ChildProcess kills the containment when the leader is gone: nothing is left.
        #expect(box.members().isEmpty, "left running: \(box.members())")
        box.dispose()
        Thread.sleep(forTimeInterval: 3.5)
        #expect(!FileManager.default.fileExists(atPath: dir + "/LATE.txt"), "the escaped process ran to the end")
        if let path = box.path { #expect(!FileManager.default.fileExists(atPath: path), "the cgroup was removed") }
    }

    @Test("after a cgroup was killed, the task's next process still runs (Linux 6.18 kills every clone3 CLONE_INTO_CGROUP child of a killed cgroup)",
          .timeLimit(.minutes(15)), arguments: Containment.Method.allCases)
    func runsAfterKill(method: Containment.Method) throws {
        try #require(usableMethods.contains(method), "containment \(method.rawValue) is not usable on this host")
        let box = Containment.create(name: "w\(getpid())-rekill-\(method.rawValue)-\(UUID().uuidString.prefix(6))", preference: Containment.Preference(rawValue: method.rawValue)!)
        defer { box.dispose() }
        // A leftover that only the containment's kill ends: the leader exits, its daemon stays.
        let first = try ChildProcess.run(["/bin/sh", "-c", "setsid sleep 30 & exit 0"], environment: ["PATH": "/usr/bin:/bin"], timeout: 30, containment: box)
        #expect(first.0 == .exited(0))
        #expect(box.members().isEmpty, "the leftover was killed")
        // Verify, a git command or the next attempt, in the same containment: it must run.
        for n in 0..<3 {
            let next = try ChildProcess.run(["/bin/sh", "-c", "echo alive"], environment: ["PATH": "/usr/bin:/bin"], timeout: 30, containment: box)
            #expect(next.0 == .exited(0) && String(decoding: next.stdout, as: UTF8.self) == "alive\n", "run \(n) after the kill: \(next.0)")
        }
    }

    @Test("every process of a task carries the marker, whatever it does to its session", .timeLimit(.minutes(10)))
    func markerSurvivesSetsid() throws {
        let box = Containment.create(name: "w\(getpid())-marker-\(UUID().uuidString.prefix(6))", preference: .marker)
        let child = try ChildProcess(executable: "/bin/sh", argv: ["/bin/sh", "-c", "setsid sleep 30 & sleep 30"], environment: ["PATH": "/usr/bin:/bin"],
                                     directory: nil, containment: box)
        defer { box.dispose() }
        var members: [Int32] = []
        for _ in 0..<200 where members.count < 3 {
            members = box.members()
            Thread.sleep(forTimeInterval: 0.01)
        }
        #expect(members.count == 3, "sh, its sleep and the setsid'd sleep: \(members)")
        #expect(members.contains(child.pid))
        #expect(box.killAll() >= 3)
        #expect(box.members().isEmpty)
        _ = child.capture(timeout: 5)
    }

    @Test("a gated child never runs when its owner abandons it before release", .timeLimit(.minutes(10)))
    func gateHolds() throws {
        let dir = NSTemporaryDirectory() + "mtor-gate-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let child = try ChildProcess(executable: "/bin/sh", argv: ["/bin/sh", "-c", "touch \(dir)/ran"], environment: ["PATH": "/usr/bin:/bin"],
                                     directory: nil, gated: true)
        Thread.sleep(forTimeInterval: 0.3)
        #expect(!FileManager.default.fileExists(atPath: dir + "/ran"), "the child ran before release")
        child.abandon()
        #expect(!ProcessControl.isAlive(child.pid))
        #expect(!FileManager.default.fileExists(atPath: dir + "/ran"))

        let released = try ChildProcess(executable: "/bin/sh", argv: ["/bin/sh", "-c", "touch \(dir)/ran"], environment: ["PATH": "/usr/bin:/bin"],
                                        directory: nil, gated: true)
        try released.release()
        #expect(released.capture(timeout: 10).0 == .exited(0))
        #expect(FileManager.default.fileExists(atPath: dir + "/ran"))
    }

    @Test("a gated child whose program cannot be executed reports the errno at release", .timeLimit(.minutes(10)))
    func gatedExecFailure() throws {
        let child = try ChildProcess(executable: "/nonexistent/agent", argv: ["/nonexistent/agent"], environment: [:], directory: nil, gated: true)
        #expect(throws: SystemError.self) { try child.release() }
        #expect(!ProcessControl.isAlive(child.pid))
    }

    @Test("the orphan reaper never takes an exit a ChildProcess waits for: 300 short runs beside a reaper spinning on another thread",
          .timeLimit(.minutes(10)))
    func reaperLeavesOwnedChildren() throws {
        ProcessControl.becomeSubreaper()
        let stop = Flag()
        let reaper = Thread {
            while !stop.isSet { ChildProcess.reapOrphans() }
        }
        reaper.start()
        defer { stop.set() }
        var wrong: [String] = []
        for i in 0..<300 {
            // Orphans keep appearing too: the reaper must take them and only them.
            let script = i % 3 == 0 ? "(sleep 0.01 &) ; exit 7" : "exec >/dev/null 2>&1; exit 7"
            let r = try ChildProcess.run(["/bin/sh", "-c", script], environment: ["PATH": "/usr/bin:/bin"], timeout: 30)
            if r.0 != .exited(7) { wrong.append("\(i): \(r.0)") }
        }
        #expect(wrong.isEmpty, "exits taken by the reaper: \(wrong.prefix(10))")
    }
}

final class Flag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    var isSet: Bool { lock.withLock { value } }
    func set() { lock.withLock { value = true } }
}
