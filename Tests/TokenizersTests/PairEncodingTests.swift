import Foundation
import JSONCore
import XCTest
@testable import Tokenizers

/// Sentence pairs through the post-processors; expectations printed by HF `tokenizers` 0.23.3
/// (`tok.encode(a, b)`: ids, type_ids, offsets).
final class PairEncodingTests: XCTestCase {
    func patched(_ source: String, _ patch: [String: String]) throws -> Tokenizer {
        let path = try tokenizerDir(source) + "/tokenizer.json"
        var doc = try parseJSON(Data(contentsOf: URL(fileURLWithPath: path)), name: path).obj
        for (k, v) in patch { doc[k] = try parseJSON(Data(v.utf8), name: k) }
        return try Tokenizer(parsedRoot: .object(doc), name: "\(source)+patch")
    }

    func check(_ e: Encoding, ids: [Int], types: [Int], offsets: [[Int]], file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(e.ids, ids, file: file, line: line)
        XCTAssertEqual(e.typeIds, types, file: file, line: line)
        XCTAssertEqual(e.offsets.map { [$0.start, $0.end] }, offsets, file: file, line: line)
    }

    func testTemplatePair() throws {
        let tok = try TokenizerCache.shared.get("llama2")
        check(tok.encode("Hello world", pair: "How are you?"), ids: [1, 15043, 3186, 1, 1128, 526, 366, 29973],
              types: [0, 0, 0, 1, 1, 1, 1, 1], offsets: [[0, 0], [0, 5], [5, 11], [0, 0], [0, 3], [3, 7], [7, 11], [11, 12]])
    }

    func testRobertaPair() throws {
        let tok = try patched("gpt2", [
            "pre_tokenizer": #"{"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": true, "use_regex": true}"#,
            "post_processor": #"{"type": "RobertaProcessing", "sep": ["<|endoftext|>", 50256], "cls": ["<|endoftext|>", 50256], "trim_offsets": true, "add_prefix_space": true}"#,
        ])
        check(tok.encode("Hello world", pair: "How are you?"), ids: [50256, 18435, 995, 50256, 50256, 1374, 389, 345, 30, 50256],
              types: [0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
              offsets: [[0, 0], [0, 5], [6, 11], [0, 0], [0, 0], [0, 3], [4, 7], [8, 11], [11, 12], [0, 0]])
    }

    func testSequenceOfByteLevelAndTemplate() throws {
        // Llama 3.1 layout: ByteLevel (offset trimming) then TemplateProcessing (BOS).
        let tok = try patched("gpt2", ["post_processor": #"""
            {"type": "Sequence", "processors": [{"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": true, "use_regex": true},
             {"type": "TemplateProcessing", "single": [{"SpecialToken": {"id": "<|endoftext|>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
              "pair": [{"SpecialToken": {"id": "<|endoftext|>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}, {"SpecialToken": {"id": "<|endoftext|>", "type_id": 1}}, {"Sequence": {"id": "B", "type_id": 1}}],
              "special_tokens": {"<|endoftext|>": {"id": "<|endoftext|>", "ids": [50256], "tokens": ["<|endoftext|>"]}}}]}
            """#])
        check(tok.encode("Hello  world", pair: " How are you?"), ids: [50256, 15496, 220, 995, 50256, 1374, 389, 345, 30],
              types: [0, 0, 0, 0, 1, 1, 1, 1, 1], offsets: [[0, 0], [0, 5], [6, 6], [7, 12], [0, 0], [0, 4], [5, 8], [9, 12], [12, 13]])
        check(tok.encode("Hello  world"), ids: [50256, 15496, 220, 995], types: [0, 0, 0, 0], offsets: [[0, 0], [0, 5], [6, 6], [7, 12]])
    }

    func testBPEDecoderSuffix() throws {
        let json = """
        {"model": {"type": "BPE", "vocab": {"h": 0, "i</w>": 1, "hi</w>": 2, "t": 3, "here</w>": 4, "e": 5, "r": 6, "e</w>": 7, "he": 8, "her": 9},
          "merges": ["h i</w>", "h e", "he r", "her e</w>"], "end_of_word_suffix": "</w>"},
         "pre_tokenizer": {"type": "WhitespaceSplit"}, "decoder": {"type": "BPEDecoder", "suffix": "</w>"}}
        """
        let tok = try Tokenizer(tokenizerJSON: Data(json.utf8))
        let e = tok.encode("hi there")
        XCTAssertEqual(e.tokens, ["hi</w>", "t", "here</w>"])
        XCTAssertEqual(tok.decode(e.ids), "hi there")
    }

    func testTruncationAndPaddingFromTokenizerJSON() throws {
        // t.enable_truncation(max_length=4, stride=1[, direction="left"]); t.encode("Hello world, how are you today?")
        let right = try patched("llama2", ["truncation": #"{"max_length": 4, "stride": 1, "strategy": "LongestFirst", "direction": "Right"}"#])
        let e = right.encode("Hello world, how are you today?")
        XCTAssertEqual(e.ids, [1, 15043, 3186, 29892])
        XCTAssertEqual(e.overflowing.map(\.ids), [[1, 29892, 920, 526], [1, 526, 366, 9826], [1, 9826, 29973]])
        let left = try patched("llama2", ["truncation": #"{"max_length": 4, "stride": 1, "strategy": "LongestFirst", "direction": "Left"}"#])
        let l = left.encode("Hello world, how are you today?")
        XCTAssertEqual(l.ids, [1, 366, 9826, 29973])
        XCTAssertEqual(l.overflowing.map(\.ids), [[1, 920, 526, 366], [1, 3186, 29892, 920], [1, 15043, 3186]])
        // t.enable_padding(length=12, direction="left", pad_id=0, pad_token="<unk>"); t.encode("hi")
        let padded = try patched("llama2", ["padding": #"{"strategy": {"Fixed": 12}, "direction": "Left", "pad_to_multiple_of": null, "pad_id": 0, "pad_type_id": 0, "pad_token": "<unk>"}"#])
        let p = padded.encode("hi")
        XCTAssertEqual(p.ids, [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 7251])
        XCTAssertEqual(p.specialTokensMask, [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0])
        XCTAssertEqual(p.attentionMask, [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1])
        // Special tokens typed in the text are not marked in special_tokens_mask; the template's BOS is.
        let l2 = try TokenizerCache.shared.get("llama2")
        XCTAssertEqual(l2.encode("<s>hi</s> x").specialTokensMask, [1, 0, 0, 0, 0, 0, 0])
    }
}
