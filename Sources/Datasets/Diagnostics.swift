import Foundation

/// A finding about the data or its set-up. Every message names the cause and the fix.
public struct DataDiagnostic: Sendable, Equatable, CustomStringConvertible {
    public enum Severity: String, Sendable { case info, warning, error }
    public enum Code: String, Sendable {
        case padEqualsEOS = "pad-equals-eos"
        case missingPadToken = "missing-pad-token"
        case rightPadding = "right-padding"
        case responseTemplateNotFound = "response-template-not-found"
        case instructionTemplateNotFound = "instruction-template-not-found"
        case maxLengthAboveModel = "max-length-above-model"
        case emptyExample = "empty-example"
        case allMaskedExample = "all-masked-example"
        case missingEOS = "missing-eos"
        case truncated = "truncated"
        case promptNotPrefix = "prompt-not-prefix"
        case unknownRole = "unknown-role"
        case skippedRecords = "skipped-records"
        case doubledSpecialToken = "doubled-special-token"
        case assistantMaskFallback = "assistant-mask-by-prefixes"
    }

    public var severity: Severity
    public var code: Code
    public var message: String

    public init(_ severity: Severity, _ code: Code, _ message: String) {
        self.severity = severity; self.code = code; self.message = message
    }

    public var description: String { "\(severity.rawValue) [\(code.rawValue)]: \(message)" }
}

/// "rows 3, 7, 12 and 40 more" — short lists of row references in messages.
func describeRows(_ refs: [String], limit: Int = 5) -> String {
    if refs.count <= limit { return refs.joined(separator: ", ") }
    return refs.prefix(limit).joined(separator: ", ") + " and \(refs.count - limit) more"
}
