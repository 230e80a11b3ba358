import Tensors

/// The random stream of one LoRA layer's dropout (xoshiro256**, seeded through SplitMix64), with a
/// readable state so training checkpoints can save it and a resumed run draws the same masks as an
/// uninterrupted one (HF saves torch's RNG states in `rng_state.pth` for the same reason).
final class DropoutRNG {
    private var s0: UInt64 = 0, s1: UInt64 = 0, s2: UInt64 = 0, s3: UInt64 = 0

    /// The four state words.
    var state: [UInt64] { [s0, s1, s2, s3] }

    init(seed: UInt64) {
        var x = seed
        var s: [UInt64] = []
        for _ in 0..<4 {
            x &+= 0x9E37_79B9_7F4A_7C15
            var z = x
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            s.append(z ^ (z >> 31))
        }
        (s0, s1, s2, s3) = (s[0], s[1], s[2], s[3])
    }

    /// A seed per module path (FNV-1a), so layers that read the same input (q, k, v) draw different masks.
    static func seed(path: String) -> UInt64 {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        for b in path.utf8 { h = (h ^ UInt64(b)) &* 0x100_0000_01B3 }
        return h
    }

    func restore(_ s: [UInt64], path: String) throws {
        guard s.count == 4, s.contains(where: { $0 != 0 }) else {
            throw LoRAError.unsupported("the dropout RNG state of '\(path)' must be 4 words, not all zero; got \(s.count)")
        }
        (s0, s1, s2, s3) = (s[0], s[1], s[2], s[3])
    }

    @inline(__always)
    func next() -> UInt64 {
        let result = ((s1 &* 5) << 7 | (s1 &* 5) >> 57) &* 9
        let t = s1 << 17
        s2 ^= s0; s3 ^= s1; s1 ^= s2; s0 ^= s3
        s2 ^= t
        s3 = (s3 << 45) | (s3 >> 19)
        return result
    }

    /// An inverted-dropout mask: 0 with probability `p`, else 1/(1-p) (torch's `nn.Dropout` in training).
    /// Each 64-bit draw gives two 24-bit uniforms (the mask is as long as the layer's input).
    func mask(_ shape: [Int], p: Float) -> Tensor {
        let n = shape.reduce(1, *)
        let keep = 1 / (1 - p)
        let t = Tensor(zeros: shape)
        t.withContiguousFloats { p0 in
            let b = UnsafeMutablePointer(mutating: p0)     // a fresh contiguous float32 tensor: its own memory
            var i = 0
            while i + 1 < n {
                let r = next()
                b[i] = Float(r >> 40) * 0x1p-24 < p ? 0 : keep
                b[i + 1] = Float((r >> 8) & 0xFF_FFFF) * 0x1p-24 < p ? 0 : keep
                i += 2
            }
            if i < n { b[i] = Float(next() >> 40) * 0x1p-24 < p ? 0 : keep }
        }
        return t
    }
}
