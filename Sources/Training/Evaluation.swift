import Foundation
import Datasets
import Models
import Tensors
import Tokenizers

/// One test example's answers.
public struct EvalAnswer: Sendable {
    public var prompt: String
    public var reference: String
    public var answer: String
    public var exact: Bool
    /// Exact match against the alternative reference after removing an ignored suffix.
    public var altExact: Bool
}

/// Exact-match accuracy of greedy answers (the book's yoda check).
public struct EvalResult: Sendable {
    public var answers: [EvalAnswer]
    public var seconds: Double
    public var generatedTokens: Int
    public var exactCount: Int { answers.filter(\.exact).count }
    public var altExactCount: Int { answers.filter(\.altExact).count }
}

/// Greedy generation with a KV cache, stopping at `<|im_end|>` / EOS, answers compared stripped.
public struct GreedyEvaluator {
    public let tokenizer: Tokenizer
    public let renderer: TemplateRenderer?
    public let section: EvalSection

    public init(tokenizer: Tokenizer, renderer: TemplateRenderer?, section: EvalSection) {
        self.tokenizer = tokenizer; self.renderer = renderer; self.section = section
    }

    /// Rows of the test file (JSON lines; a line that is not an object with the fields is an error naming it).
    public func loadRows(_ path: String) throws -> [(prompt: String, reference: String, alt: String?)] {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { throw ConfigError("\(path): cannot read the eval test_file") }
        var rows: [(String, String, String?)] = []
        for (i, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let s = line.trimmingCharacters(in: .whitespaces)
            if s.isEmpty { continue }
            let v: JSONValue
            do { v = try JSONParser.parse(s) } catch { throw ConfigError("\(path):\(i + 1): invalid JSON: \(error)") }
            guard let p = v[section.promptField]?.stringValue, let r = v[section.referenceField]?.stringValue else {
                throw ConfigError("\(path):\(i + 1): expected string fields '\(section.promptField)' and '\(section.referenceField)' (eval.prompt_field / eval.reference_field)")
            }
            rows.append((p, r, section.altReferenceField.flatMap { v[$0]?.stringValue }))
        }
        return rows
    }

    /// The prompt's token ids: the chat template with a generation prompt, or the raw text without one.
    public func promptIds(_ prompt: String) throws -> [Int] {
        if let renderer {
            var msgs: [ChatMessage] = []
            if let s = section.systemPrompt { msgs.append(ChatMessage(role: "system", content: s)) }
            msgs.append(ChatMessage(role: "user", content: prompt))
            let text = try renderer.render(messages: msgs, addGenerationPrompt: true)
            return tokenizer.encodeIds(text, addSpecialTokens: false)
        }
        return tokenizer.encodeIds(prompt, addSpecialTokens: true)
    }

    /// Greedy continuation of `ids` with `forward` (the base or the adapted model).
    public func generate(_ ids: [Int], config: ModelConfig,
                         forward: (Tensor, KVCache) throws -> Tensor) throws -> [Int] {
        var stops = Set<Int>()
        if let e = tokenizer.tokenToId("<|im_end|>") { stops.insert(e) }
        if let e = tokenizer.eosTokenId { stops.insert(e) }
        let cache = KVCache(config: config, batch: 1, capacity: ids.count + section.maxNewTokens)
        var out: [Int] = []
        var next = Tensor(ids, shape: [1, ids.count])
        for _ in 0..<section.maxNewTokens {
            let logits = try withNoGrad { try forward(next, cache) }
            let row = logits.toFloatArray()
            var best = 0
            var bv = -Float.infinity
            for (j, x) in row.enumerated() where x > bv { bv = x; best = j }
            if stops.contains(best) { break }
            out.append(best)
            next = Tensor([best], shape: [1, 1])
        }
        return out
    }

    public func strip(_ s: String) -> String {
        for suf in section.ignoreSuffixes.sorted(by: { $0.count > $1.count }) where s.hasSuffix(" " + suf) {
            return String(s.dropLast(suf.count + 1))
        }
        return s
    }

    /// Greedy continuations of several prompts at once: left-padded (HF's generation padding), positions
    /// counted over real tokens, one KV cache; rows stop at `<|im_end|>`/EOS independently. Batching turns
    /// the memory-bound matrix-vector decode steps into matrix products.
    public func generateBatch(_ prompts: [[Int]], config: ModelConfig,
                              forward: (Tensor, Tensor, Tensor, KVCache) throws -> Tensor) throws -> [[Int]] {
        guard !prompts.isEmpty else { return [] }
        var stops = Set<Int>()
        if let e = tokenizer.tokenToId("<|im_end|>") { stops.insert(e) }
        if let e = tokenizer.eosTokenId { stops.insert(e) }
        let pad = tokenizer.padTokenId ?? 0
        let b = prompts.count, p = prompts.map(\.count).max() ?? 0
        var ids: [Int] = [], mask: [Int] = [], pos: [Int] = []
        for r in prompts {
            let padN = p - r.count
            ids += [Int](repeating: pad, count: padN) + r
            mask += [Int](repeating: 0, count: padN) + [Int](repeating: 1, count: r.count)
            pos += [Int](repeating: 0, count: padN) + Array(0..<r.count)
        }
        let cache = KVCache(config: config, batch: b, capacity: p + section.maxNewTokens)
        var out = [[Int]](repeating: [], count: b)
        var done = [Bool](repeating: false, count: b)
        var next = Tensor(ids, shape: [b, p])
        var positions = Tensor(pos, shape: [b, p])
        var lastPos = prompts.map { $0.count - 1 }
        for _ in 0..<section.maxNewTokens {
            let logits = try withNoGrad { try forward(next, Tensor(mask, shape: [b, mask.count / b]), positions, cache) }
            let v = logits.shape[logits.rank - 1]
            let all = logits.toFloatArray()
            var tokens = [Int](repeating: pad, count: b)
            for r in 0..<b {
                var best = 0
                var bv = -Float.infinity
                let base = r * v
                for j in 0..<v where all[base + j] > bv { bv = all[base + j]; best = j }
                if !done[r] {
                    if stops.contains(best) { done[r] = true } else { out[r].append(best); tokens[r] = best }
                }
            }
            if done.allSatisfy({ $0 }) { break }
            // Append one column: finished rows feed a masked pad.
            var m2: [Int] = []
            let w = mask.count / b
            for r in 0..<b { m2 += mask[(r * w)..<((r + 1) * w)]; m2.append(done[r] ? 0 : 1) }
            mask = m2
            for r in 0..<b { lastPos[r] += 1 }
            next = Tensor(tokens, shape: [b, 1])
            positions = Tensor(lastPos, shape: [b, 1])
        }
        return out
    }

    /// Answers every row (in batches of `batchSize`) and scores them.
    public func evaluate(rows: [(prompt: String, reference: String, alt: String?)], config: ModelConfig, batchSize: Int = 16,
                         forward: (Tensor, Tensor, Tensor, KVCache) throws -> Tensor) throws -> EvalResult {
        let start = Date()
        var answers: [EvalAnswer] = []
        var n = 0
        var i = 0
        while i < rows.count {
            let chunk = Array(rows[i..<min(rows.count, i + max(1, batchSize))])
            let gens = try generateBatch(try chunk.map { try promptIds($0.prompt) }, config: config, forward: forward)
            for (r, gen) in zip(chunk, gens) {
                n += gen.count
                let text = tokenizer.decode(gen, skipSpecialTokens: true).trimmingCharacters(in: .whitespacesAndNewlines)
                let ref = r.reference.trimmingCharacters(in: .whitespacesAndNewlines)
                let alt = r.alt.map { $0.trimmingCharacters(in: .whitespacesAndNewlines) } ?? ref
                answers.append(EvalAnswer(prompt: r.prompt, reference: ref, answer: text, exact: text == ref,
                                          altExact: strip(text) == alt))
            }
            i += chunk.count
        }
        return EvalResult(answers: answers, seconds: Date().timeIntervalSince(start), generatedTokens: n)
    }
}
