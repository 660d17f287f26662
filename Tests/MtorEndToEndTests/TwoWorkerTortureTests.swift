import Foundation
import Testing
import MtorCore
import MtorPlatform

@Suite("Two workers, 300 SIGKILLs", .serialized)
struct TwoWorkerTortureTests {
    @Test("two workers share a spool while 300 random SIGKILLs hit them: nothing lost, no duplicate sidecar, no concurrent double run, no process left", .timeLimit(.minutes(15)))
    func twoWorkersUnderKills() throws {
        let began = Date()
        let s = try Sandbox("torture2")
        s.lockfile(Lockfiles.make([]))
        let locks = s.root + "/locks", doubles = s.root + "/doubles.txt", runs = s.root + "/runs.txt"
        try FileManager.default.createDirectory(atPath: locks, withIntermediateDirectories: true)
        let count = 240
        let ids = (0..<count).map { String(format: "k%03d", $0) }
        for (i, id) in ids.enumerated() {
            // Each run holds its spec's own flock while it works: a second run of the same spec at
            // the same time finds it taken and says so.
            try s.submit("\(id).md", """
                ---
                repo: ~/code/widget
                retries: 5
                expect: nothing
                ---
                exec 9>>\(locks)/\(id).lock
                if ! flock -n 9; then echo \(id) >> \(doubles); exit 3; fi
                echo \(id) >> \(runs)
                sleep 0.0\(i % 10)
                setsid sleep 30 &
                """)
        }
        var workers: [BackgroundWorker?] = [try BackgroundWorker(s, extra: ["--concurrency", "2", "--rescan", "0.5"]),
                                            try BackgroundWorker(s, extra: ["--concurrency", "2", "--rescan", "0.5"])]
        var kills = 0
        while kills < 300 {
            Thread.sleep(forTimeInterval: Double.random(in: 0.02...0.25))
            let victim = Int.random(in: 0...1)
            if let w = workers[victim] {
                w.child.signal(SIGKILL)
                kills += 1
            }
            workers[victim] = try BackgroundWorker(s, extra: ["--concurrency", "2", "--rescan", "0.5"])
        }
        for w in workers { if let w { w.child.signal(SIGKILL) } }
        workers = []
        let final = try s.drain(["--concurrency", "2"], timeout: 400)
        #expect(final.code == 0, "\(final.err.suffix(2000))")

        var location: [String: [String]] = [:]
        for dir in ["inbox", "claimed", "done", "failed"] {
            for name in try FileManager.default.contentsOfDirectory(atPath: "\(s.spool)/\(dir)") where name.hasSuffix(".md") {
                location[String(name.dropLast(3)), default: []].append(dir)
            }
        }
        #expect(Set(location.keys) == Set(ids), "no spec lost, none duplicated under a new name")
        var sidecars = 0, interrupted = 0
        for id in ids {
            let places = location[id] ?? []
            #expect(places == ["done"] || places == ["failed"], "\(id) is in \(places)")
            for dir in ["done", "failed"] where FileManager.default.fileExists(atPath: "\(s.spool)/\(dir)/\(id).result.json") { sidecars += 1 }
            interrupted += (try? s.result(id))?.attempts.filter { $0.class == .interrupted }.count ?? 0
        }
        #expect(sidecars == count, "one sidecar per spec: \(sidecars) for \(count)")
        let doubled = (try? String(contentsOfFile: doubles, encoding: .utf8)) ?? ""
        #expect(doubled.isEmpty, "specs run twice at the same time: \(doubled.split(separator: "\n").prefix(10))")
        Thread.sleep(forTimeInterval: 0.3)
        // No process of any task is left: each one's setsid'd sleep went with it.
        let left = ProcessTable.all().filter { pid in
            ProcessTable.isRunning(pid) && ((try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/cwd"))?.hasPrefix(s.root) ?? false)
        }
        #expect(left.isEmpty, "processes left running in the sandbox: \(left)")
        let runCount = ((try? String(contentsOfFile: runs, encoding: .utf8)) ?? "").split(separator: "\n").count
        print("two-worker torture: \(String(format: "%.0f", Date().timeIntervalSince(began))) s, \(kills) SIGKILLs, \(count) specs, \(runCount) runs, \(interrupted) interrupted attempts, \(doubled.split(separator: "\n").count) concurrent double runs, \(left.count) processes left")
    }
}
