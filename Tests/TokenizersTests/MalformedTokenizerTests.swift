import Foundation
import XCTest
@testable import Tokenizers

/// Broken tokenizer.json files fail with errors that name the file, the field and what was expected.
final class MalformedTokenizerTests: XCTestCase {
    let goodModel = #"{"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2}, "merges": ["a b"]}"#

    func expectError(_ json: String, _ fragments: [String], file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try Tokenizer(tokenizerJSON: Data(json.utf8), name: "bad.json"), file: file, line: line) { e in
            let msg = "\(e)"
            for f in fragments { XCTAssertTrue(msg.contains(f), "error \"\(msg)\" lacks \"\(f)\"", file: file, line: line) }
        }
    }

    func testGoodMinimalFileLoads() throws {
        let tok = try Tokenizer(tokenizerJSON: Data(#"{"model": \#(goodModel)}"#.utf8))
        XCTAssertEqual(tok.encode("ab").ids, [2])
        XCTAssertEqual(tok.decode([2]), "ab")
    }

    func testSyntaxErrorsGiveLineAndColumn() {
        expectError("{\n  \"model\": {\"type\": \"BPE\",\n  \"vocab\": {\"a\": 0,}\n}", ["bad.json", "not valid JSON", "line 3"])
        expectError("", ["unexpected end of file"])
        expectError("{\"model\": \"x\"} trailing", ["unexpected data after the JSON value"])
        expectError("[1, 2", ["bad.json"])
        expectError(String(repeating: "[", count: 10_000), ["nesting too deep"])
    }

    func testStructuralErrors() {
        expectError("[]", ["<root>", "a JSON object"])
        expectError("{}", ["`model`", "a JSON object"])
        expectError(#"{"model": {"type": "Magic", "vocab": {}}}"#, ["model.type", "Magic"])
        expectError(#"{"model": {"type": "BPE", "vocab": {"a": "zero"}, "merges": []}}"#, ["model.vocab.a", "non-negative integer id"])
        expectError(#"{"model": {"type": "BPE", "vocab": {"a": -1}, "merges": []}}"#, ["model.vocab.a"])
        expectError(#"{"model": {"type": "BPE", "vocab": {"a": 0, "b": 1}, "merges": ["a b c"]}}"#, ["model.merges[0]", "two tokens"])
        expectError(#"{"model": {"type": "BPE", "vocab": {"a": 0, "b": 1}, "merges": [["a"]]}}"#, ["model.merges[0]"])
        expectError(#"{"model": {"type": "BPE", "vocab": {"a": 0, "b": 1}, "merges": ["a c"]}}"#, ["model.merges[0]", "\"c\""])
        expectError(#"{"model": {"type": "BPE", "vocab": {"a": 0, "b": 1}, "merges": ["a b"]}}"#, ["merged", "\"ab\""])
        expectError(#"{"model": {"type": "BPE", "vocab": {"a": 0}, "merges": [], "unk_token": "<unk>"}}"#, ["model.unk_token", "<unk>"])
        expectError(#"{"model": \#(goodModel), "pre_tokenizer": {"type": "Split", "pattern": {"Regex": "a"}, "behavior": "Sideways"}}"#,
                    ["pre_tokenizer.behavior", "Sideways"])
        expectError(#"{"model": \#(goodModel), "pre_tokenizer": {"type": "Split", "pattern": {"Regex": "(unclosed"}, "behavior": "Isolated"}}"#,
                    ["pre_tokenizer.pattern.Regex", "(unclosed"])
        expectError(#"{"model": \#(goodModel), "pre_tokenizer": {"type": "Split", "pattern": {"Glob": "*"}, "behavior": "Isolated"}}"#,
                    ["pre_tokenizer.pattern"])
        expectError(#"{"model": \#(goodModel), "normalizer": {"type": "Sequence", "normalizers": [{"type": "NFC"}, {"type": "Rot13"}]}}"#,
                    ["normalizer.normalizers[1].type", "Rot13"])
        expectError(#"{"model": \#(goodModel), "post_processor": {"type": "TemplateProcessing", "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}], "special_tokens": {}}}"#,
                    ["post_processor.single[0].SpecialToken.id", "<s>"])
        expectError(#"{"model": \#(goodModel), "decoder": {"type": "Strip", "content": "ab", "start": 1, "stop": 0}}"#,
                    ["decoder.content", "single character"])
        expectError(#"{"model": \#(goodModel), "added_tokens": [{"id": 5}]}"#, ["added_tokens[0].content"])
        expectError(#"{"model": \#(goodModel), "added_tokens": [{"id": "x", "content": "<s>"}]}"#, ["added_tokens[0].id"])
    }

    func testMissingFilesAndFolders() {
        XCTAssertThrowsError(try Tokenizer(path: "/nonexistent/tokenizer.json")) { e in
            XCTAssertTrue("\(e)".contains("no such file"), "\(e)")
        }
        let dir = NSTemporaryDirectory() + "swifttune-empty-\(getpid())"
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        XCTAssertThrowsError(try Tokenizer(path: dir)) { e in
            XCTAssertTrue("\(e)".contains("no tokenizer.json"), "\(e)")
        }
        let gguf = dir + "/m.gguf"
        FileManager.default.createFile(atPath: gguf, contents: Data([0x47, 0x47, 0x55, 0x46]))
        XCTAssertThrowsError(try Tokenizer(path: gguf)) { e in
            XCTAssertTrue("\(e)".contains("GGUF"), "\(e)")
        }
        // A broken tokenizer_config.json next to a good tokenizer.json is reported with its own path.
        FileManager.default.createFile(atPath: dir + "/tokenizer.json", contents: Data(#"{"model": \#(goodModel)}"#.utf8))
        FileManager.default.createFile(atPath: dir + "/tokenizer_config.json", contents: Data("{\"bos_token\": 5}".utf8))
        XCTAssertThrowsError(try Tokenizer(path: dir)) { e in
            XCTAssertTrue("\(e)".contains("tokenizer_config.json") && "\(e)".contains("bos_token"), "\(e)")
        }
    }

    func testHostileInputDoesNotCrash() throws {
        let tok = try TokenizerCache.shared.get("gpt2")
        // Lone surrogates cannot be in a Swift String; odd scalars, controls and long runs must encode and round-trip.
        for s in ["\u{0}\u{1}\u{FFFF}\u{10FFFF}", String(repeating: "a", count: 20_000), String(repeating: " ", count: 5000) + "x",
                  String(repeating: "👍🏽", count: 500), ""] {
            let e = tok.encode(s)
            XCTAssertTrue(exact(tok.decode(e.ids), s))
        }
        XCTAssertEqual(tok.decode([-5, 99_999_999, 31373]), "hello")  // unknown ids are dropped, as in `tokenizers`
    }
}
