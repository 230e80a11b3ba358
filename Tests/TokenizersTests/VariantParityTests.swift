import Foundation
import JSONCore
import XCTest
@testable import Tokenizers

/// Pipeline variants the development tokenizers do not use (written by scripts/gen_tokenizer_variants.py
/// with HF `tokenizers` 0.23.3 into Fixtures/variants.json): each patches a shared tokenizer.json,
/// and ids (with special tokens), offsets and decode output must match exactly.
final class VariantParityTests: XCTestCase {
    func testVariants() throws {
        let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/variants.json")
        let root = try parseJSON(Data(contentsOf: fixture), name: fixture.path)
        var sources: [String: JSONObject] = [:]
        for variant in root["variants"]!.arr {
            let name = variant["name"]!.str
            let source = variant["source"]!.str
            if sources[source] == nil {
                let path = try tokenizerDir(source) + "/tokenizer.json"
                sources[source] = try parseJSON(Data(contentsOf: URL(fileURLWithPath: path)), name: path).obj
            }
            var doc = sources[source]!
            let patch = variant["patch"]!.obj
            for (k, value) in patch {
                if k == "model" {
                    var model = doc["model"]!.obj
                    for (mk, mv) in value.obj { model[mk] = mv }
                    doc["model"] = .object(model)
                } else {
                    doc[k] = value
                }
            }
            let tok = try Tokenizer(parsedRoot: .object(doc), name: "\(source)+\(name)")
            var ok = 0, total = 0, reported = 0
            for rc in variant["cases"]!.arr {
                total += 1
                let text = rc["text"]!.str
                let ids = rc["ids"]!.ints
                let offsets = rc["offsets"]!.arr.map { TokenOffset($0.arr[0].i, $0.arr[1].i) }
                let e = tok.encode(text, addSpecialTokens: true)
                let decoded = tok.decode(ids)
                if e.ids == ids && e.offsets == offsets && exact(decoded, rc["decoded"]!.str) {
                    ok += 1
                } else if reported < 4 {
                    reported += 1
                    XCTFail("\(name) \(rc["id"]!.str) \(text.debugDescription.prefix(60)): ids \(e.ids == ids) offsets \(e.offsets == offsets) decode \(exact(decoded, rc["decoded"]!.str))\n got \(e.ids.prefix(16)) \(e.offsets.prefix(8))\n want \(ids.prefix(16)) \(offsets.prefix(8))\n decoded \(decoded.debugDescription.prefix(80)) want \(rc["decoded"]!.str.debugDescription.prefix(80))")
                }
            }
            print("VARIANT \(name): \(ok)/\(total)")
        }
    }
}
