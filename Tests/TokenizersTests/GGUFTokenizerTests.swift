import Foundation
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
        let root = try parseJSON(Data(contentsOf: URL(fileURLWithPath: path)), name: path) as! JSONDict
        let m = root["model"] as! JSONDict
        let vocab = m["vocab"] as! JSONDict
        var tokens = [String](repeating: "", count: vocab.count)
        for (k, v) in vocab.pairs { tokens[v as! Int] = k }
        var types = [Int32](repeating: 1, count: tokens.count)
        for t in root["added_tokens"] as! [Any] {
            let d = t as! JSONDict
            let id = d["id"] as! Int
            if id < types.count { types[id] = (d["special"] as! Bool) ? 3 : 4 }
        }
        let merges = (m["merges"] as! [Any]).map { item -> String in
            if let s = item as? String { return s }
            let a = item as! [Any]
            return "\(a[0] as! String) \(a[1] as! String)"
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

    /// The real SmolLM2 GGUF, read with a minimal metadata reader, when it is in the model cache.
    func testRealSmolLM2GGUF() throws {
        let path = NSHomeDirectory() + "/.cache/swifttune/models/SmolLM2-135M-Instruct.Q4_1.gguf"
        guard FileManager.default.fileExists(atPath: path) else { throw XCTSkip("no \(path)") }
        let kv = try MiniGGUF.readMetadata(path)
        func int(_ k: String) -> Int? { (kv[k] as? UInt64).map(Int.init) ?? (kv[k] as? Int64).map(Int.init) }
        let m = GGUFTokenizerMetadata(
            model: kv["tokenizer.ggml.model"] as! String, pre: kv["tokenizer.ggml.pre"] as? String,
            architecture: kv["general.architecture"] as? String, tokens: kv["tokenizer.ggml.tokens"] as! [String],
            tokenTypes: (kv["tokenizer.ggml.token_type"] as? [Int64])?.map { Int32($0) },
            merges: kv["tokenizer.ggml.merges"] as? [String], bosTokenId: int("tokenizer.ggml.bos_token_id"),
            eosTokenId: int("tokenizer.ggml.eos_token_id"), unknownTokenId: int("tokenizer.ggml.unknown_token_id"),
            paddingTokenId: int("tokenizer.ggml.padding_token_id"), addBosToken: kv["tokenizer.ggml.add_bos_token"] as? Bool,
            chatTemplate: kv["tokenizer.chat_template"] as? String)
        XCTAssertEqual(m.pre, "smollm")
        let tok = try Tokenizer(gguf: m)
        XCTAssertNotNil(tok.chatTemplate)
        let ok = try parity(tok, "smollm2-135m")
        print("GGUF smollm2 (real file): \(ok)/498")
        XCTAssertEqual(ok, 498)
    }
}

/// Just enough of the GGUF format (v2/v3 key-value section) to read tokenizer metadata in tests;
/// the real reader lives in ModelIO.
enum MiniGGUF {
    struct Bad: Error { let why: String }

    static func readMetadata(_ path: String) throws -> [String: Any] {
        let data = try Data(contentsOf: URL(fileURLWithPath: path), options: .alwaysMapped)
        return try data.withUnsafeBytes { raw -> [String: Any] in
            var p = 0
            func need(_ n: Int) throws { if p + n > raw.count { throw Bad(why: "truncated at \(p)") } }
            func u32() throws -> UInt32 { try need(4); defer { p += 4 }; return raw.loadUnaligned(fromByteOffset: p, as: UInt32.self) }
            func u64() throws -> UInt64 { try need(8); defer { p += 8 }; return raw.loadUnaligned(fromByteOffset: p, as: UInt64.self) }
            func str() throws -> String {
                let n = Int(try u64())
                try need(n)
                defer { p += n }
                return String(decoding: UnsafeRawBufferPointer(rebasing: raw[p..<p + n]), as: UTF8.self)
            }
            func value(_ type: UInt32) throws -> Any {
                switch type {
                case 0, 1: try need(1); defer { p += 1 }; return Int64(raw[p])
                case 2, 3: try need(2); defer { p += 2 }; return Int64(raw.loadUnaligned(fromByteOffset: p, as: UInt16.self))
                case 4: return UInt64(try u32())
                case 5: return Int64(Int32(bitPattern: try u32()))
                case 6: return Float(bitPattern: try u32())
                case 7: try need(1); defer { p += 1 }; return raw[p] != 0
                case 8: return try str()
                case 9:
                    let et = try u32()
                    let n = Int(try u64())
                    if et == 8 { var a: [String] = []; a.reserveCapacity(n); for _ in 0..<n { a.append(try str()) }; return a }
                    if et == 5 || et == 4 || et == 0 || et == 1 {
                        var a: [Int64] = []; a.reserveCapacity(n)
                        for _ in 0..<n {
                            let v = try value(et)
                            if let i = v as? Int64 { a.append(i) } else if let u = v as? UInt64 { a.append(Int64(u)) }
                        }
                        return a
                    }
                    var a: [Any] = []
                    for _ in 0..<n { a.append(try value(et)) }
                    return a
                case 10: return try u64()
                case 11: return Int64(bitPattern: try u64())
                case 12: return Double(bitPattern: try u64())
                default: throw Bad(why: "unknown type \(type)")
                }
            }
            guard try u32() == 0x4655_4747 else { throw Bad(why: "not a GGUF file") }
            _ = try u32()
            _ = try u64()
            let n = try u64()
            var kv: [String: Any] = [:]
            for _ in 0..<n {
                let k = try str()
                kv[k] = try value(try u32())
            }
            return kv
        }
    }
}
