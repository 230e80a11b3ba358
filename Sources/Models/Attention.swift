import Tensors

/// How attention scores are computed, like transformers' `attn_implementation`.
public enum AttentionImplementation: String, Sendable, CaseIterable {
    /// Explicit `softmax(q·kᵀ·scale + mask)·v` through the engine's basic ops (HF "eager").
    case eager
}

/// What every layer's attention needs for one forward pass, computed once per pass.
struct AttentionInputs {
    let batch: Int, length: Int
    /// Tokens already in the cache before this pass.
    let pastLength: Int
    let cos: Tensor, sin: Tensor
    /// Additive mask [B, 1, 1, T, past+T]: 0 where a query may see a key, a huge negative number where not.
    let mask: Tensor
    let cache: KVCache?
    let implementation: AttentionImplementation
}

/// Multi-head attention with grouped-query heads and RoPE (HF `LlamaAttention`; Qwen2 adds q/k/v
/// biases; Phi-3 fuses q/k/v into one `qkv_proj`).
public final class Attention: Module {
    public let numHeads: Int, numKVHeads: Int, headDim: Int
    public let qProj: Linear?, kProj: Linear?, vProj: Linear?
    /// Phi-3's fused projection, [Hq·D + 2·Hkv·D, hidden].
    public let qkvProj: Linear?
    public let oProj: Linear

    public init(_ c: ModelConfig) {
        numHeads = c.numAttentionHeads; numKVHeads = c.numKeyValueHeads; headDim = c.headDim
        let q = numHeads * headDim, kv = numKVHeads * headDim
        if c.fusedProjections {
            qkvProj = Linear(c.hiddenSize, q + 2 * kv, bias: c.qkvBias)
            qProj = nil; kProj = nil; vProj = nil
        } else {
            qProj = Linear(c.hiddenSize, q, bias: c.qkvBias)
            kProj = Linear(c.hiddenSize, kv, bias: c.qkvBias)
            vProj = Linear(c.hiddenSize, kv, bias: c.qkvBias)
            qkvProj = nil
        }
        oProj = Linear(q, c.hiddenSize, bias: c.outputBias)
    }

    public override var children: [(String, Module)] {
        if let qkvProj { return [("qkv_proj", qkvProj), ("o_proj", oProj)] }
        return [("q_proj", qProj!), ("k_proj", kProj!), ("v_proj", vProj!), ("o_proj", oProj)]
    }

    /// x [B, T, hidden] → [B, T, hidden].
    func callAsFunction(_ x: Tensor, _ a: AttentionInputs, layer: Int) -> Tensor {
        let b = a.batch, t = a.length
        var q: Tensor, k: Tensor, v: Tensor
        if let qkvProj {
            let parts = qkvProj(x).split([numHeads * headDim, numKVHeads * headDim, numKVHeads * headDim], dim: -1)
            (q, k, v) = (parts[0], parts[1], parts[2])
        } else {
            (q, k, v) = (qProj!(x), kProj!(x), vProj!(x))
        }
        q = Ops.rope(q.reshape([b, t, numHeads, headDim]), cos: a.cos, sin: a.sin)
        k = Ops.rope(k.reshape([b, t, numKVHeads, headDim]), cos: a.cos, sin: a.sin)
        v = v.reshape([b, t, numKVHeads, headDim])
        if let cache = a.cache { (k, v) = cache.append(layer: layer, k: k, v: v) }
        let out = eager(q, k, v, mask: a.mask)                    // [B, T, Hq, D]
        return oProj(out.reshape([b, t, numHeads * headDim]))
    }

    /// `softmax(q·kᵀ/√D + mask)·v` with query heads grouped over their shared kv head:
    /// q [B, T, Hq, D], k and v [B, S, Hkv, D] → [B, T, Hq, D].
    func eager(_ q: Tensor, _ k: Tensor, _ v: Tensor, mask: Tensor) -> Tensor {
        let b = q.shape[0], t = q.shape[1], g = numHeads / numKVHeads
        let qg = q.reshape([b, t, numKVHeads, g, headDim]).permute([0, 2, 3, 1, 4])   // [B, Hkv, G, T, D]
        let kg = k.permute([0, 2, 1, 3]).unsqueeze(2)                                   // [B, Hkv, 1, S, D]
        let vg = v.permute([0, 2, 1, 3]).unsqueeze(2)
        let scores = qg.matmul(kg.mT) * (1 / Float(headDim).squareRoot()) + mask        // [B, Hkv, G, T, S]
        let out = Ops.softmax(scores).matmul(vg)                                        // [B, Hkv, G, T, D]
        return out.permute([0, 3, 1, 2, 4]).reshape([b, t, numHeads, headDim])
    }
}

/// Builds the additive attention mask [B, 1, 1, T, past+T] for queries at cache slots past..<past+T:
/// causal, minus padded keys (`keyMask`, 1 = real token, over all past+T slots) and, for packed rows
/// (`segments`: a segment id per query/key slot), minus keys of other sequences.
func additiveMask(batch: Int, length: Int, past: Int, keyMask: [Int]?, segments: [Int]?) -> Tensor {
    let s = past + length
    let blocked = -Float.greatestFiniteMagnitude
    var m = [Float](repeating: 0, count: batch * length * s)
    for bi in 0..<batch {
        for i in 0..<length {
            let row = (bi * length + i) * s, qi = past + i
            for j in 0..<s {
                var ok = j <= qi
                if ok, let keyMask { ok = keyMask[bi * s + j] != 0 }
                if ok, let segments { ok = segments[bi * s + j] == segments[bi * s + qi] }
                if !ok { m[row + j] = blocked }
            }
        }
    }
    return Tensor(m, shape: [batch, 1, 1, length, s])
}
