import Tensors

/// How attention scores are computed, like transformers' `attn_implementation`.
public enum AttentionImplementation: String, Sendable, CaseIterable {
    /// Explicit `softmax(q·kᵀ·scale + mask)·v` through the engine's basic ops (HF "eager").
    case eager
    /// The engine's fused, memory-efficient `scaledDotProductAttention` (HF "sdpa"/flash): scores
    /// are never materialised. Used when no earlier tokens are cached; decode steps fall back to eager.
    case sdpa
}

/// What every layer's attention needs for one forward pass, computed once per pass.
struct AttentionInputs {
    let batch: Int, length: Int
    /// Tokens already in the cache before this pass.
    let pastLength: Int
    let rope: RopeTables
    /// Additive mask [B, 1, 1, T, past+T]: 0 where a query may see a key, a huge negative number where
    /// not (built only when eager attention runs).
    let mask: Tensor?
    /// The attention mask [B, past+T] and, for packed rows, the position ids, for the fused kernel.
    let keyMask: Tensor?, packedPositions: Tensor?
    /// For the fused kernel: query rows that see no key (left padding), see `blindRowsAsEager`.
    let blindRows: BlindRows?
    let cache: KVCache?
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
        } else if let qkv = Linear.fusedQuantizedForward([qProj!, kProj!, vProj!], x) {
            (q, k, v) = (qkv[0], qkv[1], qkv[2])
        } else {
            (q, k, v) = (qProj!(x), kProj!(x), vProj!(x))
        }
        q = rope(q.reshape([b, t, numHeads, headDim]), a.rope)
        k = rope(k.reshape([b, t, numKVHeads, headDim]), a.rope)
        v = v.reshape([b, t, numKVHeads, headDim])
        if let cache = a.cache { (k, v) = cache.append(layer: layer, k: k, v: v) }
        let out: Tensor                                           // [B, T, Hq, D]
        if let cache = a.cache, let mask = a.mask, t == 1, !isGradEnabled {
            // A decode step: one query per row against the cache, without materialising views.
            out = DecodeKernels.attention(q: q, cacheK: cache.keys[layer], cacheV: cache.values[layer], s: k.shape[1],
                                          mask: mask, heads: numHeads, kvHeads: numKVHeads, headDim: headDim)
        } else if let mask = a.mask {
            out = eager(q, k, v, mask: mask)
        } else {
            let fused = scaledDotProductAttention(q: q, k: k, v: v, causal: true, positionIds: a.packedPositions,
                                                  attentionMask: a.keyMask)
            out = a.blindRows.map { blindRowsAsEager(fused, q, k, v, $0) } ?? fused
        }
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

/// Query rows that may see no key: with left padding, the pad positions before a row's first token.
struct BlindRows {
    /// Largest count of leading blind rows over the batch.
    let count: Int
    /// [B, T, 1, 1] bool: 1 at blind rows.
    let mask: Tensor

    /// Nil when every query row sees at least one key.
    init?(keyMask: [Int], batch: Int, length: Int) {
        var lead = [Int](repeating: 0, count: batch)
        for b in 0..<batch { while lead[b] < length && keyMask[b * length + lead[b]] == 0 { lead[b] += 1 } }
        guard let m = lead.max(), m > 0 else { return nil }
        count = m
        var flags = [Int](repeating: 0, count: batch * length)
        for b in 0..<batch { for i in 0..<lead[b] { flags[b * length + i] = 1 } }
        mask = Tensor(flags, shape: [batch, length, 1, 1], dtype: .bool)
    }
}

extension Attention {
    /// transformers' eager attention gives a query that may see no key an additive mask that is
    /// equally huge and negative everywhere, so its softmax is uniform over all keys; the causal-LM
    /// loss reads the last such row (it predicts the first real token). The fused kernel returns
    /// zeros there, so those rows are recomputed the eager way (forward and backward match).
    func blindRowsAsEager(_ fused: Tensor, _ q: Tensor, _ k: Tensor, _ v: Tensor, _ blind: BlindRows) -> Tensor {
        let b = q.shape[0], t = q.shape[1], s = k.shape[1]
        let lead = q.narrow(1, start: 0, length: blind.count)
        let allBlocked = Tensor.full([b, 1, 1, blind.count, s], -Float.greatestFiniteMagnitude)
        var rows = eager(lead, k, v, mask: allBlocked)
        if blind.count < t {
            rows = Tensor.concat([rows, Tensor.zeros([b, t - blind.count, numHeads, headDim])], dim: 1)
        }
        return Tensor.where(blind.mask, rows, fused)
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
