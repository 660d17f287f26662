import Foundation
import Testing
@testable import MtorCore

/// A spec with `repo` and the given frontmatter lines.
func specText(_ lines: String) -> String { "---\nrepo: /srv/widget\n\(lines)\n---\nGo.\n" }

@Suite("Spec keys, metadata and other tools' names")
struct SpecKeyTests {
    @Test("another tool's key is answered with mtor's name for it", arguments: [
        ("working_directory: .", "working_directory", ["claude-code-queue", "'repo'", "git work tree", "mtor convert", "line 3"]),
        ("max_retries: 3", "max_retries", ["claude-code-queue", "'retries'"]),
        ("tests:\n  run: pytest", "tests", ["'tests.run'", "original mtor", "'verify'"]),
        ("tests: {run: pytest}", "tests", ["'tests.run'", "'verify'"]),
        ("blocked_by: [a]", "blocked_by", ["'depends_on'"]),
        ("scope: src/x", "scope", ["'paths'", "original mtor"]),
        ("files: [src/x]", "files", ["'paths'"]),
        ("context_files: [a.md]", "context_files", ["claude-code-queue", "name the files in the prompt"]),
        ("estimated_tokens: null", "estimated_tokens", ["claude-code-queue", "usage"]),
    ])
    func foreignKeys(_ line: String, _ key: String, _ words: [String]) {
        let error = specError(specText(line))
        #expect(errorKey(error) == key)
        #expect(error?.failureClass == .specInvalid)
        for word in words { #expect(error?.description.contains(word) == true, "\(error?.description ?? "accepted") lacks \(word)") }
        #expect(error?.description.contains("did you mean") == false)
    }

    @Test("values are checked with their real types", arguments: [
        ("priority: high", "priority", ["whole number", "the text 'high'", "higher runs first"]),
        ("priority: 2.5", "priority", ["whole number", "2.5"]),
        ("priority: [1]", "priority", ["a list"]),
        ("depends_on: {a: 1}", "depends_on", ["a list of names", "a mapping"]),
        ("depends_on: [[a]]", "depends_on", ["item 1", "a list"]),
        ("fallback: [a, {b: c}]", "fallback", ["item 2", "a mapping"]),
        ("model: [a, b]", "model", ["single name", "a list"]),
        ("provider: true", "provider", ["single name", "true/false"]),
        ("verify: {run: x}", "verify", ["shell command", "a mapping"]),
        ("retries: 2.0", "retries", ["whole number", "2.0"]),
        ("timeout: \(String(repeating: "9", count: 400))s", "timeout", ["far longer than", "longest mtor accepts"]),
        ("timeout: \(String(repeating: "9", count: 400))", "timeout", ["far longer than"]),
        ("timeout: 31d", "timeout", ["longer than", "720h"]),
        ("stall: 1e400", "stall", ["duration"]),
        ("timeout: .inf", "timeout", ["duration"]),
        ("timeout: -5", "timeout", ["'timeout'"]),
    ])
    func wrongTypes(_ line: String, _ key: String, _ words: [String]) {
        let error = specError(specText(line))
        #expect(errorKey(error) == key)
        for word in words { #expect(error?.description.contains(word) == true, "\(error?.description ?? "accepted") lacks \(word)") }
        #expect((error?.description.count ?? 0) < 400)
    }

    @Test("priority and depends_on are real keys with real types")
    func priorityAndDependencies() throws {
        let spec = try Spec.parse(specText("priority: -3\ndepends_on:\n  - parse-cells\n  - 42"), home: testHome)
        #expect(spec.priority == -3)
        #expect(spec.dependsOn == ["parse-cells", "42"])
        let single = try Spec.parse(specText("depends_on: parse-cells"), home: testHome)
        #expect(single.dependsOn == ["parse-cells"])
        #expect(single.priority == 0)
    }

    @Test("timeout: 90 keeps its meaning of 90 seconds; 30d is the longest accepted")
    func durations() throws {
        #expect(try Spec.parse(specText("timeout: 90"), home: testHome).timeout == 90)
        #expect(try Spec.parse(specText("timeout: 1.5"), home: testHome).timeout == 1.5)
        #expect(try Spec.parse(specText("timeout: 30d"), home: testHome).timeout == Spec.maxDuration)
    }

    @Test("a scalar where a string belongs is taken as written")
    func writtenScalars() throws {
        let spec = try Spec.parse(specText("model: 1.10\nverify: yes\nprovider: 007"), home: testHome)
        #expect(spec.model == "1.10")
        #expect(spec.verify == "yes")
        #expect(spec.provider == "007")
        #expect(try Spec.parse("---\nrepo: ~\n---\nGo.\n", home: "/home/u").repo == "/home/u")
        #expect(try Spec.parse(specText("provider: ~"), home: testHome).provider == nil)
    }

    @Test("metadata keys are accepted and kept for spec.meta; any x- key too")
    func metadata() throws {
        let all = Spec.metadataKeys.map { "\($0): v-\($0)" }.joined(separator: "\n")
        let spec = try Spec.parse(specText(all + "\nx-jira: {id: WID-7, points: 3}"), home: testHome)
        for key in Spec.metadataKeys { #expect(spec.meta[key] == .string("v-\(key)")) }
        #expect(spec.meta["x-jira"]?["points"] == .integer(3))
        #expect(spec.meta.count == Spec.metadataKeys.count + 1)
        #expect(errorKey(specError(specText("x-: 1"))) == "x-")
    }

    @Test("a typo of a metadata key is still an error, with a suggestion")
    func metadataTypo() {
        let error = specError(specText("titel: Fix"))
        #expect(errorKey(error) == "titel")
        #expect(error?.description.contains("did you mean 'title'") == true)
    }

    @Test("a million-character unknown key is refused at once with a short sentence")
    func hostileKey() {
        let key = String(repeating: "k", count: 1_000_000)
        let text = "---\nrepo: /srv/widget\n\(key): 1\n---\nGo.\n"
        let start = ContinuousClock.now
        let error = specError(text)
        print("1 MB unknown key refused in \(ContinuousClock.now - start)")
        #expect(errorKey(error) == key)
        #expect((error?.description.utf8.count ?? .max) < 500)
        #expect(Spelling.closest(to: key, in: Spec.knownKeys) == nil)
        #expect(Spelling.closest(to: "repo" + String(repeating: "x", count: 70), in: Spec.knownKeys) == nil)
    }

    @Test("the key table and the reference agree")
    func reference() {
        #expect(Set(Spec.knownKeys).count == Spec.keys.count)
        #expect(Set(Spec.knownKeys).isDisjoint(with: Spec.metadataKeys))
        #expect(ForeignKey.table.allSatisfy { Spec.key(named: $0.key) == nil && !Spec.isMetadata($0.key) })
        for key in Spec.metadataKeys { #expect(Frontmatter.reference.contains(key)) }
        for key in Spec.knownKeys { #expect(Reference.spec.row(key) != nil) }
    }
}

@Suite("Spec reference docs")
struct SpecDocsTests {
    @Test("README's spec key table names every key of Spec.keys, and the metadata keys")
    func readmeInStep() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let readme = try String(contentsOf: root.appendingPathComponent("README.md"), encoding: .utf8)
        for key in Spec.knownKeys { #expect(readme.contains("| `\(key)` |"), "README lacks a row for \(key)") }
        for key in Spec.metadataKeys { #expect(readme.contains("`\(key)`"), "README lacks metadata key \(key)") }
        for foreign in ForeignKey.table where foreign.tool == ForeignKey.ccq || foreign.tool == ForeignKey.original {
            #expect(readme.contains("`\(foreign.shown)`"), "README lacks \(foreign.shown)")
        }
    }
}
