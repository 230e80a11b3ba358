import Foundation

/// RFC 4180 CSV: comma-separated fields, double-quoted fields may hold commas, CR/LF and doubled quotes (`""`),
/// records end with CRLF or LF, the first record is the header.
public enum CSVParser {
    /// One parsed record with the line it starts on (1-based).
    public struct Record: Sendable { public var fields: [String]; public var line: Int }

    public enum Failure: Error, Sendable { case unterminatedQuote(line: Int), textAfterQuote(line: Int) }

    /// Parses the whole text into records; blank lines between records are skipped.
    public static func parse(_ text: String, delimiter: Character = ",") throws -> [Record] {
        var records: [Record] = []
        var fields: [String] = []
        var field = ""
        var line = 1
        var recordLine = 1
        var inQuotes = false
        var afterQuote = false       // just closed a quoted field: only a delimiter or end of record may follow
        var quoteStartLine = 1
        var recordHasContent = false
        var it = text.unicodeScalars.makeIterator()
        var pending: Unicode.Scalar? = nil
        let delim = delimiter.unicodeScalars.first!

        func endRecord() {
            fields.append(field)
            if recordHasContent || fields.count > 1 || !field.isEmpty { records.append(Record(fields: fields, line: recordLine)) }
            fields = []; field = ""; recordHasContent = false; afterQuote = false
        }

        while let c = pending ?? it.next() {
            pending = nil
            if inQuotes {
                if c == "\"" {
                    if let n = it.next() {
                        if n == "\"" { field.unicodeScalars.append("\"") } else { inQuotes = false; afterQuote = true; pending = n }
                    } else { inQuotes = false; afterQuote = true }
                } else {
                    if c == "\n" { line += 1 }
                    field.unicodeScalars.append(c)
                }
                continue
            }
            switch c {
            case "\"":
                if afterQuote || !field.isEmpty { throw Failure.textAfterQuote(line: line) }
                inQuotes = true; quoteStartLine = line; recordHasContent = true
            case delim:
                fields.append(field); field = ""; afterQuote = false; recordHasContent = true
            case "\r":
                if let n = it.next(), n != "\n" { pending = n }
                endRecord(); line += 1; recordLine = line
            case "\n":
                endRecord(); line += 1; recordLine = line
            default:
                if afterQuote { throw Failure.textAfterQuote(line: line) }
                field.unicodeScalars.append(c); recordHasContent = true
            }
        }
        if inQuotes { throw Failure.unterminatedQuote(line: quoteStartLine) }
        if recordHasContent || !field.isEmpty || !fields.isEmpty { endRecord() }
        return records
    }
}
