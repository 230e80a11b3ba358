import Foundation
import XCTest
@testable import ChatTemplates

/// jinja2 behaviours beyond the corpus, rendered by the real transformers/jinja2 environment
/// (scripts/gen_template_fixtures.py → Fixtures/jinja_cases.json). Byte-exact; error cases must throw.
final class JinjaBehaviourTests: XCTestCase {
    func testGeneratedFixtures() throws {
        let v = try TestSupport.loadJSON(TestSupport.fixtures.appendingPathComponent("jinja_cases.json"))
        let cases = try TestSupport.cases(v)
        XCTAssertGreaterThan(cases.count, 90)
        let (passed, failures) = TestSupport.check(cases)
        print("jinja behaviour fixtures: \(passed)/\(cases.count) cases pass")
        for f in failures { XCTFail(f) }
    }

    /// `{% generation %}` ranges match transformers' `_render_with_assistant_indices` (code-point offsets).
    func testGenerationRangesMatchTransformers() throws {
        let v = try TestSupport.loadJSON(TestSupport.fixtures.appendingPathComponent("jinja_cases.json"))
        guard case .list(let items) = v else { return XCTFail("bad fixture") }
        var checked = 0
        for item in items {
            guard case .dict(let d) = item, case .list(let want)? = d["generation_ranges"],
                  case .string(let t)? = d["template"], let ctx = d["context"] else { continue }
            let r = try ChatTemplate(t).renderWithGenerationRanges(try ChatTemplate.variables(ctx))
            let expected: [Range<Int>] = want.compactMap {
                guard case .list(let p) = $0, p.count == 2, case .int(let a) = p[0], case .int(let b) = p[1] else { return nil }
                return a..<b
            }
            XCTAssertEqual(r.generationRanges, expected)
            XCTAssertEqual(r.text, d["expected"]?.stringValue)
            checked += 1
        }
        XCTAssertGreaterThan(checked, 0)
    }

    func testGenerationRangesWithNonASCII() throws {
        let t = try ChatTemplate("é{% generation %}ü😀{% endgeneration %}x{% generation %}{% endgeneration %}")
        let r = try t.renderWithGenerationRanges([:])
        XCTAssertEqual(r.text, "éü😀x")
        XCTAssertEqual(r.generationRanges, [1..<3, 4..<4])
        XCTAssertEqual(r.generationByteRanges, [2..<8, 9..<9])
    }
}
