import Foundation
import Testing
@testable import MtorCore

/// A small seeded generator, so a failing fuzz run can be replayed from its printed seed.
struct SplitMix: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Checks what any answer of the reader must satisfy: a parse or a located, bounded sentence.
func checkVerdict(_ spec: String) {
    do {
        let front = try Frontmatter.split(spec)
        for entry in front.entries { #expect(entry.line >= 2 && entry.line < max(front.closingLine, 2) + 1) }
    } catch {
        #expect(error.failureClass == .specInvalid)
        #expect(!error.description.isEmpty)
        #expect(error.description.utf8.count < 2000, "an unbounded sentence: \(error.description.prefix(200))")
    }
}

@Suite("Frontmatter fuzz")
struct FrontmatterFuzzTests {
    static let alphabet = Array("ab:- #'\"[]{},|>&*!%?\\\t\n\n  xé標0123.~\r")
    /// `MTOR_FUZZ_ROUNDS` scales the fuzz runs (default 1: 3000 random and 150 mutations per corpus row).
    static let rounds = Int(ProcessInfo.processInfo.environment["MTOR_FUZZ_ROUNDS"] ?? "") ?? 1

    @Test("random bytes never crash the reader", .timeLimit(.minutes(30)))
    func random() {
        let seed = UInt64.random(in: 0...UInt64.max)
        print("fuzz seed \(seed)")
        var rng = SplitMix(state: seed)
        for _ in 0..<3000 * Self.rounds {
            let length = Int.random(in: 0..<200, using: &rng)
            let body = String((0..<length).map { _ in Self.alphabet.randomElement(using: &rng)! })
            checkVerdict("---\n" + body + "\n---\nGo.\n")
        }
    }

    @Test("mutated corpus frontmatters never crash the reader", .timeLimit(.minutes(30)))
    func mutated() {
        let seed = UInt64.random(in: 0...UInt64.max)
        print("mutation seed \(seed)")
        var rng = SplitMix(state: seed)
        var count = 0
        for c in FrontmatterCorpus.cases {
            for _ in 0..<150 * Self.rounds {
                var chars = Array(c.spec)
                for _ in 0..<Int.random(in: 1...4, using: &rng) where !chars.isEmpty {
                    let at = Int.random(in: 0..<chars.count, using: &rng)
                    switch Int.random(in: 0..<4, using: &rng) {
                    case 0: chars.remove(at: at)
                    case 1: chars.insert(Self.alphabet.randomElement(using: &rng)!, at: at)
                    case 2: chars[at] = Self.alphabet.randomElement(using: &rng)!
                    default: chars.insert(contentsOf: chars[at..<min(at + 12, chars.count)], at: at)
                    }
                }
                checkVerdict(String(chars))
                count += 1
            }
        }
        print("mutated inputs: \(count)")
    }

    @Test("random values written as YAML read back equal", .timeLimit(.minutes(10)))
    func roundTrip() throws {
        let seed = UInt64.random(in: 0...UInt64.max)
        print("round-trip seed \(seed)")
        var rng = SplitMix(state: seed)
        for n in 0..<400 {
            let value = Self.randomValue(&rng, depth: 0)
            let flow = "---\nx-v: \(value.json)\n---\nGo.\n"
            let block = "---\n" + Self.block("x-v", value, indent: 0) + "\n---\nGo.\n"
            let emitted = "---\n" + SpecConversion.emit("x-v", value) + "\n---\nGo.\n"
            for (style, text) in [("flow", flow), ("block", block), ("convert", emitted)] {
                do {
                    let read = try Frontmatter.split(text).entries.first?.value
                    #expect(read?.json == value.json, "\(style) #\(n): \(text.debugDescription)")
                } catch {
                    Issue.record("\(style) #\(n) refused: \(error) in \(text.debugDescription)")
                }
            }
        }
    }

    @Test("a 1 MiB frontmatter parses correctly; time is printed, not asserted", .timeLimit(.minutes(10)))
    func large() throws {
        for size in [1 << 18, 1 << 20] {
            var yaml = "repo: /srv/widget\nx-items:\n"
            var items = 0
            while yaml.utf8.count < size / 2 { yaml += "  - {name: item\(items), tags: [a, \"b c\"], n: \(items)}\n"; items += 1 }
            yaml += "description: |\n"
            var lines = 0
            while yaml.utf8.count < size - 200 { yaml += "  line \(lines) of a long literal description, with: colons # and hashes\n"; lines += 1 }
            let spec = "---\n" + yaml + "---\nGo.\n"
            let start = ContinuousClock.now
            let parsed = try Spec.parse(spec, home: "/h")
            let elapsed = ContinuousClock.now - start
            print("frontmatter of \(spec.utf8.count) bytes (\(items) flow items, \(lines) literal lines) parsed in \(elapsed)")
            guard case .list(let list)? = parsed.meta["x-items"] else { Issue.record("x-items missing"); return }
            #expect(list.count == items)
            #expect(list.last?["n"] == .integer(items - 1))
            #expect(parsed.meta["description"].map { if case .string(let s) = $0 { s.split(separator: "\n").count } else { 0 } } == lines)
        }
        let flat = "---\nrepo: /srv/widget\nx-one: [" + (0..<100_000).map { "v\($0)" }.joined(separator: ", ") + "]\n---\nGo.\n"
        let start = ContinuousClock.now
        let parsed = try Spec.parse(flat, home: "/h")
        print("one-line flow list of \(flat.utf8.count) bytes parsed in \(ContinuousClock.now - start)")
        #expect(parsed.meta["x-one"].map { if case .list(let l) = $0 { l.count } else { 0 } } == 100_000)
    }

    // MARK: - Generators

    static func randomString(_ rng: inout SplitMix) -> String {
        let pieces = ["a", "b c", ":", ": ", " #", "#", "'", "\"", "\\", "\n", "\n\n", " ", "\t", "-", "- ", "é", "標", "[", "}", ",", "~", "null", "1", "2.5", "yes", "x-"]
        return (0..<Int.random(in: 0...6, using: &rng)).map { _ in pieces.randomElement(using: &rng)! }.joined()
    }

    static func randomValue(_ rng: inout SplitMix, depth: Int) -> FrontmatterValue {
        switch Int.random(in: 0..<(depth > 3 ? 5 : 7), using: &rng) {
        case 0: return .null
        case 1: return .boolean(Bool.random(using: &rng))
        case 2: return .integer(Int.random(in: -1000...1000, using: &rng))
        case 3: return .float(Double(Int.random(in: -1000...1000, using: &rng)) / 8)
        case 4: return .string(randomString(&rng))
        case 5: return .list((0..<Int.random(in: 0...3, using: &rng)).map { _ in randomValue(&rng, depth: depth + 1) })
        default:
            let keys = Set((0..<Int.random(in: 0...3, using: &rng)).map { _ in "k\(Int.random(in: 0...9, using: &rng))" })
            return .map(keys.sorted().map { Frontmatter.Entry(key: $0, value: randomValue(&rng, depth: depth + 1)) })
        }
    }

    /// `key: value` in block style: nested mappings and lists indented, scalars in flow (JSON) style.
    static func block(_ key: String, _ value: FrontmatterValue, indent: Int) -> String {
        let pad = String(repeating: " ", count: indent)
        switch value {
        case .map(let entries) where !entries.isEmpty:
            return pad + "\(key):\n" + entries.map { block($0.key, $0.value, indent: indent + 2) }.joined(separator: "\n")
        case .list(let items) where !items.isEmpty:
            return pad + "\(key):\n" + items.map { item in
                if case .map(let e) = item, !e.isEmpty { return pad + "  -\n" + e.map { block($0.key, $0.value, indent: indent + 4) }.joined(separator: "\n") }
                if case .list(let l) = item, !l.isEmpty { return pad + "  -\n" + block("k", item, indent: indent + 4).split(separator: "\n", maxSplits: 1).last.map(String.init)! }
                return pad + "  - " + item.json
            }.joined(separator: "\n")
        default:
            return pad + "\(key): \(value.json)"
        }
    }
}
