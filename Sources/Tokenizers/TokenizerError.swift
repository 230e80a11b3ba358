import Foundation

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
struct JSONObject {
    let dict: JSONDict
    let path: String
    let file: String

    init(_ value: Any?, path: String, file: String) throws {
        guard let d = value as? JSONDict else {
            throw TokenizerError.invalidField(file: file, field: path.isEmpty ? "<root>" : path, expected: "a JSON object")
        }
        dict = d
        self.path = path
        self.file = file
    }

    func sub(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    func has(_ key: String) -> Bool {
        if let v = dict[key], !(v is NSNull) { return true }
        return false
    }

    func object(_ key: String) throws -> JSONObject { try JSONObject(dict[key], path: sub(key), file: file) }

    func optionalObject(_ key: String) throws -> JSONObject? {
        guard has(key) else { return nil }
        return try object(key)
    }

    func string(_ key: String) throws -> String {
        guard let s = dict[key] as? String else {
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
        if let b = dict[key] as? Bool { return b }
        throw TokenizerError.invalidField(file: file, field: sub(key), expected: "true or false")
    }

    func int(_ key: String) throws -> Int {
        guard let v = dict[key], let i = JSONObject.asInt(v) else {
            throw TokenizerError.invalidField(file: file, field: sub(key), expected: "an integer")
        }
        return i
    }

    func optionalInt(_ key: String) throws -> Int? {
        guard has(key) else { return nil }
        return try int(key)
    }

    func double(_ key: String) throws -> Double {
        if let i = dict[key] as? Int { return Double(i) }
        guard let d = dict[key] as? Double else {
            throw TokenizerError.invalidField(file: file, field: sub(key), expected: "a number")
        }
        return d
    }

    func array(_ key: String) throws -> [Any] {
        guard let a = dict[key] as? [Any] else {
            throw TokenizerError.invalidField(file: file, field: sub(key), expected: "a JSON array")
        }
        return a
    }

    func objects(_ key: String) throws -> [JSONObject] {
        let a = try array(key)
        return try a.enumerated().map { try JSONObject($0.element, path: "\(sub(key))[\($0.offset)]", file: file) }
    }

    static func asInt(_ v: Any) -> Int? {
        if let i = v as? Int { return i }
        if let d = v as? Double, d.rounded() == d, abs(d) < 9e15 { return Int(d) }
        return nil
    }
}

/// Reads and parses a JSON file with a clear error on failure.
func readJSONFile(_ path: String) throws -> Any {
    let data: Data
    do {
        data = try Data(contentsOf: URL(fileURLWithPath: path))
    } catch {
        throw TokenizerError.unreadableFile(path: path, reason: error.localizedDescription)
    }
    return try parseJSON(data, name: path)
}

func parseJSON(_ data: Data, name: String) throws -> Any {
    try JSONParser.parse(data, name: name)
}
