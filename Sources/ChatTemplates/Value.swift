import Foundation

/// A value a template sees: the Python objects transformers passes to Jinja, as Jinja would see them.
///
/// `int` and `float` stay distinct (JSON `1` is an int, `1.0` a float, printed as Python prints them);
/// dicts keep insertion order; `undefined` is Jinja's plain `Undefined`.
public enum Value {
    case undefined(Undefined)
    case none
    case bool(Bool)
    case int(Int)
    case float(Double)
    case string(String)
    /// jinja's `Markup` (from `|safe`, `|escape`): a string whose `+` and `%` HTML-escape plain operands.
    case markup(String)
    case list([Value])
    case tuple([Value])
    case dict(PyDict)
    /// Jinja objects with attributes: namespace(), loop, cycler, joiner.
    case object(PyObject)
    case callable(Callable)

    /// An undefined value with no name (as `Undefined()`).
    public static var missing: Value { .undefined(Undefined(name: nil)) }

    /// Build a dict value from ordered pairs.
    public static func dict(_ pairs: [(String, Value)]) -> Value {
        var d = PyDict()
        for (k, v) in pairs { d[.string(k)] = v }
        return .dict(d)
    }

    public var isUndefined: Bool { if case .undefined = self { return true }; return false }
    public var isNone: Bool { if case .none = self { return true }; return false }

    /// The string payload, if this is a string.
    public var stringValue: String? {
        switch self { case .string(let s), .markup(let s): return s; default: return nil }
    }

    var isMarkup: Bool { if case .markup = self { return true }; return false }

    /// Markup as a plain string (Python sees a `str` subclass), everything else unchanged.
    var asPlain: Value { if case .markup(let s) = self { return .string(s) }; return self }

    /// Python truthiness.
    public var truthy: Bool {
        switch self {
        case .undefined, .none: return false
        case .bool(let b): return b
        case .int(let i): return i != 0
        case .float(let f): return f != 0
        case .string(let s), .markup(let s): return !s.isEmpty
        case .list(let a), .tuple(let a): return !a.isEmpty
        case .dict(let d): return d.count > 0
        case .object(let o):
            if let s = o as? SeqObject, s.hasLen { return !s.items.isEmpty }
            return true
        case .callable: return true
        }
    }

    /// Python type name as jinja's error messages show it.
    var typeName: String {
        switch self {
        case .undefined: return "Undefined"
        case .none: return "NoneType"
        case .bool: return "bool"
        case .int: return "int"
        case .float: return "float"
        case .string: return "str"
        case .markup: return "Markup"
        case .list: return "list"
        case .tuple: return "tuple"
        case .dict: return "dict"
        case .object(let o): return o.typeName
        case .callable: return "function"
        }
    }
}

/// Jinja's plain `Undefined`: printing gives "", iterating gives nothing, most other uses raise.
public struct Undefined {
    /// The name looked up (a variable, an attribute, a key).
    public var name: String?
    /// The message jinja would raise when the value is used.
    public var hint: String?
    public init(name: String?, hint: String? = nil) { self.name = name; self.hint = hint }
    var message: String {
        if let h = hint { return h }
        if let n = name { return "'\(n)' is undefined" }
        return "value is undefined"
    }
}

/// A Jinja object exposing attributes (namespace, loop, cycler...).
public protocol PyObject: AnyObject {
    var typeName: String { get }
    func getAttr(_ name: String) -> Value?
    /// Python `str()` of the object.
    var pyStr: String { get }
}

/// Python iterables that are not lists: `dict.items()` views, `range(...)`, and the generators jinja's
/// `map`/`select`/`selectattr`/... filters return. They iterate like lists but differ elsewhere, and
/// templates see the difference: a generator is always truthy, has no `len()`, cannot be indexed and
/// is not JSON serialisable.
final class SeqObject: PyObject {
    enum Kind: Equatable {
        case dictView(String)
        case range(Int, Int, Int)
        case generator(String)
        case reverseIterator
    }
    let kind: Kind
    let items: [Value]
    init(_ kind: Kind, _ items: [Value]) { self.kind = kind; self.items = items }

    /// Supports `len()` (and truthiness by length).
    var hasLen: Bool { switch kind { case .dictView, .range: return true; default: return false } }
    var isRange: Bool { if case .range = kind { return true }; return false }

    var typeName: String {
        switch kind {
        case .dictView(let n): return n
        case .range: return "range"
        case .generator: return "generator"
        case .reverseIterator: return "list_reverseiterator"
        }
    }
    func getAttr(_ name: String) -> Value? { nil }
    var pyStr: String {
        switch kind {
        case .dictView(let n): return "\(n)(\(PyFormat.repr(.list(items))))"
        case .range(let a, let b, let s): return s == 1 ? "range(\(a), \(b))" : "range(\(a), \(b), \(s))"
        case .generator(let f): return "<generator object \(f)>"
        case .reverseIterator: return "<list_reverseiterator object>"
        }
    }
}

/// `namespace(...)`: the one mutable object templates get.
public final class Namespace: PyObject {
    var attrs = PyDict()
    public var typeName: String { "Namespace" }
    public func getAttr(_ name: String) -> Value? { attrs[.string(name)] }
    public var pyStr: String { "<Namespace \(PyFormat.repr(.dict(attrs)))>" }
}

/// A callable value: a macro, a global function or a bound method.
public final class Callable: @unchecked Sendable {
    public typealias Fn = (_ args: [Value], _ kwargs: [(String, Value)], _ interp: Interpreter) throws -> Value
    let name: String
    let fn: Fn
    /// Macros take `caller`; builtins reject it.
    let isMacro: Bool
    init(name: String, isMacro: Bool = false, _ fn: @escaping Fn) { self.name = name; self.fn = fn; self.isMacro = isMacro }
}

/// An insertion-ordered dict with Python key equality (`1 == 1.0 == True`; strings compared by code points).
public struct PyDict {
    public private(set) var keys: [Value] = []
    public private(set) var values: [Value] = []
    // Small dicts (messages) are scanned; larger ones get a hash index.
    private var index: [HashKey: Int]? = nil

    public init() {}
    public var count: Int { keys.count }

    struct HashKey: Hashable {
        let tag: UInt8
        let bytes: [UInt8]
        let num: Double
    }

    static func hashKey(_ v: Value) -> HashKey? {
        switch v {
        case .string(let s), .markup(let s): return HashKey(tag: 1, bytes: Array(s.utf8), num: 0)
        case .int(let i): return HashKey(tag: 2, bytes: [], num: Double(i))
        case .float(let f): return HashKey(tag: 2, bytes: [], num: f)
        case .bool(let b): return HashKey(tag: 2, bytes: [], num: b ? 1 : 0)
        case .none: return HashKey(tag: 3, bytes: [], num: 0)
        case .tuple(let a):
            var bytes: [UInt8] = []
            for e in a {
                guard let k = hashKey(e) else { return nil }
                bytes.append(k.tag); bytes.append(contentsOf: k.bytes)
                withUnsafeBytes(of: k.num.bitPattern) { bytes.append(contentsOf: $0) }
                bytes.append(0xFF)
            }
            return HashKey(tag: 4, bytes: bytes, num: 0)
        default: return nil
        }
    }

    static func isHashable(_ v: Value) -> Bool { hashKey(v) != nil }

    func find(_ key: Value) -> Int? {
        if let idx = index {
            guard let h = PyDict.hashKey(key) else { return nil }
            return idx[h]
        }
        if case .string(let s) = key {
            for i in 0..<keys.count {
                if case .string(let k) = keys[i], k.utf8.elementsEqual(s.utf8) { return i }
            }
            return nil
        }
        for i in 0..<keys.count where pyEquals(keys[i], key) { return i }
        return nil
    }

    public subscript(key: Value) -> Value? {
        get { find(key).map { values[$0] } }
        set {
            if let i = find(key) {
                if let v = newValue { values[i] = v } else { remove(at: i) }
                return
            }
            guard let v = newValue else { return }
            keys.append(key); values.append(v)
            if index != nil, let h = PyDict.hashKey(key) { index![h] = keys.count - 1 }
            else if keys.count > 12 { rebuildIndex() }
        }
    }

    public subscript(key: String) -> Value? {
        get { self[.string(key)] }
        set { self[.string(key)] = newValue }
    }

    private mutating func remove(at i: Int) {
        keys.remove(at: i); values.remove(at: i)
        if index != nil { rebuildIndex() }
    }

    private mutating func rebuildIndex() {
        var idx: [HashKey: Int] = [:]
        for (i, k) in keys.enumerated() { if let h = PyDict.hashKey(k) { idx[h] = i } }
        index = idx
    }

    public var pairs: [(Value, Value)] { Array(zip(keys, values)) }
}

/// Python `==`.
func pyEquals(_ a: Value, _ b: Value) -> Bool {
    switch (a, b) {
    case (.undefined, .undefined): return true
    case (.undefined, _), (_, .undefined): return false
    case (.none, .none): return true
    case (.string(let x), .string(let y)), (.markup(let x), .markup(let y)), (.string(let x), .markup(let y)), (.markup(let x), .string(let y)):
        return x.utf8.elementsEqual(y.utf8)
    case (.list(let x), .list(let y)), (.tuple(let x), .tuple(let y)):
        return x.count == y.count && zip(x, y).allSatisfy { pyEquals($0, $1) }
    case (.dict(let x), .dict(let y)):
        guard x.count == y.count else { return false }
        for (k, v) in zip(x.keys, x.values) {
            guard let w = y[k], pyEquals(v, w) else { return false }
        }
        return true
    case (.object(let x), .object(let y)): return x === y
    case (.callable(let x), .callable(let y)): return x === y
    default:
        if let x = numeric(a), let y = numeric(b) {
            switch (x, y) {
            case (.i(let p), .i(let q)): return p == q
            default: return x.double == y.double
            }
        }
        return false
    }
}

enum Num {
    case i(Int), f(Double)
    var double: Double { switch self { case .i(let v): return Double(v); case .f(let v): return v } }
}

/// Numeric view (bool is an int in Python).
func numeric(_ v: Value) -> Num? {
    switch v {
    case .int(let i): return .i(i)
    case .bool(let b): return .i(b ? 1 : 0)
    case .float(let f): return .f(f)
    default: return nil
    }
}
