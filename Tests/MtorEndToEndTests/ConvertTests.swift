import Foundation
import Testing
import MtorCore

/// `mtor convert` on specs written for other tools, then `mtor validate` and a real run.
@Suite("Specs from other tools")
struct ConvertTests {
    /// A claude-code-queue queue file: its working_directory is relative to where the queue ran.
    static let claudeCodeQueue = """
        ---
        priority: 0
        working_directory: home/code/widget
        context_files: []
        max_retries: 3
        estimated_tokens: null
        ---
        echo "from the queue" > queue.txt
        git add queue.txt && git commit -q -m "queue task"

        """

    /// An original mtor plan spec: metadata, a folded description, a word priority, nested tests.run.
    static let originalMtor = """
        ---
        title: Write the plan marker
        status: planned
        description: >
          Writes plan.txt and commits it,
          then the tests check it exists.
        created: 2025-03-01
        priority: high
        repo: ~/code/widget
        tests:
          run: "test -f plan.txt"
        ---
        echo "from the plan" > plan.txt
        git add plan.txt && git commit -q -m "plan task"

        """

    @Test("both foreign shapes are refused with mtor's key names, converted, validated and run", .timeLimit(.minutes(10)))
    func convertAndRun() throws {
        let s = try Sandbox("convert")
        s.lockfile(Lockfiles.make([]))
        let dir = s.root + "/specs"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        writeFixture(dir + "/queue-task.md", Data(Self.claudeCodeQueue.utf8))
        writeFixture(dir + "/plan-task.md", Data(Self.originalMtor.utf8))

        let before = try s.mtor(["validate", dir + "/queue-task.md", dir + "/plan-task.md"])
        #expect(before.code == 1)
        #expect(before.out.contains("'working_directory' on line 3 is claude-code-queue's name for this; mtor calls it 'repo'"), "\(before.out)")
        #expect(before.out.contains("'priority' must be a whole number"), "\(before.out)")
        #expect(before.out.contains("the text 'high'"), "\(before.out)")

        let queue = try s.mtor(["convert", dir + "/queue-task.md"])
        #expect(queue.code == 0, "\(queue.err)")
        #expect(queue.out.contains("repo: \(s.repo)\n"), "\(queue.out)")
        #expect(queue.err.contains("dropped context_files"), "\(queue.err)")
        #expect(queue.err.contains("dropped estimated_tokens"), "\(queue.err)")
        #expect(queue.err.contains("max_retries: 3 to retries: 3"), "\(queue.err)")
        writeFixture(dir + "/queue-task.md", Data(queue.out.utf8))

        let plan = try s.mtor(["convert", "--write", dir + "/plan-task.md"])
        #expect(plan.code == 0, "\(plan.err)")
        #expect(plan.out.contains("verify: test -f plan.txt"), "\(plan.out)")
        #expect(plan.out.contains("priority: high to priority: 1"), "\(plan.out)")
        #expect(plan.out.contains("written"), "\(plan.out)")
        let again = try s.mtor(["convert", "--write", dir + "/plan-task.md"])
        #expect(again.out.contains("unchanged"), "\(again.out)")

        let after = try s.mtor(["validate", dir + "/queue-task.md", dir + "/plan-task.md"])
        #expect(after.code == 0, "\(after.out)\(after.err)")

        for name in ["queue-task.md", "plan-task.md"] {
            try s.submit(name, String(decoding: FileManager.default.contents(atPath: dir + "/" + name) ?? Data(), as: UTF8.self))
        }
        let run = try s.drain()
        #expect(run.code == 0, "\(run.err)")
        let queued = try s.result("queue-task")
        #expect(queued.status == .succeeded, "\(queued.reason)")
        #expect(queued.git?.commits.map(\.subject) == ["queue task"])
        let planned = try s.result("plan-task")
        #expect(planned.status == .succeeded, "\(planned.reason)")
        #expect(planned.verify?.command == "test -f plan.txt")
        #expect(planned.spec.meta["title"] == .string("Write the plan marker"))
        #expect(planned.spec.meta["description"] == .string("Writes plan.txt and commits it, then the tests check it exists.\n"))
        #expect(s.read("done/plan-task.result.json").contains("\"meta\""))
    }

    @Test("convert refuses to write a result that is still not a valid spec, and says why", .timeLimit(.minutes(10)))
    func stillInvalid() throws {
        let s = try Sandbox("convert-bad")
        let path = s.root + "/bad.md"
        let source = "---\nworking_directory: /srv/x\ncolour: red\n---\nGo.\n"
        writeFixture(path, Data(source.utf8))
        let r = try s.mtor(["convert", "--write", path])
        #expect(r.code == 1)
        #expect(r.out.contains("left 'colour'"), "\(r.out)")
        #expect(r.out.contains("not yet a valid mtor spec"), "\(r.out)")
        #expect(r.out.contains("not written"), "\(r.out)")
        #expect(String(decoding: FileManager.default.contents(atPath: path) ?? Data(), as: UTF8.self) == source)
    }
}
