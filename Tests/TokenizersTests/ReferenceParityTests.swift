import Foundation
import XCTest
@testable import Tokenizers

/// Every case of `shared/testdata/tokenizers/<name>/cases.json` (498 per tokenizer, produced by HF
/// `tokenizers` 0.23.3) must give identical ids, tokens and offsets with and without special tokens,
/// and identical decode output. Tolerance: none (exact equality).
final class ReferenceParityTests: XCTestCase {
    struct Counts { var ids = 0, offsets = 0, special = 0, decoded = 0, decodedSpecial = 0, decodedSkip = 0, total = 0 }

    func check(_ name: String, requireSkip: Bool = true) throws {
        let tok = try TokenizerCache.shared.get(name)
        let cases = try loadCases(name)
        var c = Counts()
        var reported = 0
        func report(_ msg: String) {
            if reported < 8 { XCTFail("\(name): \(msg)") }
            reported += 1
        }
        for rc in cases {
            c.total += 1
            let e = tok.encode(rc.text, addSpecialTokens: false)
            if e.ids == rc.ids && exact(e.tokens, rc.tokens) { c.ids += 1 } else {
                report("\(rc.id) ids differ for \(rc.text.debugDescription.prefix(80))\n got  \(e.tokens.prefix(40))\n want \(rc.tokens.prefix(40))")
            }
            if e.offsets == rc.offsets { c.offsets += 1 } else if e.ids == rc.ids {
                report("\(rc.id) offsets differ: got \(e.offsets.prefix(30)) want \(rc.offsets.prefix(30))")
            }
            let s = tok.encode(rc.text, addSpecialTokens: true)
            if s.ids == rc.idsWithSpecial && s.offsets == rc.offsetsWithSpecial { c.special += 1 } else {
                report("\(rc.id) with special differ: got \(s.ids.prefix(20)) \(s.offsets.prefix(10)) want \(rc.idsWithSpecial.prefix(20)) \(rc.offsetsWithSpecial.prefix(10))")
            }
            let d = tok.decode(rc.ids)
            if exact(d, rc.decoded) { c.decoded += 1 } else { report("\(rc.id) decoded: got \(d.debugDescription.prefix(120)) want \(rc.decoded.debugDescription.prefix(120))") }
            let ds = tok.decode(rc.idsWithSpecial)
            if exact(ds, rc.decodedWithSpecial) { c.decodedSpecial += 1 } else { report("\(rc.id) decoded_with_special: got \(ds.debugDescription.prefix(120)) want \(rc.decodedWithSpecial.debugDescription.prefix(120))") }
            let dk = tok.decode(rc.idsWithSpecial, skipSpecialTokens: true)
            if exact(dk, rc.decodedWithSpecialSkip) { c.decodedSkip += 1 } else if requireSkip {
                report("\(rc.id) decoded_with_special_skip: got \(dk.debugDescription.prefix(120)) want \(rc.decodedWithSpecialSkip.debugDescription.prefix(120))")
            }
        }
        print("PARITY \(name): ids+tokens \(c.ids)/\(c.total), offsets \(c.offsets)/\(c.total), with_special \(c.special)/\(c.total), decoded \(c.decoded)/\(c.total), decoded_with_special \(c.decodedSpecial)/\(c.total), decoded_with_special_skip \(c.decodedSkip)/\(c.total)")
    }

    func testGPT2() throws { try check("gpt2") }
    func testSmolLM2() throws { try check("smollm2-135m") }
    func testQwen2() throws { try check("qwen2") }
    func testLlama3() throws { try check("llama3") }
    func testLlama2() throws { try check("llama2") }
    func testMistral() throws { try check("mistral-7b-v0.3") }
    /// t5-small: Unigram + Precompiled normalizer (optional in the brief).
    func testT5Small() throws { try check("t5-small") }
}
