import Foundation
import XCTest
@testable import Generation
import Models
import Tensors

/// Fixtures live in Tests/ModelsTests/Fixtures (shared with the model parity tests).
enum Paths {
    static var fixtures: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("ModelsTests/Fixtures")
    }
    static var smolLM2: String {
        ProcessInfo.processInfo.environment["SWIFTTUNE_SMOLLM2_GGUF"]
            ?? FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".cache/swifttune/models/SmolLM2-135M-Instruct.Q4_1.gguf").path
    }
}

func tinyModel(_ name: String = "tiny-llama") throws -> CausalLM {
    try CausalLM.load(path: Paths.fixtures.appendingPathComponent(name).path)
}

final class KVCacheTests: XCTestCase {
    /// Prefill + one-token decode steps must give the same logits as a full forward over the whole
    /// sequence (the cache replaces recomputation, it must not change results).
    func testCachedDecodeMatchesFullForward() throws {
        for name in ["tiny-llama", "tiny-phi3"] {
            let model = try tinyModel(name)
            for impl in AttentionImplementation.allCases {
                model.attentionImplementation = impl
                let seq = [5, 17, 99, 3, 42, 7, 64, 21, 8, 120]
                try withNoGrad {
                    let full = try model.forward(inputIds: Tensor(seq, shape: [1, seq.count])).toFloatArray()
                    let cache = KVCache(config: model.config, batch: 1, capacity: seq.count)
                    var got = try model.forward(inputIds: Tensor(Array(seq[0..<4]), shape: [1, 4]), cache: cache).toFloatArray()
                    for t in 4..<seq.count {
                        XCTAssertEqual(cache.length, t)
                        got += try model.forward(inputIds: Tensor([seq[t]], shape: [1, 1]), cache: cache).toFloatArray()
                    }
                    XCTAssertLessThan(zip(got, full).map { abs($0 - $1) }.max()!, 1e-5, "\(name) \(impl)")
                }
            }
        }
    }
}

final class SamplingTests: XCTestCase {
    func testRepetitionPenaltyLikeTransformers() {
        var l: [Float] = [2, -2, 1, 0.5]
        Sampling.applyRepetitionPenalty(&l, seen: [0, 1], penalty: 2)
        XCTAssertEqual(l, [1, -4, 1, 0.5])
    }

    func testTopKTopPMinP() {
        var l: [Float] = [1, 4, 3, 2]
        Sampling.applyTopK(&l, k: 2)
        XCTAssertEqual(l, [-.infinity, 4, 3, -.infinity])
        // probs of [0, ln 2, ln 3, ln 4] are [.1, .2, .3, .4]; ascending cumsum .1 .3 .6 1.0.
        let base: [Float] = [0, Float(log(2.0)), Float(log(3.0)), Float(log(4.0))]
        var p = base
        Sampling.applyTopP(&p, p: 0.65)   // drop cum <= 0.35: tokens 0 and 1
        XCTAssertEqual(p.map { $0 == -.infinity }, [true, true, false, false])
        var q = base
        Sampling.applyTopP(&q, p: 0.01)   // keeps only the most likely
        XCTAssertEqual(q.map { $0 == -.infinity }, [true, true, true, false])
        var m = base
        Sampling.applyMinP(&m, minP: 0.5) // threshold 0.2: drops token 0 only
        XCTAssertEqual(m.map { $0 == -.infinity }, [true, false, false, false])
    }

    func testSeededSamplingIsDeterministicAndFollowsTopK() throws {
        let model = try tinyModel()
        let gen = Generator(model: model)
        var cfg = GenerationConfig(maxNewTokens: 12, doSample: true, temperature: 1.5, seed: 42, eosTokenIds: [])
        let a = try gen.generate(promptIds: [1, 10, 20], config: cfg)
        let b = try gen.generate(promptIds: [1, 10, 20], config: cfg)
        XCTAssertEqual(a, b)
        XCTAssertEqual(a.tokens.count, 12)
        cfg.seed = 43
        let c = try gen.generate(promptIds: [1, 10, 20], config: cfg)
        XCTAssertNotEqual(a.tokens, c.tokens)
        // top_k = 1 leaves only the argmax: sampling equals greedy.
        cfg.topK = 1
        let greedy = try gen.generate(promptIds: [1, 10, 20], config: .init(maxNewTokens: 12, eosTokenIds: []))
        XCTAssertEqual(try gen.generate(promptIds: [1, 10, 20], config: cfg).tokens, greedy.tokens)
    }

    func testStopsOnEOSAndStopStringsAndStreams() throws {
        let model = try tinyModel()
        let gen = Generator(model: model, detokenize: { $0.map { "<\($0)>" }.joined() })
        let free = try gen.generate(promptIds: [1, 10, 20], config: .init(maxNewTokens: 10, eosTokenIds: []))
        XCTAssertEqual(free.finishReason, .length)
        let stopAt = free.tokens[3]
        let firstHit = free.tokens.firstIndex(of: stopAt)!
        var streamed: [Int] = []
        let r = try gen.generate(promptIds: [1, 10, 20], config: .init(maxNewTokens: 10, eosTokenIds: [stopAt])) { streamed.append($0) }
        XCTAssertEqual(r.tokens, Array(free.tokens[...firstHit]))
        XCTAssertEqual(r.finishReason, .eos)
        XCTAssertEqual(streamed, r.tokens)
        let s = try gen.generate(promptIds: [1, 10, 20], config: .init(maxNewTokens: 10, eosTokenIds: [], stopStrings: ["<\(stopAt)>"]))
        XCTAssertEqual(s.tokens, Array(free.tokens[...firstHit]))
        XCTAssertEqual(s.finishReason, .stopString("<\(stopAt)>"))
        XCTAssertThrowsError(try Generator(model: model).generate(promptIds: [1], config: .init(stopStrings: ["x"])))
        XCTAssertThrowsError(try gen.generate(promptIds: [1, 500], config: .init()))
        XCTAssertThrowsError(try gen.generate(promptIds: [1], config: .init(doSample: true, temperature: 0)))
    }

    /// Batched generation with left padding gives each row the tokens it gets alone.
    func testBatchedLeftPaddingMatchesSingle() throws {
        let model = try tinyModel("tiny-qwen2")
        let gen = Generator(model: model)
        let prompts = [[1, 5, 9, 33, 70, 12], [1, 44], [1, 3, 100, 7]]
        let cfg = GenerationConfig(maxNewTokens: 16, eosTokenIds: [])
        for impl in AttentionImplementation.allCases {
            model.attentionImplementation = impl
            let batched = try gen.generate(batch: prompts, config: cfg)
            for (i, p) in prompts.enumerated() { XCTAssertEqual(batched[i], try gen.generate(promptIds: p, config: cfg), "row \(i) \(impl)") }
        }
    }
}

/// SmolLM2-135M-Instruct Q4_1: greedy generation equal to transformers' token for token (64 new
/// tokens, 10 chat prompts of Tests/ModelsTests/Fixtures/smollm2/greedy.json).
/// The reference passes an explicit all-ones attention mask (without one, transformers would infer
/// `ids != pad_token_id` and mask the prompt's `<|im_end|>` tokens).
final class SmolLM2GreedyTests: XCTestCase {
    struct Case: Decodable { let prompt_ids: [Int]; let new_ids: [Int] }
    struct File: Decodable { let max_new_tokens: Int; let cases: [Case] }

    func testGreedyMatchesTransformers() throws {
        guard FileManager.default.fileExists(atPath: Paths.smolLM2) else {
            if ProcessInfo.processInfo.environment["SWIFTTUNE_REQUIRE_MODEL"] != nil { XCTFail("\(Paths.smolLM2) is absent but SWIFTTUNE_REQUIRE_MODEL is set") }
            print("note: \(Paths.smolLM2) is absent; skipping the SmolLM2 greedy test (run scripts/fetch-model.sh)")
            return
        }
        let file = try JSONDecoder().decode(File.self, from: Data(contentsOf: Paths.fixtures.appendingPathComponent("smollm2/greedy.json")))
        // Float32 weights, then the GGUF blocks kept (Q4_1 layers, Q8_0 embedding and tied head).
        for quantized in [false, true] {
            let gen = Generator(model: try CausalLM.load(path: Paths.smolLM2, options: LoadOptions(keepQuantized: quantized)))
            let cfg = GenerationConfig(maxNewTokens: file.max_new_tokens, eosTokenIds: [])
            for (i, c) in file.cases.enumerated() {
                XCTAssertEqual(try gen.generate(promptIds: c.prompt_ids, config: cfg).tokens, c.new_ids, "prompt \(i) quantized=\(quantized)")
            }
            // Three prompts batched with left padding give the same tokens.
            let three = file.cases.prefix(3).map(\.prompt_ids)
            let batch = try gen.generate(batch: three, config: cfg)
            for i in 0..<3 { XCTAssertEqual(batch[i].tokens, file.cases[i].new_ids, "batched prompt \(i) quantized=\(quantized)") }
        }
    }
}

final class GenerationConfigFileTests: XCTestCase {
    func testReadsGenerationConfigJSON() throws {
        let c = try GenerationConfig.load(contentsOf: Paths.fixtures.appendingPathComponent("tiny-llama/generation_config.json"))
        XCTAssertEqual(c.eosTokenIds, [2])
        XCTAssertEqual(c.padTokenId, 0)
        XCTAssertFalse(c.doSample)
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("gen-\(UUID().uuidString).json")
        defer { try? FileManager.default.removeItem(at: url) }
        try Data(#"{"do_sample": true, "temperature": 0.7, "top_p": 0.9, "top_k": 50, "eos_token_id": [2, 7], "max_new_tokens": 32}"#.utf8).write(to: url)
        let s = try GenerationConfig.load(contentsOf: url)
        XCTAssertEqual(s, GenerationConfig(maxNewTokens: 32, doSample: true, temperature: 0.7, topK: 50, topP: 0.9, eosTokenIds: [2, 7]))
        try Data(#"{"temperature": "hot"}"#.utf8).write(to: url)
        XCTAssertThrowsError(try GenerationConfig.load(contentsOf: url)) { e in
            XCTAssertEqual(e as? GenerationError, .invalidConfig(field: "temperature", "expected a number, got hot"))
        }
    }
}
