// MARK: - Flow collections, quoted scalars and plain-scalar resolution

extension YAMLReader {
    /// A `[...]`, `{...}`, quoted or plain node at `i` inside (or starting) a flow collection; returns where it ends.
    mutating func flowNode(_ i: Int) throws(YAMLError) -> (FrontmatterValue, Int) {
        try refuseIndicators(i, asKey: false)
        switch b[i] {
        case 0x5B: return try flowSeq(i)
        case 0x7B: return try flowMap(i)
        case 0x22, 0x27:
            let (text, end) = try quoted(i)
            return (.string(text), end)
        default:
            let (text, end) = flowPlain(i)
            return (Self.resolve(text), end)
        }
    }

    private mutating func flowSeq(_ open: Int) throws(YAMLError) -> (FrontmatterValue, Int) {
        try enter(open)
        defer { depth -= 1 }
        var items: [FrontmatterValue] = []
        var i = try skipFlowSpace(open + 1, open: open)
        while b[i] != 0x5D {
            let (item, end) = try flowNode(i)
            i = try skipFlowSpace(end, open: open)
            if b[i] == 0x3A {
                throw fail(i, "a `key: value` pair inside '[ ]'; write a mapping with '{ }'")
            }
            items.append(item)
            if b[i] == 0x2C { i = try skipFlowSpace(i + 1, open: open); continue }
            guard b[i] == 0x5D else { throw unclosed(open, at: i) }
        }
        return (.list(items), i + 1)
    }

    private mutating func flowMap(_ open: Int) throws(YAMLError) -> (FrontmatterValue, Int) {
        try enter(open)
        defer { depth -= 1 }
        var entries: [Frontmatter.Entry] = []
        var seen: Set<String> = []
        var i = try skipFlowSpace(open + 1, open: open)
        while b[i] != 0x7D {
            try refuseIndicators(i, asKey: true)
            let keyAt = i
            var key: String
            if b[i] == 0x22 || b[i] == 0x27 { (key, i) = try quoted(i) } else { (key, i) = flowPlain(i) }
            guard seen.insert(key).inserted else {
                throw fail(keyAt, "the key '\(Spec.shown(key))' appears twice in the mapping opened at line \(lineNumber(open)), column "
                    + "\(column(open)); keep one")
            }
            i = try skipFlowSpace(i, open: open)
            var value = FrontmatterValue.null
            var text: String? = ""
            if b[i] == 0x3A {
                i = try skipFlowSpace(i + 1, open: open)
                if b[i] != 0x2C && b[i] != 0x7D {
                    let valueAt = i
                    (value, i) = try flowNode(i)
                    switch value {
                    case .list, .map: text = nil
                    case .string(let s) where b[valueAt] == 0x22 || b[valueAt] == 0x27: text = s
                    default: text = flowPlain(valueAt).0
                    }
                    i = try skipFlowSpace(i, open: open)
                }
            }
            entries.append(Frontmatter.Entry(key: key, value: value, line: lineNumber(keyAt), column: column(keyAt), text: text))
            if b[i] == 0x2C { i = try skipFlowSpace(i + 1, open: open); continue }
            guard b[i] == 0x7D else { throw unclosed(open, at: i) }
        }
        return (.map(entries), i + 1)
    }

    /// The error for a flow collection whose next item at `i` is neither separated nor closed.
    private func unclosed(_ open: Int, at i: Int) -> YAMLError {
        let (what, closer) = b[open] == 0x5B ? ("list", "]") : ("mapping", "}")
        return fail(open, "the \(what) opened here is never closed with '\(closer)' (line \(lineNumber(i)), column \(column(i)) has neither "
            + "',' nor '\(closer)')")
    }

    /// Skips blanks, line breaks and comments inside a flow collection; fails at the end of the frontmatter.
    private func skipFlowSpace(_ from: Int, open: Int) throws(YAMLError) -> Int {
        var i = from
        while i < b.count {
            switch b[i] {
            case 0x20, 0x09, 0x0A: i += 1
            case 0x23 where i == 0 || [0x20, 0x09, 0x0A].contains(b[i - 1]):
                while i < b.count, b[i] != 0x0A { i += 1 }
            default: return i
            }
        }
        let closer = b[open] == 0x5B ? "]" : "}"
        throw fail(open, "the \(closer == "]" ? "list" : "mapping") opened with '\(b[open] == 0x5B ? "[" : "{")' is never closed with '\(closer)'")
    }

    /// A plain scalar inside a flow collection: up to `,`, a bracket, `: ` or ` #`, on one line.
    private func flowPlain(_ start: Int) -> (String, Int) {
        var i = start
        var end = start
        while i < b.count {
            let c = b[i]
            if c == 0x0A || c == 0x2C || c == 0x5B || c == 0x5D || c == 0x7B || c == 0x7D { break }
            if c == 0x3A, i + 1 >= b.count || [0x20, 0x09, 0x0A, 0x2C, 0x5D, 0x7D].contains(b[i + 1]) { break }
            if c == 0x23, i > start, b[i - 1] == 0x20 || b[i - 1] == 0x09 { break }
            i += 1
            if c != 0x20 && c != 0x09 { end = i }
        }
        return (text(start, end), end)
    }

    // MARK: - Quoted scalars

    /// The single- or double-quoted scalar opening at `open`, folded over line breaks; returns the index after it.
    func quoted(_ open: Int) throws(YAMLError) -> (String, Int) {
        let quote = b[open]
        var out: [UInt8] = []
        var i = open + 1
        while i < b.count {
            let c = b[i]
            if c == quote {
                if quote == 0x27, i + 1 < b.count, b[i + 1] == 0x27 { out.append(0x27); i += 2; continue }
                return (String(decoding: out, as: UTF8.self), i + 1)
            }
            if c == 0x0A {
                while let last = out.last, last == 0x20 || last == 0x09 { out.removeLast() }
                var breaks = 0
                i += 1
                while i < b.count, b[i] == 0x20 || b[i] == 0x09 || b[i] == 0x0A { if b[i] == 0x0A { breaks += 1 }; i += 1 }
                out += breaks == 0 ? [0x20] : Array(repeating: 0x0A, count: breaks)
                continue
            }
            if c == 0x5C, quote == 0x22 {
                i = try escape(at: i, into: &out)
                continue
            }
            out.append(c)
            i += 1
        }
        throw fail(open, "the \(quote == 0x22 ? "double" : "single")-quoted value is never closed; add the closing \(quote == 0x22 ? "\"" : "'")")
    }

    /// Decodes the escape at `i` (a backslash) into `out`; returns the index after it.
    private func escape(at i: Int, into out: inout [UInt8]) throws(YAMLError) -> Int {
        guard i + 1 < b.count else { throw fail(i, "a '\\' at the end of the frontmatter") }
        let simple: [UInt8: [UInt8]] = [
            0x30: [0], 0x61: [7], 0x62: [8], 0x74: [9], 0x09: [9], 0x6E: [10], 0x76: [11], 0x66: [12], 0x72: [13],
            0x65: [27], 0x20: [0x20], 0x22: [0x22], 0x2F: [0x2F], 0x5C: [0x5C],
            0x4E: [0xC2, 0x85], 0x5F: [0xC2, 0xA0], 0x4C: [0xE2, 0x80, 0xA8], 0x50: [0xE2, 0x80, 0xA9],
        ]
        let e = b[i + 1]
        if let bytes = simple[e] { out += bytes; return i + 2 }
        if e == 0x0A {
            var j = i + 2
            while j < b.count, b[j] == 0x20 || b[j] == 0x09 { j += 1 }
            return j
        }
        let digits = e == 0x78 ? 2 : e == 0x75 ? 4 : e == 0x55 ? 8 : 0
        guard digits > 0 else {
            throw fail(i, "'\\\(Character(Unicode.Scalar(e)))' is not a YAML escape; write '\\\\' for a backslash")
        }
        guard i + 2 + digits <= b.count, let code = UInt32(text(i + 2, i + 2 + digits), radix: 16),
              let scalar = Unicode.Scalar(code) else {
            throw fail(i, "the escape needs \(digits) hex digits naming a Unicode character")
        }
        out += Array(String(Character(scalar)).utf8)
        return i + 2 + digits
    }

    // MARK: - Resolution

    /// The YAML 1.2 core schema (plus `yes`/`no`) applied to a plain scalar's text.
    static func resolve(_ t: String) -> FrontmatterValue {
        switch t {
        case "", "~", "null", "Null", "NULL": return .null
        case "true", "True", "TRUE", "yes", "Yes", "YES": return .boolean(true)
        case "false", "False", "FALSE", "no", "No", "NO": return .boolean(false)
        case ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF": return .float(.infinity)
        case "-.inf", "-.Inf", "-.INF": return .float(-.infinity)
        case ".nan", ".NaN", ".NAN": return .float(.nan)
        default: break
        }
        let u = Array(t.utf8)
        guard let first = u.first, first == 0x2B || first == 0x2D || first == 0x2E || (0x30...0x39).contains(first) else { return .string(t) }
        let body = first == 0x2B || first == 0x2D ? u.dropFirst() : u[...]
        if !body.isEmpty, body.allSatisfy({ (0x30...0x39).contains($0) }) {
            if let n = Int(t) { return .integer(n) }
            return .float(Double(t) ?? .infinity)
        }
        if t.hasPrefix("0x"), t.count > 2, let n = Int(t.dropFirst(2), radix: 16) { return .integer(n) }
        if t.hasPrefix("0o"), t.count > 2, let n = Int(t.dropFirst(2), radix: 8) { return .integer(n) }
        if isFloat(body), let d = Double(t) { return .float(d) }
        return .string(t)
    }

    /// `digits [. digits] [e [+-] digits]` or `. digits [...]`, with at least one digit before the exponent.
    private static func isFloat(_ s: ArraySlice<UInt8>) -> Bool {
        var i = s.startIndex
        var mantissa = 0
        while i < s.endIndex, (0x30...0x39).contains(s[i]) { i += 1; mantissa += 1 }
        if i < s.endIndex, s[i] == 0x2E {
            i += 1
            while i < s.endIndex, (0x30...0x39).contains(s[i]) { i += 1; mantissa += 1 }
        }
        guard mantissa > 0 else { return false }
        if i < s.endIndex, s[i] == 0x65 || s[i] == 0x45 {
            i += 1
            if i < s.endIndex, s[i] == 0x2B || s[i] == 0x2D { i += 1 }
            let digitsStart = i
            while i < s.endIndex, (0x30...0x39).contains(s[i]) { i += 1 }
            guard i > digitsStart else { return false }
        }
        return i == s.endIndex
    }
}
