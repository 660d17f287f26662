import Foundation
import Testing
@testable import MtorCore

@Suite("mtor convert")
struct SpecConversionTests {
    static let ccq = """
    ---
    priority: 2
    working_directory: app
    context_files: []
    max_retries: 9
    estimated_tokens: null
    ---
    Fix the login bug.

    """

    @Test("a claude-code-queue file becomes a valid mtor spec, every change noted")
    func claudeCodeQueue() throws {
        let result = try SpecConversion.convert(Self.ccq, cwd: "/home/me")
        #expect(result.text == "---\npriority: -2\nrepo: /home/me/app\nretries: 5\n---\nFix the login bug.\n")
        #expect(result.changed)
        let notes = result.notes.joined(separator: "\n")
        for word in ["priority: -2", "lower numbers first", "working_directory: app", "repo: /home/me/app", "dropped context_files",
                     "dropped estimated_tokens", "capped at 5", "max_retries: 9"] {
            #expect(notes.contains(word), "notes lack \(word): \(notes)")
        }
        let spec = try Spec.parse(result.text, home: "/home/me")
        #expect(spec.repo == "/home/me/app" && spec.retries == 5 && spec.priority == -2)
    }

    @Test("an original mtor plan spec keeps its metadata and comments; tests.run becomes verify")
    func originalMtor() throws {
        let source = """
        ---
        title: Add table guard   # shown by tools
        status: planned
        description: >
          Guard spanned cells.
        created: 2025-03-01
        scope: src/table
        files:
          - src/table/handler.py
        priority: high
        depends_on: [parse-cells]
        repo: ~/code/widget
        tests:
          run: "pytest -q"
          timeout: 300
        ---
        Do it.
        """
        let result = try SpecConversion.convert(source, cwd: "/")
        let spec = try Spec.parse(result.text, home: "/home/me")
        #expect(spec.verify == "pytest -q")
        #expect(spec.priority == 1)
        #expect(spec.dependsOn == ["parse-cells"])
        #expect(spec.meta["title"] == .string("Add table guard"))
        #expect(spec.meta["description"] == .string("Guard spanned cells.\n"))
        #expect(result.text.contains("title: Add table guard   # shown by tools\n"))
        #expect(result.text.hasSuffix("---\nDo it."))
        let notes = result.notes.joined(separator: "\n")
        #expect(notes.contains("tests.run"))
        #expect(notes.contains("dropped 'tests.timeout' on line 15"))
        #expect(notes.contains("priority: high"))
        if Spec.key(named: "paths") != nil {
            #expect(result.text.contains("paths: [\"src/table\", \"src/table/handler.py\"]"))
            #expect(notes.contains("merged files"))
        } else {
            #expect(spec.meta["x-scope"] == .string("src/table"))
            #expect(spec.meta["x-files"] == .list([.string("src/table/handler.py")]))
            #expect(notes.contains("kept scope as metadata 'x-scope'"))
        }
    }

    @Test("a spec already in mtor's keys is left exactly as it is")
    func unchanged() throws {
        let source = "---\r\nrepo: ~/w   # here\r\ntitle: T\r\nfallback:\r\n  - a\r\n---\r\nGo.\r\n"
        let result = try SpecConversion.convert(source, cwd: "/")
        #expect(!result.changed)
        #expect(result.notes.isEmpty)
        #expect(result.text == source.replacingOccurrences(of: "\r\n", with: "\n"))
    }

    @Test("conflicts, non-empty foreign values and unknown keys are noted, never lost")
    func nothingSilent() throws {
        let source = "---\nrepo: /srv/w\nretries: 1\nmax_retries: 4\ncontext_files: [docs/a.md]\ncolour: red\ntests: make check\n---\nGo.\n"
        let result = try SpecConversion.convert(source, cwd: "/")
        let notes = result.notes.joined(separator: "\n")
        #expect(notes.contains("dropped max_retries: 4: the spec already sets 'retries'"))
        #expect(notes.contains("kept context_files as metadata 'x-context_files'"))
        #expect(notes.contains("left 'colour' on line 6 as it is"))
        #expect(result.text.contains("x-context_files: [\"docs/a.md\"]\n"))
        #expect(result.text.contains("colour: red\n"))
        #expect(result.text.contains("verify: make check\n"))
    }

    @Test("every foreign key in a spec is named in a note", arguments: ForeignKey.table)
    func everyForeignKeyNoted(_ foreign: ForeignKey) throws {
        for value in ["x", "[a, b]", "null", "{run: pytest}"] {
            let result = try SpecConversion.convert("---\nrepo: /srv/w\n\(foreign.key): \(value)\n---\nGo.\n", cwd: "/")
            #expect(result.notes.contains { $0.contains(foreign.key) }, "\(foreign.key): \(value)")
            #expect(!result.text.contains("\n\(foreign.key):"))
        }
    }

    @Test("strings are emitted so they read back the same", arguments: [
        "plain", "a: b", "# not a comment", "yes", "1.10", "", " lead", "multi\nline\n", "keep\n\n", "strip\nno newline",
        "\n starts with a break", "tab\tin", "quote \" and \\", "ü 標", "-", "ends with colon:",
    ])
    func emitRoundTrip(_ s: String) throws {
        let line = SpecConversion.emit("x-k", .string(s))
        let front = try Frontmatter.split("---\n\(line)\n---\nGo.\n")
        #expect(front.entries.first?.value == .string(s), "\(line.debugDescription)")
    }

    @Test("a spec without frontmatter is reported, not changed")
    func noFrontmatter() throws {
        let result = try SpecConversion.convert("Just a prompt.\n", cwd: "/")
        #expect(!result.changed)
        #expect(result.notes == ["no frontmatter: nothing to convert"])
    }
}

extension ForeignKey: CustomTestStringConvertible {
    public var testDescription: String { key }
}
