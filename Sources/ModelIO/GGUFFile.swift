import Quantization

/// One tensor of a GGUF file.
public struct GGUFTensorInfo: Sendable, Equatable {
    public let name: String
    /// GGML dimensions, innermost first (`ne[0]` is the row length).
    public let dimensions: [Int]
    public let type: GGMLType
    /// Offset from the start of the data section.
    public let offset: Int
    public let byteCount: Int

    /// Row-major shape as numpy / PyTorch see it (the dimensions reversed).
    public var shape: [Int] { dimensions.reversed() }
    public var elementCount: Int { dimensions.reduce(1, *) }
    /// Values per row (`ne[0]`).
    public var rowLength: Int { dimensions.first ?? 1 }
    public var rowCount: Int { rowLength == 0 ? 0 : elementCount / rowLength }
}

/// A GGUF file (versions 2 and 3, little-endian): header, typed metadata, tensor infos and a data section,
/// memory-mapped. Tensor bytes are zero-copy views into the mapping.
///
/// Layout: magic "GGUF", u32 version, u64 tensor count, u64 metadata count; metadata as (string key,
/// u32 type, value); tensor infos as (string name, u32 n_dims, u64 dims[n_dims], u32 ggml type, u64 offset);
/// padding to `general.alignment` (default 32); the data section. Strings are u64 length + UTF-8 bytes.
///
/// Every count, length and offset is checked against the bytes actually present before anything is
/// allocated, so a hostile file costs at most memory proportional to its size.
public final class GGUFFile: @unchecked Sendable {
    public static let defaultAlignment = 32
    /// GGML_MAX_DIMS.
    public static let maxDimensions = 4
    /// Arrays nested deeper than this are rejected.
    public static let maxArrayDepth = 8

    public let storage: ModelBytes
    public let version: UInt32
    /// Metadata in file order.
    public let metadata: [(key: String, value: GGUFValue)]
    public let tensors: [GGUFTensorInfo]
    /// Data alignment (`general.alignment`, default 32).
    public let alignment: Int
    /// Absolute file offset of the data section.
    public let dataOffset: Int
    private let keyIndex: [String: Int]
    private let tensorIndex: [String: Int]

    public var name: String { storage.name }

    public convenience init(path: String) throws {
        try self.init(storage: ModelBytes(mapping: path))
    }

    /// Parses an in-memory file; `name` stands for the file in errors.
    public convenience init(bytes: [UInt8], name: String) throws {
        try self.init(storage: ModelBytes(copying: bytes, name: name))
    }

    public init(storage: ModelBytes) throws {
        self.storage = storage
        var r = GGUFCursor(buffer: storage.buffer, file: storage.name)
        let magic = try r.bytes(4, what: "the magic number")
        guard Array(magic) == Array("GGUF".utf8) else {
            throw r.error(.malformed, nil, "does not start with the GGUF magic (found \(Array(magic).map { String(format2: $0) }.joined(separator: " ")))")
        }
        let version = try r.u32("the version")
        guard version == 2 || version == 3 else {
            if version.byteSwapped == 2 || version.byteSwapped == 3 {
                throw ModelIOError(.unsupported, file: storage.name, "big-endian GGUF (version \(version.byteSwapped)) is not supported",
                                   fix: "convert the model with llama.cpp's gguf tools for a little-endian machine")
            }
            throw ModelIOError(.unsupported, file: storage.name, "GGUF version \(version) is not supported (expected 2 or 3)",
                               fix: version == 1 ? "re-convert the model with a current llama.cpp" : "check that the file is a GGUF model")
        }
        self.version = version
        let tensorCount = try r.count("the tensor count", minimumItemSize: 24)
        let kvCount = try r.count("the metadata count", minimumItemSize: 13)

        var metadata: [(key: String, value: GGUFValue)] = []
        metadata.reserveCapacity(kvCount)
        var keyIndex: [String: Int] = [:]
        for k in 0..<kvCount {
            let key = try r.string("metadata key #\(k)")
            guard keyIndex[key] == nil else { throw r.error(.malformed, key, "metadata key appears twice") }
            let rawType = try r.u32("the type of '\(key)'")
            guard let type = GGUFValueType(rawValue: rawType) else {
                throw r.error(.malformed, key, "unknown metadata value type \(rawType) (expected 0...12)")
            }
            let value = try r.value(type, key: key, depth: 0)
            keyIndex[key] = metadata.count
            metadata.append((key, value))
        }

        var alignment = GGUFFile.defaultAlignment
        if let i = keyIndex["general.alignment"] {
            guard case let .uint32(a) = metadata[i].value, a > 0, a & (a - 1) == 0 else {
                throw r.error(.malformed, "general.alignment", "must be a power-of-two uint32, found \(metadata[i].value.summary) (\(metadata[i].value.type))")
            }
            alignment = Int(a)
        }

        var infos: [(name: String, dims: [Int], type: GGMLType, offset: Int)] = []
        infos.reserveCapacity(tensorCount)
        var tensorIndex: [String: Int] = [:]
        for k in 0..<tensorCount {
            let name = try r.string("the name of tensor #\(k)")
            guard tensorIndex[name] == nil else { throw r.error(.malformed, name, "tensor name appears twice") }
            let nDims = Int(try r.u32("the dimension count of '\(name)'"))
            guard nDims <= GGUFFile.maxDimensions else {
                throw r.error(.invalidTensor, name, "has \(nDims) dimensions, more than GGML's \(GGUFFile.maxDimensions)")
            }
            var dims: [Int] = []
            for _ in 0..<nDims {
                let d = try r.u64("a dimension of '\(name)'")
                guard d <= UInt64(Int.max) else { throw r.error(.invalidTensor, name, "dimension \(d) is out of range") }
                dims.append(Int(d))
            }
            let rawType = try r.u32("the type of '\(name)'")
            guard let type = GGMLType(rawValue: rawType) else {
                throw ModelIOError(.unsupported, file: storage.name, item: name, "unknown GGML tensor type \(rawType)",
                                   fix: "the file needs a newer reader; re-quantise to a common type (Q4_K, Q8_0, F16)")
            }
            let offset = try r.u64("the offset of '\(name)'")
            guard offset <= UInt64(Int.max) else { throw r.error(.invalidTensor, name, "offset \(offset) is out of range") }
            tensorIndex[name] = infos.count
            infos.append((name, dims, type, Int(offset)))
        }

        // The data section starts at the next multiple of the alignment.
        let (padded, overflow) = r.position.addingReportingOverflow(alignment - 1)
        guard !overflow else { throw r.error(.malformed, nil, "header too large") }
        let dataOffset = padded / alignment * alignment
        let dataLength = max(0, storage.count - dataOffset)
        if tensorCount > 0, dataOffset > storage.count {
            throw r.error(.truncated, nil, "the data section would start at byte \(dataOffset), past the end of the \(storage.count)-byte file")
        }

        var tensors: [GGUFTensorInfo] = []
        tensors.reserveCapacity(infos.count)
        for info in infos {
            var elements = 1
            for d in info.dims {
                let (m, o) = elements.multipliedReportingOverflow(by: d)
                guard !o else { throw r.error(.invalidTensor, info.name, "dimensions \(info.dims) overflow") }
                elements = m
            }
            let rowLength = info.dims.first ?? 1
            guard rowLength % info.type.blockSize == 0 else {
                throw r.error(.invalidTensor, info.name, "row length \(rowLength) is not a multiple of the \(info.type.name) block size \(info.type.blockSize)")
            }
            guard let bytes = info.type.byteCount(elements: elements) else {
                throw r.error(.invalidTensor, info.name, "dimensions \(info.dims) of \(info.type.name) do not form whole blocks or overflow")
            }
            guard info.offset % alignment == 0 else {
                throw r.error(.invalidTensor, info.name, "offset \(info.offset) is not a multiple of the alignment \(alignment)")
            }
            guard info.offset <= dataLength, bytes <= dataLength - info.offset else {
                throw r.error(.truncated, info.name, "data [\(info.offset), \(info.offset) + \(bytes)) runs past the \(dataLength)-byte data section")
            }
            tensors.append(GGUFTensorInfo(name: info.name, dimensions: info.dims, type: info.type, offset: info.offset, byteCount: bytes))
        }
        // No two tensors may share bytes.
        let byOffset = tensors.sorted { $0.offset < $1.offset }
        for (a, b) in zip(byOffset, byOffset.dropFirst()) where a.offset + a.byteCount > b.offset && b.byteCount > 0 && a.byteCount > 0 {
            throw r.error(.invalidTensor, b.name, "data at offset \(b.offset) overlaps '\(a.name)' (\(a.offset) + \(a.byteCount))")
        }

        self.metadata = metadata
        self.keyIndex = keyIndex
        self.alignment = alignment
        self.dataOffset = dataOffset
        self.tensors = tensors
        self.tensorIndex = tensorIndex
    }

    // MARK: tensors

    public func tensor(named name: String) -> GGUFTensorInfo? { tensorIndex[name].map { tensors[$0] } }

    public func require(_ name: String) throws -> GGUFTensorInfo {
        guard let t = tensor(named: name) else {
            throw ModelIOError(.missing, file: self.name, item: name, "no such tensor (the file has \(tensors.count))",
                               fix: "check the tensor name against `swifttune inspect`")
        }
        return t
    }

    /// The tensor's stored bytes: a zero-copy view, valid while this file object is alive.
    public func bytes(of tensor: GGUFTensorInfo) -> UnsafeRawBufferPointer {
        storage.slice((dataOffset + tensor.offset)..<(dataOffset + tensor.offset + tensor.byteCount))
    }

    /// Drops the tensor's mapped pages from resident memory once its bytes were copied out (see
    /// `ModelBytes.releasePages`); it stays readable.
    public func releasePages(of tensor: GGUFTensorInfo) {
        storage.releasePages((dataOffset + tensor.offset)..<(dataOffset + tensor.offset + tensor.byteCount))
    }

    /// A zero-copy typed view of an F32 (as `Float`), F16/BF16 (as `UInt16` bit patterns), I8, I16, I32 or I64
    /// tensor. Throws when `T` does not match the stored type, e.g. for quantised tensors (use `dequantize`).
    public func view<T: FixedWidthInteger>(_ name: String, as: T.Type) throws -> UnsafeBufferPointer<T> {
        let t = try require(name)
        let matches: Bool
        switch t.type {
        case .f16, .bf16, .i16: matches = T.self == UInt16.self || (t.type == .i16 && T.self == Int16.self)
        case .i8: matches = T.self == Int8.self || T.self == UInt8.self
        case .i32: matches = T.self == Int32.self
        case .i64: matches = T.self == Int64.self
        default: matches = false
        }
        guard matches else { throw viewMismatch(t, "\(T.self)") }
        return try typed(t)
    }

    /// A zero-copy view of an F32 tensor.
    public func floatView(_ name: String) throws -> UnsafeBufferPointer<Float> {
        let t = try require(name)
        guard t.type == .f32 else { throw viewMismatch(t, "Float") }
        return try typed(t)
    }

    private func viewMismatch(_ t: GGUFTensorInfo, _ wanted: String) -> ModelIOError {
        ModelIOError(.typeMismatch, file: name, item: t.name, "tensor is \(t.type.name), not viewable as \(wanted)",
                     fix: t.type.isQuantized ? "dequantize it to floats" : "view it with the element type matching \(t.type.name)")
    }

    private func typed<T>(_ t: GGUFTensorInfo) throws -> UnsafeBufferPointer<T> {
        let raw = bytes(of: t)
        guard let base = raw.baseAddress else { return UnsafeBufferPointer(start: nil, count: 0) }
        guard Int(bitPattern: base) % MemoryLayout<T>.alignment == 0 else {
            throw ModelIOError(.unsupported, file: name, item: t.name, "data is not aligned for a zero-copy view",
                               fix: "copy the bytes instead (the file's alignment is \(alignment))")
        }
        return UnsafeBufferPointer(start: base.assumingMemoryBound(to: T.self), count: raw.count / MemoryLayout<T>.stride)
    }

    /// The tensor dequantised to floats (row-major, `shape`), bit-exact with gguf-py.
    public func dequantize(_ name: String) throws -> [Float] {
        let t = try require(name)
        do { return try GGMLDequantizer.dequantize(t.type, bytes(of: t)) } catch let e as QuantizationError {
            throw ModelIOError(.unsupported, file: self.name, item: name, "\(e)", fix: "")
        }
    }

    /// Dequantises rows `rows` of a tensor (each `rowLength` values) into `destination`.
    public func dequantizeRows(_ name: String, rows: Range<Int>, into destination: UnsafeMutableBufferPointer<Float>) throws {
        let t = try require(name)
        do {
            try GGMLDequantizer.dequantizeRows(t.type, from: bytes(of: t), rowLength: t.rowLength, rows: rows, into: destination)
        } catch let e as QuantizationError {
            throw ModelIOError(.invalidTensor, file: self.name, item: name, "\(e)", fix: "")
        }
    }

    // MARK: metadata

    /// All metadata keys, in file order.
    public var keys: [String] { metadata.map(\.key) }

    public func value(_ key: String) -> GGUFValue? { keyIndex[key].map { metadata[$0].value } }

    public func contains(_ key: String) -> Bool { keyIndex[key] != nil }

    private func mismatch(_ key: String, _ expected: String, _ found: GGUFValue) -> ModelIOError {
        ModelIOError(.typeMismatch, file: name, item: key, "expected \(expected), found \(found.type) \(found.summary)",
                     fix: "the file does not follow the GGUF conventions for this key: re-convert the model")
    }

    private func required(_ key: String) throws -> GGUFValue {
        guard let v = value(key) else {
            throw ModelIOError(.missing, file: name, item: key, "metadata key is missing", fix: "re-convert the model with a current llama.cpp")
        }
        return v
    }

    public func string(_ key: String) throws -> String {
        let v = try required(key)
        guard case let .string(s) = v else { throw mismatch(key, "a string", v) }
        return s
    }

    /// An integer value of any width that fits in UInt32.
    public func uint32(_ key: String) throws -> UInt32 {
        let v = try required(key)
        guard let i = v.intValue, let u = UInt32(exactly: i) else { throw mismatch(key, "an integer in UInt32 range", v) }
        return u
    }

    /// An integer value of any width.
    public func int(_ key: String) throws -> Int {
        let v = try required(key)
        guard let i = v.intValue else { throw mismatch(key, "an integer", v) }
        return i
    }

    /// A float (or integer) value.
    public func float(_ key: String) throws -> Float {
        let v = try required(key)
        guard let d = v.doubleValue else { throw mismatch(key, "a number", v) }
        return Float(d)
    }

    public func bool(_ key: String) throws -> Bool {
        let v = try required(key)
        guard case let .bool(b) = v else { throw mismatch(key, "a bool", v) }
        return b
    }

    public func array(_ key: String) throws -> GGUFArray {
        let v = try required(key)
        guard case let .array(a) = v else { throw mismatch(key, "an array", v) }
        return a
    }

    /// An array of strings (e.g. `tokenizer.ggml.tokens`, `tokenizer.ggml.merges`).
    public func strings(_ key: String) throws -> [String] {
        let a = try array(key)
        guard case let .string(s) = a else { throw mismatch(key, "an array of strings", .array(a)) }
        return s
    }

    /// An array of numbers as floats (e.g. `tokenizer.ggml.scores`).
    public func floats(_ key: String) throws -> [Float] {
        let a = try array(key)
        guard let f = a.floats else { throw mismatch(key, "an array of numbers", .array(a)) }
        return f
    }

    /// An array of integers (e.g. `tokenizer.ggml.token_type`).
    public func ints(_ key: String) throws -> [Int] {
        let a = try array(key)
        guard let i = a.ints else { throw mismatch(key, "an array of integers", .array(a)) }
        return i
    }
}

extension String {
    init(format2 byte: UInt8) {
        let hex = Array("0123456789abcdef")
        self = String([hex[Int(byte >> 4)], hex[Int(byte & 0xF)]])
    }
}

/// Bounds-checked little-endian reads over the file bytes.
struct GGUFCursor {
    let buffer: UnsafeRawBufferPointer
    let file: String
    var position = 0

    var remaining: Int { buffer.count - position }

    func error(_ kind: ModelIOError.Kind, _ item: String?, _ problem: String) -> ModelIOError {
        ModelIOError(kind, file: file, item: item, problem, fix: "the file is damaged or not a GGUF model: download or convert it again")
    }

    mutating func need(_ n: Int, _ what: @autoclosure () -> String) throws {
        guard n >= 0, n <= remaining else {
            throw error(.truncated, nil, "file ends at byte \(buffer.count) while reading \(what()) (\(n) bytes at offset \(position))")
        }
    }

    mutating func bytes(_ n: Int, what: @autoclosure () -> String) throws -> UnsafeRawBufferPointer {
        try need(n, what())
        defer { position += n }
        return UnsafeRawBufferPointer(rebasing: buffer[position..<(position + n)])
    }

    mutating func load<T: FixedWidthInteger>(_: T.Type, _ what: @autoclosure () -> String) throws -> T {
        try need(MemoryLayout<T>.size, what())
        defer { position += MemoryLayout<T>.size }
        return T(littleEndian: buffer.baseAddress!.loadUnaligned(fromByteOffset: position, as: T.self))
    }

    mutating func u32(_ what: @autoclosure () -> String) throws -> UInt32 { try load(UInt32.self, what()) }
    mutating func u64(_ what: @autoclosure () -> String) throws -> UInt64 { try load(UInt64.self, what()) }

    /// A u64 count of items that each take at least `minimumItemSize` bytes: rejects counts the rest of the
    /// file could not hold, which bounds every allocation made from it.
    mutating func count(_ what: String, minimumItemSize: Int, item: String? = nil) throws -> Int {
        let n = try u64(what)
        guard n <= UInt64(remaining / max(1, minimumItemSize)) else {
            throw error(.malformed, item, "\(what) \(n) is impossible: the \(remaining) bytes left hold at most \(remaining / max(1, minimumItemSize))")
        }
        return Int(n)
    }

    mutating func string(_ what: @autoclosure () -> String) throws -> String {
        let n = try u64("the length of \(what())")
        guard n <= UInt64(remaining) else {
            throw error(.truncated, nil, "\(what()) claims \(n) bytes but only \(remaining) remain")
        }
        let b = try bytes(Int(n), what: what())
        // Invalid UTF-8 is repaired (U+FFFD) rather than rejected: llama.cpp treats strings as bytes.
        return String(decoding: b, as: UTF8.self)
    }

    mutating func value(_ type: GGUFValueType, key: String, depth: Int) throws -> GGUFValue {
        switch type {
        case .uint8: return .uint8(try load(UInt8.self, "'\(key)'"))
        case .int8: return .int8(try load(Int8.self, "'\(key)'"))
        case .uint16: return .uint16(try load(UInt16.self, "'\(key)'"))
        case .int16: return .int16(try load(Int16.self, "'\(key)'"))
        case .uint32: return .uint32(try load(UInt32.self, "'\(key)'"))
        case .int32: return .int32(try load(Int32.self, "'\(key)'"))
        case .uint64: return .uint64(try load(UInt64.self, "'\(key)'"))
        case .int64: return .int64(try load(Int64.self, "'\(key)'"))
        case .float32: return .float32(Float(bitPattern: try load(UInt32.self, "'\(key)'")))
        case .float64: return .float64(Double(bitPattern: try load(UInt64.self, "'\(key)'")))
        case .bool: return .bool(try load(UInt8.self, "'\(key)'") != 0)
        case .string: return .string(try string("'\(key)'"))
        case .array: return .array(try array(key: key, depth: depth))
        }
    }

    mutating func array(key: String, depth: Int) throws -> GGUFArray {
        guard depth < GGUFFile.maxArrayDepth else {
            throw error(.malformed, key, "arrays nested deeper than \(GGUFFile.maxArrayDepth) levels")
        }
        let rawType = try u32("the element type of '\(key)'")
        guard let type = GGUFValueType(rawValue: rawType) else {
            throw error(.malformed, key, "unknown array element type \(rawType) (expected 0...12)")
        }
        let n = try count("the length of array '\(key)'", minimumItemSize: type.minimumSize, item: key)
        func fixed<T: FixedWidthInteger>(_: T.Type) throws -> [T] {
            let size = MemoryLayout<T>.size
            let raw = try bytes(n * size, what: "array '\(key)'")
            return (0..<n).map { T(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * size, as: T.self)) }
        }
        switch type {
        case .uint8: return .uint8(try fixed(UInt8.self))
        case .int8: return .int8(try fixed(Int8.self))
        case .uint16: return .uint16(try fixed(UInt16.self))
        case .int16: return .int16(try fixed(Int16.self))
        case .uint32: return .uint32(try fixed(UInt32.self))
        case .int32: return .int32(try fixed(Int32.self))
        case .uint64: return .uint64(try fixed(UInt64.self))
        case .int64: return .int64(try fixed(Int64.self))
        case .float32: return .float32(try fixed(UInt32.self).map(Float.init(bitPattern:)))
        case .float64: return .float64(try fixed(UInt64.self).map(Double.init(bitPattern:)))
        case .bool: return .bool(try fixed(UInt8.self).map { $0 != 0 })
        case .string:
            var out: [String] = []
            out.reserveCapacity(n)
            for k in 0..<n { out.append(try string("element \(k) of '\(key)'")) }
            return .string(out)
        case .array:
            var out: [GGUFArray] = []
            out.reserveCapacity(n)
            for _ in 0..<n { out.append(try array(key: key, depth: depth + 1)) }
            return .array(out)
        }
    }
}
