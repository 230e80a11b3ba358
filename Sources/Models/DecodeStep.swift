import CQuantKernels
import Foundation
import Quantization
import Tensors

/// One decode step of a single sequence (one new token, batch 1) without tensors or autograd:
/// raw buffers, the engine's own kernels, and `WorkerTeam` for the five parallel loops of each layer
/// (q/k/v; attention; o_proj + residual; gate/up + SiLU; down_proj + residual) instead of ~20 tensor
/// ops whose allocations and thread wake-ups cost more than their arithmetic at this size.
///
/// It computes what `CausalLM.forward` computes for such a step with the same kernels
/// (`QuantizedMatrix.gemvRows`, `DecodeKernels.dot`, `Kernels.rmsNormForward`, `ropeForward`,
/// `siluMulForward`) in the same order, so both give the same logits. `plan` returns nil where it does
/// not apply (adapters, fused Phi-3 projections, weights neither GGUF blocks nor float32), and
/// `CausalLM` then takes the general path.
struct DecodeStep {
    /// A projection's weight as the step reads it.
    enum Weight {
        case quantized(QuantizedMatrix)
        case dense(Tensor)          // float32, contiguous [rows, cols]

        var rows: Int {
            switch self { case .quantized(let q): return q.rows; case .dense(let t): return t.shape[0] }
        }

        /// y[j - range.lowerBound] = W[j] · x (+ bias[j]) for j in `range`; `sums` are x's 32-block sums.
        @inline(__always)
        func rows(_ range: Range<Int>, x: UnsafePointer<Float>, sums: UnsafePointer<Float>,
                  bias: UnsafePointer<Float>?, into y: UnsafeMutablePointer<Float>) {
            guard !range.isEmpty else { return }
            switch self {
            case .quantized(let q):
                q.gemvRows(range, x: x, xRows: 1, sums: sums, y: y - range.lowerBound, bias: bias)
            case .dense(let t):
                let cols = t.shape[1], w = UnsafePointer(t.storage.base.assumingMemoryBound(to: Float.self))
                for j in range { y[j - range.lowerBound] = DecodeKernels.dot(w + j * cols, x, cols) + (bias?[j] ?? 0) }
            }
        }
    }

    struct Projection {
        let weight: Weight
        let bias: Tensor?

        init(weight: Weight, bias: Tensor?) { self.weight = weight; self.bias = bias }

        init?(_ l: Linear) {
            guard l.adapters.isEmpty else { return nil }
            if let q = l.quantizedWeight {
                weight = .quantized(q)
            } else {
                let w = l.weight.value
                guard w.dtype == .float32, w.isContiguous, w.offset == 0 else { return nil }
                weight = .dense(w)
            }
            if let b = l.bias?.value {
                guard b.dtype == .float32, b.isContiguous, b.offset == 0 else { return nil }
                bias = b
            } else {
                bias = nil
            }
        }

        var biasPointer: UnsafePointer<Float>? { bias.map { UnsafePointer($0.storage.base.assumingMemoryBound(to: Float.self)) } }
    }

    struct Layer {
        let q: Projection, k: Projection, v: Projection, o: Projection
        let gate: Projection, up: Projection, down: Projection
        let inputNorm: Tensor, postNorm: Tensor
    }

    let config: ModelConfig
    let layers: [Layer]
    let finalNorm: Tensor
    let head: Projection

    /// The step for `model`, or nil when some layer needs the general path.
    static func plan(_ model: CausalLM) -> DecodeStep? {
        let c = model.config
        guard !c.fusedProjections, c.hiddenSize % 32 == 0, c.intermediateSize % 32 == 0,
              c.numAttentionHeads * c.headDim % 32 == 0 else { return nil }
        var layers: [Layer] = []
        for l in model.model.layers {
            let a = l.selfAttn, m = l.mlp
            guard let q = a.qProj.flatMap(Projection.init), let k = a.kProj.flatMap(Projection.init),
                  let v = a.vProj.flatMap(Projection.init), let o = Projection(a.oProj),
                  let g = m.gateProj.flatMap(Projection.init), let u = m.upProj.flatMap(Projection.init),
                  let d = Projection(m.downProj),
                  let n1 = plainFloats(l.inputLayernorm.weight.value), let n2 = plainFloats(l.postAttentionLayernorm.weight.value)
            else { return nil }
            layers.append(Layer(q: q, k: k, v: v, o: o, gate: g, up: u, down: d, inputNorm: n1, postNorm: n2))
        }
        guard let norm = plainFloats(model.model.norm.weight.value) else { return nil }
        let head: Projection
        if let lm = model.lmHead {
            guard let p = Projection(lm) else { return nil }
            head = p
        } else if let q = model.model.embedTokens.quantizedWeight {
            head = Projection(weight: .quantized(q), bias: nil)
        } else {
            guard let w = plainFloats(model.model.embedTokens.weight.value) else { return nil }
            head = Projection(weight: .dense(w), bias: nil)
        }
        return DecodeStep(config: c, layers: layers, finalNorm: norm, head: head)
    }

    private static func plainFloats(_ t: Tensor) -> Tensor? {
        t.dtype == .float32 && t.isContiguous && t.offset == 0 ? t : nil
    }

    /// Logits [1, 1, vocab] for the token whose embedding row is `x0` ([1, 1, hidden]) at `position`,
    /// attending to the `cache.length` cached tokens (minus those whose `keyMask` entry is 0) and to
    /// itself; stores its keys/values in the cache.
    func run(embedding x0: Tensor, position: Int, cache: KVCache, keyMask: [Int]?, invFreq: [Float]) -> Tensor {
        let c = config
        let hidden = c.hiddenSize, inter = c.intermediateSize, heads = c.numAttentionHeads
        let kvHeads = c.numKeyValueHeads, d = c.headDim, group = heads / kvHeads
        let qDim = heads * d, kvDim = kvHeads * d
        let slot = cache.length, s = slot + 1
        let team = WorkerTeam.shared
        let workers = team.size

        // One allocation for every scratch vector of the step.
        let sizes = [hidden, hidden, qDim, kvDim, kvDim, qDim, inter, hidden / 32, inter / 32, qDim / 32, s * workers, d, d,
                     hidden, inter, inter]
        let scratch = UnsafeMutablePointer<Float>.allocate(capacity: sizes.reduce(0, +))
        defer { scratch.deallocate() }
        var parts: [UnsafeMutablePointer<Float>] = []
        var at = scratch
        for n in sizes { parts.append(at); at += n }
        let x = parts[0], xn = parts[1], q = parts[2], k = parts[3], v = parts[4], att = parts[5], act = parts[6]
        let hiddenSums = parts[7], interSums = parts[8], attSums = parts[9], scores = parts[10]
        let cosT = parts[11], sinT = parts[12], proj = parts[13], gate = parts[14], up = parts[15]
        let rstd = UnsafeMutablePointer<Float>.allocate(capacity: 1)
        defer { rstd.deallocate() }

        x0.withContiguousFloats { x.update(from: $0, count: hidden) }
        var pos = Int32(truncatingIfNeeded: position)
        invFreq.withUnsafeBufferPointer { f in
            Kernels.ropeTables(positionIds: &pos, invFreq: f.baseAddress!, tokens: 1, headDim: d, cos: cosT, sin: sinT)
        }
        let scale = 1 / Float(d).squareRoot()

        /// x += p(input), the output rows split over the team (o_proj and down_proj with their residual).
        func addProjection(_ p: Projection, of input: UnsafeMutablePointer<Float>, sums: UnsafeMutablePointer<Float>) {
            team.run { w in
                let r = team.share(of: hidden, worker: w, align: 16)
                p.weight.rows(r, x: input, sums: sums, bias: p.biasPointer, into: proj + r.lowerBound)
                for j in r { x[j] += proj[j] }
            }
        }

        func norm(_ w: Tensor) {
            Kernels.rmsNormForward(x: x, weight: w.storage.base.assumingMemoryBound(to: Float.self), y: xn, rstd: rstd,
                                   rows: 1, dim: hidden, eps: c.rmsNormEps)
            QuantizedMatrix.blockSums(xn, hidden, into: hiddenSums)
        }

        // Which keys may be attended to (nil: all), as the C kernel reads it.
        let keepBuffer = keyMask.map { m -> UnsafeMutablePointer<UInt8> in
            let p = UnsafeMutablePointer<UInt8>.allocate(capacity: m.count)
            for (j, flag) in m.enumerated() { p[j] = flag != 0 ? 1 : 0 }
            return p
        }
        defer { keepBuffer?.deallocate() }
        let keep = keepBuffer.map { UnsafePointer($0) }

        for (li, L) in layers.enumerated() {
            let kc = cache.keys[li].storage.base.assumingMemoryBound(to: Float.self)
            let vc = cache.values[li].storage.base.assumingMemoryBound(to: Float.self)
            norm(L.inputNorm)
            // q, k and v rows as one range, split evenly.
            team.run { w in
                let r = team.share(of: qDim + 2 * kvDim, worker: w, align: 16)
                func part(_ p: Projection, _ y: UnsafeMutablePointer<Float>, from lo: Int) {
                    let a = Swift.max(r.lowerBound, lo) - lo, b = Swift.min(r.upperBound, lo + p.weight.rows) - lo
                    if a < b { p.weight.rows(a..<b, x: xn, sums: hiddenSums, bias: p.biasPointer, into: y + a) }
                }
                part(L.q, q, from: 0)
                part(L.k, k, from: qDim)
                part(L.v, v, from: qDim + kvDim)
            }
            Kernels.ropeForward(x: k, cos: cosT, sin: sinT, y: k, tokens: 1, heads: kvHeads, headDim: d)
            (kc + slot * kvDim).update(from: k, count: kvDim)
            (vc + slot * kvDim).update(from: v, count: kvDim)
            // One query per head against the cache (keys [cap, Hkv, D] for batch 1).
            team.run { w in
                let sc = scores + w * s
                for h in team.share(of: heads, worker: w) {
                    let qh = q + h * d, kvh = h / group
                    Kernels.ropeForward(x: qh, cos: cosT, sin: sinT, y: qh, tokens: 1, heads: 1, headDim: d)
                    stq_attend_one(qh, kc + kvh * d, vc + kvh * d, Int32(s), Int32(kvDim), Int32(d), scale, keep,
                                   sc, att + h * d)
                }
            }
            QuantizedMatrix.blockSums(att, qDim, into: attSums)
            addProjection(L.o, of: att, sums: attSums)
            norm(L.postNorm)
            // gate and up for the same intermediate units on the same worker, then SiLU·up and the
            // block sums of its part (boundaries on 32 so every block belongs to one worker).
            team.run { w in
                let r = team.share(of: inter, worker: w, align: 32)
                guard !r.isEmpty else { return }
                L.gate.weight.rows(r, x: xn, sums: hiddenSums, bias: L.gate.biasPointer, into: gate + r.lowerBound)
                L.up.weight.rows(r, x: xn, sums: hiddenSums, bias: L.up.biasPointer, into: up + r.lowerBound)
                Kernels.siluMulForward(gate: gate + r.lowerBound, up: up + r.lowerBound, out: act + r.lowerBound, count: r.count)
                QuantizedMatrix.blockSums(act + r.lowerBound, r.count, into: interSums + r.lowerBound / 32)
            }
            addProjection(L.down, of: act, sums: interSums)
        }
        cache.advance(by: 1)
        norm(finalNorm)
        let vocab = head.weight.rows
        let logits = Tensor.zeros([1, 1, vocab])
        let y = logits.storage.base.assumingMemoryBound(to: Float.self)
        team.run { w in
            let r = team.share(of: vocab, worker: w, align: 16)
            head.weight.rows(r, x: xn, sums: hiddenSums, bias: head.biasPointer, into: y + r.lowerBound)
        }
        return logits
    }
}
