import Foundation
import JSONCore
import XCTest
@testable import Tokenizers

/// Building tokenizers from GGUF metadata. The smollm2-135m tokenizer.json in the shared test data was
/// produced by transformers from a GGUF, so metadata rebuilt from its vocabulary and merges must give
/// the same encodings; the real GGUF is checked too when it is in the local model cache.
final class GGUFTokenizerTests: XCTestCase {
    /// Metadata as a GGUF would carry it, rebuilt from a tokenizer.json: tokens by id, control type
    /// for special added tokens, user-defined for the other added tokens.
    func metadata(fromTokenizerJSON name: String, model: String, pre: String?) throws -> GGUFTokenizerMetadata {
        let path = try tokenizerDir(name) + "/tokenizer.json"
        let root = try parseJSON(Data(contentsOf: URL(fileURLWithPath: path)), name: path)
        let m = root["model"]!
        let vocab = m["vocab"]!.obj
        var tokens = [String](repeating: "", count: vocab.count)
        for (k, v) in vocab { tokens[v.i] = k }
        var types = [Int32](repeating: 1, count: tokens.count)
        for d in root["added_tokens"]!.arr {
            let id = d["id"]!.i
            if id < types.count { types[id] = d["special"]!.boolValue! ? 3 : 4 }
        }
        let merges = m["merges"]!.arr.map { item -> String in
            if let s = item.stringValue { return s }
            return "\(item.arr[0].str) \(item.arr[1].str)"
        }
        return GGUFTokenizerMetadata(model: model, pre: pre, tokens: tokens, tokenTypes: types, merges: merges)
    }

    func parity(_ tok: Tokenizer, _ name: String) throws -> Int {
        var ok = 0, bad = 0
        for rc in try loadCases(name) {
            let e = tok.encode(rc.text, addSpecialTokens: true)
            if e.ids == rc.idsWithSpecial && e.offsets == rc.offsetsWithSpecial && exact(tok.decode(rc.idsWithSpecial), rc.decodedWithSpecial) {
                ok += 1
            } else if bad < 3 {
                bad += 1
                XCTFail("\(name) \(rc.id): got \(e.ids.prefix(12)) want \(rc.idsWithSpecial.prefix(12))")
            }
        }
        return ok
    }

    func testSmolLM2FromRebuiltMetadata() throws {
        var m = try metadata(fromTokenizerJSON: "smollm2-135m", model: "gpt2", pre: "smollm")
        m.bosTokenId = 1; m.eosTokenId = 2; m.unknownTokenId = 0; m.paddingTokenId = 2; m.addBosToken = false
        let tok = try Tokenizer(gguf: m)
        XCTAssertEqual(tok.addedTokens.count, 17)
        XCTAssertEqual(tok.bosToken, "<|im_start|>")
        XCTAssertEqual(tok.eosTokenId, 2)
        let ok = try parity(tok, "smollm2-135m")
        print("GGUF smollm2 (rebuilt metadata): \(ok)/498")
        XCTAssertEqual(ok, 498)
        // llama.cpp's reading of "smollm" splits digits one by one; transformers' does not.
        // (SmolLM2's vocabulary has single digits only, so the ids agree; the pieces do not.)
        let cpp = try Tokenizer(gguf: m, flavor: .llamaCpp)
        func pieces(_ t: Tokenizer, _ s: String) -> Int {
            var pl = PieceList(NormalizedString(stringToScalars(s), base: 0))
            t.preTokenizer?.preTokenize(&pl)
            return pl.pieces.count
        }
        XCTAssertEqual(pieces(cpp, "12345"), 5)
        XCTAssertEqual(pieces(tok, "12345"), 1)
    }

    func testSentencePieceFromRebuiltMetadata() throws {
        // Mistral's tokenizer.json has the layout transformers builds for `tokenizer.ggml.model = llama`.
        var m = try metadata(fromTokenizerJSON: "mistral-7b-v0.3", model: "llama", pre: "default")
        m.bosTokenId = 1; m.eosTokenId = 2; m.unknownTokenId = 0; m.addBosToken = true
        m.tokenTypes![0] = 2
        let tok = try Tokenizer(gguf: m)
        let ok = try parity(tok, "mistral-7b-v0.3")
        print("GGUF mistral (rebuilt metadata): \(ok)/498")
        XCTAssertEqual(ok, 498)
    }

    func testGenerateMergesMatchesTransformers() {
        // Expected lists from transformers 5.24 `generate_merges` on the same vocabulary.
        let toks = ["<unk>", "a", "b", "c", "ab", "bc", "abc", "ca", "cab", "▁", "▁a", "▁ab"]
        let scores: [Float] = [0, -1, -2, -3, -4, -4, -5, -6, -7, -1.5, -2.5, -4]
        var vocab: [TokenKey: UInt32] = [:]
        for (i, t) in toks.enumerated() { vocab[TokenKey(t)] = UInt32(i) }
        let withScores = generateMerges(tokens: toks, vocab: vocab, scores: scores).map { "\($0.0) \($0.1)" }
        XCTAssertEqual(withScores, ["▁ a", "▁a b", "▁ ab", "a b", "b c", "ab c", "a bc", "c a", "ca b", "c ab"])
        let byId = generateMerges(tokens: toks, vocab: vocab, scores: nil).map { "\($0.0) \($0.1)" }
        XCTAssertEqual(byId, ["a b", "b c", "a bc", "ab c", "c a", "c ab", "ca b", "▁ a", "▁ ab", "▁a b"])
    }

    func testBadMetadataIsRejected() {
        XCTAssertThrowsError(try Tokenizer(gguf: GGUFTokenizerMetadata(model: "bert", tokens: ["a"]))) { e in
            XCTAssertTrue("\(e)".contains("tokenizer.ggml.model"), "\(e)")
        }
        XCTAssertThrowsError(try Tokenizer(gguf: GGUFTokenizerMetadata(model: "gpt2", tokens: ["a", "b"], merges: ["a b c"]))) { e in
            XCTAssertTrue("\(e)".contains("merges[0]"), "\(e)")
        }
        XCTAssertThrowsError(try Tokenizer(gguf: GGUFTokenizerMetadata(model: "gpt2", tokens: ["a"], bosTokenId: 7))) { e in
            XCTAssertTrue("\(e)".contains("bos_token_id"), "\(e)")
        }
        XCTAssertThrowsError(try Tokenizer(gguf: GGUFTokenizerMetadata(model: "llama", tokens: ["a", "b"], scores: [0])))
        XCTAssertThrowsError(try Tokenizer(gguf: GGUFTokenizerMetadata(model: "gpt2", tokens: [])))
    }

    /// The real SmolLM2 GGUF, read through ModelIO's GGUF reader (`Tokenizer(path:)` on a .gguf), must give
    /// the same tokenizer and chat template as its tokenizer.json conversion by transformers.
    func testRealSmolLM2GGUF() throws {
        let path = NSHomeDirectory() + "/.cache/swifttune/models/SmolLM2-135M-Instruct.Q4_1.gguf"
        guard FileManager.default.fileExists(atPath: path) else {
            if ProcessInfo.processInfo.environment["SWIFTTUNE_REQUIRE_MODEL"] != nil {
                XCTFail("\(path) is missing: run scripts/fetch-model.sh")
                return
            }
            throw XCTSkip("no \(path) (run scripts/fetch-model.sh)")
        }
        let tok = try Tokenizer(path: path)
        XCTAssertEqual(tok.vocabSize, 49152)
        XCTAssertEqual(tok.eosTokenId, 2)
        let ok = try parity(tok, "smollm2-135m")
        print("GGUF smollm2 (real file): \(ok)/498")
        XCTAssertEqual(ok, 498)
        let reference = try String(contentsOfFile: try tokenizerDir("smollm2-135m") + "/chat_template.jinja", encoding: .utf8)
        XCTAssertEqual(tok.chatTemplate, reference)
    }
}

