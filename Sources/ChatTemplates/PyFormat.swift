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

    /// Python `repr(float)`: shortest round-trip digits; scientific when exponent < -4 or >= 16.
    static func floatRepr(_ f: Double) -> String {
        if f.isNaN { return "nan" }
        if f.isInfinite { return f < 0 ? "-inf" : "inf" }
        if f == 0 { return f.sign == .minus ? "-0.0" : "0.0" }
        // Swift's description gives the shortest round-trip digits; re-layout them the way Python does.
        var desc = "\(f.magnitude)"
        var exp = 0
        if let e = desc.firstIndex(where: { $0 == "e" || $0 == "E" }) {
            exp = Int(desc[desc.index(after: e)...]) ?? 0
            desc = String(desc[..<e])
        }
        var intPart = desc
        var fracPart = ""
        if let dot = desc.firstIndex(of: ".") {
            intPart = String(desc[..<dot]); fracPart = String(desc[desc.index(after: dot)...])
        }
        var digits = intPart + fracPart
        var pointPos = intPart.count + exp   // decimal point after this many digits
        // Normalise: strip leading zeros.
        while digits.count > 1 && digits.first == "0" { digits.removeFirst(); pointPos -= 1 }
        while digits.count > 1 && digits.last == "0" { digits.removeLast() }
        let decExp = pointPos - 1   // exponent in d.ddd form
        var s: String
        if decExp < -4 || decExp >= 16 {
            s = String(digits.first!)
            if digits.count > 1 { s += "." + digits.dropFirst() }
            s += "e" + (decExp < 0 ? "-" : "+") + (abs(decExp) < 10 ? "0" : "") + String(abs(decExp))
        } else if pointPos <= 0 {
            s = "0." + String(repeating: "0", count: -pointPos) + digits
        } else if pointPos >= digits.count {
            s = digits + String(repeating: "0", count: pointPos - digits.count) + ".0"
        } else {
            let i = digits.index(digits.startIndex, offsetBy: pointPos)
            s = String(digits[..<i]) + "." + String(digits[i...])
        }
        return f < 0 ? "-" + s : s
    }
}
