import JSONCore
/// Python's `str()` / `repr()` of template values, which leak into rendered prompts.
enum PyFormat {
    /// Python `str(x)` (what `{{ x }}` prints).
    static func str(_ v: Value) -> String {
        switch v {
        case .undefined: return ""
        case .string(let s), .markup(let s): return s
        default: return repr(v)
        }
    }

    static func repr(_ v: Value) -> String {
        var out = ""
        writeRepr(v, into: &out)
        return out
    }

    static func writeRepr(_ v: Value, into out: inout String) {
        switch v {
        case .undefined: out += "Undefined"
        case .none: out += "None"
        case .bool(let b): out += b ? "True" : "False"
        case .int(let i): out += String(i)
        case .float(let f): out += floatRepr(f)
        case .string(let s): writeStringRepr(s, into: &out)
        case .markup(let s): out += "Markup("; writeStringRepr(s, into: &out); out += ")"
        case .list(let a):
            out += "["
            for (i, e) in a.enumerated() { if i > 0 { out += ", " }; writeRepr(e, into: &out) }
            out += "]"
        case .tuple(let a):
            out += "("
            for (i, e) in a.enumerated() { if i > 0 { out += ", " }; writeRepr(e, into: &out) }
            if a.count == 1 { out += "," }
            out += ")"
        case .dict(let d):
            out += "{"
            for i in 0..<d.count {
                if i > 0 { out += ", " }
                writeRepr(d.keys[i], into: &out); out += ": "; writeRepr(d.values[i], into: &out)
            }
            out += "}"
        case .object(let o): out += o.pyStr
        case .callable(let c): out += "<function \(c.name)>"
        }
    }

    /// Python `repr(str)`: single quotes unless the text has `'` and no `"`; non-printables escaped.
    static func writeStringRepr(_ s: String, into out: inout String) {
        let hasSingle = s.utf8.contains(UInt8(ascii: "'"))
        let hasDouble = s.utf8.contains(UInt8(ascii: "\""))
        let quote: Character = (hasSingle && !hasDouble) ? "\"" : "'"
        out.append(quote)
        for u in s.unicodeScalars {
            switch u {
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if Character(u) == quote { out += "\\"; out.unicodeScalars.append(u) }
                else if isPrintable(u) { out.unicodeScalars.append(u) }
                else if u.value < 0x100 { out += "\\x" + hex(u.value, 2) }
                else if u.value < 0x10000 { out += "\\u" + hex(u.value, 4) }
                else { out += "\\U" + hex(u.value, 8) }
            }
        }
        out.append(quote)
    }

    static func hex(_ v: UInt32, _ width: Int) -> String {
        let s = String(v, radix: 16)
        return String(repeating: "0", count: max(0, width - s.count)) + s
    }

    /// Python `str.isprintable` for one character: not Cc, Cf, Cs, Co, Cn, Zl, Zp, or Zs other than space.
    static func isPrintable(_ u: Unicode.Scalar) -> Bool {
        if u.value >= 0x20 && u.value < 0x7F { return true }
        if u.value < 0x20 || u.value == 0x7F { return false }
        switch u.properties.generalCategory {
        case .control, .format, .surrogate, .privateUse, .unassigned, .lineSeparator, .paragraphSeparator, .spaceSeparator:
            return false
        default: return true
        }
    }

    /// Python `repr(float)` (JSONCore has the one implementation, which `json.dumps` uses too).
    static func floatRepr(_ f: Double) -> String { f.pythonRepr }
}
