/// IEEE half-precision → single-precision conversion through a 64 K-entry table: exact for every
/// half (subnormals included), and cheaper than a branchy bit conversion in the dequantisation loops.
public enum Half {
    /// `table[h]` is the float32 value of the float16 bit pattern `h`.
    public static let table: UnsafeMutablePointer<Float> = {
        let t = UnsafeMutablePointer<Float>.allocate(capacity: 65536)
        for h in 0..<65536 { t[h] = convert(UInt16(h)) }
        return t
    }()

    /// Converts one float16 bit pattern to Float (table lookup).
    @inlinable @inline(__always)
    public static func toFloat(_ bits: UInt16) -> Float { table[Int(bits)] }

    /// Bit-level conversion used to build the table. NaN payloads are kept, as numpy's `astype(np.float32)` does.
    public static func convert(_ h: UInt16) -> Float {
        let sign = UInt32(h & 0x8000) << 16
        let exponent = UInt32((h >> 10) & 0x1F)
        let mantissa = UInt32(h & 0x3FF)
        if exponent == 0x1F { return Float(bitPattern: sign | 0x7F80_0000 | (mantissa << 13)) }
        if exponent == 0 {
            // Subnormal or zero: mantissa × 2⁻²⁴, exact in float32.
            let magnitude = Float(mantissa) * Float(bitPattern: 0x3380_0000)
            return sign != 0 ? -magnitude : magnitude
        }
        return Float(bitPattern: sign | ((exponent + 112) << 23) | (mantissa << 13))
    }

    /// Float → float16 bits, round-to-nearest-even (as numpy's `astype(np.float16)`). Written out rather
    /// than through `Float16`, which Swift lacks on Intel macOS.
    @inlinable
    public static func fromFloat(_ value: Float) -> UInt16 {
        let x = value.bitPattern
        let sign = UInt16(truncatingIfNeeded: (x >> 16) & 0x8000)
        let magnitude = x & 0x7FFF_FFFF
        if magnitude >= 0x7F80_0000 {
            // Infinity stays infinity; NaN keeps its top payload bits and is made quiet.
            return magnitude == 0x7F80_0000 ? sign | 0x7C00 : sign | 0x7E00 | UInt16(truncatingIfNeeded: (magnitude >> 13) & 0x3FF)
        }
        if magnitude >= 0x477F_F000 { return sign | 0x7C00 }  // ≥ 65520 rounds to infinity
        if magnitude < 0x3880_0000 {
            // Below 2⁻¹⁴: a subnormal half, i.e. |x| · 2²⁴ rounded to an integer (the scaling is exact).
            let scaled = Float(bitPattern: magnitude) * 16_777_216
            return sign | UInt16(scaled.rounded(.toNearestOrEven))
        }
        let exponent = (magnitude >> 23) &- 112
        var half = (exponent << 10) | ((magnitude >> 13) & 0x3FF)
        let rest = magnitude & 0x1FFF
        if rest > 0x1000 || (rest == 0x1000 && half & 1 == 1) { half += 1 }  // a carry into the exponent is right
        return sign | UInt16(truncatingIfNeeded: half)
    }
}
