import Foundation
import Testing
@testable import MtorCore

@Suite("Redactor")
struct RedactorTests {
    @Test("every occurrence of a secret becomes *** in text")
    func text() {
        let r = Redactor(secrets: ["sk-zhipu-0123456789", "infini-secret"])
        let line = "Authorization: Bearer sk-zhipu-0123456789; retry with sk-zhipu-0123456789 or infini-secret."
        #expect(r.redact(line) == "Authorization: Bearer ***; retry with *** or ***.")
    }

    @Test("every occurrence of a secret becomes *** in bytes, other bytes untouched")
    func bytes() {
        let r = Redactor(secrets: ["sk-zhipu-0123456789"])
        let input = Array("x-api-key: sk-zhipu-0123456789\n{\"ok\":true}\n".utf8)
        #expect(r.redact(bytes: input) == Array("x-api-key: ***\n{\"ok\":true}\n".utf8))
        let clean = Array("nothing secret here\n".utf8)
        #expect(r.redact(bytes: clean) == clean)
    }

    @Test("bytes that are not UTF-8 pass through unchanged when no secret is present")
    func nonUTF8Bytes() {
        let r = Redactor(secrets: ["sk-zhipu-0123456789"])
        let input: [UInt8] = [0xFF, 0xFE, 0x41, 0x0A]
        #expect(r.redact(bytes: input) == input)
    }

    @Test("values shorter than 4 characters are not secrets", arguments: ["", "1", "ab", "yes"])
    func shortValues(_ value: String) {
        let r = Redactor(secrets: [value])
        #expect(r.secrets.isEmpty)
        let text = "API_TIMEOUT_MS=1 yes ab done"
        #expect(r.redact(text) == text)
        #expect(r.redact(bytes: Array(text.utf8)) == Array(text.utf8))
    }

    @Test("a 4-character value is a secret")
    func boundary() {
        #expect(Redactor(secrets: ["abcd"]).redact("xabcdx") == "x***x")
    }

    @Test("overlapping secrets: the longest is replaced first, whole", arguments: [
        ["abcd", "abcdefgh"], ["abcdefgh", "abcd"],
    ])
    func overlapping(_ secrets: [String]) {
        let r = Redactor(secrets: secrets)
        #expect(r.secrets == ["abcdefgh", "abcd"])
        #expect(r.redact("key=abcdefgh other=abcd") == "key=*** other=***")
        #expect(!r.redact("abcdefgh").contains("efgh"))
        #expect(r.redact(bytes: Array("abcdefgh".utf8)) == Array("***".utf8))
    }

    @Test("a secret that contains another secret in its middle is still fully hidden")
    func nested() {
        let r = Redactor(secrets: ["token", "my-token-value"])
        #expect(r.redact("my-token-value and token") == "*** and ***")
    }

    @Test("duplicate secrets are kept once and no secret means text is returned as is")
    func duplicates() {
        #expect(Redactor(secrets: ["same-secret", "same-secret"]).secrets == ["same-secret"])
        #expect(Redactor(secrets: []).redact("anything") == "anything")
    }
}

@Suite("Redactor on bytes")
struct ByteRedactorTests {
    static let secret = "sk-live-0123456789"

    @Test("a secret followed by a combining mark or other joiner is still hidden", arguments: ["\u{0301}", "\u{0308}", "\u{20DD}", "\u{200D}", "\u{FE0F}", "\u{0301}\u{0327}"])
    func combiningMarks(_ mark: String) {
        let r = Redactor(secrets: [Self.secret])
        let text = "key=\(Self.secret)\(mark) and \(mark)\(Self.secret)\(mark)."
        let out = r.redact(text)
        #expect(!out.contains("0123456789") && !out.contains("sk-live"), "\(out.debugDescription)")
        #expect(out == "key=***\(mark) and \(mark)***\(mark).")
        #expect(r.redact(bytes: Array(text.utf8)) == Array(out.utf8))
    }

    @Test("a secret next to bytes that are not UTF-8 is hidden and those bytes are kept")
    func invalidNeighbours() {
        let r = Redactor(secrets: [Self.secret])
        let input: [UInt8] = [0xFF, 0xC3] + Array(Self.secret.utf8) + [0x80, 0xFE]
        #expect(r.redact(bytes: input) == [0xFF, 0xC3] + Array("***".utf8) + [0x80, 0xFE])
    }

    static let streamTexts = [
        "abcd",
        "xabcdx",
        "abcabcdabcd-abcdefgh-abcdefg",
        "no secret at all, just text that is long enough to be cut many ways",
        "sk-live-0123456789sk-live-0123456789 tail abc",
        "ab\u{0301}abcd\u{0301}é€𝄞abcdefgh",
    ]

    @Test("streamed in two chunks cut at every offset, the output equals the one-shot output and hides every secret", arguments: streamTexts)
    func everySplit(_ text: String) {
        let r = Redactor(secrets: ["abcd", "abcdefgh", Self.secret])
        let bytes = Array(text.utf8)
        let whole = r.redact(bytes: bytes)
        #expect(!String(decoding: whole, as: UTF8.self).contains("abcd"))
        for cut in 0...bytes.count {
            var stream = r.stream()
            let out = stream.feed(bytes[..<cut]) + stream.feed(bytes[cut...]) + stream.finish()
            #expect(out == whole, "cut at \(cut): \(String(decoding: out, as: UTF8.self))")
        }
    }

    @Test("streamed one byte at a time and in three chunks at every pair of offsets, the output is the same", arguments: streamTexts)
    func manyChunks(_ text: String) {
        let r = Redactor(secrets: ["abcd", "abcdefgh"])
        let bytes = Array(text.utf8)
        let whole = r.redact(bytes: bytes)
        var single = r.stream()
        var out: [UInt8] = []
        for b in bytes { out += single.feed([b]) }
        out += single.finish()
        #expect(out == whole)
        for i in 0...bytes.count {
            for j in i...bytes.count {
                var s = r.stream()
                let three = s.feed(bytes[..<i]) + s.feed(bytes[i..<j]) + s.feed(bytes[j...]) + s.finish()
                #expect(three == whole, "cuts at \(i), \(j)")
            }
        }
    }

    @Test("overlapping secrets: every byte of each is hidden, whichever starts first, as one run")
    func overlapEitherWay() {
        let r = Redactor(secrets: ["xxab", "abcdefgh"])
        #expect(r.redact("1 xxabcdefgh 2") == "1 *** 2")
        #expect(r.redact("1 abcdefghxxab 2") == "1 abcdefghxxab 2".replacingOccurrences(of: "abcdefghxxab", with: "***"))
        #expect(r.redact("xxabxxab") == "***")
        #expect(r.redact("abcdefg xxa") == "abcdefg xxa")
    }

    @Test("the stream holds back only bytes that may start a secret, fewer than the longest one, and gives them back at the end")
    func carry() {
        let r = Redactor(secrets: ["abcdefgh", "xyz-secret"])
        var s = r.stream()
        #expect(s.feed(Array("plain output\n".utf8)) == Array("plain output\n".utf8))
        #expect(s.isEmpty)
        #expect(s.feed(Array("hello abcd".utf8)) == Array("hello ".utf8))
        #expect(!s.isEmpty)
        #expect(s.feed(Array("efgh!".utf8)) == Array("***!".utf8))
        #expect(s.feed(Array("abcdefg".utf8)) == [])
        #expect(s.finish() == Array("abcdefg".utf8))
        #expect(s.isEmpty)
    }

    /// The rule stated plainly: mark every byte of every occurrence of every secret, then write one `***` per marked run.
    static func reference(_ text: [UInt8], _ secrets: [[UInt8]]) -> [UInt8] {
        var marked = [Bool](repeating: false, count: text.count)
        for s in secrets where s.count <= text.count {
            for start in 0...(text.count - s.count) where Array(text[start..<(start + s.count)]) == s {
                for i in start..<(start + s.count) { marked[i] = true }
            }
        }
        var out: [UInt8] = []
        for i in text.indices {
            if !marked[i] { out.append(text[i]) } else if i == 0 || !marked[i - 1] { out += Array("***".utf8) }
        }
        return out
    }

    @Test("3000 random texts over a tiny alphabet, cut into random chunks, match the plain rule")
    func randomAgainstReference() {
        let secrets = ["abcd", "abcdefgh", "dabc", "bcbcbc", "xy-z"]
        let r = Redactor(secrets: secrets)
        let alphabet = Array("abcdefghxyz-".utf8)
        var seed: UInt64 = 0x9E3779B97F4A7C15
        func next(_ n: Int) -> Int {
            seed = seed &* 6364136223846793005 &+ 1442695040888963407
            return Int((seed >> 33) % UInt64(n))
        }
        for _ in 0..<3000 {
            let text = (0..<next(48)).map { _ in alphabet[next(alphabet.count)] }
            let expected = Self.reference(text, secrets.map { Array($0.utf8) })
            var stream = r.stream()
            var out: [UInt8] = []
            var i = 0
            while i < text.count {
                let end = min(text.count, i + 1 + next(9))
                out += stream.feed(text[i..<end])
                i = end
            }
            out += stream.finish()
            #expect(out == expected, "\(String(decoding: text, as: UTF8.self))")
            #expect(r.redact(bytes: text) == expected)
        }
    }

    @Test("encoded JSON: a secret the encoder escaped is hidden, the JSON still parses, numbers are left alone",
          arguments: ["quote\"and\\back", "new\nline\ttab", "slash/inside/1", "plain-secret-value"])
    func json(_ secret: String) throws {
        let r = Redactor(secrets: [secret, "12345"])
        struct Record: Codable { var reason: String; var count: Int; var list: [String] }
        let record = Record(reason: "failed: \(secret)\u{0301} again \(secret)", count: 123456, list: ["\(secret)", "ok"])
        let data = try Stamp.encoder().encode(record)
        let out = r.redact(json: Array(data))
        let back = try JSONDecoder().decode(Record.self, from: Data(out))
        #expect(back.reason == "failed: ***\u{0301} again ***")
        #expect(back.list == ["***", "ok"])
        #expect(back.count == 123456)
        #expect(!String(decoding: out, as: UTF8.self).contains("secret") && !String(decoding: out, as: UTF8.self).contains("back"))
    }
}
