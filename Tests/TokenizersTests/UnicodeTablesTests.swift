import Foundation
import JSONCore
import XCTest
@testable import Tokenizers

/// The Unicode classes behind the hand-coded splitters (\p{L}, \p{N}, \s, \p{M} from Swift's
/// `Unicode.Scalar.Properties`) against Oniguruma's tables inside HF `tokenizers`, over every code
/// point (Fixtures/oniguruma_classes.json, written by scripts/gen_unicode_classes.py).
/// Characters assigned after Oniguruma's Unicode version are given no class (see
/// `CharClass.onigurumaUnicodeVersion`), so the tables must agree exactly.
final class UnicodeTablesTests: XCTestCase {
    func testClassesAgreeWithOniguruma() throws {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/oniguruma_classes.json")
        let root = try parseJSON(Data(contentsOf: url), name: url.path)
        let classes = root["classes"]!.obj
        for (name, bit) in [("L", CharClass.letter), ("N", CharClass.number), ("s", CharClass.space), ("M", CharClass.mark)] {
            var onig = [Bool](repeating: false, count: 0x110000)
            for r in classes[name]!.arr {
                for c in r.arr[0].i...r.arr[1].i { onig[c] = true }
            }
            var onlyOnig: [UInt32] = [], onlySwift: [UInt32] = []
            var members = 0
            for c in 0..<0x110000 where !(0xD800...0xDFFF).contains(c) {
                let swift = CharClass.of(UInt32(c)) & bit != 0
                if onig[c] { members += 1 }
                if onig[c] && !swift { onlyOnig.append(UInt32(c)) }
                if swift && !onig[c] { onlySwift.append(UInt32(c)) }
            }
            let diff = onlyOnig.count + onlySwift.count
            print("UNICODE \\p{\(name)}: \(members) code points in Oniguruma; only Oniguruma \(onlyOnig.count), only Swift \(onlySwift.count)"
                  + (diff > 0 ? " e.g. " + (onlyOnig.prefix(5) + onlySwift.prefix(5)).map { String($0, radix: 16) }.joined(separator: " ") : ""))
            XCTAssertEqual(diff, 0, "\\p{\(name)} differs from Oniguruma on \(diff) code points")
        }
    }
}
