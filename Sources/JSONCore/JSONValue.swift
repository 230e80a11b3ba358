/// A JSON value as Python's `json.loads` sees it: objects keep their key order (and every key byte for byte),
/// integer literals stay integers (`1` is not `1.0`), and integers beyond `Int` keep their exact digits.
///
/// One type for every JSON reader in SwiftTune: safetensors headers, tokenizer.json, dataset rows, training
/// configs and chat-template contexts.
public enum JSONValue: Hashable, Sendable {
    case null
    case bool(Bool)
    /// An integer literal that fits in `Int`.
    case int(Int)
    /// A literal with a fraction or an exponent (Python's float), or NaN/±Infinity where the parser allows them.
    case double(Double)
    /// An integer literal outside `Int`'s range, as its exact decimal text (Python ints are unbounded).
    case bigInt(String)
    case string(String)
    case array([JSONValue])
    case object(JSONObject)

    public var isNull: Bool { if case .null = self { return true } else { return false } }
    public var boolValue: Bool? { if case .bool(let b) = self { return b } else { return nil } }
    public var stringValue: String? { if case .string(let s) = self { return s } else { return nil } }
    public var arrayValue: [JSONValue]? { if case .array(let a) = self { return a } else { return nil } }
    public var objectValue: JSONObject? { if case .object(let o) = self { return o } else { return nil } }

    /// The value as an `Int`: an integer, or a double with no fraction (|x| < 9e15, where doubles are exact).
    public var intValue: Int? {
        switch self {
        case .int(let i): return i
        case .double(let d) where d.rounded() == d && abs(d) < 9e15: return Int(d)
        default: return nil
        }
    }

    /// The value as a `Double` (any number; big integers rounded as Python's `float()` would).
    public var doubleValue: Double? {
        switch self {
        case .int(let i): return Double(i)
        case .double(let d): return d
        case .bigInt(let t): return Double(t)
        default: return nil
        }
    }

    /// The number as Python prints it (`repr`): `12`, `1.5`, `1e-05`, the exact digits of a big integer.
    public var numberText: String? {
        switch self {
        case .int(let i): return String(i)
        case .double(let d): return d.pythonRepr
        case .bigInt(let t): return t
        default: return nil
        }
    }

    /// Name of the JSON type, for error messages ("expected a string, found an array").
    public var typeName: String {
        switch self {
        case .null: return "null"
        case .bool: return "a boolean"
        case .int, .double, .bigInt: return "a number"
        case .string: return "a string"
        case .array: return "an array"
        case .object: return "an object"
        }
    }

    /// Text a formatting template shows for this value: strings as is, null as nothing, everything else as compact JSON.
    public var displayText: String {
        switch self {
        case .string(let s): return s
        case .null: return ""
        default: return JSONWriter.string(self)
        }
    }

    /// The member `key` of an object (nil for other values or a missing key).
    public subscript(key: String) -> JSONValue? { objectValue?[key] }
}
