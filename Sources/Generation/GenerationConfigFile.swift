import Foundation

extension GenerationConfig {
    /// Reads a Hugging Face `generation_config.json` (do_sample, temperature, top_k, top_p, min_p,
    /// repetition_penalty, max_new_tokens, eos_token_id as one id or a list, pad_token_id); absent
    /// keys keep this type's defaults. Throws naming the field whose value has the wrong type.
    public static func load(contentsOf url: URL) throws -> GenerationConfig {
        let obj: Any
        do { obj = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) } catch {
            throw GenerationError.invalidConfig(field: url.lastPathComponent, "cannot read as JSON: \(error.localizedDescription)")
        }
        guard let d = obj as? [String: Any] else { throw GenerationError.invalidConfig(field: url.lastPathComponent, "not a JSON object") }
        func num(_ k: String) throws -> Double? {
            guard let v = d[k], !(v is NSNull) else { return nil }
            guard let n = v as? NSNumber else {
                throw GenerationError.invalidConfig(field: k, "expected a number, got \(v)")
            }
            return n.doubleValue
        }
        var c = GenerationConfig()
        if let v = d["do_sample"] {
            guard let b = v as? Bool else { throw GenerationError.invalidConfig(field: "do_sample", "expected true or false, got \(v)") }
            c.doSample = b
        }
        if let v = try num("temperature") { c.temperature = Float(v) }
        if let v = try num("top_k") { c.topK = Int(v) }
        if let v = try num("top_p") { c.topP = Float(v) }
        if let v = try num("min_p") { c.minP = Float(v) }
        if let v = try num("repetition_penalty") { c.repetitionPenalty = Float(v) }
        if let v = try num("max_new_tokens") { c.maxNewTokens = Int(v) }
        if let v = try num("pad_token_id") { c.padTokenId = Int(v) }
        if let v = d["eos_token_id"], !(v is NSNull) {
            if let one = v as? Int { c.eosTokenIds = [one] }
            else if let many = v as? [Int] { c.eosTokenIds = many }
            else { throw GenerationError.invalidConfig(field: "eos_token_id", "expected an id or a list of ids, got \(v)") }
        }
        try c.validate()
        return c
    }
}
