extension Double {
    /// Python's `repr(float)`: the shortest digits that round-trip, in exponent form when the decimal exponent is
    /// below -4 or at least 16 (`1e-05`, `1e+16`, `100.0`, `0.1`); `nan`, `inf`, `-inf`.
    public var pythonRepr: String {
        if isNaN { return "nan" }
        if isInfinite { return self < 0 ? "-inf" : "inf" }
        if self == 0 { return sign == .minus ? "-0.0" : "0.0" }
        // Swift's description has the shortest round-trip digits; lay them out again the way Python does.
        var desc = "\(magnitude)"
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
        var pointPos = intPart.count + exp   // the decimal point comes after this many digits
        while digits.count > 1 && digits.first == "0" { digits.removeFirst(); pointPos -= 1 }
        while digits.count > 1 && digits.last == "0" { digits.removeLast() }
        let decExp = pointPos - 1   // exponent in d.ddd form
        var s: String
        if decExp < -4 || decExp >= 16 {
            s = String(digits.first ?? "0")
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
        return self < 0 ? "-" + s : s
    }
}
