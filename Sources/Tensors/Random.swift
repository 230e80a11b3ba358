import Foundation

/// A seeded pseudo-random generator (xoshiro256**, seeded through SplitMix64). Reproducible across runs
/// and platforms; not torch's stream (torch-equal numbers are not a goal, torch-equal distributions are).
/// A reference type so one generator can be shared by model initialisers and dropout layers.
public final class RandomGenerator {
    private var s0: UInt64, s1: UInt64, s2: UInt64, s3: UInt64

    public init(seed: UInt64) {
        var x = seed
        func splitmix() -> UInt64 {
            x &+= 0x9E37_79B9_7F4A_7C15
            var z = x
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        s0 = splitmix(); s1 = splitmix(); s2 = splitmix(); s3 = splitmix()
    }

    /// The four state words (for checkpoints: `restore(state:)` continues the stream exactly).
    public var state: [UInt64] { [s0, s1, s2, s3] }

    /// Continues from a saved `state`; false (nothing changed) when it is not 4 words or is all zero.
    public func restore(state s: [UInt64]) -> Bool {
        guard s.count == 4, s.contains(where: { $0 != 0 }) else { return false }
        (s0, s1, s2, s3) = (s[0], s[1], s[2], s[3])
        return true
    }

    /// Next 64 random bits.
    public func next() -> UInt64 {
        let result = ((s1 &* 5) << 7 | (s1 &* 5) >> 57) &* 9
        let t = s1 << 17
        s2 ^= s0; s3 ^= s1; s1 ^= s2; s0 ^= s3
        s2 ^= t
        s3 = (s3 << 45) | (s3 >> 19)
        return result
    }

    /// Uniform in [0, 1) with 24 random bits.
    public func nextUniform() -> Float { Float(next() >> 40) * 0x1p-24 }

    /// Standard normal (Box–Muller; computed in Double for accuracy in the tails).
    public func nextNormal() -> Float {
        let u1 = (Double(next() >> 11) + 1) * 0x1p-53   // (0, 1]
        let u2 = Double(next() >> 11) * 0x1p-53
        return Float((-2 * Foundation.log(u1)).squareRoot() * Foundation.cos(2 * Double.pi * u2))
    }
}

extension Tensor {
    /// Uniform samples in [low, high).
    public static func uniform(_ shape: [Int], low: Float = 0, high: Float = 1, generator: RandomGenerator) -> Tensor {
        let t = Tensor(uninitialized: shape)
        let p = t.floatPointer
        for i in 0..<t.count { p[i] = low + (high - low) * generator.nextUniform() }
        return t
    }

    /// Normal samples with `mean` and `std`.
    public static func normal(_ shape: [Int], mean: Float = 0, std: Float = 1, generator: RandomGenerator) -> Tensor {
        let t = Tensor(uninitialized: shape)
        let p = t.floatPointer
        for i in 0..<t.count { p[i] = mean + std * generator.nextNormal() }
        return t
    }

    /// Standard normal samples (torch.randn).
    public static func randn(_ shape: [Int], generator: RandomGenerator) -> Tensor {
        normal(shape, generator: generator)
    }

    /// torch.nn.init.kaiming_uniform_ with fan_in = shape[1] × receptive field and gain
    /// sqrt(2 / (1 + a²)); the default a = √5 is what nn.Linear uses (bound = 1/√fan_in).
    public static func kaimingUniform(_ shape: [Int], a: Float = Float(5).squareRoot(), generator: RandomGenerator) -> Tensor {
        precondition(shape.count >= 2, "kaimingUniform: need at least 2 dims ([out, in, ...]), got \(shape)")
        let fanIn = shape[1] * shape.dropFirst(2).reduce(1, *)
        let gain = (2 / (1 + a * a)).squareRoot()
        let bound = gain * (3 / Float(Swift.max(fanIn, 1))).squareRoot()
        return uniform(shape, low: -bound, high: bound, generator: generator)
    }

    /// A dropout keep-mask already scaled by 1/(1-p): entries are 0 with probability `p`, else 1/(1-p).
    /// Each 64-bit draw gives two 24-bit uniforms (masks are as long as a layer's input).
    public static func dropoutMask(_ shape: [Int], p: Float, generator: RandomGenerator) -> Tensor {
        DropoutKeep(count: shape.reduce(1, *), p: p, generator: generator).floatMask(shape)
    }
}

/// A dropout mask as one byte per element (1: kept, scaled by `scale` = 1/(1-p); 0: dropped), drawn from
/// the generator (each 64-bit draw gives two 24-bit uniforms; `Tensor.dropoutMask` is its float form). For
/// the fused LoRA node, which would otherwise hold a float mask per layer.
public struct DropoutKeep {
    public let bytes: [UInt8]
    public let scale: Float

    public init(count: Int, p: Float, generator: RandomGenerator) {
        precondition(p >= 0 && p < 1, "dropout: p must be in [0, 1), got \(p)")
        scale = 1 / (1 - p)
        bytes = [UInt8](unsafeUninitializedCapacity: count) { b, initialized in
            var i = 0
            while i + 1 < count {
                let r = generator.next()
                b[i] = Float(r >> 40) * 0x1p-24 < p ? 0 : 1
                b[i + 1] = Float((r >> 8) & 0xFF_FFFF) * 0x1p-24 < p ? 0 : 1
                i += 2
            }
            if i < count { b[i] = generator.nextUniform() < p ? 0 : 1 }
            initialized = count
        }
    }

    /// x ⊙ mask over `bytes.count` floats: the same products as with the float mask.
    func apply(to x: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>) {
        bytes.withUnsafeBufferPointer { kb in
            let pk = kb.baseAddress!, s = scale
            Parallel.forRanges(bytes.count, grain: 1 << 15) { rg in for i in rg { out[i] = x[i] * (pk[i] != 0 ? s : 0) } }
        }
    }

    /// The same mask as floats (0 or `scale`), shaped `shape`.
    public func floatMask(_ shape: [Int]) -> Tensor {
        let t = Tensor(uninitialized: shape)
        let p = t.floatPointer
        for i in 0..<bytes.count { p[i] = bytes[i] != 0 ? scale : 0 }
        return t
    }
}

/// Inverted dropout: during training zeroes each element with probability `p` and scales the rest by
/// 1/(1-p); identity when `training` is false or p == 0.
public func dropout(_ x: Tensor, p: Float, training: Bool = true, generator: RandomGenerator) -> Tensor {
    guard training, p > 0 else { return x }
    return x * Tensor.dropoutMask(x.shape, p: p, generator: generator)
}
