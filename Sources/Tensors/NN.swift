import Foundation

// Differentiable neural-network ops over the fused pointer-level `Kernels` (Sources/Tensors/Kernels).
// Inputs of any float dtype/strides are made contiguous float32 first; outputs are float32.

/// Softmax along `dim` (numerically stable: max-subtracted).
public func softmax(_ x: Tensor, dim: Int = -1) -> Tensor {
    lastDimOp(x, dim: dim, name: "softmax", forward: Kernels.softmaxForward, backward: Kernels.softmaxBackward)
}

/// log(softmax(x)) along `dim`, computed stably (x - max - log Σ exp(x - max)).
public func logSoftmax(_ x: Tensor, dim: Int = -1) -> Tensor {
    lastDimOp(x, dim: dim, name: "log_softmax", forward: Kernels.logSoftmaxForward, backward: Kernels.logSoftmaxBackward)
}

/// Runs a row kernel over the last dim, moving `dim` there first if needed. The backward kernels take
/// the saved output y.
private func lastDimOp(_ x: Tensor, dim: Int, name: String,
                       forward: (UnsafePointer<Float>, UnsafeMutablePointer<Float>, Int, Int) -> Void,
                       backward: @escaping (UnsafePointer<Float>, UnsafePointer<Float>, UnsafeMutablePointer<Float>, Int, Int) -> Void) -> Tensor {
    let a = x.dim(dim, name)
    if a != x.rank - 1 {
        return lastDimOp(x.transpose(a, -1), dim: -1, name: name, forward: forward, backward: backward).transpose(a, -1)
    }
    let xc = x.contiguousF32()
    let d = x.rank == 0 ? 1 : x.shape[x.rank - 1]
    let rows = d == 0 ? 0 : x.count / d
    let y = Tensor(uninitialized: x.shape)
    if rows > 0 { withExtendedLifetime(xc) { forward(xc.floatPointer, y.floatPointer, rows, d) } }
    let ys = y.detach()   // the closure must not retain y (y → node → closure → y would leak without backward)
    return Tensor.record(name, y, [x]) { g in
        let gc = g.contiguousF32()
        let dx = Tensor(uninitialized: ys.shape)
        if rows > 0 { withExtendedLifetime(gc) { backward(ys.floatPointer, gc.floatPointer, dx.floatPointer, rows, d) } }
        return [dx]
    }
}

/// How `crossEntropy` combines per-token losses.
public enum LossReduction: Sendable {
    /// Sum over non-ignored tokens divided by their count (HF / torch default; NaN if every token is ignored).
    case mean
    /// Sum over non-ignored tokens (normalise yourself, e.g. by the token count of a whole accumulated batch).
    case sum
    /// Per-token losses shaped like `targets` (0 at ignored tokens).
    case none
}

/// Cross-entropy of `logits` [..., vocab] against integer `targets` [...] (torch
/// `F.cross_entropy(logits.view(-1, V), targets.view(-1), ignore_index=-100)`). Targets equal to
/// `ignoreIndex` contribute neither loss nor gradient. Throws if a target is outside 0..<vocab and not
/// `ignoreIndex`.
public func crossEntropy(logits: Tensor, targets: Tensor, ignoreIndex: Int = -100,
                         reduction: LossReduction = .mean) throws -> Tensor {
    precondition(logits.rank >= 1, "crossEntropy: logits must have a vocab dimension, got \(logits.shape)")
    let vocab = logits.shape[logits.rank - 1]
    precondition(Array(logits.shape.dropLast()) == targets.shape || (targets.rank == 1 && targets.count * vocab == logits.count),
                 "crossEntropy: targets shape \(targets.shape) must equal logits shape without the vocab dim \(Array(logits.shape.dropLast()))")
    precondition(!targets.dtype.isFloatingPoint, "crossEntropy: targets must be integers (token ids), got \(targets.dtype)")
    let rows = vocab == 0 ? 0 : logits.count / vocab
    let ids = targets.toIntArray()
    var t32 = [Int32](repeating: 0, count: rows)
    for (i, t) in ids.enumerated() {
        guard t == ignoreIndex || (t >= 0 && t < vocab) else {
            throw TensorError.indexOutOfRange("crossEntropy: target \(t) at position \(i) of targets \(targets.shape) is outside 0..<\(vocab) (vocab) and is not ignoreIndex \(ignoreIndex)")
        }
        t32[i] = Int32(truncatingIfNeeded: t)
    }
    let lc = logits.contiguousF32()
    let losses = Tensor(uninitialized: [rows])
    let lse = Tensor(uninitialized: [rows])
    let ign = Int32(truncatingIfNeeded: ignoreIndex)
    let (sum, count) = withExtendedLifetime(lc) {
        t32.withUnsafeBufferPointer { tp in
            Kernels.crossEntropyForward(logits: lc.floatPointer, targets: tp.baseAddress!, losses: losses.floatPointer,
                                        lse: lse.floatPointer, rows: rows, vocab: vocab, ignoreIndex: ign)
        }
    }
    let out: Tensor
    switch reduction {
    case .mean: out = Tensor(scalar: Float(sum / Double(count)))
    case .sum: out = Tensor(scalar: Float(sum))
    case .none: out = losses.reshape(targets.shape)
    }
    let lshape = logits.shape
    return Tensor.record("cross_entropy", out, [logits]) { g in
        let dl = Tensor(uninitialized: [rows, vocab])
        let scale: Float
        switch reduction {
        case .mean: scale = g.item() / Float(count)
        case .sum: scale = g.item()
        case .none: scale = 1
        }
        withExtendedLifetime(lc) {
            t32.withUnsafeBufferPointer { tp in
                Kernels.crossEntropyBackward(logits: lc.floatPointer, targets: tp.baseAddress!, lse: lse.floatPointer,
                                             gradScale: scale, dLogits: dl.floatPointer, rows: rows, vocab: vocab, ignoreIndex: ign)
            }
        }
        if case .none = reduction { dl.mulInPlace(g.reshape([rows, 1])) }
        return [dl.reshape(lshape)]
    }
}

/// HF LlamaRMSNorm over the last dim: `weight * x * rsqrt(mean(x²) + eps)`, in float32.
public func rmsNorm(_ x: Tensor, weight: Tensor, eps: Float = 1e-6) -> Tensor {
    let dim = x.shape.last ?? 1
    precondition(weight.shape == [dim], "rmsNorm: weight shape \(weight.shape) must be [\(dim)] for input \(x.shape)")
    let rows = dim == 0 ? 0 : x.count / dim
    let xc = x.contiguousF32(), wc = weight.contiguousF32()
    let y = Tensor(uninitialized: x.shape), rstd = Tensor(uninitialized: [rows])
    withExtendedLifetime((xc, wc)) {
        Kernels.rmsNormForward(x: xc.floatPointer, weight: wc.floatPointer, y: y.floatPointer, rstd: rstd.floatPointer,
                               rows: rows, dim: dim, eps: eps)
    }
    return Tensor.record("rms_norm", y, [x, weight]) { g in
        let gc = g.contiguousF32()
        let dx = Tensor(uninitialized: xc.shape), dw = Tensor(zeros: [dim])
        withExtendedLifetime((gc, xc, wc)) {
            Kernels.rmsNormBackward(x: xc.floatPointer, weight: wc.floatPointer, rstd: rstd.floatPointer, dy: gc.floatPointer,
                                    dx: dx.floatPointer, dWeight: dw.floatPointer, rows: rows, dim: dim)
        }
        return [dx, dw]
    }
}

/// torch LayerNorm over the last dim (biased variance), optional affine `weight`/`bias` of shape [dim].
public func layerNorm(_ x: Tensor, weight: Tensor?, bias: Tensor?, eps: Float = 1e-5) -> Tensor {
    let dim = x.shape.last ?? 1
    precondition(weight.map { $0.shape == [dim] } ?? true, "layerNorm: weight shape \(weight!.shape) must be [\(dim)]")
    precondition(bias.map { $0.shape == [dim] } ?? true, "layerNorm: bias shape \(bias!.shape) must be [\(dim)]")
    let rows = dim == 0 ? 0 : x.count / dim
    let xc = x.contiguousF32(), wc = weight?.contiguousF32(), bc = bias?.contiguousF32()
    let y = Tensor(uninitialized: x.shape), mean = Tensor(uninitialized: [rows]), rstd = Tensor(uninitialized: [rows])
    withExtendedLifetime((xc, wc, bc)) {
        Kernels.layerNormForward(x: xc.floatPointer, weight: wc.map { UnsafePointer($0.floatPointer) },
                                 bias: bc.map { UnsafePointer($0.floatPointer) }, y: y.floatPointer,
                                 mean: mean.floatPointer, rstd: rstd.floatPointer, rows: rows, dim: dim, eps: eps)
    }
    var inputs = [x]
    if let weight { inputs.append(weight) }
    if let bias { inputs.append(bias) }
    let hasW = weight != nil, hasB = bias != nil
    return Tensor.record("layer_norm", y, inputs) { g in
        let gc = g.contiguousF32()
        let dx = Tensor(uninitialized: xc.shape)
        let dw = hasW ? Tensor(zeros: [dim]) : nil, db = hasB ? Tensor(zeros: [dim]) : nil
        withExtendedLifetime((gc, xc, wc)) {
            Kernels.layerNormBackward(x: xc.floatPointer, weight: wc.map { UnsafePointer($0.floatPointer) },
                                      mean: mean.floatPointer, rstd: rstd.floatPointer, dy: gc.floatPointer,
                                      dx: dx.floatPointer, dWeight: dw?.floatPointer, dBias: db?.floatPointer,
                                      rows: rows, dim: dim)
        }
        var out: [Tensor?] = [dx]
        if hasW { out.append(dw) }
        if hasB { out.append(db) }
        return out
    }
}

/// Fused SwiGLU gate `silu(gate) * up` (same shapes).
public func siluMul(_ gate: Tensor, _ up: Tensor) -> Tensor {
    precondition(gate.shape == up.shape, "siluMul: gate \(gate.shape) and up \(up.shape) must have the same shape")
    let gc = gate.contiguousF32(), uc = up.contiguousF32()
    let out = Tensor(uninitialized: gate.shape)
    let n = out.count
    withExtendedLifetime((gc, uc)) {
        Kernels.siluMulForward(gate: gc.floatPointer, up: uc.floatPointer, out: out.floatPointer, count: n)
    }
    return Tensor.record("silu_mul", out, [gate, up]) { g in
        let gg = g.contiguousF32()
        let dg = Tensor(uninitialized: gc.shape), du = Tensor(uninitialized: uc.shape)
        withExtendedLifetime((gg, gc, uc)) {
            Kernels.siluMulBackward(gate: gc.floatPointer, up: uc.floatPointer, dOut: gg.floatPointer,
                                    dGate: dg.floatPointer, dUp: du.floatPointer, count: n)
        }
        return [dg, du]
    }
}

// MARK: - Rotary position embedding

/// cos/sin tables for RoPE (HF half-rotation layout, `emb = cat(freqs, freqs)`), one row per token of a
/// [B, T] `positionIds`. Build once per forward pass and share across layers.
public final class RopeTables {
    /// [tokens, headDim] each.
    public let cos: Tensor, sin: Tensor
    public let tokens: Int, headDim: Int

    /// Tables for integer `positionIds` (any shape, flattened to tokens) and `invFreq` [headDim / 2].
    public init(positionIds: Tensor, invFreq: [Float], headDim: Int) {
        precondition(headDim % 2 == 0 && invFreq.count == headDim / 2,
                     "RopeTables: need an even headDim and headDim/2 inverse frequencies, got headDim \(headDim), \(invFreq.count) frequencies")
        let pos = positionIds.toIntArray().map { Int32(truncatingIfNeeded: $0) }
        tokens = pos.count
        self.headDim = headDim
        cos = Tensor(uninitialized: [tokens, headDim])
        sin = Tensor(uninitialized: [tokens, headDim])
        pos.withUnsafeBufferPointer { p in
            invFreq.withUnsafeBufferPointer { f in
                if tokens > 0 {
                    Kernels.ropeTables(positionIds: p.baseAddress!, invFreq: f.baseAddress!, tokens: tokens, headDim: headDim,
                                       cos: cos.floatPointer, sin: sin.floatPointer)
                }
            }
        }
    }

    /// Tables with HF's default inverse frequencies `1 / theta^(2i / headDim)` (Llama `rope_theta`).
    public convenience init(positionIds: Tensor, headDim: Int, theta: Float = 10000) {
        self.init(positionIds: positionIds, invFreq: RopeTables.defaultInvFreq(headDim: headDim, theta: theta), headDim: headDim)
    }

    /// HF `_compute_default_rope_parameters`: `1 / theta ** (arange(0, dim, 2) / dim)` in float32.
    public static func defaultInvFreq(headDim: Int, theta: Float) -> [Float] {
        (0..<(headDim / 2)).map { i in 1 / Foundation.pow(theta, Float(2 * i) / Float(headDim)) }
    }
}

/// Applies RoPE to `x` [B, T, H, D] (tables built from [B, T] position ids): `x·cos + rotate_half(x)·sin`.
public func rope(_ x: Tensor, _ tables: RopeTables) -> Tensor {
    precondition(x.rank == 4 && x.shape[3] == tables.headDim && x.shape[0] * x.shape[1] == tables.tokens,
                 "rope: x must be [B, T, H, \(tables.headDim)] with B·T = \(tables.tokens) tokens, got \(x.shape)")
    let tokens = tables.tokens, heads = x.shape[2], d = tables.headDim
    let xc = x.contiguousF32()
    let y = Tensor(uninitialized: x.shape)
    if y.count > 0 {
        withExtendedLifetime(xc) {
            Kernels.ropeForward(x: xc.floatPointer, cos: tables.cos.floatPointer, sin: tables.sin.floatPointer,
                                y: y.floatPointer, tokens: tokens, heads: heads, headDim: d)
        }
    }
    return Tensor.record("rope", y, [x]) { g in
        let gc = g.contiguousF32()
        let dx = Tensor(uninitialized: g.shape)
        if dx.count > 0 {
            withExtendedLifetime((gc, tables)) {
                Kernels.ropeBackward(dy: gc.floatPointer, cos: tables.cos.floatPointer, sin: tables.sin.floatPointer,
                                     dx: dx.floatPointer, tokens: tokens, heads: heads, headDim: d)
            }
        }
        return [dx]
    }
}

/// HF `apply_rotary_pos_emb` for q [B, T, Hq, D] and k [B, T, Hkv, D] with shared tables.
public func applyRotaryEmbedding(q: Tensor, k: Tensor, tables: RopeTables) -> (q: Tensor, k: Tensor) {
    (rope(q, tables), rope(k, tables))
}

// MARK: - Attention

/// Scaled-dot-product attention over q [B, T, Hq, D], k and v [B, T, Hkv, D] (the natural layout of the
/// q/k/v projections; HF's [B, H, T, D] is `x.transpose(1, 2)`). Returns [B, T, Hq, D].
/// - `causal`: query i sees keys j <= i.
/// - GQA: Hq must be a multiple of Hkv; query head h uses kv head h / (Hq / Hkv).
/// - `positionIds` [B, T] (optional): packed sequences; a new segment starts wherever the position is 0,
///   and attention never crosses a segment boundary.
/// - `attentionMask` [B, T] (optional, HF style): 1 = real token, 0 = padding key (never attended to).
/// - `scale`: defaults to 1/√D. A query row that may see no key returns zeros.
/// - KV cache: k/v may hold more positions (Tk) than q (Tq); the queries are then the *last* Tq positions
///   (query i sits at position Tk − Tq + i for the causal mask, HF's cache_position) and `attentionMask`
///   is [B, Tk].
public func scaledDotProductAttention(q: Tensor, k: Tensor, v: Tensor, causal: Bool = true,
                                      positionIds: Tensor? = nil, attentionMask: Tensor? = nil,
                                      scale: Float? = nil) -> Tensor {
    precondition(q.rank == 4 && k.rank == 4 && v.rank == 4, "scaledDotProductAttention: q, k, v must be [B, T, H, D], got \(q.shape), \(k.shape), \(v.shape)")
    let b = q.shape[0], t = q.shape[1], hq = q.shape[2], d = q.shape[3], hkv = k.shape[2], tk = k.shape[1]
    precondition(k.shape == [b, tk, hkv, d] && v.shape == k.shape && tk >= t,
                 "scaledDotProductAttention: k \(k.shape) and v \(v.shape) must be [\(b), Tk >= \(t), Hkv, \(d)] for q \(q.shape)")
    precondition(hkv > 0 && hq % hkv == 0, "scaledDotProductAttention: query heads \(hq) must be a multiple of kv heads \(hkv)")
    precondition(positionIds == nil || tk == t, "scaledDotProductAttention: positionIds (packed segments) need equal query and key lengths, got \(t) and \(tk)")
    let shape = AttentionShape(batch: b, seqLen: t, qHeads: hq, kvHeads: hkv, headDim: d, keyLen: tk)
    let sc = scale ?? 1 / Float(d).squareRoot()
    var segments: [Int32]? = nil
    if let positionIds {
        precondition(positionIds.shape == [b, t], "scaledDotProductAttention: positionIds must be [\(b), \(t)], got \(positionIds.shape)")
        let pos = positionIds.toIntArray()
        var seg = [Int32](repeating: 0, count: b * t)
        for bi in 0..<b {
            var s: Int32 = 0
            for ti in 0..<t {
                if ti > 0 && pos[bi * t + ti] == 0 { s += 1 }
                seg[bi * t + ti] = s
            }
        }
        segments = seg
    }
    var keyMask: [UInt8]? = nil
    if let attentionMask {
        precondition(attentionMask.shape == [b, tk], "scaledDotProductAttention: attentionMask must be [\(b), \(tk)], got \(attentionMask.shape)")
        keyMask = attentionMask.toIntArray().map { $0 != 0 ? 1 : 0 }
    }
    let qc = q.contiguousF32(), kc = k.contiguousF32(), vc = v.contiguousF32()
    let out = Tensor(uninitialized: q.shape)
    let lse = Tensor(uninitialized: [b, hq, t])
    func withMasks<R>(_ body: (UnsafePointer<Int32>?, UnsafePointer<UInt8>?) -> R) -> R {
        let segBuf = segments ?? [], maskBuf = keyMask ?? []
        return segBuf.withUnsafeBufferPointer { sp in
            maskBuf.withUnsafeBufferPointer { mp in
                body(segments == nil ? nil : sp.baseAddress, keyMask == nil ? nil : mp.baseAddress)
            }
        }
    }
    if out.count > 0 {
        withExtendedLifetime((qc, kc, vc)) {
            withMasks { seg, km in
                Kernels.attentionForward(q: qc.floatPointer, k: kc.floatPointer, v: vc.floatPointer, out: out.floatPointer,
                                         lse: lse.floatPointer, shape: shape, scale: sc, causal: causal,
                                         segmentIds: seg, keyMask: km)
            }
        }
    }
    let outSaved = out.detach()   // not `out` itself: that would be a retain cycle through its own node
    return Tensor.record("sdpa", out, [q, k, v]) { g in
        let gc = g.contiguousF32()
        let dq = Tensor(uninitialized: qc.shape), dk = Tensor(uninitialized: kc.shape), dv = Tensor(uninitialized: vc.shape)
        if outSaved.count > 0 {
            withExtendedLifetime((gc, qc, kc, vc)) {
                withMasks { seg, km in
                    Kernels.attentionBackward(q: qc.floatPointer, k: kc.floatPointer, v: vc.floatPointer, out: outSaved.floatPointer,
                                              lse: lse.floatPointer, dOut: gc.floatPointer, dq: dq.floatPointer,
                                              dk: dk.floatPointer, dv: dv.floatPointer, shape: shape, scale: sc,
                                              causal: causal, segmentIds: seg, keyMask: km)
                }
            }
        } else {
            dk.fill(0); dv.fill(0)
        }
        return [dq, dk, dv]
    }
}

/// Unfused reference attention (matmul → mask → softmax → matmul, O(Tq·Tk) scores) with the same rules and
/// layout as `scaledDotProductAttention` (no packed segments). Used by the tests to cross-check the fused
/// kernel path, KV-cache case included; differentiable through ordinary ops.
func cachedAttention(q: Tensor, k: Tensor, v: Tensor, causal: Bool, attentionMask: Tensor?, scale: Float?) -> Tensor {
    let b = q.shape[0], tq = q.shape[1], hq = q.shape[2], d = q.shape[3]
    let tk = k.shape[1], hkv = k.shape[2]
    precondition(k.shape == [b, tk, hkv, d] && v.shape == k.shape && tk >= tq,
                 "scaledDotProductAttention: k \(k.shape) and v \(v.shape) must be [\(b), Tk >= \(tq), Hkv, \(d)] for q \(q.shape)")
    precondition(hkv > 0 && hq % hkv == 0, "scaledDotProductAttention: query heads \(hq) must be a multiple of kv heads \(hkv)")
    let group = hq / hkv
    let qh = q.permute([0, 2, 1, 3])                                             // [B, Hq, Tq, D]
    func heads(_ x: Tensor) -> Tensor {                                          // [B, Hq, Tk, D]
        let xh = x.permute([0, 2, 1, 3])
        if group == 1 { return xh }
        return xh.unsqueeze(2).expand([b, hkv, group, tk, d]).reshape([b, hq, tk, d])
    }
    let scores = qh.matmul(heads(k).mT) * (scale ?? 1 / Float(d).squareRoot())  // [B, Hq, Tq, Tk]
    var blocked = [Bool](repeating: false, count: b * tq * tk)
    let keep = attentionMask.map { m -> [Int] in
        precondition(m.shape == [b, tk], "scaledDotProductAttention: attentionMask must be [\(b), \(tk)], got \(m.shape)")
        return m.toIntArray()
    }
    let offset = tk - tq
    for bi in 0..<b { for i in 0..<tq { for j in 0..<tk {
        let masked = (causal && j > offset + i) || (keep.map { $0[bi * tk + j] == 0 } ?? false)
        blocked[(bi * tq + i) * tk + j] = masked
    } } }
    // A row with no visible key would be all -inf (NaN softmax, NaN gradients). The fused path defines its
    // output as 0 with zero gradient: unmask such rows for the softmax, then zero them with `where`.
    let rowAll = (0..<(b * tq)).map { r in (0..<tk).allSatisfy { blocked[r * tk + $0] } }
    for r in 0..<(b * tq) where rowAll[r] { for j in 0..<tk { blocked[r * tk + j] = false } }
    let maskT = Tensor(blocked, shape: [b, 1, tq, tk])
    let probs = softmax(scores.maskedFill(maskT, -.infinity))
    let safe = Tensor.where(Tensor(rowAll, shape: [b, 1, tq, 1]), Tensor(scalar: 0), probs)
    return safe.matmul(heads(v)).permute([0, 2, 1, 3]).contiguous()           // [B, Tq, Hq, D]
}
