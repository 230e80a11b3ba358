import JSONCore
import Tensors

/// A safetensors file: 8-byte little-endian header length N, N bytes of JSON header, then the data section.
/// The header maps each tensor name to `{"dtype", "shape", "data_offsets": [begin, end]}` (offsets into the
/// data section) and may hold `"__metadata__"`, a string → string map.
///
/// Parsing validates everything a hostile file could get wrong (lengths, offsets, overlaps, shape × dtype
/// against the byte length) with the same rules as the reference Rust library: tensors must tile the data
/// section exactly, without gaps or overlaps. Tensor bytes are not touched until used.
public final class SafeTensorsFile: @unchecked Sendable {
    /// Largest header accepted, as in the reference library: bounds what a hostile length can make us read.
    public static let maxHeaderLength = 100_000_000
    /// Largest tensor rank accepted.
    public static let maxRank = 64

    public let storage: ModelBytes
    /// `__metadata__` (empty when absent).
    public let metadata: [String: String]
    /// Tensors in data-offset order (the order they are stored in).
    public let tensors: [SafeTensor]
    private let index: [String: Int]

    /// The file path (or display name).
    public var name: String { storage.name }
    /// Tensor names in storage order.
    public var names: [String] { tensors.map(\.name) }
    /// Size of the JSON header in bytes (padding included).
    public let headerLength: Int

    /// Maps and parses the file at `path`.
    public convenience init(path: String) throws {
        try self.init(storage: ModelBytes(mapping: path))
    }

    /// Parses an in-memory file; `name` stands for the file in errors.
    public convenience init(bytes: [UInt8], name: String) throws {
        try self.init(storage: ModelBytes(copying: bytes, name: name))
    }

    public init(storage: ModelBytes) throws {
        self.storage = storage
        let file = storage.name
        let buf = storage.buffer
        func fail(_ kind: ModelIOError.Kind, _ item: String? = nil, _ problem: String, _ fix: String) -> ModelIOError {
            ModelIOError(kind, file: file, item: item, problem, fix: fix)
        }
        let damaged = "the file is damaged or not a safetensors file: download or export it again"
        guard buf.count >= 8, let base = buf.baseAddress else {
            throw fail(.truncated, nil, "file is \(buf.count) bytes, shorter than the 8-byte header length", damaged)
        }
        let n64 = UInt64(littleEndian: base.loadUnaligned(as: UInt64.self))
        guard n64 <= UInt64(SafeTensorsFile.maxHeaderLength) else {
            throw fail(.malformed, nil, "header length \(n64) exceeds the \(SafeTensorsFile.maxHeaderLength)-byte limit", damaged)
        }
        let n = Int(n64)
        guard 8 + n <= buf.count else {
            throw fail(.truncated, nil, "header length \(n) runs past the end of the \(buf.count)-byte file", damaged)
        }
        headerLength = n
        let headerBytes = UnsafeRawBufferPointer(start: base + 8, count: n)
        guard n >= 2, headerBytes[0] == UInt8(ascii: "{") else {
            throw fail(.malformed, nil, "header does not start with '{'", damaged)
        }
        guard String(validating: headerBytes, as: UTF8.self) != nil else {
            throw fail(.malformed, nil, "header is not valid UTF-8", damaged)
        }
        let json: JSONValue
        do { json = try JSONParser.parse(headerBytes, options: .safetensors) } catch {
            throw fail(.malformed, nil, "header is invalid JSON: \(error)", damaged)
        }
        guard case let .object(members) = json else { throw fail(.malformed, nil, "header is not a JSON object", damaged) }

        let dataStart = 8 + n
        let dataLength = buf.count - dataStart
        var metadata: [String: String] = [:]
        var infos: [(name: String, dtype: DType, shape: [Int], begin: Int, end: Int)] = []
        infos.reserveCapacity(members.count)
        // A repeated key is a parse error (JSONParseOptions.safetensors rejects it: "... appears twice").
        for (key, value) in members {
            if key == "__metadata__" {
                guard case let .object(entries) = value else {
                    throw fail(.malformed, key, "must be an object of strings, found \(value.typeName)", damaged)
                }
                for (k, v) in entries {
                    guard case let .string(s) = v else {
                        throw fail(.malformed, "__metadata__.\(k)", "metadata values must be strings, found \(v.typeName)", damaged)
                    }
                    metadata[k] = s
                }
                continue
            }
            guard case let .object(fields) = value else {
                throw fail(.invalidTensor, key, "tensor entry must be an object, found \(value.typeName)", damaged)
            }
            var dtypeName: String?, shapeValue: JSONValue?, offsetsValue: JSONValue?
            for (f, v) in fields {
                switch f {
                case "dtype": if case let .string(s) = v { dtypeName = s } else {
                    throw fail(.invalidTensor, key, "\"dtype\" must be a string, found \(v.typeName)", damaged) }
                case "shape": shapeValue = v
                case "data_offsets": offsetsValue = v
                default: break
                }
            }
            guard let dtypeName else { throw fail(.invalidTensor, key, "missing \"dtype\"", damaged) }
            guard let dtype = DType(safetensorsName: dtypeName) else {
                throw fail(.unsupported, key, "dtype \(dtypeName) is not supported (supported: F32, F16, BF16, I8, U8, I32, I64, BOOL)",
                           "convert the tensor to a supported dtype before loading (e.g. tensor.float() in PyTorch)")
            }
            guard case let .array(dims)? = shapeValue else { throw fail(.invalidTensor, key, "missing or non-array \"shape\"", damaged) }
            guard dims.count <= SafeTensorsFile.maxRank else {
                throw fail(.invalidTensor, key, "rank \(dims.count) exceeds the limit of \(SafeTensorsFile.maxRank)", damaged)
            }
            var shape: [Int] = []
            shape.reserveCapacity(dims.count)
            var elements = 1
            var overflow = false
            for d in dims {
                guard let v = d.nonNegativeInt else { throw fail(.invalidTensor, key, "shape entries must be non-negative integers", damaged) }
                shape.append(v)
                let (m, o) = elements.multipliedReportingOverflow(by: v)
                elements = m
                overflow = overflow || o
            }
            let (bytes, o2) = elements.multipliedReportingOverflow(by: dtype.byteSize)
            guard !overflow, !o2 else { throw fail(.invalidTensor, key, "shape \(shape) overflows the address space", damaged) }
            guard case let .array(offs)? = offsetsValue, offs.count == 2, let begin = offs[0].nonNegativeInt, let end = offs[1].nonNegativeInt else {
                throw fail(.invalidTensor, key, "\"data_offsets\" must be [begin, end] with non-negative integers", damaged)
            }
            guard begin <= end else { throw fail(.invalidTensor, key, "data_offsets [\(begin), \(end)] end before they begin", damaged) }
            guard end <= dataLength else {
                throw fail(.truncated, key, "data_offsets [\(begin), \(end)] run past the \(dataLength)-byte data section", damaged)
            }
            guard end - begin == bytes else {
                throw fail(.invalidTensor, key, "shape \(shape) × \(dtypeName) is \(bytes) bytes but data_offsets [\(begin), \(end)] span \(end - begin)", damaged)
            }
            infos.append((key, dtype, shape, begin, end))
        }
        // Tensors must tile the data section: sorted by offset, each starts where the previous ended.
        infos.sort { ($0.begin, $0.end) < ($1.begin, $1.end) }
        var cursor = 0
        for info in infos {
            guard info.begin == cursor else {
                let what = info.begin < cursor ? "overlaps the previous tensor" : "leaves a gap after the previous tensor"
                throw fail(.invalidTensor, info.name, "data_offsets [\(info.begin), \(info.end)] \(what) (expected to start at \(cursor))", damaged)
            }
            cursor = info.end
        }
        guard cursor == dataLength else {
            throw fail(.malformed, nil, "tensors cover \(cursor) bytes but the data section holds \(dataLength)", damaged)
        }
        self.metadata = metadata
        var index: [String: Int] = [:]
        index.reserveCapacity(infos.count)
        tensors = infos.enumerated().map { k, info in
            index[info.name] = k
            return SafeTensor(name: info.name, dtype: info.dtype, shape: info.shape, dataOffsets: info.begin..<info.end,
                              bytes: storage.slice((dataStart + info.begin)..<(dataStart + info.end)), storage: storage)
        }
        self.index = index
    }

    /// The tensor called `name`, or nil.
    public func tensor(named name: String) -> SafeTensor? { index[name].map { tensors[$0] } }

    /// The tensor called `name`; throws a `missing` error naming the file.
    public func require(_ name: String) throws -> SafeTensor {
        guard let t = tensor(named: name) else {
            throw ModelIOError(.missing, file: self.name, item: name, "no such tensor (the file has \(tensors.count))",
                               fix: "check the tensor name against `swifttune inspect`")
        }
        return t
    }
}

extension JSONParseOptions {
    /// Headers and index files written by safetensors (serde_json) and transformers: strict RFC 8259,
    /// a repeated key is an error, nesting capped at 64 (real headers nest 3 deep).
    static let safetensors: JSONParseOptions = {
        var o = JSONParseOptions.strict
        o.maxDepth = 64
        return o
    }()
}

extension JSONValue {
    /// The value as a non-negative integer that fits in Int (shapes and offsets), nil for anything else.
    var nonNegativeInt: Int? {
        if case let .int(v) = self, v >= 0 { return v }
        return nil
    }
}
