import Foundation
import ModelIO
import Models
import Tensors

/// PEFT's adapter folder: `adapter_config.json` + `adapter_model.safetensors`, keys
/// `base_model.model.<module>.lora_A.weight` etc. (adapter name removed).
extension LoRAModel {
    /// One tensor of an adapter's state dict: its PEFT key, the parameter box, and whether loading needs it.
    struct StateEntry {
        let key: String
        let parameter: Parameter
        let required: Bool
    }

    /// The tensors PEFT's `get_peft_model_state_dict` saves for `adapter`.
    func stateEntries(_ adapter: String) -> [StateEntry] {
        guard let c = config(adapter) else { return [] }
        let pre = "base_model.model."
        var out: [StateEntry] = []
        for (path, l) in linears where l.info[adapter] != nil {
            if let p = l.loraA.get(adapter) { out.append(StateEntry(key: pre + path + ".lora_A.weight", parameter: p, required: true)) }
            if let p = l.loraB.get(adapter) { out.append(StateEntry(key: pre + path + ".lora_B.weight", parameter: p, required: true)) }
            if let p = l.magnitude.get(adapter) { out.append(StateEntry(key: pre + path + ".lora_magnitude_vector", parameter: p, required: true)) }
        }
        for (path, l) in embeddings where l.info[adapter] != nil {
            if let p = l.a[adapter] { out.append(StateEntry(key: pre + path + ".lora_embedding_A", parameter: p, required: true)) }
            if let p = l.b[adapter] { out.append(StateEntry(key: pre + path + ".lora_embedding_B", parameter: p, required: true)) }
        }
        for (path, w) in saved {
            guard let copies = w.copies[adapter] else { continue }
            for (i, (rel, _)) in w.params.enumerated() {
                out.append(StateEntry(key: pre + path + "." + rel, parameter: copies[i], required: true))
            }
        }
        // Biases the adapter trains (PEFT saves them under the module's current names).
        let wrappedPaths = Set(linears.filter { $0.layer.info[adapter] != nil }.map(\.path))
        if c.bias != "none" {
            for (path, m) in base.namedModules() {
                guard let lin = m as? Linear, let b = lin.bias else { continue }
                let isLora = linears.contains { $0.path == path }
                if c.bias == "lora_only" && !wrappedPaths.contains(path) { continue }
                out.append(StateEntry(key: pre + path + (isLora ? ".base_layer.bias" : ".bias"), parameter: b, required: false))
            }
        }
        // save_embedding_layers="auto": an embedding layer named in target_modules is saved with its base.
        if embeddingTargeted(c) {
            for (path, l) in embeddings where l.info[adapter] != nil {
                out.append(StateEntry(key: pre + path + ".base_layer.weight", parameter: l.layer.weight, required: false))
            }
            if let head = base.lmHead, let e = linears.first(where: { $0.layer.layer === head }), e.layer.info[adapter] != nil {
                out.append(StateEntry(key: pre + e.path + ".base_layer.weight", parameter: head.weight, required: false))
            }
        }
        return out
    }

    func embeddingTargeted(_ c: LoraConfig) -> Bool {
        switch c.targetModules {
        case .regex(let p)?:
            return base.namedModules().contains { k, _ in
                ["embed_tokens", "lm_head"].contains { LoRARegex.match("(.*\\.)?" + $0 + "$", k) != nil } && LoRARegex.fullMatch(p, k)
            }
        case .list(let l)?: return l.contains("embed_tokens") || l.contains("lm_head")
        default: return false
        }
    }

    /// Writes the adapter (default: the active one) as PEFT does: `adapter_config.json` (inference_mode
    /// true) and `adapter_model.safetensors` (float32, metadata format=pt), each written atomically.
    public func save(to folder: String, adapterName: String? = nil, baseModelNameOrPath: String? = nil) throws {
        let name = adapterName ?? activeAdapter
        guard var c = config(name) else { throw LoRAError.adapterName("no adapter named '\(name)'; adapters: \(adapterNames)") }
        c.inferenceMode = true
        if let b = baseModelNameOrPath { c.baseModelNameOrPath = b }
        do { try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true) } catch {
            throw LoRAError.invalidAdapter(file: folder, "cannot create the folder: \(error.localizedDescription)")
        }
        var writer = SafeTensorsWriter(metadata: ["format": "pt"])
        for e in stateEntries(name) {
            let t = e.parameter.value.detach()
            // Biases and embedding bases keep their dtype; adapter weights are float32.
            let src = t.contiguous()
            let bytes = UnsafeRawBufferPointer(start: src.storage.base + src.offset * src.dtype.byteSize,
                                               count: src.count * src.dtype.byteSize)
            try writer.add(e.key, dtype: src.dtype, shape: src.shape, bytes: [UInt8](bytes))
        }
        try writer.write(to: folder + "/adapter_model.safetensors")
        let data = try c.jsonData()
        do { try data.write(to: URL(fileURLWithPath: folder + "/adapter_config.json"), options: .atomic) } catch {
            throw LoRAError.invalidAdapter(file: folder + "/adapter_config.json", "cannot write: \(error.localizedDescription)")
        }
    }

    /// Loads a PEFT adapter folder as adapter `adapterName` (PEFT `load_adapter`). With `isTrainable`
    /// false (PEFT's default) its weights are frozen. Every tensor must fit the base model: unknown or
    /// missing keys and shape mismatches are errors naming the tensor.
    public func loadAdapter(from folder: String, adapterName: String, isTrainable: Bool = false) throws {
        let cfgURL = URL(fileURLWithPath: folder).appendingPathComponent("adapter_config.json")
        var c = try LoraConfig.load(contentsOf: cfgURL)
        c.initLoraWeights = .default
        c.inferenceMode = !isTrainable
        let file = folder + "/adapter_model.safetensors"
        guard FileManager.default.fileExists(atPath: file) else {
            throw LoRAError.invalidAdapter(file: folder, "no adapter_model.safetensors (PEFT's .bin adapters are not supported; re-save with safe_serialization=True)")
        }
        let st: SafeTensorsFile
        do { st = try SafeTensorsFile(path: file) } catch {
            throw LoRAError.invalidAdapter(file: file, "\(error)")
        }
        // Ranks come from the config but size the fresh tensors: bound them by the file before allocating.
        let fileRanks = st.tensors.filter { $0.name.hasSuffix(".lora_A.weight") || $0.name.hasSuffix(".lora_embedding_A") }.compactMap(\.shape.first)
        let maxRank = fileRanks.max() ?? 0
        for (key, r) in [("r", c.r)] + c.rankPattern.map({ ("rank_pattern.\($0.key)", $0.value) }) where r > maxRank {
            // Any layer with this rank would mismatch the file anyway. Only `r` may be legitimately unused
            // (rank_pattern covering every layer); let a modest one through to that per-tensor check.
            if key == "r" && !c.rankPattern.isEmpty && r <= 65_536 { continue }
            throw LoRAError.invalidAdapter(file: file, "\(key) = \(r) in adapter_config.json, but no lora_A tensor in adapter_model.safetensors has that many rows (largest: \(maxRank)); the config does not belong to these weights")
        }
        do { try addAdapter(adapterName, config: c) } catch LoRAError.noTargets(let m) {
            throw LoRAError.invalidAdapter(file: folder, "\(m) (is this an adapter for a different base model?)")
        }
        do {
            try fill(adapterName, from: st, file: file)
        } catch {
            try? deleteAdapter(adapterName)
            throw error
        }
        if !isTrainable {
            for e in stateEntries(adapterName) where e.parameter.value.isLeaf { e.parameter.value.requiresGrad = false }
        }
    }

    func fill(_ adapter: String, from st: SafeTensorsFile, file: String) throws {
        let entries = stateEntries(adapter)
        var byKey: [String: StateEntry] = [:]
        for e in entries { byKey[e.key] = e }
        // Older PEFT wrote embedding bases without `base_layer`, some tools add ".weight" to the magnitude.
        func canonical(_ k: String) -> String {
            if byKey[k] != nil { return k }
            if k.hasSuffix(".lora_magnitude_vector.weight") { return String(k.dropLast(7)) }
            if k.hasSuffix(".bias"), byKey[k.replacingOccurrences(of: ".bias", with: ".base_layer.bias")] != nil {
                return k.replacingOccurrences(of: ".bias", with: ".base_layer.bias")
            }
            return k
        }
        var found = Set<String>()
        for t in st.tensors {
            let k = canonical(t.name)
            guard let e = byKey[k] else {
                throw LoRAError.invalidAdapter(file: file, "unexpected tensor '\(t.name)': the base model has no such adapted module (adapter made for another architecture, size or layer count?)")
            }
            let expected = e.parameter.value.shape
            guard t.shape == expected else {
                throw LoRAError.invalidAdapter(file: file, "tensor '\(t.name)' has shape \(t.shape), the base model needs \(expected) (adapter made for a different base model, or rank_pattern mismatch?)")
            }
            found.insert(k)
            let values = t.floats()
            guard values.allSatisfy({ $0.isFinite }) || e.required == false else {
                throw LoRAError.invalidAdapter(file: file, "tensor '\(t.name)' holds NaN or infinite values")
            }
            let dst = e.parameter.value
            let wasTrainable = dst.requiresGrad
            if dst.dtype == .float32 {
                let fresh = Tensor(values, shape: expected)
                e.parameter.value = wasTrainable ? fresh.requiringGrad() : fresh
            } else {
                e.parameter.value = Tensor(values, shape: expected).to(dst.dtype)
            }
        }
        let missing = entries.filter { $0.required && !found.contains($0.key) }.map(\.key)
        guard missing.isEmpty else {
            throw LoRAError.invalidAdapter(file: file, "missing \(missing.count) tensor(s) the config implies, e.g. '\(missing[0])' (incomplete file, or adapter_config.json does not belong to these weights)")
        }
        // Loaded modules_to_save copies must reach the model's boxes.
        syncModulesToSave()
    }
}
