import Quantization

/// Builds a GGUF v3 file laid out byte for byte as gguf-py's `GGUFWriter` writes the same content:
/// header, metadata in insertion order, tensor infos in insertion order with offsets padded to the
/// alignment, zero padding to the alignment, then each tensor's bytes followed by zero padding to the
/// alignment (after the last one too).
///
/// Unlike gguf-py, nothing is added implicitly: gguf-py's constructor adds `general.architecture` first,
/// so add it first here to get the same bytes. Setting `general.alignment` (a power-of-two uint32)
/// changes the alignment, as `add_custom_alignment` does.
public struct GGUFWriter {
    struct Tensor {
        var name: String
        var dimensions: [Int]
        var type: GGMLType
        var bytes: [UInt8]?
        var borrowed: UnsafeRawBufferPointer?
        var keepAlive: AnyObject?
        var byteCount: Int
    }

    private(set) var metadata: [(key: String, value: GGUFValue)] = []
    private var tensors: [Tensor] = []
    private var tensorNames = Set<String>()

    public init() {}

    /// The data alignment: `general.alignment` when set, else 32.
    public var alignment: Int {
        if let v = metadata.first(where: { $0.key == "general.alignment" })?.value, case let .uint32(a) = v { return Int(a) }
        return GGUFFile.defaultAlignment
    }

    /// Sets a metadata value. Setting an existing key replaces its value in place (as gguf-py does).
    public mutating func set(_ key: String, _ value: GGUFValue) throws {
        if key == "general.alignment" {
            guard case let .uint32(a) = value, a > 0, a & (a - 1) == 0 else {
                throw ModelIOError(.malformed, file: "<gguf writer>", item: key, "must be a power-of-two uint32", fix: "pass .uint32(32) or another power of two")
            }
        }
        if let i = metadata.firstIndex(where: { $0.key == key }) { metadata[i].value = value } else { metadata.append((key, value)) }
    }

    /// Adds a tensor with its row-major `shape` (numpy order) and its stored bytes (copied).
    public mutating func addTensor(_ name: String, shape: [Int], type: GGMLType, bytes: [UInt8]) throws {
        try checkTensor(name, shape, type, bytes.count)
        tensors.append(Tensor(name: name, dimensions: shape.reversed(), type: type, bytes: bytes, byteCount: bytes.count))
        tensorNames.insert(name)
    }

    /// Adds a float32 tensor.
    public mutating func addTensor(_ name: String, shape: [Int], floats: [Float]) throws {
        try addTensor(name, shape: shape, type: .f32, bytes: floats.withUnsafeBytes { [UInt8]($0) })
    }

    /// Adds a tensor whose bytes are read at write time without a copy; `bytes` must stay valid until
    /// then, and `keepAlive` is retained meanwhile.
    public mutating func addTensorUnsafe(_ name: String, shape: [Int], type: GGMLType, bytes: UnsafeRawBufferPointer, keepAlive: AnyObject? = nil) throws {
        try checkTensor(name, shape, type, bytes.count)
        tensors.append(Tensor(name: name, dimensions: shape.reversed(), type: type, borrowed: bytes, keepAlive: keepAlive, byteCount: bytes.count))
        tensorNames.insert(name)
    }

    private func checkTensor(_ name: String, _ shape: [Int], _ type: GGMLType, _ byteCount: Int) throws {
        let file = "<gguf writer>"
        guard !tensorNames.contains(name) else {
            throw ModelIOError(.malformed, file: file, item: name, "tensor added twice", fix: "give each tensor a unique name")
        }
        guard shape.count <= GGUFFile.maxDimensions, shape.allSatisfy({ $0 >= 0 }) else {
            throw ModelIOError(.invalidTensor, file: file, item: name, "shape \(shape) must have at most 4 non-negative dimensions", fix: "reshape the tensor")
        }
        var elements = 1, overflow = false
        for d in shape {
            let (m, o) = elements.multipliedReportingOverflow(by: d)
            elements = m
            overflow = overflow || o
        }
        guard !overflow, (shape.last ?? 1) % type.blockSize == 0, let expected = type.byteCount(elements: elements), expected == byteCount else {
            throw ModelIOError(.invalidTensor, file: file, item: name,
                               "shape \(shape) of \(type.name) does not match \(byteCount) bytes (rows must be whole \(type.blockSize)-value blocks)",
                               fix: "pass the bytes of the quantised tensor for exactly this shape")
        }
    }

    // MARK: encoding

    private static func append<T: FixedWidthInteger>(_ v: T, to out: inout [UInt8]) {
        withUnsafeBytes(of: v.littleEndian) { out.append(contentsOf: $0) }
    }

    private static func append(string s: String, to out: inout [UInt8]) {
        append(UInt64(s.utf8.count), to: &out)
        out.append(contentsOf: s.utf8)
    }

    private static func append(_ v: GGUFValue, to out: inout [UInt8]) {
        switch v {
        case let .uint8(x): append(x, to: &out)
        case let .int8(x): append(x, to: &out)
        case let .uint16(x): append(x, to: &out)
        case let .int16(x): append(x, to: &out)
        case let .uint32(x): append(x, to: &out)
        case let .int32(x): append(x, to: &out)
        case let .uint64(x): append(x, to: &out)
        case let .int64(x): append(x, to: &out)
        case let .float32(x): append(x.bitPattern, to: &out)
        case let .float64(x): append(x.bitPattern, to: &out)
        case let .bool(x): out.append(x ? 1 : 0)
        case let .string(s): append(string: s, to: &out)
        case let .array(a): append(array: a, to: &out)
        }
    }

    private static func append(array a: GGUFArray, to out: inout [UInt8]) {
        append(a.elementType.rawValue, to: &out)
        append(UInt64(a.count), to: &out)
        switch a {
        case let .uint8(x): out.append(contentsOf: x)
        case let .int8(x): for v in x { append(v, to: &out) }
        case let .uint16(x): for v in x { append(v, to: &out) }
        case let .int16(x): for v in x { append(v, to: &out) }
        case let .uint32(x): for v in x { append(v, to: &out) }
        case let .int32(x): for v in x { append(v, to: &out) }
        case let .uint64(x): for v in x { append(v, to: &out) }
        case let .int64(x): for v in x { append(v, to: &out) }
        case let .float32(x): for v in x { append(v.bitPattern, to: &out) }
        case let .float64(x): for v in x { append(v.bitPattern, to: &out) }
        case let .bool(x): for v in x { out.append(v ? 1 : 0) }
        case let .string(x): for s in x { append(string: s, to: &out) }
        case let .array(x): for inner in x { append(array: inner, to: &out) }
        }
    }

    private static func pad(_ n: Int, _ alignment: Int) -> Int { (n + alignment - 1) / alignment * alignment }

    /// Everything before the data section, padding included.
    private func header() -> [UInt8] {
        var out: [UInt8] = Array("GGUF".utf8)
        GGUFWriter.append(UInt32(3), to: &out)
        GGUFWriter.append(UInt64(tensors.count), to: &out)
        GGUFWriter.append(UInt64(metadata.count), to: &out)
        for (key, value) in metadata {
            GGUFWriter.append(string: key, to: &out)
            GGUFWriter.append(value.type.rawValue, to: &out)
            GGUFWriter.append(value, to: &out)
        }
        let align = alignment
        var offset = 0
        for t in tensors {
            GGUFWriter.append(string: t.name, to: &out)
            GGUFWriter.append(UInt32(t.dimensions.count), to: &out)
            for d in t.dimensions { GGUFWriter.append(UInt64(d), to: &out) }
            GGUFWriter.append(t.type.rawValue, to: &out)
            GGUFWriter.append(UInt64(offset), to: &out)
            offset += GGUFWriter.pad(t.byteCount, align)
        }
        out += [UInt8](repeating: 0, count: GGUFWriter.pad(out.count, align) - out.count)
        return out
    }

    private func withBytes<R>(_ t: Tensor, _ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        if let b = t.bytes { return try b.withUnsafeBytes(body) }
        return try withExtendedLifetime(t.keepAlive) { try body(t.borrowed ?? UnsafeRawBufferPointer(start: nil, count: 0)) }
    }

    /// The whole file in memory.
    public func serialize() -> [UInt8] {
        var out = header()
        let align = alignment
        for t in tensors {
            withBytes(t) { out.append(contentsOf: $0) }
            out += [UInt8](repeating: 0, count: GGUFWriter.pad(t.byteCount, align) - t.byteCount)
        }
        return out
    }

    /// Writes the file atomically (temporary file + rename), streaming the tensors.
    public func write(to path: String) throws {
        let align = alignment
        let zeros = [UInt8](repeating: 0, count: align)
        try AtomicFile.write(to: path) { write in
            try header().withUnsafeBytes { try write($0) }
            for t in tensors {
                try withBytes(t) { try write($0) }
                let padding = GGUFWriter.pad(t.byteCount, align) - t.byteCount
                try zeros.withUnsafeBytes { try write(UnsafeRawBufferPointer(rebasing: $0[0..<padding])) }
            }
        }
    }
}
