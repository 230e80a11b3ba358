import Models
import Tensors

/// State shared by every LoRA layer of one `LoRAModel`: which adapters run, and whether all are off.
final class LoRARuntime {
    var active: [String] = []
    var disabled = false
}

/// A named group of per-adapter parameters attached to a `Linear` (as PEFT's `lora_A` ModuleDict):
/// listed among the layer's children under "lora_A" etc., so parameter paths read
/// `q_proj.lora_A.default.weight` as in PEFT. Its forward passes the output through unchanged; the
/// computation lives in `LoRALinear`.
final class ParameterSlot: Module, LinearAdapter {
    var entries: [(String, Parameter)] = []
    let suffix: String
    init(suffix: String) { self.suffix = suffix }
    override var ownParameters: [(String, Parameter)] { entries.map { ($0.0 + suffix, $0.1) } }
    func forward(_ x: Tensor, base: Tensor) -> Tensor { base }
    func get(_ name: String) -> Parameter? { entries.first { $0.0 == name }?.1 }
    func remove(_ name: String) { entries.removeAll { $0.0 == name } }
    func set(_ name: String, _ p: Parameter) { remove(name); entries.append((name, p)) }
}

/// One adapter's hyper-parameters on one layer.
struct LayerAdapterInfo {
    var r: Int
    var scaling: Float
    var dropout: Float
    var useDora: Bool
}

/// LoRA on a `Linear` (PEFT `lora.Linear`): `y = base(x) + B(A(dropout(x))) · scaling` for each active
/// adapter, with DoRA's magnitude rescaling when enabled. The base weight stays frozen in its dtype; the
/// adapter weights are float32.
final class LoRALinear: LinearAdapter {
    unowned let layer: Linear
    let runtime: LoRARuntime
    let loraA = ParameterSlot(suffix: ".weight"), loraB = ParameterSlot(suffix: ".weight")
    let magnitude = ParameterSlot(suffix: ".weight")
    var info: [String: LayerAdapterInfo] = [:]
    /// Adapters merged into the base weight, in merge order, with DoRA's factor where used.
    var merged: [(String, Tensor?)] = []
    /// The dropout masks' random stream (its state is saved in training checkpoints).
    let dropoutRNG: RandomGenerator

    init(layer: Linear, runtime: LoRARuntime, seed: UInt64 = 0x10A) {
        self.layer = layer
        self.runtime = runtime
        dropoutRNG = RandomGenerator(seed: seed)
        layer.adapters.append(("lora_A", loraA))
        layer.adapters.append(("lora_B", loraB))
        layer.adapters.append(("lora_magnitude_vector", magnitude))
        layer.adapters.append(("lora", self))
    }

    /// Removes this layer's hooks from the base `Linear`.
    func detach() {
        layer.adapters.removeAll { $0.adapter === loraA || $0.adapter === loraB || $0.adapter === magnitude || $0.adapter === self }
    }

    var isMerged: Bool { !merged.isEmpty }

    /// The base weight as float32, without gradient.
    func baseWeight32() -> Tensor { layer.weight.value.detach().to(.float32) }

    /// `B @ A` [out, in], float32.
    func product(_ name: String) -> Tensor? {
        guard let a = loraA.get(name)?.value, let b = loraB.get(name)?.value else { return nil }
        return b.matmul(a)
    }

    /// Row norms of `w` [out, in] → [out].
    static func rowNorm(_ w: Tensor) -> Tensor { (w * w).sum(dim: 1).sqrt() }

    func forward(_ x: Tensor, base: Tensor) -> Tensor {
        if runtime.disabled || isMerged { return base }
        // One plain adapter on a frozen layer without a trainable bias (the usual fine-tuning case): one
        // fused node that adds the adapter into the fresh base output and back-propagates in one go.
        if runtime.active.count == 1, let name = runtime.active.first, let inf = info[name], !inf.useDora,
           let a = loraA.get(name)?.value, let b = loraB.get(name)?.value, !layer.weight.value.requiresGrad,
           !(layer.bias?.value.requiresGrad ?? false) {
            // The mask as bytes, drawn as Tensor.dropoutMask would draw it (same elements, same RNG state after).
            let keep = inf.dropout > 0 && layer.training ? DropoutKeep(count: x.count, p: inf.dropout, generator: dropoutRNG) : nil
            if let y = loraLinear(x: x, base: base, weight: layer.weight.value, a: a, b: b, scaling: inf.scaling, dropoutKeep: keep) {
                return y
            }
            let lora = linear(linear(keep.map { x * $0.floatMask(x.shape) } ?? x, weight: a), weight: b)
            return base + lora * inf.scaling
        }
        var y = base
        for name in runtime.active {
            guard let inf = info[name], let a = loraA.get(name)?.value, let b = loraB.get(name)?.value else { continue }
            let xd = inf.dropout > 0 && layer.training ? x * Tensor.dropoutMask(x.shape, p: inf.dropout, generator: dropoutRNG) : x
            let lora = linear(linear(xd, weight: a), weight: b)
            if !inf.useDora {
                y = y + lora * inf.scaling
                continue
            }
            guard let m = magnitude.get(name)?.value else { continue }
            // DoRA: ||W + s·BA|| row-wise, computed from a detached BA and itself detached (DoRA §4.3).
            let norm = withNoGrad { LoRALinear.rowNorm(baseWeight32() + b.detach().matmul(a.detach()) * inf.scaling) }
            let scale = m / norm                                        // [out]
            var baseResult: Tensor
            if inf.dropout == 0 || !layer.training {
                baseResult = y
                if let bias = layer.bias?.value { baseResult = baseResult - bias.detach().to(.float32) }
            } else {
                baseResult = linear(xd, weight: layer.weight.value.detach())
            }
            y = y + (scale - 1) * baseResult + scale * lora * inf.scaling
        }
        return y
    }

    /// The scaled delta `s · B @ A` [out, in] of one adapter (float32).
    func delta(_ name: String) -> Tensor? {
        guard let inf = info[name], let p = product(name) else { return nil }
        return p * inf.scaling
    }

    /// Adds the adapter into the base weight (PEFT `merge`): in the weight's own dtype, with the delta
    /// rounded to that dtype first, as PEFT does for half-precision bases.
    func merge(_ name: String) {
        guard let inf = info[name], let d0 = delta(name) else { return }
        withNoGrad {
            let w = layer.weight.value
            let dt = w.dtype
            let d = d0.to(dt).to(.float32)
            let w32 = w.detach().to(.float32)
            var factor: Tensor? = nil
            var new: Tensor
            if inf.useDora, let m = magnitude.get(name)?.value {
                let f = m.detach() / LoRALinear.rowNorm(w32 + d)
                factor = f
                new = f.unsqueeze(1) * (w32 + d)
            } else {
                new = w32 + d
            }
            let out = new.to(dt).contiguous()
            layer.weight.value = out.requiresGrad ? out.detach() : out
            merged.append((name, factor))
        }
    }

    /// Undoes the most recent merges (PEFT `unmerge`).
    func unmerge() {
        withNoGrad {
            while let (name, factor) = merged.popLast() {
                guard let d0 = delta(name) else { continue }
                let w = layer.weight.value, dt = w.dtype
                let d = d0.to(dt).to(.float32)
                var w32 = w.detach().to(.float32)
                if let factor { w32 = w32 / factor.unsqueeze(1) }
                layer.weight.value = (w32 - d).to(dt).contiguous()
            }
        }
    }

    /// Adds a fresh adapter (PEFT `update_layer` + `reset_lora_parameters`).
    func add(_ name: String, r: Int, scaling: Float, dropout: Float, useDora: Bool, initWeights: InitLoraWeights, generator g: RandomGenerator) {
        let inF = layer.inFeatures, outF = layer.outFeatures
        let a: Tensor, b: Tensor
        switch initWeights {
        case .default:
            a = Tensor.kaimingUniform([r, inF], generator: g); b = Tensor.zeros([outF, r])
        case .gaussian:
            a = Tensor.normal([r, inF], std: 1 / Float(r), generator: g); b = Tensor.zeros([outF, r])
        case .random:
            a = Tensor.kaimingUniform([r, inF], generator: g); b = Tensor.kaimingUniform([outF, r], generator: g)
        }
        loraA.set(name, Parameter(a.requiringGrad()))
        loraB.set(name, Parameter(b.requiringGrad()))
        info[name] = LayerAdapterInfo(r: r, scaling: scaling, dropout: dropout, useDora: useDora)
        if useDora {
            let m = withNoGrad { LoRALinear.rowNorm(baseWeight32() + b.matmul(a) * scaling) }.contiguous()
            magnitude.set(name, Parameter(m.requiringGrad()))
        }
    }

    func remove(_ name: String) {
        loraA.remove(name); loraB.remove(name); magnitude.remove(name); info[name] = nil
    }

    /// This adapter's trainable parameters with their PEFT names relative to the layer.
    func parameters(_ name: String) -> [(String, Parameter)] {
        var out: [(String, Parameter)] = []
        if let p = loraA.get(name) { out.append(("lora_A.\(name).weight", p)) }
        if let p = loraB.get(name) { out.append(("lora_B.\(name).weight", p)) }
        if let p = magnitude.get(name) { out.append(("lora_magnitude_vector.\(name).weight", p)) }
        return out
    }
}

/// LoRA on an `Embedding` (PEFT `lora.Embedding`): `base(ids) + (Aᵀ[ids] · Bᵀ) · scaling`, A [r, vocab]
/// (zeros at init), B [dim, r] (normal at init). Models' `Embedding` has no adapter hook, so the adapted
/// table `W + (B·A)ᵀ·s` is swapped in for the duration of a `LoRAModel` forward pass.
final class LoRAEmbedding {
    unowned let layer: Embedding
    var a: [String: Parameter] = [:], b: [String: Parameter] = [:]
    var info: [String: LayerAdapterInfo] = [:]
    var merged: [String] = []
    /// The frozen base table while an adapted table is swapped in.
    var stashed: Tensor? = nil

    init(layer: Embedding) { self.layer = layer }

    func add(_ name: String, r: Int, scaling: Float, initWeights: InitLoraWeights, generator g: RandomGenerator) {
        let vocab = layer.weight.value.shape[0], dim = layer.weight.value.shape[1]
        let ta: Tensor, tb: Tensor
        if initWeights == .random {
            ta = Tensor.randn([r, vocab], generator: g); tb = Tensor.randn([dim, r], generator: g)
        } else {
            ta = Tensor.zeros([r, vocab]); tb = Tensor.randn([dim, r], generator: g)
        }
        a[name] = Parameter(ta.requiringGrad()); b[name] = Parameter(tb.requiringGrad())
        info[name] = LayerAdapterInfo(r: r, scaling: scaling, dropout: 0, useDora: false)
    }

    func remove(_ name: String) { a[name] = nil; b[name] = nil; info[name] = nil }

    /// `(B·A)ᵀ·s` [vocab, dim].
    func delta(_ name: String) -> Tensor? {
        guard let ta = a[name]?.value, let tb = b[name]?.value, let inf = info[name] else { return nil }
        return ta.mT.matmul(tb.mT) * inf.scaling
    }

    /// Swaps in `W + Σ active deltas` (with autograd to A and B).
    func swapIn(active: [String]) {
        guard stashed == nil, merged.isEmpty else { return }
        let deltas = active.compactMap { delta($0) }
        guard !deltas.isEmpty else { return }
        let w = layer.weight.value
        stashed = w
        var eff = w.detach().to(.float32)
        for d in deltas { eff = eff + d }
        layer.weight.value = eff
    }

    func swapOut() {
        if let s = stashed { layer.weight.value = s; stashed = nil }
    }

    func merge(_ name: String) {
        guard let d0 = delta(name) else { return }
        withNoGrad {
            let w = layer.weight.value, dt = w.dtype
            layer.weight.value = (w.detach().to(.float32) + d0.to(dt).to(.float32)).to(dt).contiguous()
            merged.append(name)
        }
    }

    func unmerge() {
        withNoGrad {
            while let name = merged.popLast() {
                guard let d0 = delta(name) else { continue }
                let w = layer.weight.value, dt = w.dtype
                layer.weight.value = (w.detach().to(.float32) - d0.to(dt).to(.float32)).to(dt).contiguous()
            }
        }
    }
}

/// A module listed in `modules_to_save` (PEFT `ModulesToSaveWrapper`): the original parameters are
/// kept, and each adapter owns a trainable float32 copy that the module uses while that adapter is active.
final class ModulesToSave {
    let path: String
    /// The module's parameter boxes with their paths relative to the module.
    let params: [(String, Parameter)]
    let originals: [Tensor]
    var copies: [String: [Parameter]] = [:]

    init(path: String, module: Module) {
        self.path = path
        params = module.namedParameters()
        originals = params.map { $0.1.value }
    }

    func add(_ name: String) {
        copies[name] = originals.map { t in
            let c = Tensor.zeros(t.shape)
            c.copy(from: t.detach().to(.float32))
            return Parameter(c.requiringGrad())
        }
    }

    /// Points the module's boxes at the copy of `adapter`, or at the originals when nil or unknown.
    func use(_ adapter: String?) {
        if let adapter, let c = copies[adapter] {
            for (i, p) in params.enumerated() { p.1.value = c[i].value }
        } else {
            for (i, p) in params.enumerated() { p.1.value = originals[i] }
        }
    }
}
