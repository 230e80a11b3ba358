import Models

/// PEFT's target-module resolution (`check_target_module_exists`, `get_pattern_key`, the default map).
enum Targeting {
    /// PEFT's `TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING` for the architectures Models implements
    /// (phi3 is not in PEFT's map: its adapters must name `target_modules`).
    static let defaultTargets: [String: [String]] = [
        "llama": ["q_proj", "v_proj"], "mistral": ["q_proj", "v_proj"], "qwen2": ["q_proj", "v_proj"],
        "mixtral": ["q_proj", "v_proj"], "gemma": ["q_proj", "v_proj"], "gemma2": ["q_proj", "v_proj"],
    ]

    /// The config with `target_modules` filled in: the architecture default when absent, the explicit
    /// list of linear layers (minus the output head) for "all-linear", as PEFT stores them.
    static func resolve(_ config: LoraConfig, model: CausalLM) throws -> LoraConfig {
        var c = config
        switch c.targetModules {
        case nil:
            guard let d = defaultTargets[model.config.modelType] else {
                throw LoRAError.noTargets("Please specify `target_modules` in `peft_config` (model_type '\(model.config.modelType)' has no default LoRA targets in PEFT; e.g. for phi3: [\"qkv_proj\", \"o_proj\", \"gate_up_proj\", \"down_proj\"])")
            }
            c.targetModules = .list(d)
        case .allLinear?:
            c.targetModules = .list(model.namedModules().compactMap { (name, m) in
                m is Linear && name != "lm_head" ? name : nil
            })
        default: break
        }
        return c
    }

    /// `re.match(rf"(^|.*\.){m}($|\..*)", key)`: whether `key` lies in (or is) a modules_to_save module.
    static func insideModulesToSave(_ key: String, _ modulesToSave: [String]?) -> Bool {
        guard let m = modulesToSave else { return false }
        return m.contains { LoRARegex.match("(^|.*\\.)" + $0 + "($|\\..*)", key) != nil }
    }

    static func matches(_ t: TargetModules, _ key: String) -> Bool {
        switch t {
        case .regex(let p): return LoRARegex.fullMatch(p, key)
        case .list(let l): return l.contains(key) || l.contains { key.hasSuffix("." + $0) }
        case .allLinear: return false
        }
    }

    /// PEFT's `check_target_module_exists` for a resolved config.
    static func isTarget(_ c: LoraConfig, _ key: String) -> Bool {
        if let ex = c.excludeModules, matches(ex, key) { return false }
        if insideModulesToSave(key, c.modulesToSave) { return false }
        guard let t = c.targetModules else { return false }
        switch t {
        case .regex(let p): return LoRARegex.fullMatch(p, key)
        case .allLinear: return false
        case .list(let l):
            if l.contains(key) { return true }
            guard l.contains(where: { key.hasSuffix("." + $0) }) else { return false }
            guard let layers = c.layersToTransform, !layers.isEmpty else { return true }
            var idx: String? = nil
            if let pats = c.layersPattern, !pats.isEmpty {
                for p in pats { if let g = LoRARegex.match("(?:^|.*?\\.)" + p + "\\.(\\d+)\\.", key) { idx = g.last ?? nil; break } }
            } else {
                idx = LoRARegex.match(".*?\\.[^.]*\\.(\\d+)\\.", key)?.last ?? nil
            }
            guard let i = idx.flatMap({ Int($0) }) else { return false }
            return layers.contains(i)
        }
    }

    /// `get_pattern_key`: the first pattern key matching `(.*\.)?(key)$`, else nil.
    static func patternKey<S: Sequence>(_ keys: S, _ name: String) -> String? where S.Element == String {
        for k in keys where LoRARegex.match("(.*\\.)?(" + k + ")$", name) != nil { return k }
        return nil
    }

    /// Rank and alpha of the layer at `name`, after rank_pattern / alpha_pattern.
    static func rankAndAlpha(_ c: LoraConfig, _ name: String) -> (Int, Double) {
        // PEFT iterates the dicts in insertion order; JSON objects have none in Swift, so sort for determinism.
        let r = patternKey(c.rankPattern.keys.sorted(), name).flatMap { c.rankPattern[$0] } ?? c.r
        let a = patternKey(c.alphaPattern.keys.sorted(), name).flatMap { c.alphaPattern[$0] } ?? c.loraAlpha
        return (r, a)
    }
}
