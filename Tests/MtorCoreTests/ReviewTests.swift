import Testing
@testable import MtorCore

/// A diff and the flags the review must raise for it.
struct ReviewCase: Sendable, CustomTestStringConvertible {
    var name: String
    var changes: [FileChange]
    var autoCommitted = false
    var maxLines = ReviewRules.defaultMaxLines
    var scope: [String] = []
    var flags: [Review.Flag]
    var testDescription: String { name }
}

func change(_ path: String, _ kind: FileChange.Kind, _ ins: Int, _ del: Int, before: Int? = nil) -> FileChange {
    FileChange(path: path, kind: kind, insertions: ins, deletions: del, linesBefore: before)
}

func change(_ path: String, _ ins: Int, _ del: Int, before: Int? = nil) -> FileChange {
    change(path, .modified, ins, del, before: before)
}

@Suite("Review flags from a branch's diff")
struct ReviewTests {
    @Test("each rule raises its flag, and only its flag", arguments: [
        ReviewCase(name: "an ordinary change", changes: [change("src/a.swift", 10, 2, before: 100), change("src/b.swift", .added, 30, 0)], flags: []),
        ReviewCase(name: "no change at all", changes: [], flags: []),
        ReviewCase(name: "auto-committed", changes: [change("a.txt", .added, 1, 0)], autoCommitted: true, flags: [.autoCommitted]),
        ReviewCase(name: "a file losing exactly half its lines", changes: [change("src/big.swift", 5, 55, before: 100)], flags: [.fileShrunk]),
        ReviewCase(name: "a file losing a bit less than half", changes: [change("src/big.swift", 0, 49, before: 100)], flags: [.pureDeletion]),
        ReviewCase(name: "a tiny file emptied is not 'shrunk' but is a pure deletion", changes: [change("x.txt", 0, 3, before: 3)], flags: [.pureDeletion]),
        ReviewCase(name: "only deletions", changes: [change("old.txt", .deleted, 0, 40), change("b.txt", 0, 2, before: 50)], flags: [.pureDeletion]),
        ReviewCase(name: "a deleted binary file", changes: [change("logo.png", .deleted, 0, 0)], flags: [.pureDeletion]),
        ReviewCase(name: "a deleted test file", changes: [change("Tests/CoreTests/ParserTests.swift", .deleted, 0, 80), change("src/p.swift", 3, 1, before: 10)],
                   flags: [.testsDeleted]),
        ReviewCase(name: "a halved test file", changes: [change("pkg/parser_test.go", 1, 60, before: 100)], flags: [.fileShrunk, .testsDeleted]),
        ReviewCase(name: "over the line limit", changes: [change("gen.c", .added, 1500, 0), change("b.c", 400, 101, before: 2000)], flags: [.largeDiff]),
        ReviewCase(name: "exactly at the limit", changes: [change("gen.c", .added, 2000, 0)], flags: []),
        ReviewCase(name: "a lower limit", changes: [change("gen.c", .added, 51, 0)], maxLines: 50, flags: [.largeDiff]),
        ReviewCase(name: "outside the scope", changes: [change("src/parser/a.swift", 1, 1, before: 9), change("docs/x.md", 1, 0, before: 3)],
                   scope: ["src/parser"], flags: [.touchedOutside]),
        ReviewCase(name: "a sibling whose name starts like the scope is outside", changes: [change("src/parser2/a.swift", 1, 0, before: 1)],
                   scope: ["src/parser"], flags: [.touchedOutside]),
        ReviewCase(name: "inside the scope (a directory or a file)", changes: [change("src/parser/deep/a.swift", 1, 1, before: 9), change("README.md", 1, 0, before: 3)],
                   scope: ["src/parser", "README.md"], flags: []),
        ReviewCase(name: "everything at once", changes: [change("t/test_x.py", .deleted, 0, 5000)], autoCommitted: true, scope: ["src"],
                   flags: [.autoCommitted, .pureDeletion, .testsDeleted, .largeDiff, .touchedOutside]),
    ])
    func flags(_ c: ReviewCase) {
        let review = ReviewRules(maxLines: c.maxLines, scope: c.scope).review(c.changes, autoCommitted: c.autoCommitted)
        #expect(review.flags == c.flags)
        #expect(review.notes.count == review.flags.count)
        #expect(review.diffstat == Review.Diffstat(files: c.changes.count, insertions: c.changes.reduce(0) { $0 + $1.insertions },
                                                   deletions: c.changes.reduce(0) { $0 + $1.deletions }))
    }

    @Test("test files by the usual conventions; look-alikes are not", arguments: [
        ("Tests/MtorCoreTests/ReviewTests.swift", true), ("test/parser.c", true), ("spec/models/user_spec.rb", true),
        ("src/__tests__/app.js", true), ("pkg/parser_test.go", true), ("tests.py", true), ("test_parser.py", true),
        ("web/app.test.ts", true), ("web/app.spec.tsx", true), ("src/FooTest.java", true),
        ("src/latest.txt", false), ("src/contest/entry.c", false), ("docs/testimonials.md", false), ("README.md", false), ("src/attestation.swift", false),
    ])
    func testPaths(_ path: String, _ isTest: Bool) {
        #expect(ReviewRules.isTestPath(path) == isTest)
    }

    @Test("git's -z numstat and name-status outputs join into one change per file, binary files counting no lines")
    func parse() {
        let numstat = Array("12\t3\tsrc/a b.swift\u{0}-\t-\tlogo.png\u{0}0\t40\told.txt\u{0}7\t0\tnew\ttab.txt\u{0}".utf8)
        let names = Array("M\u{0}src/a b.swift\u{0}A\u{0}logo.png\u{0}D\u{0}old.txt\u{0}A\u{0}new\ttab.txt\u{0}".utf8)
        let changes = FileChange.parse(numstat: numstat, nameStatus: names)
        #expect(changes == [
            FileChange(path: "src/a b.swift", kind: .modified, insertions: 12, deletions: 3),
            FileChange(path: "logo.png", kind: .added, insertions: 0, deletions: 0),
            FileChange(path: "old.txt", kind: .deleted, insertions: 0, deletions: 40),
            FileChange(path: "new\ttab.txt", kind: .added, insertions: 7, deletions: 0),
        ])
        #expect(FileChange.parse(numstat: [], nameStatus: []).isEmpty)
    }
}
