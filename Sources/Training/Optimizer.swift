import Foundation
import Models
import Tensors

/// torch.optim.AdamW (decoupled weight decay, bias-corrected moments), as HF's Trainer builds it:
/// weight decay on every trainable tensor except biases and norm weights (`get_decay_parameter_names`).
public final class AdamW {
    public struct Group { public var parameter: Parameter; public var name: String; public var decay: Bool }
    public let params: [Group]
    public var lr: Double
    public let beta1: Double, beta2: Double, eps: Double, weightDecay: Double
    /// Completed optimizer steps (torch's per-parameter `step`, shared here).
    public private(set) var step = 0
    /// First and second moments, one buffer per parameter.
    var m: [[Float]], v: [[Float]]

    public init(parameters: [(name: String, parameter: Parameter)], lr: Double, beta1: Double = 0.9, beta2: Double = 0.999,
                eps: Double = 1e-8, weightDecay: Double = 0) {
        params = parameters.map { Group(parameter: $0.parameter, name: $0.name, decay: AdamW.decays($0.name)) }
        self.lr = lr
        self.beta1 = beta1; self.beta2 = beta2; self.eps = eps; self.weightDecay = weightDecay
        m = params.map { [Float](repeating: 0, count: $0.parameter.value.count) }
        v = m
    }

    /// HF: no decay on biases and LayerNorm/RMSNorm weights.
    static func decays(_ name: String) -> Bool {
        let n = name.lowercased()
        return !(n.hasSuffix("bias") || n.contains("norm"))
    }

    /// One update from the parameters' current `.grad` (missing grads skip the tensor, as torch does).
    public func update() {
        step += 1
        let t = Double(step)
        let bc1 = 1 - pow(beta1, t), bc2 = 1 - pow(beta2, t)
        let stepSize = Float(lr / bc1), bc2Sqrt = Float(bc2.squareRoot())
        let b1 = Float(beta1), b2 = Float(beta2), e = Float(eps)
        for (i, g) in params.enumerated() {
            let p = g.parameter.value
            guard let grad = p.grad else { continue }
            let decay: Float = g.decay ? Float(1 - lr * weightDecay) : 1
            let n = p.count
            grad.withContiguousFloats { gp in
                p.withContiguousFloats { pp0 in
                    let pp = UnsafeMutablePointer(mutating: pp0)
                    m[i].withUnsafeMutableBufferPointer { mb in
                        v[i].withUnsafeMutableBufferPointer { vb in
                            let mp = mb.baseAddress!, vp = vb.baseAddress!
                            Parallel.forRanges(n, grain: 1 << 15) { r in
                                for j in r {
                                    let gj = gp[j]
                                    var pj = pp[j] * decay
                                    let mj = b1 * mp[j] + (1 - b1) * gj
                                    let vj = b2 * vp[j] + (1 - b2) * gj * gj
                                    mp[j] = mj; vp[j] = vj
                                    pj -= stepSize * mj / (vj.squareRoot() / bc2Sqrt + e)
                                    pp[j] = pj
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// The optimizer state for checkpoints.
    public var state: (step: Int, m: [[Float]], v: [[Float]]) { (step, m, v) }

    public func restore(step: Int, m: [[Float]], v: [[Float]]) throws {
        guard m.count == params.count, v.count == params.count,
              zip(m, params).allSatisfy({ $0.0.count == $0.1.parameter.value.count }),
              zip(v, params).allSatisfy({ $0.0.count == $0.1.parameter.value.count }) else {
            throw ConfigError("the checkpoint's optimizer state does not match the trainable parameters (different LoRA config?)")
        }
        self.step = step; self.m = m; self.v = v
    }
}

/// Gradient utilities.
public enum Gradients {
    /// The global L2 norm of the gradients (torch `clip_grad_norm_`'s total norm) and, when it exceeds
    /// `maxNorm`, scales them by `maxNorm / (norm + 1e-6)`. Returns the norm before clipping.
    @discardableResult
    public static func clip(_ params: [Parameter], maxNorm: Double) -> Double {
        var total = 0.0
        for p in params {
            guard let g = p.value.grad else { continue }
            let s: Double = g.withContiguousFloats { gp in
                var acc = 0.0
                var j = 0
                let n = g.count
                while j < n {
                    var partial: Float = 0
                    let end = Swift.min(n, j + 4096)
                    while j < end { partial += gp[j] * gp[j]; j += 1 }
                    acc += Double(partial)
                }
                return acc
            }
            total += s
        }
        let norm = total.squareRoot()
        if maxNorm > 0 {
            let coef = Float(Swift.min(1.0, maxNorm / (norm + 1e-6)))
            if coef < 1 {
                for p in params {
                    guard let g = p.value.grad else { continue }
                    g.withContiguousFloats { gp0 in
                        let gp = UnsafeMutablePointer(mutating: gp0)
                        for j in 0..<g.count { gp[j] *= coef }
                    }
                }
            }
        }
        return norm
    }
}

/// transformers' schedules (optimization.py) as a multiplier of the base learning rate at a step.
public struct LRSchedule: Sendable {
    public let type: LRSchedulerType
    public let warmupSteps: Int
    public let totalSteps: Int

    public init(type: LRSchedulerType, warmupSteps: Int, totalSteps: Int) {
        self.type = type; self.warmupSteps = warmupSteps; self.totalSteps = totalSteps
    }

    /// The multiplier after `step` scheduler steps (the learning rate of optimizer step `step + 1`).
    public func factor(_ step: Int) -> Double {
        let s = Double(step), w = Double(warmupSteps), n = Double(totalSteps)
        switch type {
        case .constant: return 1
        case .constantWithWarmup: return step < warmupSteps ? s / max(1, w) : 1
        case .linear:
            if step < warmupSteps { return s / max(1, w) }
            return max(0, (n - s) / max(1, n - w))
        case .cosine, .cosineWithRestarts:
            if step < warmupSteps { return s / max(1, w) }
            let progress = (s - w) / max(1, n - w)
            if type == .cosine { return max(0, 0.5 * (1 + cos(Double.pi * 0.5 * 2 * progress))) }
            if progress >= 1 { return 0 }
            return max(0, 0.5 * (1 + cos(Double.pi * (1 * progress).truncatingRemainder(dividingBy: 1))))
        }
    }
}
