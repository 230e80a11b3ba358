import Foundation
import Tensors

/// Rotary position embedding (HF `LlamaRotaryEmbedding`): inverse frequencies from the config
/// (`rope_theta`, `rope_scaling` none / linear / dynamic / llama3) and cos/sin tables per position.
public struct RotaryEmbedding: Sendable {
    public let headDim: Int
    public let theta: Float
    public let scaling: RopeScaling?
    /// The context length past which dynamic scaling grows the base (`max_position_embeddings`,
    /// as transformers' `_compute_dynamic_ntk_parameters` uses).
    public let originalMaxPositions: Int
    /// Inverse frequencies for sequences within `originalMaxPositions` [headDim / 2].
    public let baseInvFreq: [Float]

    public init(config: ModelConfig) {
        headDim = config.headDim
        theta = config.ropeTheta
        scaling = config.ropeScaling
        originalMaxPositions = config.maxPositionEmbeddings
        let plain = RotaryEmbedding.defaultInvFreq(headDim: headDim, base: theta)
        let s = config.ropeScaling
        switch s?.ropeType {
        case "linear": let f = s?.factor ?? 1; baseInvFreq = plain.map { $0 / f }
        case "llama3": baseInvFreq = RotaryEmbedding.llama3(plain, s!)
        default: baseInvFreq = plain
        }
    }

    /// `1 / base^(2i / dim)` computed in float32 like torch.
    static func defaultInvFreq(headDim: Int, base: Float) -> [Float] {
        (0..<(headDim / 2)).map { i in 1 / Foundation.pow(base, Float(2 * i) / Float(headDim)) }
    }

    /// Llama 3.1's smooth interpolation between scaled low and unscaled high frequencies.
    static func llama3(_ inv: [Float], _ s: RopeScaling) -> [Float] {
        let factor = s.factor ?? 1, lo = s.lowFreqFactor ?? 1, hi = s.highFreqFactor ?? 4
        let old = Float(s.originalMaxPositionEmbeddings ?? 8192)
        let lowWavelen = old / lo, highWavelen = old / hi
        return inv.map { f in
            let wavelen = 2 * Float.pi / f
            let scaled = wavelen > lowWavelen ? f / factor : f
            guard !(wavelen < highWavelen) && !(wavelen > lowWavelen) else { return scaled }
            let smooth = (old / wavelen - lo) / (hi - lo)
            return (1 - smooth) * scaled / factor + smooth * scaled
        }
    }

    /// Inverse frequencies for a batch whose largest position is `maxPosition`: dynamic NTK scaling
    /// grows the base once the sequence exceeds the original context (computed per call from the
    /// positions, where transformers keeps the grown table until a short sequence resets it).
    public func invFreq(maxPosition: Int) -> [Float] {
        guard scaling?.ropeType == "dynamic", let factor = scaling?.factor else { return baseInvFreq }
        let seqLen = maxPosition + 1
        guard seqLen > originalMaxPositions else { return baseInvFreq }
        let d = Double(headDim)
        let base = Double(theta) * Foundation.pow(Double(factor) * Double(seqLen) / Double(originalMaxPositions) - (Double(factor) - 1), d / (d - 2))
        return RotaryEmbedding.defaultInvFreq(headDim: headDim, base: Float(base))
    }

    /// cos/sin tables for integer positions [B, T] (flattened), shared by every layer of a pass.
    public func tables(positions: [Int], batch: Int, length: Int) -> RopeTables {
        RopeTables(positionIds: Tensor(positions, shape: [batch, length]),
                   invFreq: invFreq(maxPosition: positions.max() ?? 0), headDim: headDim)
    }
}
