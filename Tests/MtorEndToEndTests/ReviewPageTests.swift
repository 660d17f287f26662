import Foundation
import Testing
import MtorCore
import MtorPlatform

let chromiumPaths = ["/usr/bin/chromium", "/usr/bin/chromium-browser"]

@Suite("mtor review: the morning page", .serialized)
struct ReviewPageTests {
    /// A night: two tasks ready, one flagged (pure deletion), one failed, one landed.
    static func night() throws -> Sandbox {
        let s = try Sandbox("review")
        s.lockfile(Lockfiles.make([]))
        try s.seed(["README.md": "widget\n", "old.txt": (1...10).map { "line \($0)\n" }.joined()])
        let specs = [
            "add1": commitBody("add1.txt", subject: "add1", nap: "0"),
            "add2": commitBody("add2.txt", subject: "add2", nap: "0"),
            "drop": "git rm -q old.txt && git commit -q -m drop",
            "boom": "echo 'something broke' >&2; exit 3",
            "land": commitBody("land.txt", subject: "land", nap: "0"),
        ]
        for (id, body) in specs.sorted(by: { $0.key < $1.key }) {
            try s.submit("\(id).md", "---\nrepo: ~/code/widget\nharness: sh\nretries: 0\n---\n\(body)\n")
        }
        let run = try s.drain()
        #expect(run.code == 0, "\(run.err)")
        let merged = try s.mtor(["merge", "land", "--spool", s.spool, "--sandbox-writable", s.root])
        #expect(merged.code == 0, "\(merged.out) \(merged.err)")
        return s
    }

    @Test("mtor review --json agrees with the sidecars and merge records: verdict, flags, diffstat, cost, merge state, and the merge command for what is ready",
          .timeLimit(.minutes(15)))
    func json() throws {
        let s = try Self.night()
        let out = try s.mtor(["review", "--json", "--spool", s.spool])
        #expect(out.code == 0, "\(out.err)")
        let review = try JSONDecoder().decode(NightReview.self, from: Data(out.out.utf8))
        #expect(Set(review.rows.map(\.id)) == ["add1", "add2", "drop", "boom", "land"])
        for row in review.rows {
            let r = try s.result(row.id)
            #expect(row.status == r.status.rawValue && row.class == r.class.rawValue, "\(row.id)")
            #expect(row.flags == (r.review?.flags.map(\.rawValue) ?? []), "\(row.id)")
            #expect(row.diffstat == (r.review?.diffstat ?? r.git?.diffstat), "\(row.id)")
            #expect(row.costUSD == r.usage?.costUSD && row.finishedAt == r.finishedAt)
        }
        let byID = Dictionary(uniqueKeysWithValues: review.rows.map { ($0.id, $0) })
        #expect(byID["drop"]?.flags.contains("pure_deletion") == true)
        #expect(byID["boom"]?.status == "failed" && byID["boom"]?.merge == "-")
        let main = try s.out(["rev-parse", "main"])
        #expect(byID["land"]?.merge == "landed" && byID["land"]?.mergeCommit == main)
        let ready = try ["add1", "add2", "drop"].map { try s.result($0) }.sorted { ($0.finishedAt, $0.id) < ($1.finishedAt, $1.id) }.map(\.id)
        #expect(review.ready == ready)
        #expect(review.mergeCommand == "mtor merge --spool \(s.spool) " + ready.joined(separator: " "))
        let text = try s.mtor(["review", "--spool", s.spool]).out
        #expect(text.contains("ready to merge (3): mtor merge") && text.contains("FLAGS: pure_deletion"), "\(text)")
        let later = try s.mtor(["review", "--json", "--since", "2099-01-01T00:00:00Z", "--spool", s.spool])
        let none = try JSONDecoder().decode(NightReview.self, from: Data(later.out.utf8))
        #expect(none.rows.isEmpty)
        #expect(try s.mtor(["review", "--since", "yesterday", "--spool", s.spool]).code == 2)
    }

    @Test("mtor review --html: one self-contained page; headless Chromium's DOM holds every task, the flags, the timeline, each diff and the merge command; a screenshot is kept",
          .requiresInCI("Chromium", at: chromiumPaths, install: "apt-get install chromium"), .timeLimit(.minutes(15)))
    func html() throws {
        guard let chromium = requiredProgram("Chromium", at: chromiumPaths) else { return }
        let s = try Self.night()
        let page = s.root + "/night.html"
        let wrote = try s.mtor(["review", "--html", page, "--spool", s.spool])
        #expect(wrote.code == 0, "\(wrote.err)")
        let source = try String(contentsOfFile: page, encoding: .utf8)
        // Self-contained: nothing fetched (the SVG namespace is a name, not a request).
        for external in ["src=", "<link", "@import", "url(", "<script", "href=\"http"] {
            #expect(!source.contains(external), "the page refers to something outside itself: \(external)")
        }
        let env = ["PATH": "/usr/bin:/bin", "HOME": s.home, "TMPDIR": "/tmp"]
        let dom = try ChildProcess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--dump-dom", "file://" + page], environment: env, timeout: 120)
        let html = String(decoding: dom.stdout, as: UTF8.self)
        #expect(dom.0.succeeded, "\(String(decoding: dom.stderr, as: UTF8.self).suffix(1000))")
        for id in ["add1", "add2", "drop", "boom", "land"] {
            #expect(html.contains("data-id=\"\(id)\""), "the table lacks \(id)")
            #expect(html.contains("id=\"diff-\(id)\""), "no diff section for \(id)")
        }
        #expect(html.contains("<tr id=\"task-drop\" class=\"task flagged\""), "the flagged task is highlighted")
        #expect(html.contains("<span class=\"flag\">pure_deletion</span>"))
        #expect(html.contains("<svg id=\"timeline\"") && html.contains("<rect"), "the timeline is inline SVG")
        #expect(html.contains("<span class=\"del\">-line 3</span>"), "the drop task's diff, with its removed lines marked")
        #expect(html.contains("id=\"merge-command\">mtor merge --spool"), "the merge command")
        #expect(html.contains("<table id=\"cost\">"))
        // A picture of the page where CI keeps artifacts.
        let artifacts = ProcessInfo.processInfo.environment["MTOR_ARTIFACTS"] ?? packageRoot + "/.ci/artifacts"
        try FileManager.default.createDirectory(atPath: artifacts, withIntermediateDirectories: true)
        let png = artifacts + "/mtor-review.png"
        try? FileManager.default.removeItem(atPath: png)
        let shot = try ChildProcess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--window-size=1280,1400",
                                         "--screenshot=" + png, "file://" + page], environment: env, timeout: 120)
        #expect(shot.0.succeeded, "\(String(decoding: shot.stderr, as: UTF8.self).suffix(1000))")
        let bytes = FileManager.default.contents(atPath: png) ?? Data()
        #expect(bytes.count > 10_000 && bytes.starts(with: [0x89, 0x50, 0x4E, 0x47]), "a PNG at \(png) (\(bytes.count) bytes)")
    }
}
