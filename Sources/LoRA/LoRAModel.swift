import Foundation
import Models
import Tensors

/// A causal LM with LoRA adapters (PEFT's `PeftModelForCausalLM` + `LoraModel`): several named adapters,
/// one active at a time, that can be disabled, merged, unmerged, saved and loaded in PEFT's format.
///
/// Linear adapters hook into `Linear.adapters`, so any `base.forward` runs them; LoRA on embeddings and
/// `modules_to_save` need `forward`/`loss` of this class (or `withAdapters`), which put the adapted
/// tables in place for the pass.
public final class LoRAModel {
    /// The wrapped model (PEFT's `base_model.model`).
    public let base: CausalLM
    /// Each adapter's config (targets resolved), in creation order (PEFT `peft_config`).
    public private(set) var peftConfig: [(name: String, config: LoraConfig)] = []
    /// The adapter forward passes use (PEFT `active_adapter`).
    public private(set) var activeAdapter: String
    /// Set by `prepareModelForKbitTraining(useGradientCheckpointing:)`; trainers read it.
    public var gradientCheckpointing = false

    let runtime = LoRARuntime()
    var linears: [(path: String, layer: LoRALinear)] = []
    var embeddings: [(path: String, layer: LoRAEmbedding)] = []
    var saved: [(path: String, wrapper: ModulesToSave)] = []
    let generator: RandomGenerator

    /// Wraps `base` with a new adapter (PEFT `get_peft_model`). Freezes the base model.
    public init(base: CausalLM, config: LoraConfig, adapterName: String = "default", seed: UInt64 = 42) throws {
        self.base = base
        self.activeAdapter = adapterName
        generator = RandomGenerator(seed: seed)
        try addAdapter(adapterName, config: config)
        setAdapter(adapterName)
    }

    /// Names of all adapters.
    public var adapterNames: [String] { peftConfig.map(\.name) }

    /// The config of an adapter.
    public func config(_ name: String) -> LoraConfig? { peftConfig.first { $0.name == name }?.config }

    // MARK: managing adapters

    /// Adds a new adapter with fresh weights (PEFT `add_adapter`); it does not become active.
    public func addAdapter(_ name: String, config: LoraConfig) throws {
        guard !name.isEmpty, !name.contains(".") else {
            throw LoRAError.adapterName("'\(name)' is not a valid adapter name (non-empty, no dots)")
        }
        guard self.config(name) == nil else { throw LoRAError.adapterName("an adapter named '\(name)' already exists; delete it first or pick another name") }
        guard linears.allSatisfy({ !$0.layer.isMerged }) else {
            throw LoRAError.unsupported("cannot add an adapter while adapters are merged; call unmergeAdapter() first")
        }
        try config.validate()
        let c = try Targeting.resolve(config, model: base)

        // Plan everything first so a failure leaves the model untouched.
        var newSaved: [(String, Module)] = []
        if let entries = c.modulesToSave {
            for (key, m) in base.namedModules() where !key.isEmpty && entries.contains(where: { key.hasSuffix($0) }) {
                if newSaved.contains(where: { key.hasPrefix($0.0 + ".") }) { continue }
                if base.config.tieWordEmbeddings && (m as? Embedding) === base.model.embedTokens {
                    throw LoRAError.unsupported("modules_to_save '\(key)' on a model with tied embeddings: the copy would also replace the output head")
                }
                newSaved.append((key, m))
            }
        }
        var targets: [(String, Module)] = []
        for (key, m) in base.namedModules() where !key.isEmpty && Targeting.isTarget(c, key) {
            guard m is Linear || m is Embedding else {
                throw LoRAError.unsupported("Target module '\(key)' is not supported: only Linear and Embedding layers take LoRA (target_modules matched a \(type(of: m)))")
            }
            if m is Embedding && base.config.tieWordEmbeddings {
                throw LoRAError.unsupported("LoRA on '\(key)' with tie_word_embeddings: the adapted table would also feed the tied output head, unlike PEFT")
            }
            targets.append((key, m))
        }
        guard !targets.isEmpty else {
            let desc: String
            switch c.targetModules {
            case .list(let l)?: desc = "{" + l.map { "'\($0)'" }.joined(separator: ", ") + "}"
            case .regex(let s)?: desc = "'\(s)'"
            default: desc = "(none)"
            }
            throw LoRAError.noTargets("Target modules \(desc) not found in the base model. Please check the target modules and try again.")
        }

        for (key, m) in newSaved {
            let w: ModulesToSave
            if let e = saved.first(where: { $0.path == key }) { w = e.wrapper } else {
                w = ModulesToSave(path: key, module: m); saved.append((key, w))
            }
            w.add(name)
        }
        for (key, m) in targets {
            let (r, alpha) = Targeting.rankAndAlpha(c, key)
            let s = c.scaling(r: r, alpha: alpha)
            if let lin = m as? Linear {
                let l: LoRALinear
                if let e = linears.first(where: { $0.path == key }) { l = e.layer } else {
                    l = LoRALinear(layer: lin, runtime: runtime, seed: DropoutSeed.seed(path: key)); linears.append((key, l))
                }
                l.add(name, r: r, scaling: s, dropout: Float(c.loraDropout), useDora: c.useDora, initWeights: c.initLoraWeights, generator: generator)
            } else if let emb = m as? Embedding {
                let l: LoRAEmbedding
                if let e = embeddings.first(where: { $0.path == key }) { l = e.layer } else {
                    l = LoRAEmbedding(layer: emb); embeddings.append((key, l))
                }
                l.add(name, r: r, scaling: s, initWeights: c.initLoraWeights, generator: generator)
            }
        }
        peftConfig.append((name, c))
        refreshTrainable()
    }

    /// Makes `name` the active adapter (PEFT `set_adapter`): only its parameters train.
    public func setAdapter(_ name: String) {
        guard config(name) != nil else { return }
        activeAdapter = name
        runtime.active = [name]
        refreshTrainable()
        syncModulesToSave()
    }

    /// Checked variant of `setAdapter`.
    public func activate(_ name: String) throws {
        guard config(name) != nil else { throw LoRAError.adapterName("no adapter named '\(name)'; adapters: \(adapterNames)") }
        setAdapter(name)
    }

    /// Removes an adapter from every layer (PEFT `delete_adapter`). Deleting the active one activates
    /// the first remaining adapter.
    public func deleteAdapter(_ name: String) throws {
        guard config(name) != nil else { throw LoRAError.adapterName("no adapter named '\(name)'; adapters: \(adapterNames)") }
        guard linears.allSatisfy({ !$0.layer.isMerged }), embeddings.allSatisfy({ $0.layer.merged.isEmpty }) else {
            throw LoRAError.unsupported("cannot delete an adapter while adapters are merged; call unmergeAdapter() first")
        }
        for (_, l) in linears { l.remove(name) }
        for (_, l) in embeddings { l.remove(name) }
        for (_, w) in saved { w.copies[name] = nil }
        peftConfig.removeAll { $0.name == name }
        if activeAdapter == name {
            activeAdapter = peftConfig.first?.name ?? ""
            runtime.active = peftConfig.isEmpty ? [] : [activeAdapter]
        }
        syncModulesToSave()
        refreshTrainable()
    }

    /// Runs `body` with every adapter off (PEFT `with disable_adapter():`): base-model outputs. Merged
    /// adapters are unmerged first (and stay unmerged).
    public func disableAdapter<R>(_ body: () throws -> R) rethrows -> R {
        // As PEFT's forward does with disabled adapters: merged weights are unmerged first.
        unmergeAdapter()
        let old = runtime.disabled
        runtime.disabled = true
        syncModulesToSave()
        defer { runtime.disabled = old; syncModulesToSave() }
        return try body()
    }

    /// Whether adapters are currently disabled.
    public var adaptersDisabled: Bool { runtime.disabled }

    /// Adds the adapters (default: the active one) into the base weights, keeping them for `unmergeAdapter`
    /// (PEFT `merge_adapter`). Forward passes then use the merged weights only.
    public func mergeAdapter(_ names: [String]? = nil) throws {
        let names = names ?? [activeAdapter]
        for n in names where config(n) == nil { throw LoRAError.adapterName("no adapter named '\(n)'; adapters: \(adapterNames)") }
        for n in names {
            for (_, l) in linears where !l.merged.contains(where: { $0.0 == n }) { l.merge(n) }
            for (_, l) in embeddings where !l.merged.contains(n) { l.merge(n) }
        }
    }

    /// Restores the base weights from before `mergeAdapter` (PEFT `unmerge_adapter`).
    public func unmergeAdapter() {
        for (_, l) in linears { l.unmerge() }
        for (_, l) in embeddings { l.unmerge() }
    }

    /// Merges the active adapter (or `names`) into the base and removes all LoRA layers (PEFT
    /// `merge_and_unload`). Modules in `modules_to_save` keep the active adapter's copy. Returns the
    /// plain model; this wrapper must not be used afterwards.
    @discardableResult
    public func mergeAndUnload(adapterNames names: [String]? = nil) throws -> CausalLM {
        try mergeAdapter(names)
        return strip()
    }

    /// Removes all LoRA layers without merging (PEFT `unload`): the base model as it was, except that
    /// `modules_to_save` keep the active adapter's copy, as in PEFT.
    @discardableResult
    public func unload() -> CausalLM {
        unmergeAdapter()
        return strip()
    }

    func strip() -> CausalLM {
        for (_, l) in linears { l.merged = []; l.detach() }
        for (_, l) in embeddings { l.swapOut(); l.merged = [] }
        for (_, w) in saved {
            w.use(runtime.disabled ? nil : activeAdapter)
            for (_, p) in w.params { p.value = p.value.detach() }
        }
        linears = []; embeddings = []; saved = []; peftConfig = []
        base.freeze()
        return base
    }

    // MARK: parameters

    /// Freezes the base and marks the active adapter's parameters (and biases per its `bias`) trainable.
    func refreshTrainable() {
        base.freeze()
        for (_, l) in linears {
            for (n, _) in l.info { for (_, p) in l.parameters(n) { p.value.requiresGrad = n == activeAdapter } }
        }
        for (_, l) in embeddings {
            for (n, p) in l.a { p.value.requiresGrad = n == activeAdapter }
            for (n, p) in l.b { p.value.requiresGrad = n == activeAdapter }
        }
        for (_, w) in saved { for (n, ps) in w.copies { for p in ps { p.value.requiresGrad = n == activeAdapter } } }
        guard let c = config(activeAdapter) else { return }
        let biases: [Parameter]
        switch c.bias {
        case "all": biases = base.namedParameters().filter { $0.name.hasSuffix(".bias") }.map(\.parameter)
        case "lora_only": biases = linears.compactMap { $0.layer.layer.bias }
        default: biases = []
        }
        for p in biases where p.value.dtype == .float32 && p.value.isLeaf { p.value.requiresGrad = true }
    }

    /// Points each `modules_to_save` module at the active adapter's copy (or the original when disabled).
    func syncModulesToSave() {
        for (_, w) in saved { w.use(runtime.disabled ? nil : activeAdapter) }
    }

    /// Every parameter under PEFT's names (`base_model.model.…`, `base_layer`, `lora_A.<adapter>.weight`,
    /// `modules_to_save.<adapter>`, `original_module`), tied parameters once.
    public func namedParameters() -> [(name: String, parameter: Parameter)] {
        syncModulesToSave()
        let pre = "base_model.model."
        var savedBox: [ObjectIdentifier: (ModulesToSave, Int)] = [:]
        for (_, w) in saved { for (i, p) in w.params.enumerated() { savedBox[ObjectIdentifier(p.1)] = (w, i) } }
        var wrapped: [ObjectIdentifier: String] = [:]
        for (path, l) in linears {
            wrapped[ObjectIdentifier(l.layer.weight)] = path + ".base_layer.weight"
            if let b = l.layer.bias { wrapped[ObjectIdentifier(b)] = path + ".base_layer.bias" }
        }
        var embByBox: [ObjectIdentifier: (String, LoRAEmbedding)] = [:]
        for (path, l) in embeddings { embByBox[ObjectIdentifier(l.layer.weight)] = (path, l) }
        var out: [(name: String, parameter: Parameter)] = []
        var seen = Set<ObjectIdentifier>()
        for (n, p) in base.namedParameters() where seen.insert(ObjectIdentifier(p)).inserted {
            if let (w, i) = savedBox[ObjectIdentifier(p)] {
                let rel = w.params[i].0
                out.append((pre + w.path + ".original_module." + rel, Parameter(w.originals[i])))
                for (a, _) in peftConfig { if let c = w.copies[a] { out.append((pre + w.path + ".modules_to_save.\(a)." + rel, c[i])) } }
            } else if let name = wrapped[ObjectIdentifier(p)] {
                out.append((pre + name, p))
            } else if let (path, l) = embByBox[ObjectIdentifier(p)] {
                out.append((pre + path + ".base_layer.weight", l.stashed.map { Parameter($0) } ?? p))
                for (a, _) in peftConfig {
                    if let ta = l.a[a] { out.append((pre + path + ".lora_embedding_A.\(a)", ta)) }
                    if let tb = l.b[a] { out.append((pre + path + ".lora_embedding_B.\(a)", tb)) }
                }
            } else {
                out.append((pre + n, p))
            }
        }
        return out
    }

    /// The parameters that train (PEFT names), for the optimizer.
    public func trainableParameters() -> [(name: String, parameter: Parameter)] {
        namedParameters().filter { $0.parameter.value.requiresGrad }
    }

    /// PEFT's `get_nb_trainable_parameters()`: (trainable, all).
    public func parameterCounts() -> (trainable: Int, all: Int) {
        var t = 0, a = 0
        for (_, p) in namedParameters() {
            a += p.value.count
            if p.value.requiresGrad { t += p.value.count }
        }
        return (t, a)
    }

    /// PEFT's `print_trainable_parameters()` line:
    /// `trainable params: 2,442,240 || all params: 136,957,248 || trainable%: 1.7832`.
    public func trainableParameterSummary() -> String {
        let (t, a) = parameterCounts()
        let pct = a == 0 ? 0 : 100 * Double(t) / Double(a)
        return "trainable params: \(grouped(t)) || all params: \(grouped(a)) || trainable%: \(String(format: "%.4f", pct))"
    }

    /// Prints `trainableParameterSummary()`.
    public func printTrainableParameters() { print(trainableParameterSummary()) }

    // MARK: forward

    /// Runs `body` with LoRA embeddings and `modules_to_save` in place (what `forward` does around the
    /// base model's forward), e.g. for generation loops that call `base.forward` themselves.
    public func withAdapters<R>(_ body: () throws -> R) rethrows -> R {
        syncModulesToSave()
        if !runtime.disabled { for (_, l) in embeddings { l.swapIn(active: runtime.active) } }
        defer { for (_, l) in embeddings { l.swapOut() } }
        return try body()
    }

    /// Logits with the adapters (see `CausalLM.forward`).
    public func forward(inputIds: Tensor, attentionMask: Tensor? = nil, positionIds: Tensor? = nil,
                        cache: KVCache? = nil, lastOnly: Bool = false) throws -> Tensor {
        try withAdapters {
            try base.forward(inputIds: inputIds, attentionMask: attentionMask, positionIds: positionIds, cache: cache, lastOnly: lastOnly)
        }
    }

    /// The summed causal-LM loss and its label count with the adapters (see `CausalLM.lossSum(inputIds:labels:)`:
    /// the output head runs only where labels count).
    public func lossSum(inputIds: Tensor, labels: Tensor, attentionMask: Tensor? = nil,
                        positionIds: Tensor? = nil) throws -> (sum: Tensor, count: Int) {
        try withAdapters {
            try base.lossSum(inputIds: inputIds, labels: labels, attentionMask: attentionMask, positionIds: positionIds)
        }
    }

    /// Forward plus HF causal-LM loss (see `CausalLM.loss`).
    public func loss(inputIds: Tensor, labels: Tensor, attentionMask: Tensor? = nil, positionIds: Tensor? = nil,
                     numItemsInBatch: Int? = nil) throws -> Tensor {
        let logits = try forward(inputIds: inputIds, attentionMask: attentionMask, positionIds: positionIds)
        return try base.loss(logits: logits, labels: labels, numItemsInBatch: numItemsInBatch)
    }

    /// The state of every LoRA layer's dropout random stream, by module path (for training checkpoints:
    /// restoring it makes a resumed run draw the same masks as an uninterrupted one).
    public var dropoutRNGState: [String: [UInt64]] {
        Dictionary(linears.map { ($0.path, $0.layer.dropoutRNG.state) }, uniquingKeysWith: { a, _ in a })
    }

    /// Restores `dropoutRNGState`. Throws when a layer is missing or a state is malformed (a checkpoint of
    /// another LoRA config).
    public func restoreDropoutRNGState(_ states: [String: [UInt64]]) throws {
        for (path, l) in linears {
            guard let s = states[path] else {
                throw LoRAError.unsupported("the dropout RNG state has no entry for '\(path)' (a checkpoint of a different LoRA config?)")
            }
            guard l.dropoutRNG.restore(state: s) else {
                throw LoRAError.unsupported("the dropout RNG state of '\(path)' must be 4 words, not all zero; got \(s.count)")
            }
        }
    }

    /// Training / evaluation mode (dropout on the adapter path runs in training mode only).
    public func train(_ on: Bool = true) { base.train(on) }
    public func eval() { base.eval() }
}

/// PEFT's name for the wrapper.
public typealias PeftModel = LoRAModel

/// `f"{n:,d}"`.
func grouped(_ n: Int) -> String {
    let s = String(abs(n))
    var out = ""
    for (i, ch) in s.enumerated() {
        if i > 0 && (s.count - i) % 3 == 0 { out.append(",") }
        out.append(ch)
    }
    return n < 0 ? "-" + out : out
}
