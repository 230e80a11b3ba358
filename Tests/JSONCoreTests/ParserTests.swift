import XCTest
@testable import JSONCore

final class ParserTests: XCTestCase {
    func testStringsAndEscapes() throws {
        XCTAssertEqual(try JSONParser.parse("\"\\u00e9\\ud83d\\ude00\\n\\/\\b\\f\\t\\r\""), .string("é😀\n/\u{8}\u{C}\t\r"))
        XCTAssertEqual(try JSONParser.parse("\"plain é\""), .string("plain é"))
        XCTAssertThrowsError(try JSONParser.parse("\"a\u{1}b\""))          // raw control character
        XCTAssertThrowsError(try JSONParser.parse("\"\\x41\""))             // invalid escape
        XCTAssertThrowsError(try JSONParser.parse("\"\\u12G4\""))
        XCTAssertThrowsError(try JSONParser.parse("\"abc"))
        XCTAssertThrowsError(try JSONParser.parse("\"\\u12"))
    }

    func testErrorsHaveLineColumnAndPath() throws {
        XCTAssertThrowsError(try JSONParser.parse("{\"a\":1} x")) { e in XCTAssertTrue("\(e)".contains("column 9"), "\(e)") }
        let text = "{\n  \"model\": {\"type\": \"BPE\",\n  \"vocab\": {\"a\": 0,}\n}}"
        XCTAssertThrowsError(try JSONParser.parse(text)) { e in
            let e = e as! JSONParseError
            XCTAssertEqual(e.line, 3)
            XCTAssertEqual(e.column, 20)
            XCTAssertEqual(e.path, "model.vocab")
        }
        XCTAssertThrowsError(try JSONParser.parse(#"[{"messages": [{"role": "user"}, {"content": tru}]}]"#)) { e in
            XCTAssertEqual((e as! JSONParseError).path, "[0].messages[1].content")
        }
        XCTAssertThrowsError(try JSONParser.parse(#"{"a b": {"é": [1, 2, x]}}"#)) { e in
            XCTAssertEqual((e as! JSONParseError).path, #"["a b"]["é"][2]"#)
            XCTAssertTrue("\(e)".contains("in `[\"a b\"][\"é\"][2]`"), "\(e)")
        }
        // Columns count characters, not bytes.
        XCTAssertThrowsError(try JSONParser.parse("[\"é\", x]")) { e in XCTAssertEqual((e as! JSONParseError).column, 7) }
        for bad in ["", " ", "[", "[1,]", "{\"a\"}", "{\"a\":}", "{a:1}", "[1 2]", "tru", "nul", "{\"a\":1,}", "[1]]"] {
            XCTAssertThrowsError(try JSONParser.parse(bad), bad)
        }
    }

    func testHostileInputIsBounded() throws {
        XCTAssertThrowsError(try JSONParser.parse(String(repeating: "[", count: 100_000))) { e in   // no stack overflow
            XCTAssertEqual((e as! JSONParseError).path, "[0][0][0][0][0].…[0][0][0][0][0]")
        }
        XCTAssertNoThrow(try JSONParser.parse(String(repeating: "[", count: 512) + String(repeating: "]", count: 512)))
        XCTAssertThrowsError(try JSONParser.parse(String(repeating: "[", count: 513) + String(repeating: "]", count: 513)))
        var o = JSONParseOptions()
        o.maxDepth = 3
        XCTAssertNoThrow(try JSONParser.parse("[[[1]]]", options: o))
        XCTAssertThrowsError(try JSONParser.parse("[[[[1]]]]", options: o)) { e in XCTAssertTrue("\(e)".contains("deeper than 3"), "\(e)") }
        o.maxInputBytes = 8
        XCTAssertThrowsError(try JSONParser.parse("[1,2,3,4,5]", options: o)) { e in XCTAssertTrue("\(e)".contains("limit of 8"), "\(e)") }
        // Every prefix and every single-byte mutation of a document either parses or throws.
        let doc = Array(#"{"t":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]},"__metadata__":{"k":"v\u00e9"},"n":[1.5e3,-2,null,true]}"#.utf8)
        for n in 0..<doc.count { _ = try? JSONParser.parse(bytes: Array(doc[0..<n]), options: .strict) }
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<3000 {
            var m = doc
            m[Int.random(in: 0..<m.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng)
            _ = try? JSONParser.parse(bytes: m, options: .strict)
        }
    }

    func testRecordLines() throws {
        let text = "[\n{\"a\": 1},\n\n{\"a\": [1,\n2]}, 3]"
        let (v, lines) = try JSONParser.parseWithRecordLines(bytes: Array(text.utf8))
        XCTAssertEqual(v.arrayValue?.count, 3)
        XCTAssertEqual(lines[""], [2, 4, 5])
        let (_, l2) = try JSONParser.parseWithRecordLines(bytes: Array("{\"train\": [\n1,\n2], \"x\": {\"y\": [1]}}".utf8))
        XCTAssertEqual(l2["train"], [2, 3])
        XCTAssertNil(l2["y"])
    }

    func testObjectKeepsOrderAndIndexesLargeObjects() throws {
        var o = JSONObject([("b", .int(1)), ("a", .int(2))])
        o["c"] = .null
        o["b"] = .string("x")
        XCTAssertEqual(o.keys, ["b", "a", "c"])
        o["a"] = nil
        XCTAssertEqual(o.keys, ["b", "c"])
        XCTAssertEqual(o.removeValue(forKey: "b"), .string("x"))
        // Large object: indexed lookups, insertion order, replacement and removal keep index and order in step.
        var big = JSONObject()
        for k in 0..<1000 { big["k\(k)"] = .int(k) }
        XCTAssertEqual(big["k777"], .int(777))
        big["k3"] = .int(-3)
        big["k5"] = nil
        XCTAssertEqual(big.count, 999)
        XCTAssertEqual(big["k6"], .int(6))
        XCTAssertEqual(big[5].key, "k6")
        XCTAssertEqual(big["k3"], .int(-3))
        XCTAssertNil(big["k5"])
        let text = JSONWriter.string(.object(big))
        let back = try JSONParser.parse(text)
        XCTAssertEqual(back, .object(big))
        XCTAssertEqual(back.objectValue?.keys.first, "k0")
        XCTAssertNotEqual(JSONValue.object(JSONObject([("a", .int(1)), ("b", .int(2))])), .object(JSONObject([("b", .int(2)), ("a", .int(1))])))
    }

    func testWriterMatchesSerdeCompact() {
        let v = JSONValue.object(JSONObject([("k\"\\", .array([.string("a\u{1}\u{8}é/"), .int(-1), .bool(false), .null, .double(0.5)]))]))
        XCTAssertEqual(JSONWriter.string(v), "{\"k\\\"\\\\\":[\"a\\u0001\\bé/\",-1,false,null,0.5]}")
        var bytes: [UInt8] = []
        JSONWriter.appendString("x\ny", to: &bytes)
        XCTAssertEqual(String(decoding: bytes, as: UTF8.self), "\"x\\ny\"")
        XCTAssertEqual(JSONWriter.intArray([1, 2, 3] as [Int32]), "[1,2,3]")
        XCTAssertEqual(JSONValue.object(JSONObject([("a", .int(1))])).displayText, "{\"a\":1}")
        XCTAssertEqual(JSONValue.string("s").displayText, "s")
    }

    func testPythonFloatRepr() {
        let cases: [(Double, String)] = [(0.1, "0.1"), (1e-5, "1e-05"), (1e16, "1e+16"), (1e15, "1000000000000000.0"),
                                         (-0.0, "-0.0"), (Double.leastNonzeroMagnitude, "5e-324"), (1.7976931348623157e308, "1.7976931348623157e+308"),
                                         (123.456, "123.456"), (0.0001, "0.0001"), (2.5e-7, "2.5e-07"), (.nan, "nan"), (-.infinity, "-inf")]
        for (d, s) in cases { XCTAssertEqual(d.pythonRepr, s) }
    }
}
