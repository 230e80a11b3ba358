import Foundation
import XCTest
@testable import Tokenizers

/// Streaming decode must reproduce one-shot `decode` exactly when its pieces are concatenated, and
/// never emit a piece containing a broken character while more input follows.
final class StreamingDecoderTests: XCTestCase {
    func check(_ name: String) throws {
        let tok = try TokenizerCache.shared.get(name)
        let cases = try loadCases(name)
        var ok = 0
        for rc in cases {
            var stream = StreamingDecoder(tokenizer: tok)
            var text = ""
            for id in rc.idsWithSpecial {
                if let piece = stream.step(id) {
                    XCTAssertFalse(piece.unicodeScalars.contains("\u{FFFD}") && !rc.decodedWithSpecial.unicodeScalars.contains("\u{FFFD}"),
                                   "\(name) \(rc.id): emitted a broken character")
                    text += piece
                }
            }
            text += stream.finish()
            if exact(text, rc.decodedWithSpecial) { ok += 1 } else if ok + 5 > cases.count {
                XCTFail("\(name) \(rc.id): streamed \(text.debugDescription.prefix(100)) != \(rc.decodedWithSpecial.debugDescription.prefix(100))")
            }
        }
        print("STREAM \(name): \(ok)/\(cases.count)")
        XCTAssertEqual(ok, cases.count, "\(name): streamed text differs from decode")
    }

    func testByteLevel() throws {
        try check("gpt2")
        try check("qwen2")
    }

    func testSentencePieceStyle() throws {
        try check("llama2")
        try check("mistral-7b-v0.3")
    }

    func testHoldsBackPartialCharacter() throws {
        let tok = try TokenizerCache.shared.get("gpt2")
        let ids = tok.encode("𠀀", addSpecialTokens: false).ids  // a CJK Ext-B character: several byte-level tokens
        XCTAssertGreaterThan(ids.count, 1)
        var s = StreamingDecoder(tokenizer: tok)
        for id in ids.dropLast() { XCTAssertNil(s.step(id)) }
        XCTAssertEqual(s.step(ids.last!), "𠀀")
        // An incomplete character at the end is flushed as U+FFFD by finish().
        var t = StreamingDecoder(tokenizer: tok)
        XCTAssertNil(t.step(ids[0]))
        XCTAssertEqual(t.finish(), "\u{FFFD}")
    }
}
