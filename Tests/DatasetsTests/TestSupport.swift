import Foundation
import XCTest
@testable import Datasets

/// Test-target folder (…/Tests/DatasetsTests) and its fixtures.
enum TestPaths {
    static let testsDir = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    static let fixtures = testsDir.appendingPathComponent("Fixtures")

    /// `<package root>/../shared`, or $SWIFTTUNE_SHARED.
    static var shared: URL {
        if let env = ProcessInfo.processInfo.environment["SWIFTTUNE_SHARED"] { return URL(fileURLWithPath: env) }
        var dir = testsDir
        while dir.path != "/" {
            if FileManager.default.fileExists(atPath: dir.appendingPathComponent("Package.swift").path) { break }
            dir = dir.deletingLastPathComponent()
        }
        return dir.deletingLastPathComponent().appendingPathComponent("shared")
    }

    static func requireShared(_ rel: String, file: StaticString = #filePath, line: UInt = #line) throws -> URL {
        let u = shared.appendingPathComponent(rel)
        guard FileManager.default.fileExists(atPath: u.path) else {
            XCTFail("shared test material missing: \(u.path) (set SWIFTTUNE_SHARED to the shared folder)", file: file, line: line)
            throw XCTSkip("missing \(u.path)")
        }
        return u
    }
}

/// A TRL fixture written by scripts/gen_dataset_fixtures.py.
struct TRLFixture {
    var name: String
    var padTokenId: Int32?
    var examples: [TokenizedExample]
    var batches: [Batch]

    init(_ name: String) throws {
        let url = TestPaths.fixtures.appendingPathComponent("trl_\(name).json")
        let data = try Data(contentsOf: url)
        let doc = try JSONParser.parse(bytes: [UInt8](data))
        func ints(_ v: JSONValue?) -> [Int32] { (v?.arrayValue ?? []).map { Int32($0.intValue!) } }
        func rows(_ v: JSONValue?) -> [[Int32]]? { v?.arrayValue.map { $0.map { ints($0) } } }
        self.name = name
        padTokenId = doc["pad_token_id"]?.intValue.map(Int32.init)
        examples = (doc["examples"]?.arrayValue ?? []).map { e in
            TokenizedExample(inputIds: ints(e["input_ids"]), labels: ints(e["labels"]),
                             seqLengths: e["seq_lengths"]?.arrayValue?.map { $0.intValue! })
        }
        batches = (doc["batches"]?.arrayValue ?? []).map { b in
            Batch(inputIds: rows(b["input_ids"])!, labels: rows(b["labels"])!, attentionMask: rows(b["attention_mask"]), positionIds: rows(b["position_ids"]))
        }
    }
}

/// Collates `examples` in consecutive chunks of `size` (what the fixtures did).
func collateAll(_ collator: DataCollator, _ examples: [TokenizedExample], size: Int = 8) throws -> [Batch] {
    try stride(from: 0, to: examples.count, by: size).map { try collator.collate(Array(examples[$0..<min($0 + size, examples.count)])) }
}

/// A character-level fake tokenizer: each listed special token is one id, every other Unicode scalar is its own
/// id (scalar value + 1000). Enough to test the pipeline's logic without the real tokenizer.
struct FakeEncoder: TextEncoding {
    var specials: [String: Int32] = ["<s>": 1, "</s>": 2, "<unk>": 0, "<pad>": 3, "<|user|>": 10, "<|assistant|>": 11, "<|end|>": 12, "<|system|>": 13]
    var eosToken: String? = "</s>"
    var bosToken: String? = "<s>"
    var padToken: String? = "<pad>"
    var unkToken: String? = "<unk>"
    var addsBOS = false
    var addsEOS = false
    var modelMaxLength: Int? = nil

    func encode(_ text: String, addSpecialTokens: Bool) throws -> [Int32] {
        var out: [Int32] = []
        var rest = Substring(text)
        let sorted = specials.keys.sorted { $0.count > $1.count }
        outer: while !rest.isEmpty {
            for s in sorted where rest.hasPrefix(s) { out.append(specials[s]!); rest = rest.dropFirst(s.count); continue outer }
            out.append(Int32(rest.unicodeScalars.first!.value) + 1000)
            rest = Substring(rest.unicodeScalars.dropFirst())
        }
        if addSpecialTokens {
            if addsBOS, let b = bosTokenId { out.insert(b, at: 0) }
            if addsEOS, let e = eosTokenId { out.append(e) }
        }
        return out
    }

    func decode(_ ids: [Int32], skipSpecialTokens: Bool) -> String {
        let inv = Dictionary(uniqueKeysWithValues: specials.map { ($1, $0) })
        return ids.map { id -> String in
            if let s = inv[id] { return skipSpecialTokens ? "" : s }
            return id >= 1000 ? String(Character(Unicode.Scalar(UInt32(id - 1000))!)) : "<?\(id)>"
        }.joined()
    }

    func tokenToId(_ token: String) -> Int32? {
        if let s = specials[token] { return s }
        let u = token.unicodeScalars
        return u.count == 1 ? Int32(u.first!.value) + 1000 : nil
    }
}

/// A Phi-3-style template (the book's example): `<|role|>\ncontent<|end|>\n` and EOS when not prompting.
struct FakePhi3Renderer: ChatRendering {
    var eos = "</s>"
    func render(messages: [ChatMessage], addGenerationPrompt: Bool) throws -> String {
        var s = ""
        for m in messages where ["system", "user", "assistant"].contains(m.role) { s += "<|\(m.role)|>\n\(m.content)<|end|>\n" }
        s += addGenerationPrompt ? "<|assistant|>\n" : eos
        return s
    }
}

/// ChatML without a trailing EOS (SmolLM2-like, minus the default system prompt).
struct FakeChatMLRenderer: ChatRendering {
    func render(messages: [ChatMessage], addGenerationPrompt: Bool) throws -> String {
        var s = messages.map { "<|\($0.role)|>\n\($0.content)</s>\n" }.joined()
        if addGenerationPrompt { s += "<|assistant|>\n" }
        return s
    }
}
