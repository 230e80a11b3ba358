import Foundation
import XCTest
@testable import Tokenizers

/// Pipeline variants the development tokenizers do not use (written by scripts/gen_tokenizer_variants.py
/// with HF `tokenizers` 0.23.3 into Fixtures/variants.json): each patches a shared tokenizer.json,
/// and ids (with special tokens), offsets and decode output must match exactly.
final class VariantParityTests: XCTestCase {
    func testVariants() throws {
        let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/variants.json")
        let root = try parseJSON(Data(contentsOf: fixture), name: fixture.path) as! JSONDict
        var sources: [String: JSONDict] = [:]
        for v in root["variants"] as! [Any] {
            let variant = v as! JSONDict
            let name = variant["name"] as! String
            let source = variant["source"] as! String
            if sources[source] == nil {
                let path = try tokenizerDir(source) + "/tokenizer.json"
                sources[source] = (try parseJSON(Data(contentsOf: URL(fileURLWithPath: path)), name: path) as! JSONDict)
            }
            var doc = sources[source]!
            let patch = variant["patch"] as! JSONDict
            for (k, value) in patch.pairs {
                if k == "model" {
                    var model = doc["model"] as! JSONDict
                    for (mk, mv) in (value as! JSONDict).pairs { model.set(mk, mv) }
                    doc.set("model", model)
                } else {
                    doc.set(k, value)
                }
            }
            let tok = try Tokenizer(parsedRoot: doc, name: "\(source)+\(name)")
            var ok = 0, total = 0, reported = 0
            for c in variant["cases"] as! [Any] {
                let rc = c as! JSONDict
                total += 1
                let text = rc["text"] as! String
                let ids = rc["ids"] as! [Int]
                let offsets = (rc["offsets"] as! [Any]).map { o -> TokenOffset in
                    let a = o as! [Any]
                    return TokenOffset(a[0] as! Int, a[1] as! Int)
                }
                let e = tok.encode(text, addSpecialTokens: true)
                let decoded = tok.decode(ids)
                if e.ids == ids && e.offsets == offsets && exact(decoded, rc["decoded"] as! String) {
                    ok += 1
                } else if reported < 4 {
                    reported += 1
                    XCTFail("\(name) \(rc["id"] as! String) \(text.debugDescription.prefix(60)): ids \(e.ids == ids) offsets \(e.offsets == offsets) decode \(exact(decoded, rc["decoded"] as! String))\n got \(e.ids.prefix(16)) \(e.offsets.prefix(8))\n want \(ids.prefix(16)) \(offsets.prefix(8))\n decoded \(decoded.debugDescription.prefix(80)) want \((rc["decoded"] as! String).debugDescription.prefix(80))")
                }
            }
            print("VARIANT \(name): \(ok)/\(total)")
        }
    }
}
