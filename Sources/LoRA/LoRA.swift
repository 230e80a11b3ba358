import Foundation
import Models
import Tensors

/// Entry points, named after PEFT's functions.
public enum LoRA {
    /// Wraps `model` with a fresh adapter (PEFT `get_peft_model`). The base model is frozen.
    public static func apply(config: LoraConfig, to model: CausalLM, adapterName: String = "default", seed: UInt64 = 42) throws -> LoRAModel {
        try LoRAModel(base: model, config: config, adapterName: adapterName, seed: seed)
    }

    /// Loads a PEFT adapter folder onto `model` (PEFT `PeftModel.from_pretrained`); frozen unless
    /// `isTrainable`.
    public static func loadAdapter(from folder: String, into model: CausalLM, adapterName: String = "default",
                                   isTrainable: Bool = false) throws -> LoRAModel {
        let cfg = try LoraConfig.load(contentsOf: URL(fileURLWithPath: folder).appendingPathComponent("adapter_config.json"))
        var placeholder = cfg
        placeholder.initLoraWeights = .default
        placeholder.r = 1                       // cheap: it is deleted once the real adapter is in
        placeholder.rankPattern = [:]
        placeholder.useDora = false
        // Build with the folder's config under a temporary name, then load for real under `adapterName`,
        // so the wrapper and the loaded adapter share one code path.
        let tmp = "__init__"
        let m: LoRAModel
        do { m = try LoRAModel(base: model, config: placeholder, adapterName: tmp) } catch LoRAError.noTargets(let msg) {
            throw LoRAError.invalidAdapter(file: folder, "\(msg) (is this an adapter for a different base model?)")
        }
        do {
            try m.loadAdapter(from: folder, adapterName: adapterName, isTrainable: isTrainable)
        } catch {
            m.unload()
            throw error
        }
        try m.deleteAdapter(tmp)
        m.setAdapter(adapterName)
        if !isTrainable { for (_, p) in m.namedParameters() where p.value.isLeaf { p.value.requiresGrad = false } }
        return m
    }

    /// PEFT's `prepare_model_for_kbit_training`: freezes every parameter and casts 16-bit ones to float32
    /// (their values unchanged, still frozen). Linear weights count as the quantized weights that stay in
    /// their stored form when `keepLinearWeights` is true. Returns whether gradient checkpointing is to be
    /// used (set it on the LoRAModel/trainer).
    @discardableResult
    public static func prepareModelForKbitTraining(_ model: CausalLM, useGradientCheckpointing: Bool = true,
                                                   keepLinearWeights: Bool = false) -> Bool {
        model.freeze()
        var linearWeights = Set<ObjectIdentifier>()
        if keepLinearWeights {
            for (_, m) in model.namedModules() { if let l = m as? Linear { linearWeights.insert(ObjectIdentifier(l.weight)) } }
        }
        for (_, p) in model.namedParameters() where p.value.dtype == .float16 || p.value.dtype == .bfloat16 {
            if linearWeights.contains(ObjectIdentifier(p)) { continue }
            let f = Tensor.zeros(p.value.shape)
            f.copy(from: p.value.to(.float32))
            p.value = f
        }
        model.freeze()
        return useGradientCheckpointing
    }
}
