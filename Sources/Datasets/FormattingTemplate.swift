import Foundation

/// The config-file stand-in for a Python `formatting_func`: a string with `{{ column }}` placeholders,
/// e.g. `"### Question: {{ sentence }}\n### Answer: {{ translation }}"`. `{{ eos_token }}` / `{{ bos_token }}`
/// insert the tokenizer's tokens. Everything else is literal text (this is not Jinja: no tags, no filters).
public struct FormattingTemplate: Sendable {
    enum Piece: Sendable { case text(String), column(String) }
    let pieces: [Piece]
    public let source: String

    public init(_ source: String) throws {
        self.source = source
        var pieces: [Piece] = []
        var rest = Substring(source)
        while let open = rest.range(of: "{{") {
            if open.lowerBound > rest.startIndex { pieces.append(.text(String(rest[..<open.lowerBound]))) }
            guard let close = rest[open.upperBound...].range(of: "}}") else {
                throw DatasetError.invalidConfig("formatting_template: '{{' without a closing '}}' in \"\(source)\"")
            }
            let name = rest[open.upperBound..<close.lowerBound].trimmingCharacters(in: .whitespaces)
            guard !name.isEmpty, name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" || $0 == "." }) else {
                throw DatasetError.invalidConfig("formatting_template: '{{ \(name) }}' is not a column name; only {{ column }} placeholders are supported")
            }
            pieces.append(.column(name))
            rest = rest[close.upperBound...]
        }
        if !rest.isEmpty { pieces.append(.text(String(rest))) }
        self.pieces = pieces
    }

    /// Columns the template reads (excluding eos_token/bos_token).
    public var columns: [String] {
        pieces.compactMap { if case .column(let c) = $0, c != "eos_token", c != "bos_token" { return c } else { return nil } }
    }

    /// The formatted text of `row`. Missing columns throw a `MessageIssue` naming the column.
    public func format(_ row: Row, eosToken: String?, bosToken: String?) throws -> String {
        var s = ""
        for p in pieces {
            switch p {
            case .text(let t): s += t
            case .column("eos_token"): s += eosToken ?? ""
            case .column("bos_token"): s += bosToken ?? ""
            case .column(let c):
                guard let v = row[c] else {
                    throw MessageIssue(field: c, message: "the formatting template uses '{{ \(c) }}' but the row has no such column (columns: \(row.keys))")
                }
                s += v.displayText
            }
        }
        return s
    }
}
