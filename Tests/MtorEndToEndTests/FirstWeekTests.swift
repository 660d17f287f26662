import Foundation
import Testing
import MtorCore
import MtorPlatform

/// Issue 26, "a first week without surprises": what a newcomer met in the first days, each against the built binary.
@Suite("A first week without surprises")
struct FirstWeekTests {
    @Test("a spec that failed can be submitted again at once and runs; a twin of a queued one is refused by validate and submit naming --force, and by the worker as `duplicate`",
          .timeLimit(.minutes(10)))
    func resubmitAfterFailure() throws {
        let s = try Sandbox.scheduling("resubmit")
        let window = ["--dedup-window", "10m"]
        let dir = s.root + "/specs"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        writeFixture(dir + "/exit1.md", Data("---\nrepo: ~/code/widget\nexpect: nothing\n---\necho failing >&2; exit 1\n".utf8))
        let lock = ["--spool", s.spool, "--providers", s.etc + "/providers.json"]
        let submit = { (extra: [String]) throws -> (code: Int32, out: String, err: String) in try s.mtor(["submit"] + lock + extra + [dir + "/exit1.md"]) }
        let idOf = { (out: String) throws -> String in try #require(out.split(separator: " ").dropFirst(3).first.map(String.init), "\(out)") }
        let first = try submit([])
        #expect(first.code == 0, "\(first.err)")
        #expect(try s.drain(window).code == 0)
        #expect(try s.result(try idOf(first.out)).class == .agentFailed)
        // Re-submitted within the window: accepted, and the worker runs it (it fails again, as the script does).
        let second = try submit([])
        #expect(second.code == 0, "\(second.out) \(second.err)")
        #expect(try s.drain(window).code == 0)
        let rerun = try s.result(try idOf(second.out))
        #expect(rerun.class == .agentFailed && rerun.attempts.count == 1, "a failed twin must not block a re-run: \(rerun.class.rawValue): \(rerun.reason)")
        // A twin of a queued spec: validate and submit say so at once, naming --force.
        let queued = try submit([])
        #expect(queued.code == 0, "\(queued.err)")
        let queuedID = try idOf(queued.out)
        let v = try s.mtor(["validate"] + lock + [dir + "/exit1.md"])
        #expect(v.code == 1 && v.out.contains("duplicate") && v.out.contains(queuedID) && v.out.contains("mtor submit --force"), "\(v.out)")
        let refused = try submit([])
        #expect(refused.code == 1 && refused.out.contains("duplicate") && refused.out.contains("mtor submit --force"), "\(refused.out) \(refused.err)")
        #expect(refused.err.contains("nothing was submitted"), "\(refused.err)")
        let forced = try submit(["--force"])
        #expect(forced.code == 0, "\(forced.err)")
        // Twins dropped by hand: the later one ends as `duplicate`, never `spec_invalid`, and is not retried.
        try s.submit("twin-a.md", "---\nrepo: ~/code/widget\nexpect: nothing\n---\necho twins\n")
        try s.submit("twin-b.md", "---\nrepo: ~/code/widget\nexpect: nothing\n---\necho twins\n")
        #expect(try s.drain(window).code == 0)
        let twin = try s.result("twin-b")
        #expect(twin.class == .duplicate && twin.attempts.isEmpty && twin.reason.contains("twin-a") && twin.reason.contains("mtor submit --force"), "\(twin.class.rawValue): \(twin.reason)")
        let forcedID = try idOf(forced.out)
        #expect(try s.result(forcedID).class == .agentFailed, "--force runs it")
        let help = try s.mtor(["help", "classes"])
        #expect(help.out.contains("duplicate") && help.out.contains("never"), "\(help.out)")
    }

    @Test("convert prints the converted spec with an unknown key left in place and named on stderr by its file line; a mapped repo that is no git tree is named; --write refuses it", .timeLimit(.minutes(15)))
    func convertUnknownKey() throws {
        let s = try Sandbox("convert-unknown")
        let path = s.root + "/fix-login.md"
        let source = "---\ntitle: fix the login\nworking_directory: \(s.root)/not-a-repo\nfoo_bar: 1\nmax_retries: 2\n---\nFix the login.\n"
        writeFixture(path, Data(source.utf8))
        let r = try s.mtor(["convert", path])
        #expect(r.code == 1)
        #expect(r.out == "---\ntitle: fix the login\nrepo: \(s.root)/not-a-repo\nfoo_bar: 1\nretries: 2\n---\nFix the login.\n", "stdout: \(r.out)")
        #expect(r.err.contains("left 'foo_bar' on line 4"), "\(r.err)")
        #expect(r.err.contains("unknown key 'foo_bar' on line 4;"), "one numbering (file lines): \(r.err)")
        #expect(!r.err.contains("of the frontmatter"), "\(r.err)")
        #expect(r.err.contains("line 3: 'repo' \(s.root)/not-a-repo does not exist"), "convert names the repo: \(r.err)")
        let w = try s.mtor(["convert", "--write", path])
        #expect(w.code == 1 && w.out.contains("not written"), "\(w.out)")
        #expect(String(decoding: FileManager.default.contents(atPath: path) ?? Data(), as: UTF8.self) == source)
        // A repo that exists but is no git work tree is named too.
        try FileManager.default.createDirectory(atPath: s.root + "/not-a-repo", withIntermediateDirectories: true)
        let plain = try s.mtor(["convert", path])
        #expect(plain.err.contains("is a directory but not a git work tree"), "\(plain.err)")
    }

    @Test("convert --write keeps a spec's mode 600 and its hard link", .timeLimit(.minutes(15)))
    func convertKeepsModeAndLinks() throws {
        let s = try Sandbox("convert-mode")
        let path = s.root + "/private.md"
        let link = s.root + "/linked.md"
        writeFixture(path, Data("---\nworking_directory: \(s.repo)\n---\nGo.\n".utf8))
        #expect(chmod(path, 0o600) == 0)
        #expect(Foundation.link(path, link) == 0)
        let w = try s.mtor(["convert", "--write", path])
        #expect(w.code == 0 && w.out.contains("written"), "\(w.out) \(w.err)")
        #expect(FileSystem.mode(path) == 0o600, "mode is \(String(FileSystem.mode(path) ?? 0, radix: 8))")
        let linked = String(decoding: FileManager.default.contents(atPath: link) ?? Data(), as: UTF8.self)
        #expect(linked.contains("repo: \(s.repo)") && !linked.contains("working_directory"), "the other name sees the rewrite: \(linked)")
        #expect(FileIdentity.of(path)?.links == 2)
        // Mode and link kept for a file with one name too.
        let single = s.root + "/single.md"
        writeFixture(single, Data("---\nworking_directory: \(s.repo)\n---\nGo.\n".utf8))
        #expect(chmod(single, 0o600) == 0)
        #expect(try s.mtor(["convert", "--write", single]).code == 0)
        #expect(FileSystem.mode(single) == 0o600)
    }

    @Test("README's tour runs as written with mtor put on PATH the way it says, in a HOME without a git identity, and leaves ~/.gitconfig alone; its \"where the change went\" block reviews and merges the branch as written",
          .timeLimit(.minutes(15)))
    func tourRunsAsWritten() throws {
        let s = try Sandbox.scheduling("tour")
        let readme = try String(contentsOfFile: packageRoot + "/README.md", encoding: .utf8)
        let tour = try #require(readme.range(of: "## A two-minute tour").map { readme[$0.upperBound...] })
        let start = try #require(tour.range(of: "```sh\n"))
        let end = try #require(tour[start.upperBound...].range(of: "\n```"))
        let block = String(tour[start.upperBound..<end.lowerBound])
        #expect(!block.contains("git config --global"), "the tour must not edit the user's own git config")
        let pathLine = "export PATH=\"$PWD/.build/release:$PATH\""
        #expect(block.contains(pathLine), "the tour puts mtor on PATH: \(block)")
        let bin = URL(fileURLWithPath: mtorBinary).deletingLastPathComponent().path
        let script = "set -e\n" + block.replacingOccurrences(of: pathLine, with: "export PATH=\"\(bin):$PATH\"")
            .split(separator: "\n").filter { !$0.hasPrefix("mtor logs ID") }.joined(separator: "\n") + "\n"
        writeFixture(s.root + "/tour.sh", Data(script.utf8))
        let worker = try BackgroundWorker(s)
        defer { worker.stop() }
        try worker.waitUntilStarted()
        var env = s.environment
        env["PATH"] = "/usr/local/bin:/usr/bin:/bin"
        let r = try ChildProcess.run(["/bin/sh", s.root + "/tour.sh"], environment: env, directory: s.root, timeout: 120)
        let out = String(decoding: r.stdout, as: UTF8.self), err = String(decoding: r.stderr, as: UTF8.self)
        #expect(r.0.exitCode == 0, "\(out)\n\(err)\nworker: \(worker.stderr)")
        #expect(!FileManager.default.fileExists(atPath: s.home + "/.gitconfig"), "the tour wrote ~/.gitconfig")
        let id = try #require(out.split(separator: "\n").first { $0.hasPrefix("submitted ") }?.split(separator: " ")[3].description, "\(out)")
        #expect(try s.result(id).status == .succeeded)
        #expect(try s.git(["show", "mtor/\(id):HELLO"]) == "hello from mtor\n")
        #expect(!FileManager.default.fileExists(atPath: s.repo + "/HELLO"), "the change is on the branch, not in the checkout")
        // "Where the change went": its block, with the id submit printed, reviews and merges the branch.
        let went = try #require(readme.range(of: "**Where the change went.**").map { readme[$0.upperBound...] })
        let start2 = try #require(went.range(of: "```sh\n"))
        let end2 = try #require(went[start2.upperBound...].range(of: "\n```"))
        let review = String(went[start2.upperBound..<end2.lowerBound])
        #expect(review.contains("mtor merge ID"), "the README shows mtor merge: \(review)")
        writeFixture(s.root + "/went.sh", Data(("set -e\nexport PATH=\"\(bin):$PATH\"\n" + review.replacingOccurrences(of: "ID", with: id) + "\n").utf8))
        let merged = try ChildProcess.run(["/bin/sh", s.root + "/went.sh"], environment: env, directory: s.root, timeout: 120)
        let mergedOut = String(decoding: merged.stdout, as: UTF8.self)
        #expect(merged.0.exitCode == 0 && mergedOut.contains("\(id): landed") && mergedOut.hasSuffix("hello from mtor\n"), "\(mergedOut)\n\(String(decoding: merged.stderr, as: UTF8.self))")
    }
}

@Suite("Pause markers are shown safely and resumed for real")
struct PauseMarkerSafetyTests {
    @Test("status shows a marker's escape sequences and a line break in its file name as text; resume of a marker that is a directory fails and says so", .timeLimit(.minutes(15)))
    func hostileMarkers() throws {
        let s = try Sandbox("pause-hostile")
        s.lockfile(Lockfiles.make([]))
        #expect(try s.drain().code == 0)
        writeFixture(s.spool + "/state/paused", Data(#"{"schema":"mtor.pause/1","since":"2026-01-01T00:00:00Z","by":"eve\u001b]0;pwned\u0007\u001b[2J"}"#.utf8))
        writeFixture(s.spool + "/state/paused-zhipu\nINJECTED line", Data("{}".utf8))
        let st = try s.mtor(["status", "--spool", s.spool])
        #expect(!st.out.contains("\u{1b}") && !st.out.contains("\u{07}"), "raw escapes reached the terminal: \(st.out.debugDescription)")
        #expect(st.out.contains("eve\\u{1b}"), "\(st.out)")
        #expect(!st.out.split(separator: "\n").contains { $0.hasPrefix("INJECTED") }, "a file name split status's lines: \(st.out)")
        try FileManager.default.createDirectory(atPath: s.spool + "/state/paused-other/inside", withIntermediateDirectories: true)
        let r = try s.mtor(["resume", "--provider", "other", "--spool", s.spool])
        #expect(r.code != 0 && r.err.contains("is a directory"), "\(r.code) \(r.out) \(r.err)")
        #expect(!r.out.contains("resumed"))
        // An empty directory in its place is removed: the pause is really gone.
        try FileManager.default.removeItem(atPath: s.spool + "/state/paused-other/inside")
        let again = try s.mtor(["resume", "--provider", "other", "--spool", s.spool])
        #expect(again.code == 0 && again.out.contains("resumed") && !s.exists("state/paused-other"), "\(again.out) \(again.err)")
    }
}

@Suite("validate and submit say when a valid spec will wait")
struct SpecWaitWarningTests {
    @Test("a spec with no provider whose default provider has no key, and a spec for a paused spool or provider: validate and submit warn", .timeLimit(.minutes(15)))
    func warnsOfWaits() throws {
        let s = try Sandbox("wait-warnings")
        s.lockfile(Lockfiles.make([.init(name: "zhipu", baseURL: "http://127.0.0.1:9"), .init(name: "other", baseURL: "http://127.0.0.1:9")], default: "zhipu"))
        s.envFile("OTHER_THING=1\n")
        for dir in ["inbox", "tmp"] { try FileManager.default.createDirectory(atPath: "\(s.spool)/\(dir)", withIntermediateDirectories: true) }
        let spec = s.root + "/nokey.md"
        writeFixture(spec, Data("---\nrepo: ~/code/widget\n---\nDo it.\n".utf8))
        let lock = ["--spool", s.spool, "--providers", s.etc + "/providers.json", "--env-file", s.etc + "/mtor.env"]
        let v = try s.mtor(["validate"] + lock + [spec])
        #expect(v.code == 0, "still valid: \(v.out)")
        #expect(v.out.contains("warning: provider zhipu (the spec names no 'provider', so it runs on the lockfile's default) reads its key from SCRIPTED_KEY, which is not set"), "\(v.out)")
        let sub = try s.mtor(["submit"] + lock + [spec])
        #expect(sub.code == 0 && sub.err.contains("SCRIPTED_KEY, which is not set"), "\(sub.out) \(sub.err)")
        // With the key set, no warning.
        s.envFile("SCRIPTED_KEY=k\n")
        let keyed = try s.mtor(["validate"] + lock + [spec])
        #expect(!keyed.out.contains("SCRIPTED_KEY"), "\(keyed.out)")
        // Paused spool, then paused provider.
        #expect(try s.mtor(["pause", "--spool", s.spool]).code == 0)
        let paused = try s.mtor(["submit", "--force"] + lock + [spec])
        #expect(paused.code == 0 && paused.err.contains("the spool is paused since") && paused.err.contains("mtor resume"), "\(paused.err)")
        #expect(try s.mtor(["resume", "--spool", s.spool]).code == 0)
        #expect(try s.mtor(["pause", "--provider", "zhipu", "--spool", s.spool]).code == 0)
        let other = s.root + "/other.md"
        writeFixture(other, Data("---\nrepo: ~/code/widget\n---\nDo something else.\n".utf8))
        let held = try s.mtor(["validate"] + lock + [other])
        #expect(held.out.contains("provider zhipu is paused since") && held.out.contains("mtor resume --provider zhipu"), "\(held.out)")
    }
}

@Suite("Task names mean one thing everywhere")
struct TaskNameTests {
    @Test("validate says when depends_on names no known task (but not one of the same batch); show finds a task by the name depends_on resolves", .timeLimit(.minutes(15)))
    func dependencyNames() throws {
        let s = try Sandbox.scheduling("dep-names")
        let dir = s.root + "/specs"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        writeFixture(dir + "/depA.md", Data("---\nrepo: ~/code/widget\nexpect: nothing\n---\necho A\n".utf8))
        writeFixture(dir + "/child.md", Data("---\nrepo: ~/code/widget\nexpect: nothing\ndepends_on: [depA]\n---\necho child\n".utf8))
        writeFixture(dir + "/orphan.md", Data("---\nrepo: ~/code/widget\nexpect: nothing\ndepends_on: [neverexists]\n---\necho orphan\n".utf8))
        let lock = ["--spool", s.spool, "--providers", s.etc + "/providers.json"]
        let orphan = try s.mtor(["validate"] + lock + [dir + "/orphan.md"])
        #expect(orphan.out.contains("'neverexists', which no task in") && orphan.out.contains("--dependency-timeout"), "\(orphan.out)")
        let batch = try s.mtor(["validate"] + lock + [dir + "/depA.md", dir + "/child.md"])
        #expect(batch.code == 0 && !batch.out.contains("no task in"), "a dependency in the same batch is known: \(batch.out)")
        let sub = try s.mtor(["submit"] + lock + [dir + "/depA.md"])
        #expect(sub.code == 0, "\(sub.err)")
        let alone = try s.mtor(["validate"] + lock + [dir + "/child.md"])
        #expect(!alone.out.contains("no task in"), "depA is queued now: \(alone.out)")
        #expect(try s.drain().code == 0)
        let show = try s.mtor(["show", "depA", "--spool", s.spool])
        #expect(show.code == 0 && show.out.contains("succeeded"), "show resolves depA as depends_on does: \(show.out) \(show.err)")
        let missing = try s.mtor(["show", "neverexists", "--spool", s.spool])
        #expect(missing.code == 4, "\(missing.out) \(missing.err)")
    }

    @Test("one rule for a name: two hand-dropped hello.md (the first fails, the re-drop succeeds as hello-2): show, wait and depends_on all take hello to mean the task with that id and show and wait list hello-2; a file submitted twice: show, wait, logs and depends_on all mean its newest task", .timeLimit(.minutes(15)))
    func oneRuleForNames() throws {
        let s = try Sandbox.scheduling("one-name")
        let at = ["--spool", s.spool]
        try s.shSpec("hello", "expect: nothing", body: "echo first >&2; exit 1")
        #expect(try s.drain().code == 0)
        try s.shSpec("hello", "expect: nothing", body: "echo fixed")
        #expect(try s.drain().code == 0)
        #expect(try s.result("hello").status == .failed && s.result("hello-2").status == .succeeded, "\(s.listing())")
        try s.shSpec("child", "expect: nothing\ndepends_on: [hello]", body: "echo child")
        #expect(try s.drain().code == 0)
        let child = try s.result("child")
        #expect(child.class == .dependencyFailed && child.reason.contains("dependency hello failed"), "\(child.class.rawValue): \(child.reason)")
        let show = try s.mtor(["show", "hello"] + at)
        #expect(show.code == 0 && show.out.hasPrefix("hello: failed"), "\(show.out) \(show.err)")
        #expect(show.out.contains("'hello' is taken to mean hello, the task with that id") && show.out.contains("hello-2 (succeeded)"), "show names the other task: \(show.out)")
        let json = try s.mtor(["show", "hello", "--json"] + at)
        #expect((try? JSONSerialization.jsonObject(with: Data(json.out.utf8))) != nil && json.err.contains("hello-2 (succeeded)"), "--json keeps stdout JSON: \(json.out) \(json.err)")
        let wait = try s.mtor(["wait", "hello"] + at)
        #expect(wait.code == 1 && wait.out.hasPrefix("hello: failed") && wait.err.contains("hello-2 (succeeded)"), "\(wait.out) \(wait.err)")
        // A re-drop still in inbox/ is named too, with the id it will get.
        try s.shSpec("hello", "expect: nothing", body: "echo third")
        let queued = try s.mtor(["show", "hello"] + at)
        #expect(queued.out.contains("inbox/hello.md (queued; claimed as hello-3"), "\(queued.out)")
        #expect(try s.drain().code == 0)
        // A file submitted twice (the first run fails, the fixed one succeeds): every command means the newest.
        let dir = s.root + "/specs"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let lock = at + ["--providers", s.etc + "/providers.json"]
        writeFixture(dir + "/greet.md", Data("---\nrepo: ~/code/widget\nexpect: nothing\n---\necho broken >&2; exit 3\n".utf8))
        let first = try s.mtor(["submit"] + lock + [dir + "/greet.md"])
        let firstID = try #require(first.out.split(separator: " ").dropFirst(3).first.map(String.init), "\(first.out) \(first.err)")
        #expect(try s.drain().code == 0)
        // Submitted names order by their UTC second: the fix goes in a later second than the first.
        let stamp = DateFormatter()
        stamp.locale = Locale(identifier: "en_US_POSIX")
        stamp.timeZone = TimeZone(identifier: "UTC")
        stamp.dateFormat = "yyyyMMdd'T'HHmmss"
        while stamp.string(from: Date()) <= String(firstID.prefix(15)) { Thread.sleep(forTimeInterval: 0.05) }
        writeFixture(dir + "/greet.md", Data("---\nrepo: ~/code/widget\nexpect: nothing\n---\necho fixed greeting\n".utf8))
        let second = try s.mtor(["submit"] + lock + [dir + "/greet.md"])
        let secondID = try #require(second.out.split(separator: " ").dropFirst(3).first.map(String.init), "\(second.out) \(second.err)")
        try s.shSpec("greeted", "expect: nothing\ndepends_on: [greet]", body: "echo greeted")
        #expect(try s.drain().code == 0)
        #expect(try s.result(firstID).status == .failed && s.result(secondID).status == .succeeded)
        let greeted = try s.result("greeted")
        #expect(greeted.status == .succeeded, "depends_on: [greet] means the newest: \(greeted.reason)")
        let showG = try s.mtor(["show", "greet"] + at)
        #expect(showG.code == 0 && showG.out.hasPrefix("\(secondID): succeeded") && showG.out.contains("\(firstID) (failed)"), "\(showG.out) \(showG.err)")
        let waitG = try s.mtor(["wait", "greet"] + at)
        #expect(waitG.code == 0 && waitG.out.hasPrefix("\(secondID): succeeded") && waitG.err.contains("\(firstID) (failed)"), "\(waitG.code) \(waitG.out) \(waitG.err)")
        let logs = try s.mtor(["logs", "greet"] + at)
        #expect(logs.code == 0 && logs.out.contains("fixed greeting") && !logs.out.contains("broken"), "\(logs.out) \(logs.err)")
        let retry = try s.mtor(["retry", "greet"] + at)
        #expect(retry.code != 0 && retry.err.contains("\(secondID) succeeded"), "retry means the same task: \(retry.out) \(retry.err)")
    }
}

@Suite("The shipped on-finish hook")
struct OnFinishHookTests {
    @Test("--slack sends one JSON field, text, with a hostile reason quoted as plain text; it cannot set username or icon_url", .timeLimit(.minutes(15)))
    func slackQuotesTheReason() throws {
        let s = try Sandbox("slack-hook")
        let bin = s.root + "/bin"
        try FileManager.default.createDirectory(atPath: bin, withIntermediateDirectories: true)
        // A curl that records its --data-binary argument.
        writeFixture(bin + "/curl", Data("#!/bin/sh\nwhile [ $# -gt 0 ]; do [ \"$1\" = --data-binary ] && printf '%s' \"$2\" > \(s.root)/body; shift; done\n".utf8))
        #expect(chmod(bin + "/curl", 0o755) == 0)
        let reason = "agent said: \", \"username\": \"CEO\", \"icon_url\": \"http://evil/x.png\", \"text\": \"all good <!channel> <http://evil|click> \\\\ 100%s\n\tnext\u{1b}[2J"
        let env = ["PATH": bin + ":/usr/bin:/bin", "MTOR_ID": "t1", "MTOR_STATUS": "failed", "MTOR_CLASS": "agent_failed", "MTOR_REASON": reason]
        let r = try ChildProcess.run(["/bin/sh", packageRoot + "/etc/hooks/on-finish.example", "--slack", "https://hooks.example/x"], environment: env, timeout: 20)
        #expect(r.0.exitCode == 0, "\(String(decoding: r.stderr, as: UTF8.self))")
        let body = try #require(FileManager.default.contents(atPath: s.root + "/body"))
        let json = try #require(try JSONSerialization.jsonObject(with: body) as? [String: Any], "\(String(decoding: body, as: UTF8.self))")
        #expect(Array(json.keys) == ["text"], "\(json)")
        let text = try #require(json["text"] as? String)
        #expect(text.contains("\"username\": \"CEO\"") && text.contains("&lt;!channel&gt;") && !text.contains("<!channel>"), "\(text)")
        #expect(text.hasPrefix("mtor: t1 failed (agent_failed): agent said: ") && !text.contains("\n") && !text.contains("\u{1b}"), "\(text)")
        #expect(text.contains("\\\\ 100%s"), "\(text)")
    }
}

@Suite("status counts a cancelled task one way")
struct StatusCountTests {
    @Test("a cancelled task is counted as cancelled in the last 24 h and as 'failed or cancelled' in the queue line, never as a plain failure", .timeLimit(.minutes(15)))
    func cancelledCounted() throws {
        let s = try Sandbox.scheduling("status-cancel")
        #expect(try s.drain().code == 0)  // makes the spool's directories
        try s.submit("victim.md", "---\nrepo: ~/code/widget\nexpect: nothing\n---\necho never\n")
        #expect(try s.mtor(["cancel", "victim", "--spool", s.spool]).code == 0)
        #expect(try s.drain().code == 0)
        #expect(try s.result("victim").status == .cancelled)
        let st = try s.mtor(["status", "--spool", s.spool])
        #expect(st.out.contains("0 done, 1 failed or cancelled"), "\(st.out)")
        #expect(st.out.contains("0 failed, 1 cancelled"), "\(st.out)")
    }
}

@Suite("The task log gives one verdict per attempt")
struct OneVerdictTests {
    @Test("an agent that exits 0 and changes nothing: the log says 'ended: no_changes', never 'ended: ok'; one that commits: 'ended: ok' once; verify: its verdict once", .timeLimit(.minutes(15)))
    func oneVerdict() throws {
        let s = try Sandbox.scheduling("one-verdict")
        try s.submit("idle.md", "---\nrepo: ~/code/widget\nretries: 0\n---\necho nothing to do\n")
        try s.submit("works.md", "---\nrepo: ~/code/widget\n---\necho hi > HI && git add HI && git -c user.name=t -c user.email=t@x.invalid commit -qm hi\n")
        try s.submit("checked.md", "---\nrepo: ~/code/widget\nexpect: nothing\nverify: exit 4\n---\necho done\n")
        #expect(try s.drain().code == 0)
        #expect(try s.result("idle").class == .noChanges)
        let idle = s.read("logs/idle.log")
        #expect(idle.contains("ended: no_changes") && !idle.contains("ended: ok"), "\(idle)")
        let works = s.read("logs/works.log")
        #expect(works.components(separatedBy: "ended: ").count - 1 == 1 && works.contains("ended: ok"), "\(works)")
        #expect(try s.result("checked").class == .verifyFailed)
        let checked = s.read("logs/checked.log")
        #expect(checked.contains("ended: verify_failed") && !checked.contains("ended: ok"), "\(checked)")
    }
}

@Suite("doctor for an sh-only user")
struct DoctorShOnlyTests {
    @Test("a fresh spool whose default provider has no key and whose harness is missing: warnings, exit 0, the fix naming the env file beside the lockfile as given; a queued spec with no provider makes them failures", .timeLimit(.minutes(15)))
    func shOnlyFreshSpool() throws {
        let s = try Sandbox("doctor-sh")
        let dir = s.root + "/conf"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        writeFixture(dir + "/providers.json", Data("""
            {"schema":"mtor.providers/1","default":"zhipu",
             "harnesses":{"sh":{"argv":["/bin/sh","-s"],"prompt":"stdin"},
                          "claude":{"argv":["no-such-claude-\(UUID().uuidString.prefix(6))","-p"],"prompt":"stdin","stream":"claude-stream-json","base_url_env":"ANTHROPIC_BASE_URL"}},
             "providers":{"zhipu":{"harness":"claude","api":"anthropic","base_url":"http://127.0.0.1:9","auth_env":"ANTHROPIC_AUTH_TOKEN","secret_env":"ZHIPU_API_KEY","model":"m"}}}
            """.utf8))
        try "[user]\n\tname = New User\n\temail = new@example.invalid\n".write(toFile: s.home + "/.gitconfig", atomically: true, encoding: .utf8)
        #expect(try s.mtor(["worker", "--once", "--spool", s.spool, "--providers", dir + "/providers.json", "--sandbox", "none"]).code == 0)
        try s.submit("script.md", "---\nrepo: ~/code/widget\nharness: sh\n---\ntrue\n")
        let r = try s.mtor(["doctor", "--spool", s.spool, "--providers", dir + "/providers.json"], timeout: 90)
        #expect(r.code == 0, "an sh-only queue needs neither the default's key nor claude: \(r.out)\(r.err)")
        #expect(r.out.contains("warn  provider zhipu") && r.out.contains("no queued spec uses it yet"), "\(r.out)")
        #expect(r.out.contains("to \(dir)/mtor.env") && !r.out.contains(" etc/mtor.env"), "the fix names the env file beside the lockfile as given: \(r.out)")
        try s.submit("model.md", "---\nrepo: ~/code/widget\n---\nDo it.\n")
        let needed = try s.mtor(["doctor", "--spool", s.spool, "--providers", dir + "/providers.json"], timeout: 90)
        #expect(needed.code == 3 && needed.out.contains("FAIL  provider zhipu"), "\(needed.out)")
    }
}

@Suite("validate reports every problem of a spec at once")
struct AllProblemsTests {
    @Test("a spec with a typo'd key, a bad value and no prompt: validate names all three in one run", .timeLimit(.minutes(15)))
    func allAtOnce() throws {
        let s = try Sandbox("all-problems")
        let spec = s.root + "/bad.md"
        writeFixture(spec, Data("---\nrepo: ~/code/widget\nharnes: sh\nretries: 9\n---\n\n".utf8))
        let r = try s.mtor(["validate", "--spool", s.spool, "--providers", s.root + "/none.json", spec])
        #expect(r.code == 1)
        #expect(r.out.contains("3 problems") && r.out.contains("'harnes' on line 3") && r.out.contains("line 4:") && r.out.contains("no prompt"), "\(r.out)")
    }
}

@Suite("status shows a task's phase as it changes")
struct PhaseShownTests {
    @Test("once the agent runs, status --json says running within 3 s, three times in a row, not at the next heartbeat", .timeLimit(.minutes(15)))
    func runningShownAtOnce() throws {
        let s = try Sandbox.scheduling("phase")
        let worker = try BackgroundWorker(s)
        defer { worker.stop() }
        try worker.waitUntilStarted()
        for i in 0..<3 {
            let mark = s.root + "/started-\(i)"
            try s.shSpec("slow\(i)", "expect: nothing", body: "touch \(mark)\nsleep 8")
            try worker.waitFor(timeout: 120) { FileManager.default.fileExists(atPath: mark) }
            // The worker's loop sleeps up to 5 s between heartbeats: the phase change itself must wake it.
            let deadline = Date().addingTimeInterval(3)
            var phase: String? = nil
            while Date() < deadline {
                let st = try s.mtor(["status", "--json", "--spool", s.spool])
                let json = try JSONSerialization.jsonObject(with: Data(st.out.utf8)) as? [String: Any]
                let running = (json?["running"] as? [[String: Any]])?.first { $0["id"] as? String == "slow\(i)" }
                phase = running?["phase"] as? String
                if phase == "running" { break }
                Thread.sleep(forTimeInterval: 0.1)
            }
            #expect(phase == "running", "3 s after slow\(i)'s agent started, status --json said phase \(phase ?? "none")")
        }
    }
}
