import Foundation

/// A naive local date-time, what Python's `datetime.now()` returns; `strftime_now` formats it.
public struct NaiveDateTime: Sendable, Equatable {
    public var year: Int, month: Int, day: Int, hour: Int, minute: Int, second: Int, microsecond: Int

    public init(year: Int, month: Int, day: Int, hour: Int = 0, minute: Int = 0, second: Int = 0, microsecond: Int = 0) {
        self.year = year; self.month = month; self.day = day
        self.hour = hour; self.minute = minute; self.second = second; self.microsecond = microsecond
    }

    /// Parse `YYYY-MM-DD[(T| )HH:MM[:SS[.ffffff]]]`; nil if malformed.
    public init?(iso text: String) {
        let parts = text.split(whereSeparator: { $0 == "T" || $0 == " " })
        guard parts.count >= 1 && parts.count <= 2 else { return nil }
        let d = parts[0].split(separator: "-")
        guard d.count == 3, let y = Int(d[0]), let m = Int(d[1]), let dd = Int(d[2]), (1...12).contains(m), dd >= 1, dd <= NaiveDateTime.daysIn(y, m) else { return nil }
        var h = 0, mi = 0, s = 0, us = 0
        if parts.count == 2 {
            var t = parts[1].split(separator: ":")
            guard t.count >= 2 && t.count <= 3, let hh = Int(t[0]), let mm = Int(t[1]), (0..<24).contains(hh), (0..<60).contains(mm) else { return nil }
            h = hh; mi = mm
            if t.count == 3 {
                let secParts = t[2].split(separator: ".", maxSplits: 1)
                guard let ss = Int(secParts[0]), (0..<60).contains(ss) else { return nil }
                s = ss
                if secParts.count == 2 {
                    let frac = String(secParts[1].prefix(6))
                    guard let f = Int(frac) else { return nil }
                    us = f * Int(pow(10.0, Double(6 - frac.count)))
                }
                t.removeAll()
            }
        }
        self.init(year: y, month: m, day: dd, hour: h, minute: mi, second: s, microsecond: us)
    }

    /// The current local time.
    public static func now() -> NaiveDateTime {
        let d = Date()
        let c = Calendar.current.dateComponents(in: TimeZone.current, from: d)
        return NaiveDateTime(year: c.year ?? 1970, month: c.month ?? 1, day: c.day ?? 1, hour: c.hour ?? 0,
                             minute: c.minute ?? 0, second: c.second ?? 0, microsecond: (c.nanosecond ?? 0) / 1000)
    }

    static func isLeap(_ y: Int) -> Bool { (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 }
    static func daysIn(_ y: Int, _ m: Int) -> Int { [31, isLeap(y) ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][m - 1] }

    /// Day of the year, 1-based.
    var yday: Int { (1..<month).reduce(0) { $0 + NaiveDateTime.daysIn(year, $1) } + day }

    /// 0 = Sunday ... 6 = Saturday.
    var weekday: Int {
        // Days from civil (Howard Hinnant), 1970-01-01 was a Thursday.
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = (month + 9) % 12
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        let days = era * 146097 + doe - 719468
        return ((days % 7) + 7 + 4) % 7
    }

    static let dayNames = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"]
    static let monthNames = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"]

    /// ISO 8601 (year, week).
    var isoWeek: (Int, Int) {
        let wdMon = (weekday + 6) % 7  // 0 = Monday
        let thursdayYday = yday - wdMon + 3
        if thursdayYday < 1 {
            let py = year - 1
            let pdays = NaiveDateTime.isLeap(py) ? 366 : 365
            return (py, (thursdayYday + pdays - 1) / 7 + 1)
        }
        let ydays = NaiveDateTime.isLeap(year) ? 366 : 365
        if thursdayYday > ydays { return (year + 1, 1) }
        return (year, (thursdayYday - 1) / 7 + 1)
    }

    /// C-locale `strftime` as glibc (and so Python on Linux) does it, with glibc's `-`, `_`, `0` flags.
    /// Out-of-range fields (from the memberwise initializer) are clamped, never trapped on.
    public func strftime(_ fmt: String) -> String {
        var c = self
        c.year = min(max(year, 1), 9999)
        c.month = min(max(month, 1), 12)
        c.day = min(max(day, 1), NaiveDateTime.daysIn(c.year, c.month))
        c.hour = min(max(hour, 0), 23); c.minute = min(max(minute, 0), 59); c.second = min(max(second, 0), 60)
        c.microsecond = min(max(microsecond, 0), 999_999)
        return c.format(fmt)
    }

    private func format(_ fmt: String) -> String {
        var out = ""
        let u = Array(fmt.unicodeScalars)
        var i = 0
        func num(_ v: Int, _ width: Int, _ flag: Unicode.Scalar?, defaultPad: Character = "0") -> String {
            let s = String(abs(v))
            let sign = v < 0 ? "-" : ""
            if flag == "-" { return sign + s }
            let pad: Character = flag == "_" ? " " : flag == "0" ? "0" : defaultPad
            return sign + String(repeating: pad, count: max(0, width - s.count)) + s
        }
        while i < u.count {
            let c = u[i]
            if c != "%" || i + 1 >= u.count { out.unicodeScalars.append(c); i += 1; continue }
            i += 1
            var flag: Unicode.Scalar? = nil
            if u[i] == "-" || u[i] == "_" || u[i] == "0" || u[i] == "^" || u[i] == "#" {
                flag = u[i]; i += 1
                guard i < u.count else { out += "%" + String(flag!); break }
            }
            let d = u[i]; i += 1
            let h12 = hour % 12 == 0 ? 12 : hour % 12
            var piece: String
            switch d {
            case "a": piece = String(NaiveDateTime.dayNames[weekday].prefix(3))
            case "A": piece = NaiveDateTime.dayNames[weekday]
            case "b", "h": piece = String(NaiveDateTime.monthNames[month - 1].prefix(3))
            case "B": piece = NaiveDateTime.monthNames[month - 1]
            case "c": piece = strftime("%a %b %e %H:%M:%S %Y")
            case "C": piece = num(year / 100, 2, flag)
            case "d": piece = num(day, 2, flag)
            case "D": piece = strftime("%m/%d/%y")
            case "e": piece = num(day, 2, flag, defaultPad: " ")
            case "f": piece = num(microsecond, 6, flag)
            case "F": piece = strftime("%Y-%m-%d")
            case "G": piece = num(isoWeek.0, 1, flag)
            case "g": piece = num(isoWeek.0 % 100, 2, flag)
            case "H": piece = num(hour, 2, flag)
            case "I": piece = num(h12, 2, flag)
            case "j": piece = num(yday, 3, flag)
            case "k": piece = num(hour, 2, flag, defaultPad: " ")
            case "l": piece = num(h12, 2, flag, defaultPad: " ")
            case "m": piece = num(month, 2, flag)
            case "M": piece = num(minute, 2, flag)
            case "n": piece = "\n"
            case "p": piece = hour < 12 ? "AM" : "PM"
            case "P": piece = hour < 12 ? "am" : "pm"
            case "r": piece = strftime("%I:%M:%S %p")
            case "R": piece = strftime("%H:%M")
            case "S": piece = num(second, 2, flag)
            case "t": piece = "\t"
            case "T": piece = strftime("%H:%M:%S")
            case "u": piece = String(weekday == 0 ? 7 : weekday)
            case "U": piece = num((yday + 6 - weekday) / 7, 2, flag)
            case "V": piece = num(isoWeek.1, 2, flag)
            case "w": piece = String(weekday)
            case "W": piece = num((yday + 6 - (weekday + 6) % 7) / 7, 2, flag)
            case "x": piece = strftime("%m/%d/%y")
            case "X": piece = strftime("%H:%M:%S")
            case "y": piece = num(year % 100, 2, flag)
            case "Y": piece = flag == nil ? String(year) : num(year, 1, flag)
            case "Z", "z": piece = ""
            case "%": piece = "%"
            default: piece = "%" + (flag.map { String($0) } ?? "") + String(d)
            }
            if flag == "^" { piece = PyString.upper(piece) }
            out += piece
        }
        return out
    }
}
