import Foundation

/// Where in an input file a record went wrong.
public struct RecordIssue: Sendable, Equatable, CustomStringConvertible {
    public var file: String
    /// 1-based line of the record in the file (for JSON arrays: the line where the element starts).
    public var line: Int
    /// The column/field concerned, when one is.
    public var field: String?
    public var message: String

    public init(file: String, line: Int, field: String? = nil, message: String) {
        self.file = file; self.line = line; self.field = field; self.message = message
    }

    public var description: String {
        "\(file):\(line)" + (field.map { " field '\($0)'" } ?? "") + ": \(message)"
    }
}

/// Errors of the Datasets module. Each message says what was found, what was expected and how to fix it.
public enum DatasetError: Error, CustomStringConvertible, Sendable {
    /// Unreadable or unsupported file.
    case io(String)
    /// Malformed records (every one found, not only the first).
    case malformedRecords([RecordIssue], hint: String)
    /// The rows do not fit any supported format.
    case unknownFormat(String)
    /// A bad row met during formatting/tokenization (row index is 0-based in the loaded dataset).
    case badExample(row: Int, String)
    case invalidArgument(String)
    case invalidConfig(String)

    public var description: String {
        switch self {
        case .io(let m), .unknownFormat(let m), .invalidArgument(let m): return m
        case .invalidConfig(let m): return "invalid dataset config: \(m)"
        case .badExample(let row, let m): return "example \(row): \(m)"
        case .malformedRecords(let issues, let hint):
            let shown = issues.prefix(50).map { "  " + $0.description }.joined(separator: "\n")
            let more = issues.count > 50 ? "\n  … and \(issues.count - 50) more" : ""
            return "\(issues.count) malformed record(s):\n\(shown)\(more)\n\(hint)"
        }
    }
}
