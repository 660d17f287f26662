import Foundation
import Testing
@testable import MtorCore

/// The top-level mapping of `spec`'s frontmatter as JSON text, or the refusal's sentence.
func readFrontmatter(_ spec: String) -> Result<String, SpecError> {
    do {
        return .success(FrontmatterValue.map(try Frontmatter.split(spec).entries).json)
    } catch {
        return .failure(error)
    }
}

@Suite("Frontmatter corpus")
struct FrontmatterCorpusTests {
    @Test("the corpus has at least 40 frontmatters in the shapes users write")
    func corpusSize() {
        #expect(FrontmatterCorpus.cases.count >= 40)
        #expect(Set(FrontmatterCorpus.cases.map(\.name)).count == FrontmatterCorpus.cases.count)
    }

    @Test("each frontmatter parses to its expected value or fails at its line and column", arguments: FrontmatterCorpus.cases)
    func corpus(_ c: CorpusCase) {
        let result = readFrontmatter(c.spec)
        switch (c.expect, result) {
        case (.parses(let json), .success(let got)):
            #expect(got == json)
        case (.fails(let line, let column, let word), .failure(let error)):
            #expect(error.failureClass == .specInvalid)
            #expect(error.description.contains("line \(line), column \(column)"), "\(error.description)")
            #expect(error.description.contains(word), "\(error.description)")
        case (.parses, .failure(let error)):
            Issue.record("refused: \(error.description)")
        case (.fails, .success(let got)):
            Issue.record("accepted as \(got)")
        }
    }

    @Test("the same bytes give the same answer with CRLF line ends", arguments: FrontmatterCorpus.cases)
    func crlf(_ c: CorpusCase) {
        let crlf = c.spec.replacingOccurrences(of: "\r\n", with: "\n").replacingOccurrences(of: "\n", with: "\r\n")
        switch (readFrontmatter(c.spec), readFrontmatter(crlf)) {
        case (.success(let a), .success(let b)): #expect(a == b)
        case (.failure(let a), .failure(let b)): #expect(a == b)
        default: Issue.record("CRLF changed the verdict")
        }
    }

    @Test("entries know the line and column of their key")
    func positions() throws {
        let front = try Frontmatter.split("---\ntitle: a\ntests:\n  run: x\n  files: [a]\n---\nGo.\n")
        #expect(front.entries.map(\.line) == [2, 3])
        guard case .map(let nested) = front.entries[1].value else { Issue.record("tests is not a mapping"); return }
        #expect(nested.map(\.line) == [4, 5])
        #expect(nested.map(\.column) == [3, 3])
        #expect(front.closingLine == 6)
    }

    @Test("a scalar keeps its text as written next to its resolved value")
    func writtenText() throws {
        let front = try Frontmatter.split("---\nmodel: 1.10\nrepo: ~\nverify: yes\nname: 'q'\n---\nGo.\n")
        #expect(front.entries.map(\.text) == ["1.10", "~", "yes", "q"])
        #expect(front.entries.map(\.value) == [.float(1.1), .null, .boolean(true), .string("q")])
    }

    @Test("no frontmatter: the whole text is the body; a '---' not on line 1 opens nothing")
    func absent() throws {
        for text in ["# Title\n\nrepo: /not/frontmatter\n---\n", "\n---\nrepo: /srv/widget\n---\nGo.\n"] {
            let front = try Frontmatter.split(text)
            #expect(front.entries.isEmpty)
            #expect(front.body == text)
        }
    }

    @Test("metadata values survive the trip through the sidecar's JSON")
    func metaCodable() throws {
        let spec = try Spec.parse("---\nrepo: /srv/w\ntitle: T\ntags: [a, 2, true, null]\nx-plan: {steps: [1.5, .inf]}\n---\nGo.\n", home: "/h")
        let summary = TaskResult.SpecSummary(file: "t.md", meta: spec.meta)
        let data = try JSONEncoder().encode(summary)
        let object = try #require(JSONSerialization.jsonObject(with: data) as? [String: Any])
        let meta = try #require(object["meta"] as? [String: Any])
        #expect(meta["title"] as? String == "T")
        #expect((meta["tags"] as? [Any])?.count == 4)
        let back = try JSONDecoder().decode(TaskResult.SpecSummary.self, from: data)
        #expect(back.meta["title"] == .string("T"))
        #expect(back.meta["x-plan"] == .map([.init(key: "steps", value: .list([.float(1.5), .string(".inf")]))]))
    }
}
