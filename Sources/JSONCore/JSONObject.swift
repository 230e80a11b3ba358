/// A JSON object: members in document (or insertion) order, keys compared byte for byte.
///
/// Keys are compared as UTF-8 bytes, not as Swift `String`s: `==` on `String` merges canonically equivalent
/// spellings (U+00C5 "Å" and U+212B "Å" are two vocabulary entries in real tokenizers). A key appears once;
/// assigning an existing key replaces its value in place (Python's `dict`, and what `json.loads` and serde do
/// with a repeated key: the last value wins). Objects over `indexThreshold` members keep a hash index, so
/// lookups stay O(1) for vocabularies; small ones (dataset rows, messages) are scanned.
public struct JSONObject: Hashable, Sendable, RandomAccessCollection {
    public typealias Element = (key: String, value: JSONValue)
    public private(set) var members: [Element] = []
    private var index: [ByteKey: Int]? = nil

    static let indexThreshold = 16

    public init() {}

    /// Members in order; a repeated key replaces the earlier value (at the earlier position), as `dict(pairs)` does.
    public init(_ pairs: [(String, JSONValue)]) {
        members.reserveCapacity(pairs.count)
        for (k, v) in pairs { self[k] = v }
    }

    public var startIndex: Int { 0 }
    public var endIndex: Int { members.count }
    public subscript(position: Int) -> Element { members[position] }

    public var keys: [String] { members.map(\.key) }
    public var values: [JSONValue] { members.map(\.value) }

    /// Position of `key` among the members.
    public func position(ofKey key: String) -> Int? {
        if let index { return index[ByteKey(key)] }
        var k = key
        return k.withUTF8 { kb in members.firstIndex { $0.key.utf8.elementsEqual(kb) } }
    }

    public func contains(key: String) -> Bool { position(ofKey: key) != nil }

    /// The value of `key`; assigning nil removes the member.
    public subscript(key: String) -> JSONValue? {
        get { position(ofKey: key).map { members[$0].value } }
        set {
            if let p = position(ofKey: key) {
                if let v = newValue { members[p].value = v } else { remove(at: p) }
            } else if let v = newValue {
                append(key, v)
            }
        }
    }

    /// Removes a member, returning its value.
    @discardableResult
    public mutating func removeValue(forKey key: String) -> JSONValue? {
        guard let p = position(ofKey: key) else { return nil }
        let v = members[p].value
        remove(at: p)
        return v
    }

    private mutating func remove(at p: Int) {
        members.remove(at: p)
        index = nil
        if members.count > JSONObject.indexThreshold { buildIndex() }
    }

    /// Appends a key known to be absent.
    mutating func append(_ key: String, _ value: JSONValue) {
        members.append((key, value))
        if index != nil {
            index![ByteKey(key)] = members.count - 1
        } else if members.count > JSONObject.indexThreshold {
            buildIndex()
        }
    }

    /// Sets a member while parsing; returns false when the key was already there (the value is then replaced).
    mutating func setParsed(_ key: String, _ value: JSONValue) -> Bool {
        if let p = position(ofKey: key) { members[p].value = value; return false }
        append(key, value)
        return true
    }

    mutating func reserveCapacity(_ n: Int) { members.reserveCapacity(n) }

    private mutating func buildIndex() {
        var idx = [ByteKey: Int](minimumCapacity: members.count * 2)
        for (n, m) in members.enumerated() { idx[ByteKey(m.key)] = n }
        index = idx
    }

    /// Same members in the same order.
    public static func == (a: JSONObject, b: JSONObject) -> Bool {
        a.members.count == b.members.count
            && zip(a.members, b.members).allSatisfy { $0.key.utf8.elementsEqual($1.key.utf8) && $0.value == $1.value }
    }

    public func hash(into h: inout Hasher) {
        h.combine(members.count)
        for m in members { h.combine(ByteKey(m.key)); h.combine(m.value) }
    }
}

/// A string hashed and compared as its UTF-8 bytes (no Unicode canonical equivalence).
struct ByteKey: Hashable, Sendable {
    let string: String

    init(_ s: String) {
        var s = s
        s.makeContiguousUTF8()
        string = s
    }

    static func == (a: ByteKey, b: ByteKey) -> Bool { a.string.utf8.elementsEqual(b.string.utf8) }

    func hash(into h: inout Hasher) {
        var s = string
        s.withUTF8 { h.combine(bytes: UnsafeRawBufferPointer($0)) }
    }
}
