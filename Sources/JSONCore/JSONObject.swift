/// A JSON object: members in document (or insertion) order, keys compared byte for byte.
///
/// Keys are compared as UTF-8 bytes, not as Swift `String`s: `==` on `String` merges canonically equivalent
/// spellings (U+00C5 "Å" and U+212B "Å" are two vocabulary entries in real tokenizers). A key appears once;
/// assigning an existing key replaces its value in place (Python's `dict`, and what `json.loads` and serde do
/// with a repeated key: the last value wins). Objects over `indexThreshold` members keep a hash index of their
/// keys (tokenizer vocabularies: 150k members), so lookups and parsing stay O(1) per member; small ones (dataset
/// rows, messages) are scanned.
public struct JSONObject: Hashable, Sendable, RandomAccessCollection {
    public typealias Element = (key: String, value: JSONValue)
    public private(set) var members: [Element] = []
    private var table: KeyTable? = nil

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
        withUTF8Bytes(key) { find($0).found }
    }

    public func contains(key: String) -> Bool { position(ofKey: key) != nil }

    /// The value of `key`; assigning nil removes the member.
    public subscript(key: String) -> JSONValue? {
        get { position(ofKey: key).map { members[$0].value } }
        set {
            if let v = newValue { _ = set(key, v) } else if let p = position(ofKey: key) { remove(at: p) }
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
        table = members.count > JSONObject.indexThreshold ? KeyTable(members) : nil
    }

    /// Sets `key` to `value`: replaced in place if present (returns false), appended otherwise (returns true).
    mutating func set(_ key: String, _ value: JSONValue) -> Bool {
        let (found, hash) = withUTF8Bytes(key) { find($0) }
        if let p = found { members[p].value = value; return false }
        members.append((key, value))
        if table != nil {
            if !isKnownUniquelyReferenced(&table) { table = table!.copy() }
            table!.insertLast(hash: hash, of: members)
        } else if members.count > JSONObject.indexThreshold {
            table = KeyTable(members)
        }
        return true
    }

    /// The position of the key with these bytes, and the key's hash (0 when the object has no table).
    private func find(_ key: UnsafeBufferPointer<UInt8>) -> (found: Int?, hash: UInt64) {
        if let table { return table.find(key, in: members) }
        for (n, m) in members.enumerated() where withUTF8Bytes(m.key, { $0.elementsEqual(key) }) { return (n, 0) }
        return (nil, 0)
    }

    mutating func reserveCapacity(_ n: Int) { members.reserveCapacity(n) }

    /// Appends without looking for the key (the parser, past `indexThreshold` members); `finishParsing` then
    /// resolves repeats in one pass, which costs far less than an index kept up to date on every insert.
    mutating func appendUnchecked(_ key: String, _ value: JSONValue) { members.append((key, value)) }

    /// Indexes an object filled by `appendUnchecked`; a repeated key keeps its first position and last value.
    mutating func finishParsing() {
        guard table == nil, members.count > JSONObject.indexThreshold else { return }
        let (t, repeats) = KeyTable.build(members)
        guard !repeats.isEmpty else { table = t; return }
        var drop = [Bool](repeating: false, count: members.count)
        for (first, again) in repeats { members[first].value = members[again].value; drop[again] = true }
        members = members.enumerated().filter { !drop[$0.offset] }.map(\.element)
        table = KeyTable(members)
    }

    /// Same members in the same order.
    public static func == (a: JSONObject, b: JSONObject) -> Bool {
        a.members.count == b.members.count
            && zip(a.members, b.members).allSatisfy { $0.key.utf8.elementsEqual($1.key.utf8) && $0.value == $1.value }
    }

    public func hash(into h: inout Hasher) {
        h.combine(members.count)
        for m in members {
            withUTF8Bytes(m.key) { h.combine(bytes: UnsafeRawBufferPointer($0)) }
            h.combine(m.value)
        }
    }
}

/// Calls `body` with the string's UTF-8 bytes (in place for native strings).
@inline(__always)
func withUTF8Bytes<R>(_ s: String, _ body: (UnsafeBufferPointer<UInt8>) -> R) -> R {
    if let r = s.utf8.withContiguousStorageIfAvailable(body) { return r }
    return Array(s.utf8).withUnsafeBufferPointer(body)
}

/// Open-addressing index from key bytes to member positions. Hashes the bytes with a per-process random seed
/// (a multiply-xorshift mix, far cheaper than `Hasher` with a key wrapper: parsing a vocabulary is mostly this),
/// so that keys cannot be crafted in advance to collide. Each slot holds the hash's top 32 bits beside the
/// position, so a probe touches one cache line and compares keys only on a tag match.
/// A class so that a JSONObject stays two words (JSONValue arrays stay dense); copied on write by JSONObject.
private final class KeyTable: @unchecked Sendable {
    private var slots: [UInt64]     // (hash >> 32) << 32 | (member position + 1); 0 is empty
    private var used = 0
    private var mask = 0
    static let seed = UInt64.random(in: 1 ... .max)

    private init(slots: [UInt64], used: Int, mask: Int) {
        self.slots = slots
        self.used = used
        self.mask = mask
    }

    func copy() -> KeyTable { KeyTable(slots: slots, used: used, mask: mask) }

    /// A table for members with distinct keys.
    convenience init(_ members: [JSONObject.Element]) {
        self.init(slots: [], used: 0, mask: 0)
        rebuild(members)
    }

    /// A table for members that may repeat keys, and the repeats as (first position, later position), in order.
    static func build(_ members: [JSONObject.Element]) -> (KeyTable, [(Int, Int)]) {
        let t = KeyTable(slots: [], used: 0, mask: 0)
        t.allocate(members.count)
        var repeats: [(Int, Int)] = []
        for (n, m) in members.enumerated() {
            let (found, h) = withUTF8Bytes(m.key) { t.find($0, in: members) }
            if let f = found { repeats.append((f, n)) } else { t.place(h, n) }
        }
        return (t, repeats)
    }

    private func allocate(_ count: Int) {
        var cap = 64
        while cap < count * 2 { cap <<= 1 }
        slots = [UInt64](repeating: 0, count: cap)
        mask = cap - 1
        used = 0
    }

    private func rebuild(_ members: [JSONObject.Element]) {
        allocate(members.count)
        for (n, m) in members.enumerated() { place(withUTF8Bytes(m.key, KeyTable.hash), n) }
    }

    @inline(__always) private func place(_ h: UInt64, _ n: Int) {
        var s = Int(truncatingIfNeeded: h) & mask
        while slots[s] != 0 { s = (s + 1) & mask }
        slots[s] = (h & 0xFFFF_FFFF_0000_0000) | UInt64(n + 1)
        used += 1
    }

    @inline(__always)
    static func hash(_ p: UnsafeBufferPointer<UInt8>) -> UInt64 {
        var h = seed ^ (UInt64(p.count) &* 0x9E37_79B9_7F4A_7C15)
        let raw = UnsafeRawBufferPointer(p)
        var i = 0
        while i + 8 <= p.count {
            h = (h ^ raw.loadUnaligned(fromByteOffset: i, as: UInt64.self)) &* 0xBF58_476D_1CE4_E5B9
            h ^= h >> 29
            i += 8
        }
        var tail: UInt64 = 0
        var shift: UInt64 = 0
        while i < p.count { tail |= UInt64(p[i]) << shift; shift += 8; i += 1 }
        h = (h ^ tail) &* 0x94D0_49BB_1331_11EB
        h ^= h >> 31
        h = h &* 0xBF58_476D_1CE4_E5B9
        return h ^ (h >> 32)
    }

    func find(_ key: UnsafeBufferPointer<UInt8>, in members: [JSONObject.Element]) -> (found: Int?, hash: UInt64) {
        let h = KeyTable.hash(key)
        let tag = h & 0xFFFF_FFFF_0000_0000
        var s = Int(truncatingIfNeeded: h) & mask
        while true {
            let v = slots[s]
            if v == 0 { return (nil, h) }
            if v & 0xFFFF_FFFF_0000_0000 == tag {
                let n = Int(truncatingIfNeeded: v & 0xFFFF_FFFF) - 1
                if withUTF8Bytes(members[n].key, { $0.elementsEqual(key) }) { return (n, h) }
            }
            s = (s + 1) & mask
        }
    }

    /// Adds the last member's key (hash `h`), known to be absent; grows by re-reading the keys.
    func insertLast(hash h: UInt64, of members: [JSONObject.Element]) {
        if (used + 1) * 2 > slots.count { rebuild(members) } else { place(h, members.count - 1) }
    }
}
