/// Reads the YAML people write by hand in a spec's frontmatter: our own small reader, no packages.
///
/// Grammar (a subset of YAML 1.2; `n` is the indentation of the parent node):
///
///     document      = { blank | comment } [ block-map ]
///     block(n)      = block-map(m) | block-seq(m) | plain(n)           where m > n
///     block-map(m)  = { indent(m) key ":" ( value(m) | EOL block(m) | EOL block-seq(m) | EOL ) }
///     block-seq(m)  = { indent(m) "-" ( " " value(m) | " " block-map | " " block-seq | EOL block(m) ) }
///     key           = plain-key | single-quoted | double-quoted          (one line, unique in its mapping)
///     value(n)      = flow | quoted | block-scalar(n) | plain(n)       then only a comment to EOL
///     flow          = "[" [ node { "," node } [","] ] "]"  |  "{" [ pair { "," pair } [","] ] "}"   (may span lines)
///     block-scalar  = ("|" | ">") [chomp] [digit] [comment] EOL { line indented more than n | blank }
///     chomp         = "-" (strip the final line breaks) | "+" (keep them); none keeps exactly one
///     quoted        = "'" { char | "''" } "'"  |  '"' { char | escape } '"'            (may span lines; folded)
///     plain(n)      = text not starting with an indicator, ending before " #" or EOL,
///                     continued on following lines indented more than n (joined with spaces)
///     comment       = "#" to EOL, at a line's start or after a space or tab
///
/// Plain scalars resolve to null (`null`, `~`, nothing), booleans (`true`/`false`/`yes`/`no`),
/// integers (decimal, `0x`, `0o`), floats (`1.5`, `1e3`, `.inf`, `.nan`) or strings; quoted and
/// block scalars are always strings. Refused by name, with line and column: anchors (`&`), aliases
/// (`*`), tags (`!`), directives (`%`), a second document, complex keys (`?`), tabs used for
/// indentation, duplicate keys, nesting deeper than 64 levels. Time and memory are linear in the input.
struct YAMLReader {
    static let maxDepth = 64

    let b: [UInt8]
    let firstLine: Int
    var lineStarts: [Int] = [0]
    var pos = 0
    var depth = 0
    /// The top-level key whose value is being read, named in errors.
    var topKey: String?
    /// The last column computed, to resume from (see `column`).
    let columns = ColumnMemo()

    final class ColumnMemo {
        var position = -1
        var column = 1
    }

    init(_ bytes: [UInt8], firstLine: Int) {
        b = bytes
        self.firstLine = firstLine
        for (i, c) in bytes.enumerated() where c == 0x0A { lineStarts.append(i + 1) }
        if lineStarts.last == bytes.count && !bytes.isEmpty { lineStarts.removeLast() }
    }

    /// The top-level mapping of `bytes` (one document, LF line ends); `firstLine` is the spec line of its first byte.
    static func read(_ bytes: [UInt8], firstLine: Int = 1) throws(YAMLError) -> [Frontmatter.Entry] {
        var reader = YAMLReader(bytes, firstLine: firstLine)
        return try reader.document()
    }

    mutating func document() throws(YAMLError) -> [Frontmatter.Entry] {
        guard let first = try nextContentLine() else { return [] }
        let n = indent(first)
        let start = lineStarts[first] + n
        if isSeqItem(start) {
            throw fail(start, "the frontmatter is a list, but it must be `key: value` lines")
        }
        let entries = try blockMap(indent: n, at: start, top: true)
        if let extra = try nextContentLine() {
            throw fail(lineStarts[extra] + indent(extra),
                       "this line is indented less than the first key on line \(first + firstLine); give every top-level key the same indentation")
        }
        return entries
    }

    // MARK: - Block structure

    mutating func blockMap(indent n: Int, at start: Int, top: Bool = false) throws(YAMLError) -> [Frontmatter.Entry] {
        try enter(start)
        defer { depth -= 1 }
        var entries: [Frontmatter.Entry] = []
        var seen: [String: Int] = [:]
        var p = start
        while true {
            if top { topKey = nil }
            try refuseIndicators(p, asKey: true)
            guard let (key, colon) = try mapKey(p) else {
                throw fail(p, "this line is not a `key: value` line: \(shownLine(p))")
            }
            if top { topKey = key }
            if let earlier = seen[key] {
                throw fail(p, "the key '\(Spec.shown(key))' appears twice in the same mapping (first on line \(earlier)); keep one")
            }
            seen[key] = lineNumber(p)
            let (value, text) = try valueAfterColon(colon + 1, parent: n)
            entries.append(Frontmatter.Entry(key: key, value: value, line: lineNumber(p), column: column(p), text: text))
            guard let next = try nextContentLine(), indent(next) >= n else { break }
            p = lineStarts[next] + n
            if indent(next) > n {
                throw fail(p + (indent(next) - n),
                           "this line is indented more than the key '\(Spec.shown(key))' above it, but that key already has its value")
            }
            if isSeqItem(p) {
                throw fail(p, "a `- item` line among keys; indent the list under the key it belongs to")
            }
        }
        return entries
    }

    mutating func blockSeq(indent n: Int, at start: Int) throws(YAMLError) -> [FrontmatterValue] {
        try enter(start)
        defer { depth -= 1 }
        var items: [FrontmatterValue] = []
        var p = start
        while true {
            var r = p + 1
            while r < b.count, b[r] == 0x20 || b[r] == 0x09 { r += 1 }
            if atLineEnd(r) || (b[r] == 0x23 && r > p + 1) {
                pos = nextLineStart(r)
                items.append(try nestedBlock(parent: n, orSeqAt: nil).0)
            } else if isSeqItem(r) {
                items.append(.list(try blockSeq(indent: r - lineStarts[lineIndex(r)], at: r)))
            } else if try mapKey(r) != nil {
                items.append(.map(try blockMap(indent: r - lineStarts[lineIndex(r)], at: r)))
            } else {
                items.append(try inlineValue(r, parent: n).0)
            }
            guard let next = try nextContentLine(), indent(next) >= n else { break }
            p = lineStarts[next] + n
            if indent(next) > n {
                throw fail(p + (indent(next) - n), "this line is indented more than the list item above it, but that item already has its value")
            }
            guard isSeqItem(p) else { break }
        }
        return items
    }

    /// The value after `key:` at `q`: on the same line, or a nested block on the lines below.
    mutating func valueAfterColon(_ q: Int, parent n: Int) throws(YAMLError) -> (FrontmatterValue, String?) {
        var r = q
        while r < b.count, b[r] == 0x20 || b[r] == 0x09 { r += 1 }
        if atLineEnd(r) || b[r] == 0x23 {
            pos = nextLineStart(r)
            return try nestedBlock(parent: n, orSeqAt: n)
        }
        return try inlineValue(r, parent: n)
    }

    /// A node on the lines below its key or dash: more indented than `parent`, or a `- item` list at `seqIndent`.
    mutating func nestedBlock(parent n: Int, orSeqAt seqIndent: Int?) throws(YAMLError) -> (FrontmatterValue, String?) {
        let saved = pos
        guard let line = try nextContentLine() else { return (.null, "") }
        let m = indent(line)
        let p = lineStarts[line] + m
        if m > n || (m == seqIndent && isSeqItem(p)) {
            if isSeqItem(p) { return (.list(try blockSeq(indent: m, at: p)), nil) }
            if try mapKey(p) != nil { return (.map(try blockMap(indent: m, at: p)), nil) }
            return try inlineValue(p, parent: n)
        }
        pos = saved
        return (.null, "")
    }

    // MARK: - Keys and lines

    /// The key at `p` and the position of its `:`, when the line at `p` is a `key: value` line.
    func mapKey(_ p: Int) throws(YAMLError) -> (String, Int)? {
        guard p < b.count, b[p] != 0x5B, b[p] != 0x7B else { return nil }
        if b[p] == 0x22 || b[p] == 0x27 {
            guard let (text, end) = try? quoted(p), lineIndex(end) == lineIndex(p) else { return nil }
            var c = end
            while c < b.count, b[c] == 0x20 || b[c] == 0x09 { c += 1 }
            guard c < b.count, b[c] == 0x3A, isBlankOrEnd(c + 1) else { return nil }
            return (text, c)
        }
        var i = p
        while i < b.count, b[i] != 0x0A {
            if b[i] == 0x23, i > p, b[i - 1] == 0x20 || b[i - 1] == 0x09 { return nil }
            if b[i] == 0x3A, isBlankOrEnd(i + 1) {
                var end = i
                while end > p, b[end - 1] == 0x20 || b[end - 1] == 0x09 { end -= 1 }
                if end == p { throw fail(p, "there is no key before ':'") }
                return (text(p, end), i)
            }
            i += 1
        }
        return nil
    }

    /// The index of the next line holding content, from `pos`; moves `pos` to its start.
    mutating func nextContentLine() throws(YAMLError) -> Int? {
        guard pos < b.count else { return nil }
        var line = lineIndex(pos)
        while line < lineStarts.count {
            var i = lineStarts[line]
            var tab: Int? = nil
            while i < b.count, b[i] == 0x20 || b[i] == 0x09 { if b[i] == 0x09, tab == nil { tab = i }; i += 1 }
            if atLineEnd(i) || b[i] == 0x23 { line += 1; continue }
            if let tab { throw fail(tab, "a tab is used for indentation; YAML indents with spaces only") }
            let start = lineStarts[line]
            if i == start, b[i] == 0x25 {
                throw fail(i, "a '%' directive; the frontmatter is one plain YAML document, without directives")
            }
            if i == start, i + 3 <= b.count, b[i] == 0x2D, b[i + 1] == 0x2D, b[i + 2] == 0x2D, isBlankOrEnd(i + 3) {
                throw fail(i, "a second YAML document starts here; the frontmatter is one document")
            }
            pos = start
            return line
        }
        pos = b.count
        return nil
    }

    func indent(_ line: Int) -> Int {
        var i = lineStarts[line]
        while i < b.count, b[i] == 0x20 { i += 1 }
        return i - lineStarts[line]
    }

    func isSeqItem(_ p: Int) -> Bool { p < b.count && b[p] == 0x2D && isBlankOrEnd(p + 1) }
    func atLineEnd(_ i: Int) -> Bool { i >= b.count || b[i] == 0x0A }
    func isBlankOrEnd(_ i: Int) -> Bool { i >= b.count || b[i] == 0x20 || b[i] == 0x09 || b[i] == 0x0A }

    func nextLineStart(_ i: Int) -> Int {
        var j = i
        while j < b.count, b[j] != 0x0A { j += 1 }
        return min(j + 1, b.count)
    }

    func lineIndex(_ p: Int) -> Int {
        var lo = 0, hi = lineStarts.count - 1
        while lo < hi {
            let mid = (lo + hi + 1) / 2
            if lineStarts[mid] <= p { lo = mid } else { hi = mid - 1 }
        }
        return lo
    }

    func text(_ from: Int, _ to: Int) -> String { String(decoding: b[from..<to], as: UTF8.self) }

    // MARK: - Errors

    mutating func enter(_ p: Int) throws(YAMLError) {
        depth += 1
        if depth > Self.maxDepth { throw fail(p, "the value is nested more than \(Self.maxDepth) levels deep") }
    }

    func lineNumber(_ p: Int) -> Int { lineIndex(p) + firstLine }

    /// The 1-based column of `p`, counted in characters (Unicode scalars).
    ///
    /// Counting resumes from the last position asked for on the same line, so the columns of the
    /// many pairs of a one-line flow mapping cost linear time in all.
    func column(_ p: Int) -> Int {
        let p = min(p, b.count)
        let start = lineStarts[lineIndex(p)]
        var from = start, col = 1
        if columns.position >= start, columns.position <= p { (from, col) = (columns.position, columns.column) }
        col = b[from..<p].reduce(col) { $0 + ($1 & 0xC0 == 0x80 ? 0 : 1) }
        columns.position = p
        columns.column = col
        return col
    }

    func shownLine(_ p: Int) -> String {
        var end = p
        while end < b.count, b[end] != 0x0A { end += 1 }
        return Spec.shown(text(lineStarts[lineIndex(p)], end).trimmingCharacters(in: [" ", "\t"]))
    }

    func fail(_ p: Int, _ problem: String) -> YAMLError {
        YAMLError(line: lineNumber(p), column: column(p), key: topKey, problem: problem)
    }
}

/// Why the frontmatter is not YAML mtor reads, at a line and column of the spec file.
public struct YAMLError: Error, Equatable, Sendable, CustomStringConvertible {
    public var line: Int
    public var column: Int
    /// The top-level key whose value was being read, if any.
    public var key: String?
    public var problem: String

    public var description: String {
        "line \(line), column \(column)\(key.map { " (in '\(Spec.shown($0))')" } ?? ""): \(problem)"
    }
}
