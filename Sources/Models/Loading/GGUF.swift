import Foundation
import Quantization
import Tensors

/// A GGUF file (version 2 or 3): metadata and the tensor table over a memory map.
final class GGUFFile {
    enum Value {
        case int(Int), float(Double), bool(Bool), string(String), array([Value])
        var int: Int? { if case .int(let v) = self { return v }; if case .float(let f) = self, f == f.rounded() { return Int(f) }; return nil }
        var float: Double? { if case .float(let v) = self { return v }; if case .int(let i) = self { return Double(i) }; return nil }
        var string: String? { if case .string(let s) = self { return s }; return nil }
        var array: [Value]? { if case .array(let a) = self { return a }; return nil }
    }
    struct TensorInfo { let name: String; let dims: [Int]; let type: GGMLType; let offset: Int; let byteCount: Int }

    let file: MappedFile
    let metadata: [String: Value]
    let tensors: [String: TensorInfo]
    var path: String { file.path }

    init(path: String) throws {
        let mapped = try MappedFile(path: path)
        var r = ByteReader(mapped)
        let magic = try r.read(UInt32.self, "magic")
        guard magic == 0x4655_4747 else { throw ModelError.invalidFile(file: path, "not a GGUF file (magic bytes are not 'GGUF')") }
        let version = try r.read(UInt32.self, "version")
        guard version == 2 || version == 3 else { throw ModelError.invalidFile(file: path, "GGUF version \(version) is not supported (2 or 3)") }
        let tensorCount = try r.read(UInt64.self, "tensor count"), kvCount = try r.read(UInt64.self, "metadata count")
        // Each entry takes at least a few bytes: counts beyond the file size are corrupt, not big.
        guard tensorCount < UInt64(mapped.count / 8), kvCount < UInt64(mapped.count / 8) else {
            throw ModelError.invalidFile(file: path, "tensor count \(tensorCount) / metadata count \(kvCount) cannot fit in \(mapped.count) bytes")
        }
        func string(_ what: String) throws -> String {
            let n = try r.read(UInt64.self, what)
            guard n <= UInt64(mapped.count) else { throw ModelError.invalidFile(file: path, "\(what): string length \(n) exceeds the file") }
            return String(decoding: try r.readBytes(Int(n), what), as: UTF8.self)
        }
        func value(_ type: UInt32, _ key: String) throws -> Value {
            switch type {
            case 0: return .int(Int(try r.read(UInt8.self, key)))
            case 1: return .int(Int(try r.read(Int8.self, key)))
            case 2: return .int(Int(try r.read(UInt16.self, key)))
            case 3: return .int(Int(try r.read(Int16.self, key)))
            case 4: return .int(Int(try r.read(UInt32.self, key)))
            case 5: return .int(Int(try r.read(Int32.self, key)))
            case 6: return .float(Double(try r.readFloat(key)))
            case 7: return .bool(try r.read(UInt8.self, key) != 0)
            case 8: return .string(try string(key))
            case 9:
                let t = try r.read(UInt32.self, key), n = try r.read(UInt64.self, key)
                guard n <= UInt64(mapped.count) else { throw ModelError.invalidFile(file: path, "\(key): array length \(n) exceeds the file") }
                var items: [Value] = []
                items.reserveCapacity(Int(n))
                for _ in 0..<Int(n) { items.append(try value(t, key)) }
                return .array(items)
            case 10: return .int(Int(truncatingIfNeeded: try r.read(UInt64.self, key)))
            case 11: return .int(Int(try r.read(Int64.self, key)))
            case 12: return .float(try r.readDouble(key))
            default: throw ModelError.invalidFile(file: path, "metadata '\(key)': unknown value type \(type)")
            }
        }
        var meta: [String: Value] = [:]
        for _ in 0..<Int(kvCount) {
            let key = try string("metadata key")
            meta[key] = try value(try r.read(UInt32.self, key), key)
        }
        var infos: [TensorInfo] = []
        for _ in 0..<Int(tensorCount) {
            let name = try string("tensor name")
            let nd = try r.read(UInt32.self, name)
            guard nd >= 1 && nd <= 4 else { throw ModelError.invalidFile(file: path, "tensor '\(name)': \(nd) dimensions (1...4 expected)") }
            var dims: [Int] = []
            for _ in 0..<Int(nd) {
                let d = try r.read(UInt64.self, name)
                guard d <= UInt64(Int32.max) else { throw ModelError.invalidFile(file: path, "tensor '\(name)': dimension \(d) is too large") }
                dims.append(Int(d))
            }
            let raw = try r.read(UInt32.self, name)
            guard let type = GGMLType(rawValue: raw) else { throw ModelError.invalidFile(file: path, "tensor '\(name)': unknown GGML type \(raw)") }
            let off = try r.read(UInt64.self, name)
            guard let n = Tensor.count(dims), dims[0] % type.blockSize == 0, let bytes = type.byteCount(elements: n),
                  off <= UInt64(mapped.count) else {
                throw ModelError.invalidFile(file: path, "tensor '\(name)': dims \(dims) do not fit whole \(type) blocks")
            }
            infos.append(TensorInfo(name: name, dims: dims, type: type, offset: Int(off), byteCount: bytes))
        }
        let alignment = meta["general.alignment"]?.int ?? 32
        guard alignment > 0 && alignment <= 1 << 16 else { throw ModelError.invalidFile(file: path, "general.alignment \(alignment) is invalid") }
        let dataStart = (r.offset + alignment - 1) / alignment * alignment
        var table: [String: TensorInfo] = [:]
        for i in infos {
            guard dataStart + i.offset <= mapped.count - i.byteCount else {
                throw ModelError.invalidFile(file: path, "tensor '\(i.name)' (\(i.byteCount) bytes at \(i.offset)) runs past the end of the file; truncated download?")
            }
            table[i.name] = TensorInfo(name: i.name, dims: i.dims, type: i.type, offset: dataStart + i.offset, byteCount: i.byteCount)
        }
        file = mapped
        metadata = meta
        tensors = table
    }

    /// The tensor dequantised to float32, in torch's dimension order (GGUF lists dims innermost first).
    func floats(_ info: TensorInfo) throws -> [Float] {
        let src = UnsafeRawBufferPointer(start: file.base + info.offset, count: info.byteCount)
        do { return try GGMLDequantizer.dequantize(info.type, src) } catch {
            throw ModelError.invalidFile(file: path, "tensor '\(info.name)' of type \(info.type): \(error)")
        }
    }
}
