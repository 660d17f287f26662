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
