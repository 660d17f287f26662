import Foundation
import Testing
@testable import MtorCore

/// A spec that should parse, and the `Spec` it must produce.
struct ValidSpecCase: Sendable, CustomTestStringConvertible {
    var name: String
    var text: String
    var expected: Spec
    var testDescription: String { name }
}

/// A spec that must be refused, the key the error must name, and words its sentence must contain.
struct InvalidSpecCase: Sendable, CustomTestStringConvertible {
    var name: String
    var text: String
    var key: String?
    var mentions: [String]
    var testDescription: String { name }
}

let testHome = "/home/ci"

/// The `Spec` a minimal valid spec gives, with the fields a case cares about overridden.
func expectedSpec(repo: String = "/srv/widget", repoAsWritten: String? = nil, prompt: String,
                  provider: String? = nil, fallback: [String] = [], harness: String? = nil, model: String? = nil,
                  timeout: Double = Spec.defaultTimeout, stall: Double = Spec.defaultStall,
                  retries: Int = Spec.defaultRetries, verify: String? = nil) -> Spec {
    Spec(repoAsWritten: repoAsWritten ?? repo, repo: repo, provider: provider, fallback: fallback, harness: harness,
         model: model, timeout: timeout, stall: stall, retries: retries, verify: verify, prompt: prompt)
}

/// The error `Spec.parse` throws for `text`, or nil when it parses.
func specError(_ text: String, home: String = testHome) -> SpecError? {
    do {
        _ = try Spec.parse(text, home: home)
        return nil
    } catch {
        return error
    }
}

func specError(bytes: [UInt8], home: String = testHome) -> SpecError? {
    do {
        _ = try Spec.parse(bytes, home: home)
        return nil
    } catch {
        return error
    }
}

func errorKey(_ error: SpecError?) -> String? {
    if case .invalid(let key, _)? = error { return key }
    return nil
}

@Suite("Spec parser")
struct SpecParserTests {
    static let valid: [ValidSpecCase] = [
        ValidSpecCase(
            name: "the contract's example, with inline comments on every line",
            text: """
            ---
            repo: ~/code/widget        # git working tree on the worker; ~ and $HOME expanded
            provider: zhipu            # a provider from the lockfile (default: its "default")
            fallback: [infini, volcano] # tried in order when the provider fails or is unhealthy
            harness: claude            # override the provider's harness
            model: glm-5.1             # override the provider's model
            timeout: 2h                # wall-clock limit per attempt (default 2h)
            stall: 15m                 # kill after this long with no agent activity (default 15m)
            retries: 2                 # extra attempts for transient failures (default 2, max 5)
            verify: swift test         # run in the repo after the agent exits 0; must pass for success
            ---
            Add a guard against spanned cells in the table handler. ...

            """,
            expected: expectedSpec(repo: "/home/ci/code/widget", repoAsWritten: "~/code/widget",
                                   prompt: "Add a guard against spanned cells in the table handler. ...\n",
                                   provider: "zhipu", fallback: ["infini", "volcano"], harness: "claude", model: "glm-5.1",
                                   timeout: 7200, stall: 900, retries: 2, verify: "swift test")),
        ValidSpecCase(
            name: "a Markdown horizontal rule after the frontmatter stays in the prompt",
            text: "---\nrepo: /srv/widget\n---\nPart one.\n\n---\n\nPart two.\n",
            expected: expectedSpec(prompt: "Part one.\n\n---\n\nPart two.\n")),
        ValidSpecCase(
            name: "CRLF line endings",
            text: "---\r\nrepo: /srv/widget\r\nretries: 1\r\n---\r\nLine one.\r\n\r\n---\r\nLine two.\r\n",
            expected: expectedSpec(prompt: "Line one.\n\n---\nLine two.\n", retries: 1)),
        ValidSpecCase(
            name: "a UTF-8 byte-order mark before the frontmatter",
            text: "\u{FEFF}---\nrepo: /srv/widget\n---\nDo it.\n",
            expected: expectedSpec(prompt: "Do it.\n")),
        ValidSpecCase(
            name: "comment lines, blank lines and # tails inside the frontmatter",
            text: "---\n# written by hand\nrepo: /srv/widget   # the tree\n\n  # an indented comment\nretries: 3 # more\n---\nGo.",
            expected: expectedSpec(prompt: "Go.", retries: 3)),
        ValidSpecCase(
            name: "quoted strings keep a # inside; an unquoted # without a space before it is not a comment",
            text: "---\nrepo: \"/srv/widget\"\nverify: \"make test # all of them\"\nmodel: 'glm#5'\nharness: cl#aude\n---\nGo.\n",
            expected: expectedSpec(prompt: "Go.\n", harness: "cl#aude", model: "glm#5", verify: "make test # all of them")),
        ValidSpecCase(
            name: "escapes in double quotes and doubled single quotes",
            text: "---\nrepo: /srv/widget\nverify: \"echo \\\"hi\\\"\"\nmodel: 'it''s'\n---\nGo.\n",
            expected: expectedSpec(prompt: "Go.\n", model: "it's", verify: "echo \"hi\"")),
        ValidSpecCase(
            name: "an escaped quote before a # inside a double-quoted string",
            text: "---\nrepo: /srv/widget\nverify: \"grep -q \\\" # done\\\" log\"\n---\nGo.\n",
            expected: expectedSpec(prompt: "Go.\n", verify: "grep -q \" # done\" log")),
        ValidSpecCase(
            name: "verify: true and a BOM with CRLF together",
            text: "\u{FEFF}---\r\nrepo: /srv/widget\r\nverify: true\r\n---\r\nGo.\r\n",
            expected: expectedSpec(prompt: "Go.\n", verify: "true")),
        ValidSpecCase(
            name: "an inline list with a quoted item",
            text: "---\nrepo: /srv/widget\nfallback: [infini, \"volcano\", 'a,b']\n---\nGo.\n",
            expected: expectedSpec(prompt: "Go.\n", fallback: ["infini", "volcano", "a,b"])),
        ValidSpecCase(
            name: "a block list with comments and a blank line inside",
            text: "---\nfallback:\n  - infini\n\n  # cheap one next\n  - volcano   # cheap\nrepo: /srv/widget\n---\nGo.\n",
            expected: expectedSpec(prompt: "Go.\n", fallback: ["infini", "volcano"])),
        ValidSpecCase(
            name: "a single fallback name and an empty inline list",
            text: "---\nrepo: /srv/widget\nfallback: infini\n---\nGo.\n",
            expected: expectedSpec(prompt: "Go.\n", fallback: ["infini"])),
        ValidSpecCase(
            name: "an empty inline list means no fallback",
            text: "---\nrepo: /srv/widget\nfallback: []\n---\nGo.\n",
            expected: expectedSpec(prompt: "Go.\n")),
        ValidSpecCase(
            name: "durations 90s and 1h30m; a bare number is seconds",
            text: "---\nrepo: /srv/widget\ntimeout: 1h30m\nstall: 90s\n---\nGo.\n",
            expected: expectedSpec(prompt: "Go.\n", timeout: 5400, stall: 90)),
        ValidSpecCase(
            name: "a bare number of seconds for timeout",
            text: "---\nrepo: /srv/widget\ntimeout: 600\nstall: 15m\n---\nGo.\n",
            expected: expectedSpec(prompt: "Go.\n", timeout: 600, stall: 900)),
        ValidSpecCase(
            name: "the frontmatter may close with '...'",
            text: "---\nrepo: /srv/widget\n...\nGo.\n",
            expected: expectedSpec(prompt: "Go.\n")),
        ValidSpecCase(
            name: "retries at both ends of the allowed range",
            text: "---\nrepo: /srv/widget\nretries: 5\n---\nGo.\n",
            expected: expectedSpec(prompt: "Go.\n", retries: 5)),
        ValidSpecCase(
            name: "retries: 0",
            text: "---\nrepo: /srv/widget\nretries: 0\n---\nGo.\n",
            expected: expectedSpec(prompt: "Go.\n", retries: 0)),
        ValidSpecCase(
            name: "leading blank lines of the body are dropped, the rest is verbatim",
            text: "---\nrepo: /srv/widget\n---\n\n\n- a list item that looks like a flag\n`$HOME` and ---\n",
            expected: expectedSpec(prompt: "- a list item that looks like a flag\n`$HOME` and ---\n")),
    ]

    @Test("valid specs parse to exactly the expected fields", arguments: valid)
    func parsesValidSpecs(_ c: ValidSpecCase) throws {
        let spec = try Spec.parse(c.text, home: testHome)
        #expect(spec == c.expected)
    }

    @Test("the prompt never contains the frontmatter", arguments: valid)
    func promptHasNoFrontmatter(_ c: ValidSpecCase) throws {
        let spec = try Spec.parse(c.text, home: testHome)
        #expect(!spec.prompt.contains("repo:"))
        #expect(!spec.prompt.hasPrefix("---"))
        #expect(!spec.prompt.contains("\r"))
        #expect(!spec.prompt.contains("\u{FEFF}"))
    }

    @Test("valid specs parse the same from bytes as from text", arguments: valid)
    func bytesAndTextAgree(_ c: ValidSpecCase) throws {
        #expect(try Spec.parse(Array(c.text.utf8), home: testHome) == Spec.parse(c.text, home: testHome))
    }

    static let invalid: [InvalidSpecCase] = [
        InvalidSpecCase(name: "typo 'reop' suggests 'repo'", text: "---\nreop: /srv/widget\n---\nGo.\n",
                        key: "reop", mentions: ["'reop'", "did you mean 'repo'", "line 2"]),
        InvalidSpecCase(name: "typo 'fallbak' suggests 'fallback'", text: "---\nrepo: /srv/widget\nfallbak: [a]\n---\nGo.\n",
                        key: "fallbak", mentions: ["'fallbak'", "did you mean 'fallback'", "line 3"]),
        InvalidSpecCase(name: "typo 'timout' suggests 'timeout'", text: "---\nrepo: /srv/widget\ntimout: 2h\n---\nGo.\n",
                        key: "timout", mentions: ["did you mean 'timeout'"]),
        InvalidSpecCase(name: "an unrelated unknown key lists the valid keys", text: "---\nrepo: /srv/widget\ncolour: red\n---\nGo.\n",
                        key: "colour", mentions: ["'colour'", "repo", "fallback", "verify"]),
        InvalidSpecCase(name: "retries: lots", text: "---\nrepo: /srv/widget\nretries: lots\n---\nGo.\n",
                        key: "retries", mentions: ["'retries'", "whole number"]),
        InvalidSpecCase(name: "timeout: [1]", text: "---\nrepo: /srv/widget\ntimeout: [1]\n---\nGo.\n",
                        key: "timeout", mentions: ["'timeout'", "a list"]),
        InvalidSpecCase(name: "timeout: soon", text: "---\nrepo: /srv/widget\ntimeout: soon\n---\nGo.\n",
                        key: "timeout", mentions: ["'timeout'", "soon"]),
        InvalidSpecCase(name: "timeout: 0", text: "---\nrepo: /srv/widget\ntimeout: 0\n---\nGo.\n",
                        key: "timeout", mentions: ["'timeout'", "positive"]),
        InvalidSpecCase(name: "timeout: inf", text: "---\nrepo: /srv/widget\ntimeout: inf\n---\nGo.\n",
                        key: "timeout", mentions: ["'timeout'"]),
        InvalidSpecCase(name: "stall: true", text: "---\nrepo: /srv/widget\nstall: true\n---\nGo.\n",
                        key: "stall", mentions: ["'stall'", "true/false"]),
        InvalidSpecCase(name: "retries: 6 is over the maximum", text: "---\nrepo: /srv/widget\nretries: 6\n---\nGo.\n",
                        key: "retries", mentions: ["'retries'", "5", "6"]),
        InvalidSpecCase(name: "retries: -1 is under the minimum", text: "---\nrepo: /srv/widget\nretries: -1\n---\nGo.\n",
                        key: "retries", mentions: ["'retries'", "-1"]),
        InvalidSpecCase(name: "fallback: 3", text: "---\nrepo: /srv/widget\nfallback: 3\n---\nGo.\n",
                        key: "fallback", mentions: ["'fallback'"]),
        InvalidSpecCase(name: "model given as a list", text: "---\nrepo: /srv/widget\nmodel: [a, b]\n---\nGo.\n",
                        key: "model", mentions: ["'model'", "a list"]),
        InvalidSpecCase(name: "a mapping value", text: "---\nrepo: /srv/widget\nprovider: {name: zhipu}\n---\nGo.\n",
                        key: "provider", mentions: ["'provider'", "mapping"]),
        InvalidSpecCase(name: "an unterminated quoted string", text: "---\nrepo: /srv/widget\nverify: \"make test\n---\nGo.\n",
                        key: "verify", mentions: ["'verify'", "never closed"]),
        InvalidSpecCase(name: "an inline list never closed", text: "---\nrepo: /srv/widget\nfallback: [a, b\n---\nGo.\n",
                        key: "fallback", mentions: ["'fallback'", "]"]),
        InvalidSpecCase(name: "a duplicate key", text: "---\nrepo: /srv/a\nrepo: /srv/b\n---\nGo.\n",
                        key: "repo", mentions: ["'repo'", "twice", "line 3"]),
        InvalidSpecCase(name: "an empty body", text: "---\nrepo: /srv/widget\n---\n\n   \n\t\n",
                        key: nil, mentions: ["body", "empty"]),
        InvalidSpecCase(name: "nothing after the frontmatter at all", text: "---\nrepo: /srv/widget\n---",
                        key: nil, mentions: ["body"]),
        InvalidSpecCase(name: "no frontmatter, so no repo", text: "Just a prompt, no frontmatter.\n",
                        key: "repo", mentions: ["'repo'"]),
        InvalidSpecCase(name: "frontmatter without repo", text: "---\nprovider: zhipu\n---\nGo.\n",
                        key: "repo", mentions: ["'repo'"]),
        InvalidSpecCase(name: "an empty frontmatter", text: "---\n---\nGo.\n",
                        key: "repo", mentions: ["'repo'"]),
        InvalidSpecCase(name: "repo with an empty value", text: "---\nrepo:\n---\nGo.\n",
                        key: "repo", mentions: ["'repo'"]),
        InvalidSpecCase(name: "repo with an empty quoted string", text: "---\nrepo: \"\"\n---\nGo.\n",
                        key: "repo", mentions: ["'repo'", "empty"]),
        InvalidSpecCase(name: "a relative repo", text: "---\nrepo: code/widget\n---\nGo.\n",
                        key: "repo", mentions: ["'repo'", "absolute", "code/widget"]),
        InvalidSpecCase(name: "another user's home is not expanded", text: "---\nrepo: ~bob/widget\n---\nGo.\n",
                        key: "repo", mentions: ["absolute", "~bob/widget"]),
        InvalidSpecCase(name: "an unclosed frontmatter", text: "---\nrepo: /srv/widget\nGo.\n",
                        key: nil, mentions: ["never closed"]),
        InvalidSpecCase(name: "a body that starts with --- lines but never closes them",
                        text: "---\nThis prompt opens with a horizontal rule.\n\nAnd has no frontmatter at all.\n",
                        key: nil, mentions: ["---"]),
        InvalidSpecCase(name: "an indented key", text: "---\nrepo: /srv/widget\n  retries: 1\n---\nGo.\n",
                        key: "repo", mentions: ["line 3", "indented"]),
        InvalidSpecCase(name: "a line that is not key: value", text: "---\nrepo: /srv/widget\njust words\n---\nGo.\n",
                        key: nil, mentions: ["line 3", "just words"]),
    ]

    @Test("invalid specs fail as spec_invalid and name the key", arguments: invalid)
    func refusesInvalidSpecs(_ c: InvalidSpecCase) {
        let error = specError(c.text)
        #expect(error != nil, "\(c.name) was accepted")
        #expect(error?.failureClass == .specInvalid)
        #expect(errorKey(error) == c.key)
        let sentence = error?.description ?? ""
        for word in c.mentions {
            #expect(sentence.contains(word), "\(sentence.debugDescription) does not mention \(word.debugDescription)")
        }
        if let key = c.key { #expect(sentence.contains(key)) }
    }

    @Test("invalid specs fail the same way from bytes as from text", arguments: invalid)
    func bytesAndTextFailAlike(_ c: InvalidSpecCase) {
        #expect(specError(bytes: Array(c.text.utf8)) == specError(c.text))
    }

    @Test("durations in timeout and stall", arguments: [
        ("90s", 90.0), ("15m", 900), ("2h", 7200), ("1h30m", 5400), ("45", 45), ("\"10m\"", 600), ("1.5h", 5400),
    ])
    func durations(_ written: String, _ seconds: Double) throws {
        let spec = try Spec.parse("---\nrepo: /srv/widget\ntimeout: \(written)\nstall: \(written)\n---\nGo.\n", home: testHome)
        #expect(spec.timeout == seconds)
        #expect(spec.stall == seconds)
    }

    @Test("defaults when the frontmatter names only repo")
    func defaults() throws {
        let spec = try Spec.parse("---\nrepo: /srv/widget\n---\nGo.\n", home: testHome)
        #expect(spec.timeout == 2 * 3600)
        #expect(spec.stall == 15 * 60)
        #expect(spec.retries == 2)
        #expect(spec.provider == nil && spec.harness == nil && spec.model == nil && spec.verify == nil)
        #expect(spec.fallback.isEmpty)
    }

    @Test("~, ~/x, $HOME/x and ${HOME}/x in repo expand to the given home", arguments: [
        ("~", "/home/ci"), ("~/x", "/home/ci/x"), ("$HOME/x", "/home/ci/x"), ("${HOME}/x", "/home/ci/x"),
        ("$HOME", "/home/ci"), ("${HOME}", "/home/ci"), ("\"~/code/my widget\"", "/home/ci/code/my widget"),
        ("/srv/x", "/srv/x"), ("/srv/~/x", "/srv/~/x"),
    ])
    func repoExpansion(_ written: String, _ expanded: String) throws {
        for home in ["/home/ci", "/home/ci/"] {
            let spec = try Spec.parse("---\nrepo: \(written)\n---\nGo.\n", home: home)
            #expect(spec.repo == expanded, "home \(home)")
            #expect(!spec.repoAsWritten.isEmpty)
        }
    }

    @Test("repoAsWritten keeps the path as the user wrote it")
    func repoAsWritten() throws {
        let spec = try Spec.parse("---\nrepo: ${HOME}/code/widget\n---\nGo.\n", home: "/root")
        #expect(spec.repoAsWritten == "${HOME}/code/widget")
        #expect(spec.repo == "/root/code/widget")
    }

    @Test("a spec over 1 MiB is refused; exactly 1 MiB is accepted")
    func sizeLimit() throws {
        let head = Array("---\nrepo: /srv/widget\n---\n".utf8)
        let exact = head + Array(repeating: UInt8(ascii: "a"), count: Spec.maxBytes - head.count)
        #expect(exact.count == 1 << 20)
        #expect(try Spec.parse(exact, home: testHome).prompt.count == Spec.maxBytes - head.count)

        let over = exact + [UInt8(ascii: "a")]
        let error = specError(bytes: over)
        #expect(error?.failureClass == .specInvalid)
        #expect(error?.description.contains("1 MiB") == true)
        #expect(error?.description.contains("\(over.count)") == true)
    }

    @Test("bytes that are not UTF-8 are refused", arguments: [
        [0xFF, 0xFE], [0xC3, 0x28], [0xE2, 0x82], [0xED, 0xA0, 0x80],
    ] as [[UInt8]])
    func invalidUTF8(_ bad: [UInt8]) {
        let bytes = Array("---\nrepo: /srv/widget\n---\nGo ".utf8) + bad + Array(" now.\n".utf8)
        let error = specError(bytes: bytes)
        #expect(error?.failureClass == .specInvalid)
        #expect(error?.description.contains("UTF-8") == true)
    }

    @Test("NUL bytes are refused as a binary file")
    func nulBytes() {
        let bytes = Array("---\nrepo: /srv/widget\n---\nGo".utf8) + [0] + Array("now.\n".utf8)
        let error = specError(bytes: bytes)
        #expect(error?.failureClass == .specInvalid)
        #expect(error?.description.contains("NUL") == true)
    }

    @Test("spec_invalid and workdir_missing are the two classes a SpecError maps to")
    func errorClasses() {
        #expect(SpecError.invalid(key: "repo", "x").failureClass == .specInvalid)
        #expect(SpecError.workdirMissing("'repo' /srv/nope does not exist").failureClass == .workdirMissing)
        #expect(SpecError.workdirMissing("'repo' /srv/nope does not exist").description == "'repo' /srv/nope does not exist")
    }
}
