import Testing
@testable import MtorCore

struct EnvLineCase: Sendable, CustomTestStringConvertible {
    var line: String
    var key: String
    var value: String
    var warns: Bool
    var testDescription: String { line.debugDescription }
}

struct EnvErrorCase: Sendable, CustomTestStringConvertible {
    var name: String
    var text: String
    var line: Int
    var mentions: String
    var testDescription: String { name }
}

@Suite("Env file parser")
struct EnvFileTests {
    static let lines: [EnvLineCase] = [
        EnvLineCase(line: "KEY=value", key: "KEY", value: "value", warns: false),
        EnvLineCase(line: "ZHIPU_API_KEY=abc.def-123", key: "ZHIPU_API_KEY", value: "abc.def-123", warns: false),
        EnvLineCase(line: "_PRIVATE=1", key: "_PRIVATE", value: "1", warns: false),
        EnvLineCase(line: "TOKEN=a=b==", key: "TOKEN", value: "a=b==", warns: false),
        EnvLineCase(line: "EMPTY=", key: "EMPTY", value: "", warns: false),
        EnvLineCase(line: "   INDENTED=yes   ", key: "INDENTED", value: "yes", warns: false),
        EnvLineCase(line: "export KEY=value", key: "KEY", value: "value", warns: true),
        EnvLineCase(line: "export\tKEY=value", key: "KEY", value: "value", warns: true),
        EnvLineCase(line: "KEY='single # quoted value'", key: "KEY", value: "single # quoted value", warns: false),
        EnvLineCase(line: "KEY=\"double # quoted value\"", key: "KEY", value: "double # quoted value", warns: false),
        EnvLineCase(line: "KEY=\"say \\\"hi\\\" now\"", key: "KEY", value: "say \"hi\" now", warns: false),
        EnvLineCase(line: "KEY='no \\escapes in single'", key: "KEY", value: "no \\escapes in single", warns: false),
        EnvLineCase(line: "KEY=\"two\\nlines\"", key: "KEY", value: "two\nlines", warns: false),
        EnvLineCase(line: "KEY=\"$not_expanded\"", key: "KEY", value: "$not_expanded", warns: false),
        EnvLineCase(line: "KEY=\"quoted\"   # trailing comment", key: "KEY", value: "quoted", warns: false),
        EnvLineCase(line: "KEY=value # inline comment", key: "KEY", value: "value", warns: false),
        EnvLineCase(line: "KEY=val#ue", key: "KEY", value: "val#ue", warns: false),
        EnvLineCase(line: "KEY = value", key: "KEY", value: "value", warns: true),
        EnvLineCase(line: "export KEY=\"a b\" # both", key: "KEY", value: "a b", warns: true),
    ]

    @Test("one line parses to its key and value", arguments: lines)
    func parsesLine(_ c: EnvLineCase) throws {
        let env = try EnvFile.parse(c.line + "\n")
        #expect(env.assignments.count == 1)
        let a = try #require(env.assignments.first)
        #expect(a.key == c.key)
        #expect(a.value == c.value)
        #expect(a.line == 1)
        #expect((a.systemdWarning != nil) == c.warns)
    }

    @Test("export is parsed and flagged because systemd would drop the line")
    func exportWarning() throws {
        let env = try EnvFile.parse("export ZHIPU_API_KEY=sk-123\n")
        #expect(env.values == ["ZHIPU_API_KEY": "sk-123"])
        let warning = try #require(env.assignments.first?.systemdWarning)
        #expect(warning.contains("systemd"))
        #expect(warning.contains("export"))
    }

    @Test("a whole file: comments, blank lines, CRLF, line numbers, last assignment wins")
    func wholeFile() throws {
        let text = "# mtor worker secrets\r\n\r\nZHIPU_API_KEY=sk-zhipu\r\n   # indented comment\r\nexport INFINI_API_KEY='sk infini'\r\n\r\nZHIPU_API_KEY=\"sk-second\" # rotated\r\n"
        let env = try EnvFile.parse(text)
        #expect(env.assignments.map(\.key) == ["ZHIPU_API_KEY", "INFINI_API_KEY", "ZHIPU_API_KEY"])
        #expect(env.assignments.map(\.line) == [3, 5, 7])
        #expect(env.values == ["ZHIPU_API_KEY": "sk-second", "INFINI_API_KEY": "sk infini"])
        #expect(!env.values.values.contains { $0.contains("\r") })
    }

    @Test("an empty file and a file of comments give no assignments", arguments: ["", "\n\n", "# only\n  # comments\n"])
    func empty(_ text: String) throws {
        #expect(try EnvFile.parse(text).assignments.isEmpty)
    }

    static let errors: [EnvErrorCase] = [
        EnvErrorCase(name: "no '='", text: "A=1\nJUSTAWORD\n", line: 2, mentions: "KEY=value"),
        EnvErrorCase(name: "a name starting with a digit", text: "# c\n\n1KEY=x\n", line: 3, mentions: "1KEY"),
        EnvErrorCase(name: "a name with a dash", text: "MY-KEY=x\n", line: 1, mentions: "MY-KEY"),
        EnvErrorCase(name: "a non-ASCII name", text: "A=1\nB=2\nCLÉ=x\n", line: 3, mentions: "not a valid variable name"),
        EnvErrorCase(name: "an empty name", text: "=x\n", line: 1, mentions: "not a valid variable name"),
        EnvErrorCase(name: "an unclosed double quote", text: "A=1\nKEY=\"abc\n", line: 2, mentions: "never closed"),
        EnvErrorCase(name: "an unclosed single quote", text: "KEY='abc\n", line: 1, mentions: "single quote"),
        EnvErrorCase(name: "an escaped quote does not close", text: "KEY=\"abc\\\"\n", line: 1, mentions: "never closed"),
        EnvErrorCase(name: "an unquoted value with spaces", text: "A=1\r\nB=2\r\nKEY=two words\r\n", line: 3, mentions: "quote it"),
        EnvErrorCase(name: "an unquoted value with a $", text: "KEY=$OTHER\n", line: 1, mentions: "quote it"),
        EnvErrorCase(name: "text after the closing quote", text: "KEY=\"a\"b\n", line: 1, mentions: "after the closing quote"),
        EnvErrorCase(name: "export with nothing to export", text: "export FOO\n", line: 1, mentions: "write FOO=value"),
        EnvErrorCase(name: "a byte-order mark is named", text: "\u{FEFF}FIXTURE_KEY=x\n", line: 1, mentions: "byte-order mark (U+FEFF"),
        EnvErrorCase(name: "an invisible character in a name is shown", text: "A=1\nKE\u{200B}Y=x\n", line: 2, mentions: "'KE<U+200B>Y'"),
    ]

    @Test("a malformed line is an error naming its line number, never skipped", arguments: errors)
    func malformed(_ c: EnvErrorCase) {
        let error = #expect(throws: EnvFileError.self) {
            try EnvFile.parse(c.text, file: "etc/mtor.env")
        }
        #expect(error?.line == c.line)
        #expect(error?.file == "etc/mtor.env")
        #expect(error?.message.contains(c.mentions) == true, "\(error?.message ?? "no error")")
        #expect(error?.description.hasPrefix("etc/mtor.env line \(c.line): ") == true)
    }
}
