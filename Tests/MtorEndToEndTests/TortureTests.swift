import Foundation
import Testing
import MtorCore
import MtorPlatform

@Suite("Nothing is lost: SIGKILL at random instants", .serialized)
struct TortureTests {
    static let planted = "planted-secret-7f3a9c"

    @Test("300 specs, the worker SIGKILLed at least 50 times: every spec ends once, with one sidecar, and the ledger agrees", .timeLimit(.minutes(10)))
    func torture() throws {
        let began = Date()
        let s = try Sandbox("torture")
        // A provider whose secret the sh "agent" prints: it must never reach a file of the spool.
        s.lockfile(Lockfiles.make([.init(name: "leaky", baseURL: "http://127.0.0.1:9", authEnv: "MTOR_TOKEN", secretEnv: "PLANTED", harness: "sh")]))
        s.envFile("PLANTED=\(TortureTests.planted)\n")
        let count = 300
        var ids: [String] = []
        for i in 0..<count {
            let id = String(format: "t%03d", i)
            ids.append(id)
            let nap = Double(Int.random(in: 1...30)) / 1000
            try s.submit("\(id).md", """
                ---
                repo: ~/code/widget
                provider: leaky
                retries: 5
                ---
                echo "token=$MTOR_TOKEN"
                sleep \(nap)
                echo \(id) >> torture.txt; git add torture.txt && git -c user.name=t -c user.email=t@t commit -q -m "\(id)"
                """)
        }
        _ = ids
        var kills = 0
        var rounds = 0
        while kills < 50 || rounds < 55 {
            rounds += 1
            let worker = try BackgroundWorker(s, extra: ["--concurrency", "2"])
            Thread.sleep(forTimeInterval: Double.random(in: 0.05...0.4))
            // SIGKILL only the worker (agents run in their own process groups and are orphaned).
            worker.child.signal(SIGKILL)
            kills += 1
            Thread.sleep(forTimeInterval: 0.02)
            if kills >= 50 { break }
        }
        let final = try s.drain(["--concurrency", "2"], timeout: 200)
        #expect(final.code == 0, "\(final.err.suffix(2000))")

        // Every spec in exactly one of done/ or failed/, with exactly one sidecar that parses.
        let dirs = ["inbox", "claimed", "done", "failed"]
        var location: [String: [String]] = [:]
        for dir in dirs {
            for name in try FileManager.default.contentsOfDirectory(atPath: "\(s.spool)/\(dir)") where name.hasSuffix(".md") {
                location[String(name.dropLast(3)), default: []].append(dir)
            }
        }
        #expect(Set(location.keys) == Set(ids), "no spec lost, none duplicated under a new name")
        var attempts = 0, interrupted = 0, succeeded = 0
        var firstSucceeded: String?
        var failedClasses: [String: Int] = [:]
        for id in ids {
            let places = location[id] ?? []
            #expect(places.count == 1 && (places == ["done"] || places == ["failed"]), "\(id) is in \(places)")
            guard let dir = places.first else { continue }
            let sidecars = try FileManager.default.contentsOfDirectory(atPath: "\(s.spool)/\(dir)").filter { $0 == "\(id).result.json" }
            #expect(sidecars.count == 1)
            let r = try s.result(id)
            #expect(r.id == id)
            attempts += r.attempts.count
            interrupted += r.attempts.filter { $0.class == .interrupted }.count
            if r.status == .succeeded { succeeded += 1; firstSucceeded = firstSucceeded ?? id } else { failedClasses["\(r.class.rawValue): \(r.reason.prefix(80))", default: 0] += 1 }
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: s.spool + "/claimed").isEmpty)

        // The ledger's last terminal event per task matches its directory.
        var terminal: [String: String] = [:]
        for e in s.ledger() where [.succeeded, .failed, .cancelled].contains(e.event) { terminal[e.id] = e.event.rawValue }
        for id in ids {
            let dir = location[id]?.first
            #expect(terminal[id] == (dir == "done" ? "succeeded" : "failed"), "ledger says \(terminal[id] ?? "nothing") for \(id) in \(dir ?? "?")")
        }

        // No harness process is left running in the repo.
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: "/proc").compactMap(Int32.init).filter { pid in
            let cwd = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/cwd")) ?? ""
            return cwd == s.repo || cwd.hasPrefix(s.spool + "/work/")
        }
        #expect(leftovers.isEmpty, "processes still running in the repo: \(leftovers)")

        // The planted secret appears in no file of the spool.
        for file in try FileManager.default.subpathsOfDirectory(atPath: s.spool) {
            guard let data = FileManager.default.contents(atPath: s.spool + "/" + file) else { continue }
            #expect(!String(decoding: data, as: UTF8.self).contains(TortureTests.planted), "secret in \(file)")
        }
        // The agent's own output, redacted, in the log of a task whose agent surely ran (t000 itself may
        // have been killed before its agent started in each of its 6 attempts: about 1 spec in 20 is).
        let ran = try #require(firstSucceeded, "some spec succeeded")
        #expect(s.read("logs/\(ran).log").contains("token=***"), "the agent's line about the secret, redacted, in logs/\(ran).log")
        print("torture: \(String(format: "%.0f", Date().timeIntervalSince(began))) s, \(kills) SIGKILLs, \(ids.count) specs, \(succeeded) succeeded, \(attempts) attempts, \(interrupted) interrupted; failed: \(failedClasses)")
    }
}
