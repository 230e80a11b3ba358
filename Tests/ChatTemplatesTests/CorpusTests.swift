import Foundation
import XCTest
@testable import ChatTemplates

/// Every case of shared/testdata/chat-templates/cases.json (rendered by transformers 5.24 + jinja2 3.1.6)
/// must render byte-identically, or fail with the message the template passed to raise_exception.
final class CorpusTests: XCTestCase {
    func testReferenceCorpus() throws {
        let url = try TestSupport.sharedDir().appendingPathComponent("testdata/chat-templates/cases.json")
        let cases = try TestSupport.cases(try TestSupport.loadJSON(url))
        XCTAssertEqual(cases.count, 294, "cases.json should hold 294 cases")
        let (passed, failures) = TestSupport.check(cases)
        print("chat-template corpus: \(passed)/\(cases.count) cases pass")
        for f in failures.prefix(15) { XCTFail(f) }
        XCTAssertEqual(passed, cases.count)
    }
}
