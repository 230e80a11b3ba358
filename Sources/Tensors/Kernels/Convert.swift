extension Kernels {
    // Bit-level conversions, matching torch's tensor `.to(dtype)` on CPU: round-to-nearest-even, overflow to
    // ±inf, subnormals kept. NaN: float16 gets sign|0x7E00; bfloat16 gets 0xFFFF, which is what torch's
    // vectorised tensor conversion writes (the scalar `BFloat16(_:)` follows c10::BFloat16 and gives 0x7FC0).
    // Written on integer bits so they vectorise and do not depend on hardware half-float support.

    /// float16 → float32 (exact).
    public static func convert(_ src: UnsafePointer<Float16>, to dst: UnsafeMutablePointer<Float>, count: Int) {
        let s = UnsafeRawPointer(src).assumingMemoryBound(to: UInt16.self)
        let d = UnsafeMutableRawPointer(dst).assumingMemoryBound(to: UInt32.self)
        Parallel.forRanges(count, grain: 65536) { r in
            for i in r { d[i] = halfToFloatBits(s[i]) }
        }
    }

    /// float32 → float16 (round to nearest even).
    public static func convert(_ src: UnsafePointer<Float>, to dst: UnsafeMutablePointer<Float16>, count: Int) {
        let s = UnsafeRawPointer(src).assumingMemoryBound(to: UInt32.self)
        let d = UnsafeMutableRawPointer(dst).assumingMemoryBound(to: UInt16.self)
        Parallel.forRanges(count, grain: 65536) { r in
            for i in r { d[i] = floatBitsToHalf(s[i]) }
        }
    }

    /// bfloat16 → float32 (exact: the upper 16 bits).
    public static func convert(_ src: UnsafePointer<BFloat16>, to dst: UnsafeMutablePointer<Float>, count: Int) {
        let s = UnsafeRawPointer(src).assumingMemoryBound(to: UInt16.self)
        let d = UnsafeMutableRawPointer(dst).assumingMemoryBound(to: UInt32.self)
        Parallel.forRanges(count, grain: 65536) { r in
            for i in r { d[i] = UInt32(s[i]) << 16 }
        }
    }

    /// float32 → bfloat16 (round to nearest even; NaN → 0xFFFF as torch's tensor `.to(torch.bfloat16)`).
    public static func convert(_ src: UnsafePointer<Float>, to dst: UnsafeMutablePointer<BFloat16>, count: Int) {
        let s = UnsafeRawPointer(src).assumingMemoryBound(to: UInt32.self)
        let d = UnsafeMutableRawPointer(dst).assumingMemoryBound(to: UInt16.self)
        Parallel.forRanges(count, grain: 65536) { r in
            for i in r {
                let u = s[i]
                let rounded = UInt16(truncatingIfNeeded: (u &+ (((u >> 16) & 1) &+ 0x7FFF)) >> 16)
                d[i] = (u & 0x7FFF_FFFF) > 0x7F80_0000 ? 0xFFFF : rounded
            }
        }
    }

    @inline(__always) static func halfToFloatBits(_ h: UInt16) -> UInt32 {
        let x = UInt32(h)
        let sign = (x & 0x8000) << 16
        let em = x & 0x7FFF
        // Shifting exponent+mantissa into float position and scaling by 2^112 rebiases normals and
        // renormalises subnormals exactly in one multiply.
        let scaled = (Float(bitPattern: em << 13) * 0x1p112).bitPattern
        let special = (em << 13) | 0x7F80_0000  // inf / NaN (payload kept)
        return sign | (em >= 0x7C00 ? special : scaled)
    }

    /// Branch-free (selects only) so the conversion loops vectorise.
    @inline(__always) static func floatBitsToHalf(_ w: UInt32) -> UInt16 {
        let sign = (w >> 16) & 0x8000
        let a = w & 0x7FFF_FFFF
        // Normal half: rebias the exponent (127 → 15), then round the 13 dropped bits to nearest even.
        let t = a &- 0x3800_0000
        let normal = (t &+ 0x0FFF &+ ((t >> 13) & 1)) >> 13
        // Subnormal half (or zero): adding 0.5 makes the FPU round to a multiple of 2^-24, the half ulp.
        let sub = (Float(bitPattern: a) + 0.5).bitPattern &- 0x3F00_0000
        var bits = a >= 0x3880_0000 ? normal : sub
        bits = a >= 0x477F_F000 ? 0x7C00 : bits   // ≥ 65520 rounds to inf
        bits = a > 0x7F80_0000 ? 0x7E00 : bits    // NaN
        return UInt16(truncatingIfNeeded: sign | bits)
    }
}
