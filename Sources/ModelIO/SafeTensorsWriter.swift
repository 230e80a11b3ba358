import JSONCore
import Tensors

/// Builds a safetensors file laid out byte for byte as the reference library (`safetensors` 0.4+, Rust core)
/// writes it:
/// - tensors are stored by descending dtype (U64/I64 > F32 > I32 > BF16 > F16 > I8 > U8 > BOOL, the Rust
///   `Dtype` order, which puts wider types first so every tensor stays aligned), ties by name (byte order);
/// - the header is compact JSON: `__metadata__` first, then the tensors in storage order, each as
///   `{"dtype":…,"shape":[…],"data_offsets":[begin,end]}`; strings escaped as serde_json does;
/// - the header is padded with spaces to a multiple of 8 bytes.
///
/// One difference: the reference writes `__metadata__` in hash-map order (random when it holds more than
/// one key); this writer sorts the keys, so its output is deterministic. With zero or one metadata key the
/// files are byte-identical.
public struct SafeTensorsWriter {
    enum Payload {
        case owned([UInt8])
        case borrowed(UnsafeRawBufferPointer, keepAlive: AnyObject?)
    }

    struct Entry {
        var name: String
        var dtype: DType
        var shape: [Int]
        var payload: Payload
        var byteCount: Int
    }

    public var metadata: [String: String]
    private var entries: [Entry] = []
    private var names = Set<String>()

    public init(metadata: [String: String] = [:]) {
        self.metadata = metadata
    }

    /// Number of tensors added.
    public var count: Int { entries.count }

    /// Adds a tensor from its raw little-endian bytes (copied).
    public mutating func add(_ name: String, dtype: DType, shape: [Int], bytes: [UInt8]) throws {
        try check(name, dtype, shape, bytes.count)
        entries.append(Entry(name: name, dtype: dtype, shape: shape, payload: .owned(bytes), byteCount: bytes.count))
        names.insert(name)
    }

    /// Adds a float32 tensor.
    public mutating func add(_ name: String, shape: [Int], floats: [Float]) throws {
        let bytes = floats.withUnsafeBytes { [UInt8]($0) }
        try add(name, dtype: .float32, shape: shape, bytes: bytes)
    }

    /// Adds a tensor whose bytes are read at write time, without a copy: `bytes` must stay valid until the
    /// file is written; `keepAlive` (e.g. the owner of the memory) is retained until then.
    public mutating func addUnsafe(_ name: String, dtype: DType, shape: [Int], bytes: UnsafeRawBufferPointer, keepAlive: AnyObject? = nil) throws {
        try check(name, dtype, shape, bytes.count)
        entries.append(Entry(name: name, dtype: dtype, shape: shape, payload: .borrowed(bytes, keepAlive: keepAlive), byteCount: bytes.count))
        names.insert(name)
    }

    /// Adds a tensor read from another safetensors file (zero-copy until written).
    public mutating func add(_ tensor: SafeTensor, as name: String? = nil) throws {
        try addUnsafe(name ?? tensor.name, dtype: tensor.dtype, shape: tensor.shape, bytes: tensor.bytes, keepAlive: tensor.storage)
    }

    private func check(_ name: String, _ dtype: DType, _ shape: [Int], _ byteCount: Int) throws {
        let file = "<safetensors writer>"
        guard name != "__metadata__" else {
            throw ModelIOError(.malformed, file: file, item: name, "\"__metadata__\" is reserved for the metadata map", fix: "rename the tensor")
        }
        guard !names.contains(name) else {
            throw ModelIOError(.malformed, file: file, item: name, "tensor added twice", fix: "give each tensor a unique name")
        }
        var elements = 1
        for d in shape {
            guard d >= 0 else { throw ModelIOError(.invalidTensor, file: file, item: name, "negative dimension in shape \(shape)", fix: "pass a valid shape") }
            let (m, o) = elements.multipliedReportingOverflow(by: d)
            guard !o else { throw ModelIOError(.invalidTensor, file: file, item: name, "shape \(shape) overflows", fix: "pass a valid shape") }
            elements = m
        }
        let (needed, overflow) = elements.multipliedReportingOverflow(by: dtype.byteSize)
        guard !overflow, needed == byteCount else {
            throw ModelIOError(.invalidTensor, file: file, item: name,
                               "shape \(shape) × \(dtype.safetensorsName) needs \(overflow ? "more than Int.max" : String(needed)) bytes, got \(byteCount)",
                               fix: "pass bytes matching the shape and dtype")
        }
    }

    /// Rank of a dtype in the reference library's `Dtype` enum order (higher is stored first).
    static func storageRank(_ dtype: DType) -> Int {
        switch dtype {
        case .bool: return 0
        case .uint8: return 4
        case .int8: return 5
        case .float16: return 11
        case .bfloat16: return 12
        case .int32: return 13
        case .float32: return 15
        case .int64: return 18
        }
    }

    private func ordered() -> [Entry] {
        entries.sorted { a, b in
            let ra = SafeTensorsWriter.storageRank(a.dtype), rb = SafeTensorsWriter.storageRank(b.dtype)
            if ra != rb { return ra > rb }
            return a.name.utf8.lexicographicallyPrecedes(b.name.utf8)
        }
    }

    /// The header (8-byte length + padded JSON) for the given storage order.
    private func header(_ ordered: [Entry]) -> [UInt8] {
        var json: [UInt8] = [UInt8(ascii: "{")]
        var first = true
        if !metadata.isEmpty {
            json += Array("\"__metadata__\":".utf8)
            let members = metadata.sorted { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }.map { ($0.key, JSONValue.string($0.value)) }
            JSONWriter.append(.object(JSONObject(members)), to: &json)
            first = false
        }
        var offset = 0
        for e in ordered {
            if !first { json.append(UInt8(ascii: ",")) }
            first = false
            JSONWriter.appendString(e.name, to: &json)
            json += Array(":{\"dtype\":".utf8)
            JSONWriter.appendString(e.dtype.safetensorsName, to: &json)
            json += Array(",\"shape\":[\(e.shape.map(String.init).joined(separator: ","))],\"data_offsets\":[\(offset),\(offset + e.byteCount)]}".utf8)
            offset += e.byteCount
        }
        json.append(UInt8(ascii: "}"))
        json += [UInt8](repeating: 0x20, count: (8 - json.count % 8) % 8)
        var out = [UInt8](repeating: 0, count: 8)
        withUnsafeBytes(of: UInt64(json.count).littleEndian) { for k in 0..<8 { out[k] = $0[k] } }
        return out + json
    }

    private func withPayload<R>(_ e: Entry, _ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        switch e.payload {
        case let .owned(bytes): return try bytes.withUnsafeBytes(body)
        case let .borrowed(p, keepAlive): return try withExtendedLifetime(keepAlive) { try body(p) }
        }
    }

    /// The whole file in memory.
    public func serialize() -> [UInt8] {
        let order = ordered()
        var out = header(order)
        out.reserveCapacity(out.count + order.reduce(0) { $0 + $1.byteCount })
        for e in order { withPayload(e) { out.append(contentsOf: $0) } }
        return out
    }

    /// Writes the file to `path` atomically (temporary file + rename), streaming the tensors.
    public func write(to path: String) throws {
        let order = ordered()
        try AtomicFile.write(to: path) { write in
            try header(order).withUnsafeBytes { try write($0) }
            for e in order { try withPayload(e) { try write($0) } }
        }
    }
}
