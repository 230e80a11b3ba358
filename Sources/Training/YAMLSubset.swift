import Foundation
import Datasets

/// A configuration-file error: which file and line, what was wrong.
public struct ConfigError: Error, CustomStringConvertible, Sendable {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// The YAML subset training configs use, read into `JSONValue` (so a `.json` config and a `.yaml`
/// one decode through the same code): block mappings by indentation, block lists (`- item`), flow
/// lists `[a, b]` and flow mappings `{k: v}` of scalars, plain/single/double-quoted scalars, `#`
/// comments, `~`/`null`, booleans, integers and floats (YAML 1.2 core schema). Anchors, tags,
/// multi-line scalars and multiple documents are rejected with the line that uses them.
/// (jpsim/Yams is not used: the project takes no new dependencies.)
public enum YAMLSubset {
    struct Line { var number: Int; var indent: Int; var text: String }

    /// Parses `text` (named `file` in errors).
    public static func parse(_ text: String, file: String = "config") throws -> JSONValue {
        var lines: [Line] = []
        for (i, raw) in text.components(separatedBy: "\n").enumerated() {
            let noCR = raw.hasSuffix("\r") ? String(raw.dropLast()) : raw
            if noCR.contains("\t") && noCR.trimmingCharacters(in: .whitespaces).hasPrefix("\t") {
                throw ConfigError("\(file):\(i + 1): tabs cannot indent YAML; use spaces")
            }
            let body = stripComment(noCR)
            let trimmed = body.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty || trimmed == "---" { continue }
            if trimmed == "..." { break }
            let indent = body.prefix { $0 == " " }.count
            lines.append(Line(number: i + 1, indent: indent, text: trimmed))
        }
        if lines.isEmpty { return .object(JSONObject()) }
        var pos = 0
        let v = try block(&pos, lines, indent: lines[0].indent, file: file)
        if pos < lines.count { throw ConfigError("\(file):\(lines[pos].number): unexpected indentation of '\(lines[pos].text)'") }
        return v
    }

    /// Removes a `#` comment that is not inside quotes.
    static func stripComment(_ s: String) -> String {
        var inSingle = false, inDouble = false
        var prev: Character = " "
        for (i, c) in s.enumerated() {
            if c == "'" && !inDouble { inSingle.toggle() } else if c == "\"" && !inSingle && prev != "\\" { inDouble.toggle() }
            else if c == "#" && !inSingle && !inDouble && (prev == " " || i == 0) { return String(s.prefix(i)) }
            prev = c
        }
        return s
    }

    static func block(_ pos: inout Int, _ lines: [Line], indent: Int, file: String) throws -> JSONValue {
        if lines[pos].text.hasPrefix("- ") || lines[pos].text == "-" {
            var items: [JSONValue] = []
            while pos < lines.count, lines[pos].indent == indent, lines[pos].text.hasPrefix("- ") || lines[pos].text == "-" {
                let l = lines[pos]
                let rest = l.text == "-" ? "" : String(l.text.dropFirst(2)).trimmingCharacters(in: .whitespaces)
                pos += 1
                if rest.isEmpty {
                    guard pos < lines.count, lines[pos].indent > indent else { items.append(.null); continue }
                    items.append(try block(&pos, lines, indent: lines[pos].indent, file: file))
                } else if splitKey(rest) != nil {
                    // "- key: value" starts a mapping whose keys sit at indent + 2.
                    var sub = [Line(number: l.number, indent: indent + 2, text: rest)]
                    while pos < lines.count, lines[pos].indent > indent { sub.append(lines[pos]); pos += 1 }
                    var p = 0
                    items.append(try block(&p, sub, indent: indent + 2, file: file))
                    if p < sub.count { throw ConfigError("\(file):\(sub[p].number): unexpected indentation of '\(sub[p].text)'") }
                } else {
                    items.append(try scalar(rest, line: l.number, file: file))
                }
            }
            return .array(items)
        }
        var obj = JSONObject()
        while pos < lines.count, lines[pos].indent == indent {
            let l = lines[pos]
            guard let (key, rest) = splitKey(l.text) else {
                throw ConfigError("\(file):\(l.number): expected 'key: value', found '\(l.text)'")
            }
            if obj[key] != nil { throw ConfigError("\(file):\(l.number): duplicate key '\(key)'") }
            pos += 1
            if rest.isEmpty {
                if pos < lines.count, lines[pos].indent > indent {
                    obj[key] = try block(&pos, lines, indent: lines[pos].indent, file: file)
                } else if pos < lines.count, lines[pos].indent == indent, lines[pos].text.hasPrefix("- ") {
                    obj[key] = try block(&pos, lines, indent: indent, file: file)   // list at the key's indent
                } else {
                    obj[key] = .null
                }
            } else {
                obj[key] = try scalar(rest, line: l.number, file: file)
            }
        }
        if pos < lines.count, lines[pos].indent > indent {
            throw ConfigError("\(file):\(lines[pos].number): unexpected indentation of '\(lines[pos].text)'")
        }
        return .object(obj)
    }

    /// "key: rest" (the colon followed by a space or the end); quoted keys allowed.
    static func splitKey(_ s: String) -> (String, String)? {
        var inSingle = false, inDouble = false
        let chars = Array(s)
        for i in chars.indices {
            let c = chars[i]
            if c == "'" && !inDouble { inSingle.toggle() } else if c == "\"" && !inSingle { inDouble.toggle() }
            else if c == ":" && !inSingle && !inDouble && (i + 1 == chars.count || chars[i + 1] == " ") {
                if i == 0 || chars[0] == "[" || chars[0] == "{" { return nil }
                var key = String(chars[..<i]).trimmingCharacters(in: .whitespaces)
                if key.count >= 2, (key.first == "\"" && key.last == "\"") || (key.first == "'" && key.last == "'") {
                    key = String(key.dropFirst().dropLast())
                }
                return (key, String(chars[(i + 1)...]).trimmingCharacters(in: .whitespaces))
            }
        }
        return nil
    }

    static func scalar(_ s: String, line: Int, file: String) throws -> JSONValue {
        guard let first = s.first else { return .null }
        if first == "&" || first == "*" || first == "!" || first == "|" || first == ">" {
            throw ConfigError("\(file):\(line): YAML anchors, tags and block scalars are not supported ('\(s)'); write the value inline or use a JSON config")
        }
        if first == "[" || first == "{" {
            var p = s.startIndex
            let v = try flow(s, &p, line: line, file: file)
            let tail = s[p...].trimmingCharacters(in: .whitespaces)
            if !tail.isEmpty { throw ConfigError("\(file):\(line): unexpected '\(tail)' after \(first == "[" ? "a list" : "a mapping")") }
            return v
        }
        if first == "\"" || first == "'" {
            var p = s.startIndex
            let v = try quoted(s, &p, line: line, file: file)
            if p != s.endIndex { throw ConfigError("\(file):\(line): unexpected text after the quoted string in '\(s)'") }
            return .string(v)
        }
        return plain(s)
    }

    /// A plain scalar typed by YAML 1.2's core schema.
    static func plain(_ s: String) -> JSONValue {
        switch s {
        case "~", "null", "Null", "NULL": return .null
        case "true", "True", "TRUE": return .bool(true)
        case "false", "False", "FALSE": return .bool(false)
        default: break
        }
        if s.range(of: #"^[-+]?[0-9]+$"#, options: .regularExpression) != nil, let i = Int(s) { return .int(i) }
        if s.range(of: #"^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$"#, options: .regularExpression) != nil, let d = Double(s) {
            return .double(d)
        }
        return .string(s)
    }

    static func quoted(_ s: String, _ p: inout String.Index, line: Int, file: String) throws -> String {
        let q = s[p]
        p = s.index(after: p)
        var out = ""
        while p < s.endIndex {
            let c = s[p]
            if c == q {
                let n = s.index(after: p)
                if q == "'" && n < s.endIndex && s[n] == "'" { out.append("'"); p = s.index(after: n); continue }
                p = n
                return out
            }
            if q == "\"" && c == "\\" {
                p = s.index(after: p)
                guard p < s.endIndex else { break }
                switch s[p] {
                case "n": out.append("\n")
                case "t": out.append("\t")
                case "\"": out.append("\"")
                case "\\": out.append("\\")
                case "/": out.append("/")
                default: out.append("\\"); out.append(s[p])
                }
                p = s.index(after: p)
                continue
            }
            out.append(c)
            p = s.index(after: p)
        }
        throw ConfigError("\(file):\(line): unterminated quoted string in '\(s)'")
    }

    static func flow(_ s: String, _ p: inout String.Index, line: Int, file: String) throws -> JSONValue {
        func skip() { while p < s.endIndex, s[p] == " " { p = s.index(after: p) } }
        func item(_ terminators: Set<Character>) throws -> JSONValue {
            skip()
            guard p < s.endIndex else { throw ConfigError("\(file):\(line): unterminated flow collection in '\(s)'") }
            if s[p] == "[" || s[p] == "{" { return try flow(s, &p, line: line, file: file) }
            if s[p] == "\"" || s[p] == "'" { return .string(try quoted(s, &p, line: line, file: file)) }
            let start = p
            while p < s.endIndex, !terminators.contains(s[p]) { p = s.index(after: p) }
            return plain(s[start..<p].trimmingCharacters(in: .whitespaces))
        }
        let open = s[p]
        p = s.index(after: p)
        if open == "[" {
            var items: [JSONValue] = []
            skip()
            if p < s.endIndex, s[p] == "]" { p = s.index(after: p); return .array(items) }
            while true {
                items.append(try item([",", "]"]))
                skip()
                guard p < s.endIndex else { throw ConfigError("\(file):\(line): unterminated list in '\(s)'") }
                let c = s[p]; p = s.index(after: p)
                if c == "]" { return .array(items) }
            }
        }
        var obj = JSONObject()
        skip()
        if p < s.endIndex, s[p] == "}" { p = s.index(after: p); return .object(obj) }
        while true {
            let k = try item([":", ",", "}"])
            skip()
            guard p < s.endIndex, s[p] == ":" else { throw ConfigError("\(file):\(line): expected 'key: value' in the mapping '\(s)'") }
            p = s.index(after: p)
            let key: String
            switch k { case .string(let str): key = str; default: key = k.displayText }
            obj[key] = try item([",", "}"])
            skip()
            guard p < s.endIndex else { throw ConfigError("\(file):\(line): unterminated mapping in '\(s)'") }
            let c = s[p]; p = s.index(after: p)
            if c == "}" { return .object(obj) }
        }
    }
}
