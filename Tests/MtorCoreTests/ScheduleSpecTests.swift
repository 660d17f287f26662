import Foundation
import Testing
@testable import MtorCore

@Suite("Spec keys that schedule: not_before, dedup, depends_on, base: after")
struct ScheduleSpecTests {
    func parse(_ lines: String) throws -> Spec { try Spec.parse(specText(lines), home: "/home/u") }

    @Test("not_before takes an ISO-8601 time with its zone, or a duration from arrival", arguments: [
        ("not_before: 2026-12-01T22:00:00Z", NotBefore.at(1_796_162_400)),
        ("not_before: 2026-12-01T23:00:00+01:00", .at(1_796_162_400)),
        ("not_before: \"2026-12-01T22:00:00.500Z\"", .at(1_796_162_400.5)),
        ("not_before: 2h", .after(7200)),
        ("not_before: 90", .after(90)),
        ("not_before: 1h30m", .after(5400)),
    ])
    func notBefore(_ line: String, _ expected: NotBefore) throws {
        #expect(try parse(line).notBefore == expected)
        #expect(expected.time(arrived: 1000) == (line.contains("T") ? 1_796_162_400 + (line.contains(".500") ? 0.5 : 0) : 1000 + (line.hasSuffix("2h") ? 7200 : line.hasSuffix("90") ? 90 : 5400)))
    }

    @Test("hostile values are refused with a sentence naming the key, the problem and the fix", arguments: [
        ("not_before: garbage", "not_before", ["ISO-8601", "2026-12-01T22:00:00Z", "2h", "got 'garbage'"]),
        ("not_before: 2026-12-01T22:00:00", "not_before", ["with its zone"]),
        ("not_before: [2h]", "not_before", ["a list"]),
        ("not_before: 99999999999d", "not_before", ["ISO-8601"]),
        ("priority: high", "priority", ["whole number", "'high'"]),
        ("priority: \"5\"", "priority", ["whole number"]),
        ("dedup: no-thanks", "dedup", ["true or false"]),
        ("dedup: [false]", "dedup", ["true or false", "a list"]),
        ("depends_on: [a, a]", "depends_on", ["same task twice"]),
        ("depends_on: [../../etc/passwd]", "depends_on", ["no task id", "by id"]),
        ("depends_on: [\"\"]", "depends_on", ["no task id"]),
        ("base: after", "base", ["'base: after'", "names 0", "exactly one"]),
        ("base: after\ndepends_on: [a, b]", "base", ["names 2"]),
    ])
    func hostile(_ line: String, _ key: String, _ words: [String]) {
        let error = specError(specText(line))
        #expect(errorKey(error) == key, "\(error?.description ?? "accepted")")
        #expect(error?.failureClass == .specInvalid)
        for word in words { #expect(error?.description.contains(word) == true, "\(error?.description ?? "accepted") lacks \(word)") }
    }

    @Test("a huge depends_on list is refused at once, naming the limit and what to do instead")
    func hugeDependencyList() {
        let names = (0..<20_000).map { "task-\($0)" }.joined(separator: ", ")
        let error = specError(specText("depends_on: [\(names)]"))
        #expect(errorKey(error) == "depends_on")
        #expect(error?.description.contains("20000 tasks; at most \(ScheduleRules.maxDependencies)") == true, "\(error?.description ?? "accepted")")
        #expect(error?.description.contains("depends on a group") == true)
        #expect(error.map { $0.description.utf8.count < 400 } == true, "the sentence stays short")
    }

    @Test("defaults: no not_before, dedup on; base: after with one dependency is kept for the worker to resolve")
    func defaults() throws {
        let plain = try parse("")
        #expect(plain.notBefore == nil && plain.dedup && plain.priority == 0 && plain.dependsOn.isEmpty)
        let chained = try parse("depends_on: parser\nbase: after\ndedup: false")
        #expect(chained.dependsOn == ["parser"] && chained.work.base == ScheduleRules.baseAfter && !chained.dedup)
    }

    @Test("submit --force writes dedup: false: replacing the key, adding it, or making the frontmatter")
    func forced() throws {
        let replaced = try ScheduleRules.forced("---\nrepo: /r\ndedup: true\n---\nGo.\n")
        #expect(replaced == "---\nrepo: /r\ndedup: false\n---\nGo.\n")
        let added = try ScheduleRules.forced("---\r\nrepo: /r\r\n---\r\nGo.\r\n")
        #expect(try !Spec.parse(added, home: "/").dedup)
        #expect(added.hasPrefix("---\r\ndedup: false\r\nrepo: /r"))
        let bare = try ScheduleRules.forced("Go.\n")
        #expect(bare == "---\ndedup: false\n---\nGo.\n")
        #expect(throws: SpecError.self) { try ScheduleRules.forced("---\nrepo: /r\nGo.\n") }
    }

    @Test("the dedup fingerprint is the repo, the provider and the prompt; nothing else")
    func fingerprint() throws {
        let a = try parse("timeout: 1h"), b = try parse("priority: 9")
        #expect(a.fingerprint(provider: "p") == b.fingerprint(provider: "p"))
        #expect(a.fingerprint(provider: "p") != a.fingerprint(provider: "q"))
        var c = a
        c.prompt = "Go on."
        #expect(a.fingerprint(provider: "p") != c.fingerprint(provider: "p"))
        c = a
        c.repo = "/srv/other"
        #expect(a.fingerprint(provider: "p") != c.fingerprint(provider: "p"))
        // The boundary between fields is part of the hash: moving text from one field to the next changes it.
        var d = a, e = a
        d.repo = "/x"; d.prompt = "yz"
        e.repo = "/xy"; e.prompt = "z"
        #expect(d.fingerprint(provider: "") != e.fingerprint(provider: ""))
    }

    @Test("the slug of a submitted name is what a depends_on file name is matched with")
    func slugs() {
        #expect(SpecName.slugPart(of: "20261201T220000-parser-refactor-3f2a") == "parser-refactor")
        #expect(SpecName.slugPart(of: "parser") == nil)
        #expect(SpecName.slug("Parser Refactor") == "parser-refactor")
    }
}
