import Quantization
import Tensors

/// Element conversions from the raw bytes of a tensor to Float. Loads are unaligned-safe, and the
/// byte order is little-endian as in safetensors and GGUF files.
public enum DTypeConversion {
    /// Converts `count` elements of `dtype` at `source` to Float into `destination`
    /// (integers by value, bool as 0/1, f16/bf16 exactly). Parallel over large buffers.
    public static func toFloat(_ dtype: DType, source: UnsafeRawBufferPointer, into destination: UnsafeMutableBufferPointer<Float>) {
        let count = min(source.count / dtype.byteSize, destination.count)
        guard count > 0, let src = source.baseAddress, let dst = destination.baseAddress else { return }
        Parallel.forRanges(count, grain: 1 << 16) { r in
            convert(dtype, src, dst, r)
        }
    }

    private static func convert(_ dtype: DType, _ src: UnsafeRawPointer, _ dst: UnsafeMutablePointer<Float>, _ r: Range<Int>) {
        switch dtype {
        case .float32:
            UnsafeMutableRawPointer(dst + r.lowerBound).copyMemory(from: src + 4 * r.lowerBound, byteCount: 4 * r.count)
        case .float16:
            let table = Half.table
            for i in r { dst[i] = table[Int(src.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))] }
        case .bfloat16:
            for i in r { dst[i] = Float(bitPattern: UInt32(src.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)) << 16) }
        case .int8:
            for i in r { dst[i] = Float(src.load(fromByteOffset: i, as: Int8.self)) }
        case .uint8:
            for i in r { dst[i] = Float(src.load(fromByteOffset: i, as: UInt8.self)) }
        case .bool:
            for i in r { dst[i] = src.load(fromByteOffset: i, as: UInt8.self) != 0 ? 1 : 0 }
        case .int32:
            for i in r { dst[i] = Float(src.loadUnaligned(fromByteOffset: 4 * i, as: Int32.self)) }
        case .int64:
            for i in r { dst[i] = Float(src.loadUnaligned(fromByteOffset: 8 * i, as: Int64.self)) }
        }
    }
}

/// Swift element types that can view a tensor's bytes without copying, and the dtypes whose bytes they match.
public protocol TensorElement {
    static var matchingDTypes: [DType] { get }
}
extension Float: TensorElement { public static var matchingDTypes: [DType] { [.float32] } }
#if !(os(macOS) && arch(x86_64))
extension Float16: TensorElement { public static var matchingDTypes: [DType] { [.float16] } }
#endif
extension BFloat16: TensorElement { public static var matchingDTypes: [DType] { [.bfloat16] } }
/// Raw 16-bit patterns of f16 or bf16 data.
extension UInt16: TensorElement { public static var matchingDTypes: [DType] { [.float16, .bfloat16] } }
extension Int8: TensorElement { public static var matchingDTypes: [DType] { [.int8] } }
/// Bytes of u8 or bool data (bool is exposed as UInt8: a Swift Bool must hold exactly 0 or 1, file bytes need not).
extension UInt8: TensorElement { public static var matchingDTypes: [DType] { [.uint8, .bool] } }
extension Int32: TensorElement { public static var matchingDTypes: [DType] { [.int32] } }
extension Int64: TensorElement { public static var matchingDTypes: [DType] { [.int64] } }
