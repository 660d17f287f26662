// MARK: - Values on a line: quoted, block and plain scalars

extension YAMLReader {
    /// A value that starts at `r` on its key's (or dash's) line; `n` is the parent's indentation.
    mutating func inlineValue(_ r: Int, parent n: Int) throws(YAMLError) -> (FrontmatterValue, String?) {
        try refuseIndicators(r, asKey: false)
        switch b[r] {
        case 0x5B, 0x7B:
            let (value, end) = try flowNode(r)
            try finishLine(end, after: "the closing '\(b[r] == 0x5B ? "]" : "}")'")
            return (value, nil)
        case 0x22, 0x27:
            let (text, end) = try quoted(r)
            try finishLine(end, after: "the closing quote")
            return (.string(text), text)
        case 0x7C, 0x3E:
            let text = try blockScalar(r, parent: n)
            return (.string(text), text)
        default:
            let text = try plain(r, parent: n)
            return (Self.resolve(text), text)
        }
    }

    /// Refuses anchors, aliases, tags, complex keys and reserved characters where a node starts.
    func refuseIndicators(_ p: Int, asKey: Bool) throws(YAMLError) {
        guard p < b.count else { return }
        let what = asKey ? "key" : "value"
        switch b[p] {
        case 0x26: throw fail(p, "an anchor ('&\(word(p + 1))'); mtor's frontmatter does not use anchors and aliases, write the value out in full")
        case 0x2A: throw fail(p, "an alias ('*\(word(p + 1))'); mtor's frontmatter does not use anchors and aliases, write the value out in full")
        case 0x21: throw fail(p, "a tag ('!\(word(p + 1))'); mtor's frontmatter does not use tags, write the plain value")
        case 0x3F where isBlankOrEnd(p + 1): throw fail(p, "a complex key ('? '); write a plain `key: value` line")
        case 0x40, 0x60, 0x25: throw fail(p, "a \(what) cannot start with '\(Character(Unicode.Scalar(b[p])))' in YAML; put the \(what) in quotes")
        case 0x5D, 0x7D, 0x2C: throw fail(p, "a \(what) cannot start with '\(Character(Unicode.Scalar(b[p])))'; put the \(what) in quotes")
        case 0x2D where isBlankOrEnd(p + 1) && !asKey: throw fail(p, "a `- item` on the same line as its key; start the list on the next line")
        case 0x3A where isBlankOrEnd(p + 1): throw fail(p, "a second ':' where a value belongs; put the value in quotes")
        default: return
        }
    }

    private func word(_ p: Int) -> String {
        var e = p
        while e < b.count, e - p < 40, !isBlankOrEnd(e), b[e] != 0x2C, b[e] != 0x5D, b[e] != 0x7D { e += 1 }
        return text(p, e)
    }

    /// After a complete value only blanks and a comment may follow on its line.
    mutating func finishLine(_ end: Int, after: String) throws(YAMLError) {
        var i = end
        while i < b.count, b[i] == 0x20 || b[i] == 0x09 { i += 1 }
        guard atLineEnd(i) || (b[i] == 0x23 && i > end) else {
            throw fail(i, "unexpected text after \(after); only a comment (' # ...') may follow a value")
        }
        pos = nextLineStart(i)
    }

    /// A plain scalar starting at `r`, folded over continuation lines indented more than `n`.
    mutating func plain(_ r: Int, parent n: Int) throws(YAMLError) -> String {
        var (text, commented) = try plainLine(r, first: true)
        var line = lineIndex(r) + 1
        var blanks = 0
        pos = nextLineStart(r)
        while !commented, line < lineStarts.count {
            var i = lineStarts[line]
            while i < b.count, b[i] == 0x20 || b[i] == 0x09 { i += 1 }
            if atLineEnd(i) { blanks += 1; line += 1; continue }
            guard indent(line) > n, b[i] != 0x23 else { break }
            let (more, c) = try plainLine(i, first: false)
            text += blanks == 0 ? " " + more : String(repeating: "\n", count: blanks) + more
            commented = c
            blanks = 0
            line += 1
            pos = nextLineStart(i)
        }
        return text
    }

    /// One line of a plain scalar, without its comment; whether a comment ended it.
    private func plainLine(_ r: Int, first: Bool) throws(YAMLError) -> (String, Bool) {
        var i = r
        var end = r
        while i < b.count, b[i] != 0x0A {
            let c = b[i]
            if c == 0x23, i > r, b[i - 1] == 0x20 || b[i - 1] == 0x09 { return (text(r, end), true) }
            if c == 0x3A, isBlankOrEnd(i + 1) {
                throw fail(i, first
                    ? "the value holds ': ', which YAML reads as a second key; put the whole value in quotes"
                    : "this line is indented under the key above, so YAML reads it as more of that value, but it holds ': '; un-indent it to "
                        + "make it a key of its own, or quote the value")
            }
            i += 1
            if c != 0x20 && c != 0x09 { end = i }
        }
        return (text(r, end), false)
    }

    /// A `|` or `>` block scalar whose header is at `r`; `n` is the parent's indentation.
    mutating func blockScalar(_ r: Int, parent n: Int) throws(YAMLError) -> String {
        let folded = b[r] == 0x3E
        var chomp: UInt8 = 0
        var explicit = 0
        var i = r + 1
        while i < b.count, i < r + 3 {
            if (b[i] == 0x2B || b[i] == 0x2D), chomp == 0 { chomp = b[i] }
            else if (0x31...0x39).contains(b[i]), explicit == 0 { explicit = Int(b[i] - 0x30) }
            else { break }
            i += 1
        }
        try finishLine(i, after: "the block scalar's '\(folded ? ">" : "|")' header (only '+', '-' and a digit 1-9 may follow it)")
        var line = lineIndex(pos)
        if pos >= b.count { line = lineStarts.count }
        var contentIndent = explicit > 0 ? n + explicit : 0
        var lines: [(Int, Int)] = []  // byte ranges of content, empty range for blank lines
        while line < lineStarts.count {
            let start = lineStarts[line]
            var end = start
            while end < b.count, b[end] != 0x0A { end += 1 }
            let spaces = indent(line)
            let blank = b[start..<end].allSatisfy { $0 == 0x20 || $0 == 0x09 }
            if blank {
                lines.append((end, end))
            } else {
                if contentIndent == 0 { contentIndent = spaces }
                guard spaces >= contentIndent, contentIndent > n else { break }
                lines.append((start + contentIndent, end))
            }
            line += 1
        }
        pos = line < lineStarts.count ? lineStarts[line] : b.count
        var out = ""
        var pending = 0
        var previousIndented: Bool? = nil
        for range in lines {
            if range.0 == range.1 { pending += 1; continue }
            let content = text(range.0, range.1)
            let indented = b[range.0] == 0x20 || b[range.0] == 0x09
            if let before = previousIndented {
                let keepBreak = !folded || before || indented
                if pending == 0 { out += keepBreak ? "\n" : " " }
                else { out += String(repeating: "\n", count: pending) + (keepBreak ? "\n" : "") }
            } else {
                out += String(repeating: "\n", count: pending)
            }
            out += content
            pending = 0
            previousIndented = indented
        }
        guard previousIndented != nil else { return chomp == 0x2B ? String(repeating: "\n", count: pending) : "" }
        switch chomp {
        case 0x2D: return out
        case 0x2B: return out + "\n" + String(repeating: "\n", count: pending)
        default: return out + "\n"
        }
    }
}
