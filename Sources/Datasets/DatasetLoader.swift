import Foundation

/// File formats `DatasetLoader` reads.
public enum DataFileFormat: String, Codable, Sendable, CaseIterable {
    case jsonl, json, csv, text

    /// From the extension: .jsonl/.ndjson, .json, .csv, .txt/.text.
    public static func infer(path: String) -> DataFileFormat? {
        switch (path as NSString).pathExtension.lowercased() {
        case "jsonl", "ndjson": return .jsonl
        case "json": return .json
        case "csv": return .csv
        case "txt", "text", "md": return .text
        default: return nil
        }
    }
}

/// What a load did besides returning rows.
public struct LoadReport: Sendable {
    public var file: String
    public var recordsRead: Int
    /// Records dropped under `skipMalformed` (empty otherwise: a malformed record fails the load).
    public var skipped: [RecordIssue]
}

/// Reads JSONL, JSON, CSV and plain text into a `Dataset`.
///
/// By default any malformed record fails the load with *every* bad line listed (file, line, field);
/// `skipMalformed: true` drops them instead and reports how many in `LoadReport.skipped`.
public enum DatasetLoader {
    /// Largest file read (files are read whole); protects against a wrong path pointing at a huge file.
    public static var maxFileBytes = 8 << 30

    public static func load(path: String, format: DataFileFormat? = nil, split: String? = nil,
                            textColumn: String = "text", skipMalformed: Bool = false) throws -> (Dataset, LoadReport) {
        guard let fmt = format ?? DataFileFormat.infer(path: path) else {
            throw DatasetError.io("\(path): cannot tell the file format from the extension; use .jsonl, .json, .csv or .txt, or set `format`")
        }
        let data = try readFile(path)
        return try load(data: data, name: path, format: fmt, split: split, textColumn: textColumn, skipMalformed: skipMalformed)
    }

    /// Same as `load(path:)` from bytes already in memory (`name` is used in messages).
    public static func load(data: [UInt8], name: String, format: DataFileFormat, split: String? = nil,
                            textColumn: String = "text", skipMalformed: Bool = false) throws -> (Dataset, LoadReport) {
        var rows: [Row] = []
        var lines: [Int] = []
        var issues: [RecordIssue] = []
        switch format {
        case .jsonl: parseJSONL(data, name: name, rows: &rows, lines: &lines, issues: &issues)
        case .json: try parseJSON(data, name: name, split: split, rows: &rows, lines: &lines, issues: &issues)
        case .csv: try parseCSV(data, name: name, rows: &rows, lines: &lines, issues: &issues)
        case .text:
            // Split on bytes: in Swift strings "\r\n" is one Character and would not split on "\n".
            var line = 0
            for var l in data.split(separator: 0x0A, omittingEmptySubsequences: false) {
                line += 1
                if l.last == 0x0D { l = l.dropLast() }
                if line == 1, l.starts(with: [0xEF, 0xBB, 0xBF]) { l = l.dropFirst(3) }
                if l.isEmpty { continue }
                rows.append(Row([(textColumn, .string(String(decoding: l, as: UTF8.self)))])); lines.append(line)
            }
        }
        if !issues.isEmpty && !skipMalformed {
            throw DatasetError.malformedRecords(issues, hint: "Fix these records, or load with skip_malformed: true to drop them (the number dropped is reported).")
        }
        let ds = Dataset(rows: rows, sourceFile: name, sourceLines: lines)
        return (ds, LoadReport(file: name, recordsRead: rows.count + issues.count, skipped: issues))
    }

    static func readFile(_ path: String) throws -> [UInt8] {
        let attrs = try? FileManager.default.attributesOfItem(atPath: path)
        guard let size = attrs?[.size] as? NSNumber else { throw DatasetError.io("\(path): no such file or not readable") }
        guard size.intValue <= maxFileBytes else {
            throw DatasetError.io("\(path): \(size.intValue) bytes is more than the \(maxFileBytes)-byte limit for a dataset file; split it")
        }
        guard let d = FileManager.default.contents(atPath: path) else { throw DatasetError.io("\(path): cannot read the file") }
        return [UInt8](d)
    }

    private static func parseJSONL(_ data: [UInt8], name: String, rows: inout [Row], lines: inout [Int], issues: inout [RecordIssue]) {
        var start = 0, line = 0
        while start <= data.count {
            var end = start
            while end < data.count, data[end] != 0x0A { end += 1 }
            line += 1
            var slice = data[start..<end]
            if slice.last == 0x0D { slice = slice.dropLast() }
            if line == 1, slice.starts(with: [0xEF, 0xBB, 0xBF]) { slice = slice.dropFirst(3) }
            let isBlank = slice.allSatisfy { $0 == 0x20 || $0 == 0x09 }
            if !isBlank {
                do {
                    let v = try JSONParser.parse(bytes: Array(slice))
                    if let o = v.objectValue { rows.append(o); lines.append(line) } else {
                        issues.append(RecordIssue(file: name, line: line, message: "expected a JSON object per line, found \(v.typeName)"))
                    }
                } catch let e as JSONParseError {
                    issues.append(RecordIssue(file: name, line: line, message: "invalid JSON: \(e.message) (column \(e.column)\(e.path.isEmpty ? "" : ", in \(e.path)"))"))
                } catch {
                    issues.append(RecordIssue(file: name, line: line, message: "invalid JSON: \(error)"))
                }
            }
            if end >= data.count { break }
            start = end + 1
        }
    }

    private static func parseJSON(_ data: [UInt8], name: String, split: String?, rows: inout [Row], lines: inout [Int], issues: inout [RecordIssue]) throws {
        let doc: JSONValue, recordLines: [String: [Int]]
        do { (doc, recordLines) = try JSONParser.parseWithRecordLines(bytes: data) } catch let e as JSONParseError {
            // A syntax error stops the parse: there is no way to find the other records.
            throw DatasetError.malformedRecords([RecordIssue(file: name, line: e.line, message: "invalid JSON: \(e.message) (column \(e.column)\(e.path.isEmpty ? "" : ", in \(e.path)"))")],
                                                hint: "The file must hold a JSON array of objects, or an object of splits such as {\"train\": [...]}.")
        }
        let records: [JSONValue], key: String
        switch doc {
        case .array(let a):
            records = a; key = ""
            if let s = split, s != "train" {
                throw DatasetError.invalidArgument("\(name): split '\(s)' requested but the file holds one unnamed array (it is the 'train' split)")
            }
        case .object(let o):
            let arrays = o.filter { $0.value.arrayValue != nil }.map { $0.key }
            let chosen = split ?? (arrays.contains("train") ? "train" : (arrays.count == 1 ? arrays[0] : nil))
            guard let k = chosen, let a = o[k]?.arrayValue else {
                if let s = split { throw DatasetError.invalidArgument("\(name): no split '\(s)'; the splits are \(arrays)") }
                throw DatasetError.unknownFormat("\(name): expected a JSON array of records or an object of splits like {\"train\": [...]}; found an object with keys \(o.keys). Set `split` to pick one.")
            }
            records = a; key = k
        default:
            throw DatasetError.unknownFormat("\(name): expected a JSON array of records or {\"train\": [...]}, found \(doc.typeName)")
        }
        let ls = recordLines[key] ?? []
        for (i, r) in records.enumerated() {
            let line = i < ls.count ? ls[i] : 0
            if let o = r.objectValue { rows.append(o); lines.append(line) } else {
                issues.append(RecordIssue(file: name, line: line, message: "record \(i) is \(r.typeName), expected an object"))
            }
        }
    }

    private static func parseCSV(_ data: [UInt8], name: String, rows: inout [Row], lines: inout [Int], issues: inout [RecordIssue]) throws {
        var text = String(decoding: data, as: UTF8.self)
        if text.hasPrefix("\u{FEFF}") { text.removeFirst() }
        let records: [CSVParser.Record]
        do { records = try CSVParser.parse(text) } catch CSVParser.Failure.unterminatedQuote(let line) {
            throw DatasetError.malformedRecords([RecordIssue(file: name, line: line, message: "a quoted field opened here is never closed")],
                                                hint: "Close the quote; a literal quote inside a quoted field is written as \"\".")
        } catch CSVParser.Failure.textAfterQuote(let line) {
            throw DatasetError.malformedRecords([RecordIssue(file: name, line: line, message: "text next to a quoted field; quote the whole field and double inner quotes (\"\")")],
                                                hint: "Follow RFC 4180 quoting.")
        }
        guard let header = records.first else { return }
        let names = header.fields
        if Set(names).count != names.count {
            throw DatasetError.malformedRecords([RecordIssue(file: name, line: header.line, message: "duplicate column names in the header \(names)")], hint: "Rename the duplicated columns.")
        }
        for r in records.dropFirst() {
            if r.fields.count != names.count {
                let field = r.fields.count > names.count ? nil : names[r.fields.count]
                issues.append(RecordIssue(file: name, line: r.line, field: field,
                                          message: "\(r.fields.count) fields, the header has \(names.count)"))
                continue
            }
            var row = Row()
            for (k, v) in zip(names, r.fields) { row[k] = .string(v) }
            rows.append(row); lines.append(r.line)
        }
    }
}
