import Foundation
import Testing
import MtorPlatform

// Time limits as the rest of the suite's: a limit counts from when a test is scheduled, and on two
// cores Swift Testing's two threads can be held minutes by the long blocking tests (a 5-minute limit
// tripped on these 0.1 s tests in two full runs beside two busy loops).
@Suite("Task cgroups kept between tasks")
struct CgroupPoolTests {
    static let env = ["PATH": "/usr/bin:/bin"]

    static func run(_ script: String, in box: Containment) throws -> (Termination, String) {
        let r = try ChildProcess.run(["/bin/sh", "-c", script], environment: env, timeout: 30, containment: box)
        return (r.0, String(decoding: r.stdout, as: UTF8.self))
    }

    @Test("an emptied cgroup is the next task's, its processes born in it; one with a leftover is killed, removed and never reused",
          .timeLimit(.minutes(10)))
    func reusedOnlyWhenLeftClean() throws {
        try #require(usableMethods.contains(.cgroup2), "cgroup v2 is not usable on this host")
        let pool = CgroupPool(keep: 2)
        defer { pool.removeAll() }
        let first = Containment.create(name: "w\(getpid())-pool-a", preference: .cgroup2, pool: pool)
        let path = try #require(first.path)
        #expect(CgroupPool.isPooled(FileSystem.basename(of: path), of: getpid()), "\(path)")
        #expect(try Self.run("echo one", in: first) == (.exited(0), "one\n"))
        first.dispose()
        #expect(pool.count == 1 && FileManager.default.fileExists(atPath: path), "an empty cgroup is kept")

        let second = Containment.create(name: "w\(getpid())-pool-b", preference: .cgroup2, pool: pool)
        #expect(second.path == path, "the kept cgroup is taken")
        #expect(second.marker != first.marker, "each task has its own marker")
        let (status, cgroup) = try Self.run("cat /proc/self/cgroup", in: second)
        #expect(status == .exited(0) && cgroup.contains(FileSystem.basename(of: path)), "born in the kept cgroup: \(cgroup)")
        // A daemon the task leaves behind: ended through cgroup.kill, so the cgroup is not kept.
        #expect(try Self.run("setsid sleep 30 & exit 0", in: second).0 == .exited(0))
        second.dispose()
        #expect(pool.count == 0, "a cgroup that needed killing is not kept")
        #expect(!FileManager.default.fileExists(atPath: path), "it is removed")

        let third = Containment.create(name: "w\(getpid())-pool-c", preference: .cgroup2, pool: pool)
        #expect(third.path != nil && third.path != path, "a new cgroup, not the killed one")
        for n in 0..<3 { #expect(try Self.run("echo alive", in: third) == (.exited(0), "alive\n"), "run \(n) in the new cgroup") }
        let thirdPath = try #require(third.path)
        third.dispose()
        #expect(pool.count == 1)
        pool.removeAll()
        #expect(pool.count == 0 && !FileManager.default.fileExists(atPath: thirdPath), "the worker's stop removes what it kept")
        // Closed: a later task makes its own and removes it.
        let late = Containment.create(name: "w\(getpid())-pool-d", preference: .cgroup2, pool: pool)
        let latePath = try #require(late.path)
        late.dispose()
        #expect(!FileManager.default.fileExists(atPath: latePath))
    }

    @Test("a task's containment once given back sees and kills nothing of the next task that took its cgroup", .timeLimit(.minutes(10)))
    func givenBackIsBlind() throws {
        try #require(usableMethods.contains(.cgroup2), "cgroup v2 is not usable on this host")
        let pool = CgroupPool(keep: 2)
        defer { pool.removeAll() }
        let first = Containment.create(name: "w\(getpid())-blind-a", preference: .cgroup2, pool: pool)
        #expect(try Self.run("true", in: first).0 == .exited(0))
        first.dispose()
        let second = Containment.create(name: "w\(getpid())-blind-b", preference: .cgroup2, pool: pool)
        #expect(second.path == first.path)
        let child = try ChildProcess(executable: "/bin/sleep", argv: ["sleep", "30"], environment: Self.env, directory: nil, containment: second)
        #expect(second.members() == [child.pid])
        // The first task's own end, called again (a late killAll of its conclusion): its cgroup is not its own any more.
        #expect(first.members().isEmpty)
        #expect(first.killAll(timeout: 1) == 0)
        #expect(ProcessTable.isRunning(child.pid), "the next task's process was left alone")
        second.dispose()
        #expect(!ProcessTable.isRunning(child.pid) || ProcessTable.startTime(child.pid) == nil, "its own end killed it")
    }

    @Test("a cgroup with a memory cap is never kept (the next task would inherit its limit and its peak)", .timeLimit(.minutes(10)))
    func cappedIsNotKept() throws {
        try #require(usableMethods.contains(.cgroup2), "cgroup v2 is not usable on this host")
        let pool = CgroupPool(keep: 2)
        defer { pool.removeAll() }
        let box = Containment.create(name: "w\(getpid())-pool-cap", preference: .cgroup2, pool: pool)
        let path = try #require(box.path)
        try box.capMemory(256 << 20)
        #expect(try Self.run("echo capped", in: box) == (.exited(0), "capped\n"))
        box.dispose()
        #expect(pool.count == 0)
        #expect(!FileManager.default.fileExists(atPath: path))
    }

    @Test("only worker <pid>'s own kept names count as its pool (what recovery trusts)")
    func names() {
        #expect(CgroupPool.isPooled("w123-~4", of: 123))
        #expect(CgroupPool.isPooled("w123-~40", of: 123))
        for name in ["w123-~", "w1234-~4", "w12-~4", "w123-~4x", "w123-t1", "w123-~-1", "unified", "w123-~4/x"] {
            #expect(!CgroupPool.isPooled(name, of: 123), "\(name)")
        }
    }
}
