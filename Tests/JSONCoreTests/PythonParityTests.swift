import Foundation
import XCTest
@testable import JSONCore

/// JSON read and re-written must equal Python's `json.loads` + `json.dumps` byte for byte
/// (Fixtures/python_cases.json, from scripts/gen_json_fixtures.py with Python 3's json module).
final class PythonParityTests: XCTestCase {
    static var fixture: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/python_cases.json")
    }

    func testDumpsEqualsPython() throws {
        let root = try JSONParser.parse(bytes: [UInt8](try Data(contentsOf: Self.fixture)))
        let cases = try XCTUnwrap(root["cases"]?.arrayValue)
        XCTAssertGreaterThan(cases.count, 10)
        var checked = 0
        for c in cases {
            let input = try XCTUnwrap(c["input"]?.stringValue)
            let v = try JSONParser.parse(input, options: .python)
            for d in try XCTUnwrap(c["dumps"]?.arrayValue) {
                let o = try XCTUnwrap(d["options"])
                let seps = o["separators"]?.arrayValue.map { ($0[0].stringValue ?? "", $0[1].stringValue ?? "") }
                let opts = JSONWriteOptions.python(indent: o["indent"]?.intValue, ensureASCII: o["ensure_ascii"]?.boolValue ?? true,
                                                   sortKeys: o["sort_keys"]?.boolValue ?? false, separators: seps)
                XCTAssertEqual(JSONWriter.string(v, options: opts), d["expected"]?.stringValue, "\(input) with \(JSONWriter.string(o))")
                checked += 1
            }
        }
        XCTAssertEqual(checked, cases.count * 7)
    }

    func testNumbersKeepTheirKind() throws {
        XCTAssertEqual(try JSONParser.parse("1"), .int(1))
        XCTAssertEqual(try JSONParser.parse("-0"), .int(0))
        XCTAssertEqual(try JSONParser.parse("1.0"), .double(1))
        XCTAssertEqual(try JSONParser.parse("1e3"), .double(1000))
        XCTAssertEqual(try JSONParser.parse("9223372036854775807"), .int(Int.max))
        XCTAssertEqual(try JSONParser.parse("-9223372036854775808"), .int(Int.min))
        XCTAssertEqual(try JSONParser.parse("9223372036854775808"), .bigInt("9223372036854775808"))
        XCTAssertEqual(try JSONParser.parse("-123456789012345678901234567890"), .bigInt("-123456789012345678901234567890"))
        XCTAssertEqual(JSONValue.bigInt("123456789012345678901234567890").doubleValue, 1.2345678901234568e29)
        XCTAssertEqual(JSONValue.double(3).intValue, 3)
        XCTAssertNil(JSONValue.double(3.5).intValue)
        XCTAssertEqual(JSONValue.double(1e-5).numberText, "1e-05")
        XCTAssertEqual(JSONValue.double(1e16).numberText, "1e+16")
        for bad in ["01", "1.", ".5", "-", "1e", "1e+", "+1", "0x10", "--1", "1.5.2"] {
            XCTAssertThrowsError(try JSONParser.parse(bad), bad)
        }
    }

    func testExtensionsAreOptIn() throws {
        XCTAssertThrowsError(try JSONParser.parse("NaN"))
        XCTAssertThrowsError(try JSONParser.parse("[Infinity]"))
        XCTAssertTrue(try JSONParser.parse("NaN", options: .python).doubleValue!.isNaN)
        XCTAssertEqual(try JSONParser.parse("[Infinity, -Infinity]", options: .python), .array([.double(.infinity), .double(-.infinity)]))
        XCTAssertEqual(JSONWriter.string(.array([.double(.nan), .double(.infinity)])), "[null,null]")
        XCTAssertEqual(JSONWriter.string(.array([.double(.nan), .double(-.infinity)]), options: .python()), "[NaN, -Infinity]")
        // Lone surrogates: U+FFFD (a Swift String cannot hold them) or an error in strict mode.
        XCTAssertEqual(try JSONParser.parse(#""\ud800x""#), .string("\u{FFFD}x"))
        XCTAssertEqual(try JSONParser.parse(#""\udc00""#), .string("\u{FFFD}"))
        XCTAssertEqual(try JSONParser.parse(#""\ud800\u0041""#), .string("\u{FFFD}A"))
        XCTAssertThrowsError(try JSONParser.parse(#""\ud800x""#, options: .strict))
        // Byte-order mark.
        XCTAssertEqual(try JSONParser.parse(bytes: [0xEF, 0xBB, 0xBF] + Array("[1]".utf8)), .array([.int(1)]))
        XCTAssertThrowsError(try JSONParser.parse(bytes: [0xEF, 0xBB, 0xBF] + Array("[1]".utf8), options: .strict))
    }

    func testDuplicateKeys() throws {
        let v = try JSONParser.parse(#"{"a": 1, "b": 2, "a": 3}"#)
        XCTAssertEqual(v.objectValue?.keys, ["a", "b"])
        XCTAssertEqual(v["a"], .int(3))
        XCTAssertThrowsError(try JSONParser.parse(#"{"t": 1, "t": 2}"#, options: .strict)) { e in
            XCTAssertTrue("\(e)".contains("\"t\" appears twice"), "\(e)")
            XCTAssertEqual((e as? JSONParseError)?.column, 10)
        }
        // Canonically equivalent keys are two keys (tokenizer vocabularies hold both).
        let u = try JSONParser.parse("{\"\u{00C5}\": 1, \"\u{212B}\": 2}")
        XCTAssertEqual(u.objectValue?.count, 2)
        XCTAssertEqual(u["\u{212B}"], .int(2))
        XCTAssertEqual(u["\u{00C5}"], .int(1))
    }
}

extension PythonParityTests {
    /// Large objects are indexed once at their end: repeats there follow the same rule as in small ones.
    func testDuplicateKeysInLargeObjects() throws {
        var text = "{"
        for k in 0..<100 { text += "\"k\(k)\": \(k), " }
        text += "\"k3\": \"again\", \"k99\": null, \"k3\": \"last\", \"end\": true}"
        let v = try JSONParser.parse(text)
        let o = try XCTUnwrap(v.objectValue)
        XCTAssertEqual(o.count, 101)
        XCTAssertEqual(o.keys.prefix(5), ["k0", "k1", "k2", "k3", "k4"])
        XCTAssertEqual(o.keys.last, "end")
        XCTAssertEqual(o["k3"], .string("last"))
        XCTAssertEqual(o["k99"], .null)
        XCTAssertEqual(o["k50"], .int(50))
        XCTAssertThrowsError(try JSONParser.parse(text, options: .strict)) { e in XCTAssertTrue("\(e)".contains("\"k3\" appears twice"), "\(e)") }
        // Same result as the dict Python builds.
        var py = JSONObject()
        for k in 0..<100 { py["k\(k)"] = .int(k) }
        py["k3"] = .string("last"); py["k99"] = .null; py["end"] = .bool(true)
        XCTAssertEqual(o, py)
    }
}
