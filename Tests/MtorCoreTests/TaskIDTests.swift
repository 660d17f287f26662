import Testing
@testable import MtorCore

@Suite("Task ids")
struct TaskIDTests {
    @Test("valid ids", arguments: [
        "20261121T101500-table-guard-3f2a", "a", "A.b_c-d", "x.md.v2", "-leading-dash", String(repeating: "a", count: 100),
    ])
    func valid(_ id: String) {
        #expect(TaskID.isValid(id))
    }

    @Test("invalid ids", arguments: [
        "", ".hidden", "..", "has space", "slash/inside", "tab\there", "ümlaut", "emoji🙂", "semi;colon",
        String(repeating: "a", count: 101), "new\nline",
    ])
    func invalid(_ id: String) {
        #expect(!TaskID.isValid(id))
    }

    @Test("id from an inbox file name", arguments: [
        ("table-guard.md", "table-guard"),
        ("20261121T101500-table-guard-3f2a.md", "20261121T101500-table-guard-3f2a"),
        ("no-extension", "no-extension"),
        ("fix the bug.md", "fix-the-bug"),
        ("a/b.md", "a-b"),
        ("\u{FC}ber-task.md", "ber-task"),
        ("caf\u{E9} bar.md", "caf--bar"),
        (".md", "spec"),
        ("..md", "spec"),
        ("   .md", "spec"),
        ("notes.markdown", "notes.markdown"),
    ])
    func fromFileName(_ name: String, _ id: String) {
        #expect(TaskID.from(fileName: name) == id)
    }

    @Test("the id derived from any file name is valid", arguments: [
        "x.md", " .md", ".hidden.md", "-.md", "a b c.md", String(repeating: "é", count: 300) + ".md",
        String(repeating: "long", count: 60) + ".md", "🙂🙂.md", "Ω",
    ])
    func derivedIsValid(_ name: String) {
        let id = TaskID.from(fileName: name)
        #expect(TaskID.isValid(id), "\(name) -> \(id)")
    }

    @Test("editor and rsync temp names are never touched", arguments: [
        ".table-guard.md.Xy12Ab", ".#table-guard.md", "table-guard.md.tmp", "table-guard.md.part", "table-guard.md~", ".md",
    ])
    func temporary(_ name: String) {
        #expect(TaskID.isTemporary(name))
    }

    @Test("ordinary spec names are not temporary", arguments: ["table-guard.md", "x.md", "tmp.md", "part-2.md", "a~b.md"])
    func notTemporary(_ name: String) {
        #expect(!TaskID.isTemporary(name))
    }
}
