import Foundation
import XCTest
@testable import ChatTemplates

/// `ChatTemplate.apply` against transformers' `render_jinja_template` (Fixtures/apply_cases.json): None keys
/// dropped, reasoning aliased to `thinking`/`reasoning_content`, tools passed through, continue_final_message.
final class ApplyTests: XCTestCase {
    func testApplyMatchesTransformers() throws {
        let v = try TestSupport.loadJSON(TestSupport.fixtures.appendingPathComponent("apply_cases.json"))
        guard case .list(let items) = v else { return XCTFail("bad fixture") }
        XCTAssertEqual(items.count, 4)
        for item in items {
            guard case .dict(let d) = item, case .string(let id)? = d["id"], case .string(let t)? = d["template"],
                  case .list(let msgs)? = d["messages"], case .string(let expected)? = d["expected"] else { return XCTFail("bad case") }
            var tools: [Value]? = nil
            if case .list(let ts)? = d["tools"] { tools = ts }
            var extra: [String: Value] = [:]
            if case .dict(let e)? = d["extra"] { extra = try ChatTemplate.variables(.dict(e)) }
            let r = try ChatTemplate(t).apply(messages: msgs, tools: tools,
                                              addGenerationPrompt: d["add_generation_prompt"]?.truthy ?? false,
                                              continueFinalMessage: d["continue_final_message"]?.truthy ?? false,
                                              extra: extra)
            XCTAssertEqual(r.text, expected, id)
        }
    }

    func testApplyToolsAbsentAreNoneButDefined() throws {
        let t = try ChatTemplate("{{ tools is defined }}{{ tools is none }}{{ documents is none }}")
        XCTAssertEqual(try t.apply(messages: []).text, "TrueTrueTrue")
    }
}

final class ValueLiteralTests: XCTestCase {
    func testLiteralsBuildOrderedContext() throws {
        let messages: [Value] = [["role": "system", "content": "Be brief.", "name": nil], ["role": "user", "content": "Hi"]]
        let t = try ChatTemplate("{% for m in messages %}{{ m }}|{% endfor %}{{ [1, 2.5, true, none] }}")
        let r = try t.apply(messages: messages)
        XCTAssertEqual(r.text, "{'role': 'system', 'content': 'Be brief.'}|{'role': 'user', 'content': 'Hi'}|[1, 2.5, True, None]")
        let v: Value = ["b": 1, "a": [1.5, "x"]]
        XCTAssertEqual(try JSON.encode(v), #"{"b": 1, "a": [1.5, "x"]}"#)
        XCTAssertEqual(v.description, "{'b': 1, 'a': [1.5, 'x']}")
    }
}
