import Testing
@testable import MtorCore

/// One frontmatter as people write it, and what the reader must make of it.
struct CorpusCase: Sendable, CustomTestStringConvertible {
    enum Expect: Sendable {
        /// The top-level mapping, as `FrontmatterValue.json` writes it.
        case parses(String)
        /// The refusal: spec line, column, and a word the sentence must hold.
        case fails(line: Int, column: Int, String)
    }

    var name: String
    /// The whole spec file.
    var spec: String
    var expect: Expect
    var testDescription: String { name }

    /// A case whose frontmatter is `yaml` (the lines between the two `---`), followed by a body.
    init(_ name: String, _ yaml: String, _ expect: Expect) {
        self.init(name, spec: "---\n" + yaml + "\n---\nDo the work.\n", expect)
    }

    init(_ name: String, spec: String, _ expect: Expect) {
        self.name = name
        self.spec = spec
        self.expect = expect
    }
}

/// Frontmatters in the shapes real users write: the original mtor's plan specs, claude-code-queue's
/// queue files, hand-written YAML with every common construct, and the mistakes people make.
enum FrontmatterCorpus {
    static let cases: [CorpusCase] = originalMtor + claudeCodeQueue + scalars + layout + refusals

    static let originalMtor: [CorpusCase] = [
        CorpusCase("original mtor plan spec with nested tests.run", """
        title: Add table guard
        status: planned
        description: Guard spanned cells
        created: 2025-03-01
        scope: src/table
        files: [src/a.py, src/b.py]
        priority: high
        depends_on: [parse-cells]
        tests:
          run: "pytest -q"
        """, .parses(#"{"title": "Add table guard", "status": "planned", "description": "Guard spanned cells", "created": "2025-03-01", "scope": "src/table", "files": ["src/a.py", "src/b.py"], "priority": "high", "depends_on": ["parse-cells"], "tests": {"run": "pytest -q"}}"#)),
        CorpusCase("original mtor tests map with a nested block list", """
        tests:
          run: pytest
          files:
            - tests/test_a.py
            - tests/test_b.py
        revised: 2025-03-04
        """, .parses(#"{"tests": {"run": "pytest", "files": ["tests/test_a.py", "tests/test_b.py"]}, "revised": "2025-03-04"}"#)),
        CorpusCase("original mtor plan with a folded description and a blank line (clip)", """
        description: >
          Guard against spanned cells
          in the table handler.

          Second paragraph.
        status: draft
        """, .parses(#"{"description": "Guard against spanned cells in the table handler.\nSecond paragraph.\n", "status": "draft"}"#)),
        CorpusCase("original mtor plan with a literal goal and indented steps", """
        goal: |
          Steps:
            1. parse
            2. guard
          Done.
        """, .parses(#"{"goal": "Steps:\n  1. parse\n  2. guard\nDone.\n"}"#)),
        CorpusCase("tests as a flow mapping", "tests: {run: pytest, timeout: 300}",
                   .parses(#"{"tests": {"run": "pytest", "timeout": 300}}"#)),
        CorpusCase("a flow mapping over several lines with comments", """
        tests: {
          run: "make check",   # the suite
          env: [CI, "LANG=C"]
        }
        """, .parses(#"{"tests": {"run": "make check", "env": ["CI", "LANG=C"]}}"#)),
    ]

    static let claudeCodeQueue: [CorpusCase] = [
        CorpusCase("claude-code-queue queue file", """
        priority: 0
        working_directory: .
        context_files: []
        max_retries: 3
        estimated_tokens: null
        """, .parses(#"{"priority": 0, "working_directory": ".", "context_files": [], "max_retries": 3, "estimated_tokens": null}"#)),
        CorpusCase("claude-code-queue file with a list at the key's indentation and a timestamp", """
        id: fix-login
        priority: 2
        working_directory: /home/me/app
        context_files:
        - src/login.py
        - README.md
        max_retries: 1
        estimated_tokens: 1200
        created_at: 2025-06-01T10:00:00
        """, .parses(#"{"id": "fix-login", "priority": 2, "working_directory": "/home/me/app", "context_files": ["src/login.py", "README.md"], "max_retries": 1, "estimated_tokens": 1200, "created_at": "2025-06-01T10:00:00"}"#)),
        CorpusCase("claude-code-queue file written on Windows (CRLF) with a BOM",
                   spec: "\u{FEFF}---\r\npriority: 1\r\nworking_directory: ~/app\r\ncontext_files: [a.py]\r\n---\r\nFix it.\r\n",
                   .parses(#"{"priority": 1, "working_directory": "~/app", "context_files": ["a.py"]}"#)),
    ]

    static let scalars: [CorpusCase] = [
        CorpusCase("folded with strip chomping", "description: >-\n  one\n  two\ntitle: x",
                   .parses(#"{"description": "one two", "title": "x"}"#)),
        CorpusCase("literal with keep chomping keeps trailing blank lines", "notes: |+\n  line1\n  line2\n\ntitle: x",
                   .parses(#"{"notes": "line1\nline2\n\n", "title": "x"}"#)),
        CorpusCase("literal with strip chomping", "notes: |-\n  a\n  b\ntype: task",
                   .parses(#"{"notes": "a\nb", "type": "task"}"#)),
        CorpusCase("literal with an indentation indicator", "notes: |2\n    indented first\n  normal",
                   .parses(#"{"notes": "  indented first\nnormal\n"}"#)),
        CorpusCase("folded keeps more-indented lines on their own", "description: >\n  para one\n  continues\n    code line\n  back",
                   .parses(#"{"description": "para one continues\n  code line\nback\n"}"#)),
        CorpusCase("an empty block scalar before the next key", "notes: |\ntitle: x",
                   .parses(#"{"notes": "", "title": "x"}"#)),
        CorpusCase("single quotes with a doubled quote, folded over two lines", "title: 'it''s\n  two lines'",
                   .parses(#"{"title": "it's two lines"}"#)),
        CorpusCase("double-quoted escapes", #"notes: "tab\there\nnew \u00e9 \x41 \\ \" \/""#,
                   .parses(#"{"notes": "tab\there\nnew é A \\ \" /"}"#)),
        CorpusCase("double-quoted line continuation with a backslash", "notes: \"one \\\n  two\"",
                   .parses(#"{"notes": "one two"}"#)),
        CorpusCase("numbers: integers, floats, hex, octal, infinity; quoted stays text", """
        a: 3
        b: -7
        c: 1.5
        d: 1e3
        e: 0x1F
        f: .inf
        g: 1.10
        h: "3"
        i: 0o17
        """, .parses(#"{"a": 3, "b": -7, "c": 1.5, "d": 1000.0, "e": 31, "f": .inf, "g": 1.1, "h": "3", "i": 15}"#)),
        CorpusCase("booleans and nulls in their spellings", "a: true\nb: False\nc: yes\nd: NO\ne: on\nf: ~\ng: null\nh:",
                   .parses(#"{"a": true, "b": false, "c": true, "d": false, "e": "on", "f": null, "g": null, "h": null}"#)),
        CorpusCase("empty values of every kind", "title:\nnotes: \"\"\ntags: []\nowner: ~\nx-extra: {}",
                   .parses(#"{"title": null, "notes": "", "tags": [], "owner": null, "x-extra": {}}"#)),
        CorpusCase("unicode in keys and values", "title: Ünïcödé 標題 🚀\nowner: \"Zoë\"\nx-标签: [é, ß]",
                   .parses(#"{"title": "Ünïcödé 標題 🚀", "owner": "Zoë", "x-标签": ["é", "ß"]}"#)),
        CorpusCase("a multi-line plain scalar is folded", "description: This is a long\n  description over\n\n  three lines\ntitle: t",
                   .parses(#"{"description": "This is a long description over\nthree lines", "title": "t"}"#)),
        CorpusCase("URLs, colons without a space and # without a space stay in plain values",
                   "homepage: https://example.com/a#frag\nmodel: glm#5\ntime: 10:30",
                   .parses(#"{"homepage": "https://example.com/a#frag", "model": "glm#5", "time": "10:30"}"#)),
    ]

    static let layout: [CorpusCase] = [
        CorpusCase("comments after values, on their own lines and indented", """
        # plan for the table handler
        priority: 3 # high
        tags: [a, b] # two
          # an indented comment
        tests:
          # the command
          run: "x # y" # z
        """, .parses(#"{"priority": 3, "tags": ["a", "b"], "tests": {"run": "x # y"}}"#)),
        CorpusCase("tabs after the colon and inside flow lists", "title:\tTabbed value\ntags: [a,\tb]",
                   .parses(#"{"title": "Tabbed value", "tags": ["a", "b"]}"#)),
        CorpusCase("trailing spaces after values and after the markers",
                   spec: "---   \ntitle: Hello   \nrepo: /srv/x\t \n---  \nBody\n",
                   .parses(#"{"title": "Hello", "repo": "/srv/x"}"#)),
        CorpusCase("nested flow collections", #"tags: [[a, b], {c: d}, 'e, f', "g", ]"#,
                   .parses(#"{"tags": [["a", "b"], {"c": "d"}, "e, f", "g"]}"#)),
        CorpusCase("a list of mappings, compact after the dash", """
        steps:
          - name: build
            run: make
          - name: test
            run: make test
        """, .parses(#"{"steps": [{"name": "build", "run": "make"}, {"name": "test", "run": "make test"}]}"#)),
        CorpusCase("a list of lists and a dash alone on its line", "matrix:\n  - - a\n    - b\n  - [c]\n  -\n    name: d",
                   .parses(#"{"matrix": [["a", "b"], ["c"], {"name": "d"}]}"#)),
        CorpusCase("quoted keys", "\"x-quoted key\": 1\n'x-y': 2",
                   .parses(#"{"x-quoted key": 1, "x-y": 2}"#)),
        CorpusCase("an empty frontmatter", spec: "---\n---\nBody\n", .parses("{}")),
        CorpusCase("a frontmatter of comments only", "# nothing yet\n\n   # still nothing", .parses("{}")),
        CorpusCase("a top-level mapping indented as a whole", "  title: a\n  type: b", .parses(#"{"title": "a", "type": "b"}"#)),
    ]

    static let refusals: [CorpusCase] = [
        CorpusCase("a duplicate top-level key", "title: a\ntitle: b", .fails(line: 3, column: 1, "twice")),
        CorpusCase("a duplicate nested key", "tests:\n  run: a\n  run: b", .fails(line: 4, column: 3, "twice")),
        CorpusCase("a duplicate key in a flow mapping", "tests: {run: a, run: b}", .fails(line: 2, column: 17, "twice")),
        CorpusCase("an anchor", "base: &b {run: x}", .fails(line: 2, column: 7, "anchor")),
        CorpusCase("an alias", "title: a\nother: *b", .fails(line: 3, column: 8, "alias")),
        CorpusCase("a tag", "created: !!timestamp 2025-01-01", .fails(line: 2, column: 10, "tag")),
        CorpusCase("an anchor on a list item", "tags:\n  - &x a", .fails(line: 3, column: 5, "anchor")),
        CorpusCase("a second document", "title: a\n--- # second\nb: c", .fails(line: 3, column: 1, "second YAML document")),
        CorpusCase("a %YAML directive", "%YAML 1.2\ntitle: a", .fails(line: 2, column: 1, "directive")),
        CorpusCase("a complex key", "? title\n: a", .fails(line: 2, column: 1, "complex key")),
        CorpusCase("a tab used for indentation", "tests:\n\trun: x", .fails(line: 3, column: 1, "tab")),
        CorpusCase("': ' inside a plain value", "title: Fix: the bug", .fails(line: 2, column: 11, "quotes")),
        CorpusCase("': ' in a plain value after unicode, column counted in characters", "title: 標題: x", .fails(line: 2, column: 10, "quotes")),
        CorpusCase("a key indented under a scalar value", "repo: /srv/widget\n  retries: 1", .fails(line: 3, column: 10, "indented")),
        CorpusCase("a list item among keys", "title: a\n- b", .fails(line: 3, column: 1, "list")),
        CorpusCase("a frontmatter that is a list", "- a\n- b", .fails(line: 2, column: 1, "list")),
        CorpusCase("key:value without a space", "title:value", .fails(line: 2, column: 1, "title:value")),
        CorpusCase("an unknown escape", #"notes: "a\qb""#, .fails(line: 2, column: 10, "escape")),
        CorpusCase("an unterminated double quote", "verify: \"make test\ntitle: x", .fails(line: 2, column: 9, "never closed")),
        CorpusCase("an unclosed flow list", "tags: [a, b\ntitle: x", .fails(line: 2, column: 7, "never closed")),
        CorpusCase("a value starting with a backtick", "verify: `make`", .fails(line: 2, column: 9, "quotes")),
        CorpusCase("text after a closing quote", "title: \"a\" b", .fails(line: 2, column: 12, "after")),
        CorpusCase("a key: value pair inside a flow list", "tags: [a: b]", .fails(line: 2, column: 9, "{ }")),
        CorpusCase("nesting deeper than 64 levels", "x-deep: " + String(repeating: "[", count: 200),
                   .fails(line: 2, column: 72, "nested")),
        CorpusCase("a less-indented line after an indented mapping", "  title: a\ntype: b", .fails(line: 3, column: 1, "indented less")),
    ]
}
