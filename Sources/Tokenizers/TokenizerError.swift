import Foundation
import JSONCore

/// Everything that can go wrong while loading or running a tokenizer, with enough context to fix it.
public enum TokenizerError: Error, CustomStringConvertible, Equatable {
    /// A file could not be read or parsed as JSON.
    case unreadableFile(path: String, reason: String)
    /// A field of tokenizer.json (given as a JSON path such as `model.merges[3]`) is missing or has the wrong shape.
    case invalidField(file: String, field: String, expected: String)
    /// A component type the loader does not implement.
    case unsupported(file: String, field: String, type: String)
    /// A token string that is not in the vocabulary (e.g. a template's special token).
    case unknownToken(file: String, field: String, token: String)
    /// An id outside the vocabulary.
    case unknownId(Int)
    /// A regular expression that cannot be compiled.
    case invalidRegex(field: String, pattern: String, reason: String)
    /// A GGUF tokenizer that cannot be built from the metadata.
    case invalidGGUF(field: String, reason: String)

    public var description: String {
        switch self {
        case let .unreadableFile(path, reason):
            return "cannot read tokenizer file \(path): \(reason)"
        case let .invalidField(file, field, expected):
            return "\(file): field `\(field)` is invalid: expected \(expected)"
        case let .unsupported(file, field, type):
            return "\(file): `\(field)` has type \"\(type)\", which SwiftTune does not implement"
        case let .unknownToken(file, field, token):
            return "\(file): `\(field)` names token \"\(token)\", which is not in the vocabulary"
        case let .unknownId(id):
            return "token id \(id) is not in the vocabulary"
        case let .invalidRegex(field, pattern, reason):
            return "regex in `\(field)` cannot be compiled (\(reason)): \(pattern)"
        case let .invalidGGUF(field, reason):
            return "GGUF tokenizer metadata `\(field)`: \(reason)"
        }
    }
}

extension TokenizerError: LocalizedError {
    public var errorDescription: String? { description }
}

/// Typed access to a parsed JSON object, producing `TokenizerError.invalidField` with the JSON path on mismatch.
struct JSONFields {
    let dict: JSONObject
    let path: String
    let file: String

    init(_ value: JSONValue?, path: String, file: String) throws {
        guard case .object(let d)? = value else {
            throw TokenizerError.invalidField(file: file, field: path.isEmpty ? "<root>" : path, expected: "a JSON object")
        }
        dict = d
        self.path = path
        self.file = file
    }

    func sub(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    func has(_ key: String) -> Bool {
        if let v = dict[key], !v.isNull { return true }
        return false
    }

    func object(_ key: String) throws -> JSONFields { try JSONFields(dict[key], path: sub(key), file: file) }

    func optionalObject(_ key: String) throws -> JSONFields? {
        guard has(key) else { return nil }
        return try object(key)
    }

    func string(_ key: String) throws -> String {
        guard let s = dict[key]?.stringValue else {
            throw TokenizerError.invalidField(file: file, field: sub(key), expected: "a string")
        }
        return s
    }

    func optionalString(_ key: String) throws -> String? {
        guard has(key) else { return nil }
        return try string(key)
    }

    func bool(_ key: String, default def: Bool) throws -> Bool {
        guard has(key) else { return def }
        if let b = dict[key]?.boolValue { return b }
        throw TokenizerError.invalidField(file: file, field: sub(key), expected: "true or false")
    }

    func int(_ key: String) throws -> Int {
        guard let i = dict[key]?.intValue else {
            throw TokenizerError.invalidField(file: file, field: sub(key), expected: "an integer")
        }
        return i
    }

    func optionalInt(_ key: String) throws -> Int? {
        guard has(key) else { return nil }
        return try int(key)
    }

    func double(_ key: String) throws -> Double {
        guard let d = dict[key]?.doubleValue else {
            throw TokenizerError.invalidField(file: file, field: sub(key), expected: "a number")
        }
        return d
    }

    func array(_ key: String) throws -> [JSONValue] {
        guard let a = dict[key]?.arrayValue else {
            throw TokenizerError.invalidField(file: file, field: sub(key), expected: "a JSON array")
        }
        return a
    }

    func objects(_ key: String) throws -> [JSONFields] {
        let a = try array(key)
        return try a.enumerated().map { try JSONFields($0.element, path: "\(sub(key))[\($0.offset)]", file: file) }
    }
}

/// Reads and parses a JSON file with a clear error on failure.
func readJSONFile(_ path: String) throws -> JSONValue {
    let data: Data
    do {
        data = try Data(contentsOf: URL(fileURLWithPath: path))
    } catch {
        throw TokenizerError.unreadableFile(path: path, reason: error.localizedDescription)
    }
    return try parseJSON(data, name: path)
}

/// Parses tokenizer files as `json.loads` would (tokenizer_config.json is written by Python: NaN/Infinity can
/// occur); a UTF-8 BOM is skipped, keys are kept byte for byte (vocabularies hold canonically equivalent tokens).
func parseJSON(_ data: Data, name: String) throws -> JSONValue {
    do {
        return try data.withUnsafeBytes { try JSONParser.parse($0, options: .python) }
    } catch {
        throw TokenizerError.unreadableFile(path: name, reason: "not valid JSON: \(error)")
    }
}
