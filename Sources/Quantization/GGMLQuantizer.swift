import Foundation
import Tensors

/// Float → GGML blocks for Q8_0 and Q4_1, bit for bit as `gguf.quants.quantize` (gguf-py) produces them.
/// Inputs are expected to be finite (NaN has no defined quantised value in the reference either).
public enum GGMLQuantizer {
    /// Quantises `source` (a whole number of 32-value blocks) to `type` (`.q8_0` or `.q4_1`), writing
    /// `source.count / 32 * typeSize` bytes into `destination`. Runs in parallel over blocks.
    public static func quantize(_ type: GGMLType, from source: UnsafeBufferPointer<Float>,
                                into destination: UnsafeMutableRawBufferPointer) throws {
        guard type == .q8_0 || type == .q4_1 else { throw QuantizationError.unsupportedType(type, operation: "quantisation") }
        guard source.count % 32 == 0 else { throw QuantizationError.partialBlockElements(type: type, elementCount: source.count) }
        let blocks = source.count / 32
        let needed = blocks * type.typeSize
        guard destination.count >= needed else { throw QuantizationError.destinationTooSmall(needed: needed, available: destination.count) }
        guard blocks > 0, let src = source.baseAddress, let dst = destination.baseAddress else { return }
        Parallel.forRanges(blocks, grain: 512) { range in
            for b in range {
                if type == .q8_0 { q8_0(src + b * 32, dst + b * 34) } else { q4_1(src + b * 32, dst + b * 20) }
            }
        }
    }

    /// Quantises `values` into a new byte array.
    public static func quantize(_ type: GGMLType, _ values: [Float]) throws -> [UInt8] {
        guard type == .q8_0 || type == .q4_1 else { throw QuantizationError.unsupportedType(type, operation: "quantisation") }
        guard values.count % 32 == 0 else { throw QuantizationError.partialBlockElements(type: type, elementCount: values.count) }
        var out = [UInt8](repeating: 0, count: values.count / 32 * type.typeSize)
        try values.withUnsafeBufferPointer { src in
            try out.withUnsafeMutableBytes { dst in try quantize(type, from: src, into: dst) }
        }
        return out
    }

    /// Round half away from zero, computed as gguf-py's `np_roundf` does: floor(a) + floor(2·(a − floor(a))).
    @inline(__always) static func roundf(_ n: Float) -> Float {
        let a = abs(n)
        let floored = a.rounded(.down)
        let b = floored + (2 * (a - floored)).rounded(.down)
        return n > 0 ? b : (n < 0 ? -b : 0)
    }

    // d = max|x| / 127; q = roundf(x * (1/d))
    static func q8_0(_ x: UnsafePointer<Float>, _ out: UnsafeMutableRawPointer) {
        var amax: Float = 0
        for j in 0..<32 { amax = max(amax, abs(x[j])) }
        let d = amax / 127
        let id: Float = d == 0 ? 0 : 1 / d
        out.storeBytes(of: Half.fromFloat(d).littleEndian, toByteOffset: 0, as: UInt16.self)
        let qs = (out + 2).assumingMemoryBound(to: Int8.self)
        for j in 0..<32 { qs[j] = Int8(clamping: Int32(roundf(x[j] * id))) }
    }

    // d = (max - min) / 15; q = clip(trunc((x - min) * (1/d) + 0.5), 0, 15); stores d, min as f16
    static func q4_1(_ x: UnsafePointer<Float>, _ out: UnsafeMutableRawPointer) {
        var lo = x[0], hi = x[0]
        for j in 1..<32 { lo = min(lo, x[j]); hi = max(hi, x[j]) }
        let d = (hi - lo) / 15
        let id: Float = d == 0 ? 0 : 1 / d
        out.storeBytes(of: Half.fromFloat(d).littleEndian, toByteOffset: 0, as: UInt16.self)
        out.storeBytes(of: Half.fromFloat(lo).littleEndian, toByteOffset: 2, as: UInt16.self)
        let qs = (out + 4).assumingMemoryBound(to: UInt8.self)
        @inline(__always) func q(_ v: Float) -> UInt8 {
            let t = ((v - lo) * id + 0.5).rounded(.towardZero)
            return UInt8(max(0, min(15, t)))
        }
        for j in 0..<16 { qs[j] = q(x[j]) | q(x[j + 16]) << 4 }
    }
}
