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

    /// Float → float16 bits, round-to-nearest-even (as numpy's `astype(np.float16)`).
    @inlinable
    public static func fromFloat(_ value: Float) -> UInt16 {
        Float16(value).bitPattern
    }
}
