import XCTest
@testable import Datasets

final class LoaderTests: XCTestCase {
    func load(_ text: String, _ format: DataFileFormat, skip: Bool = false, split: String? = nil) throws -> (Dataset, LoadReport) {
        try DatasetLoader.load(data: Array(text.utf8), name: "data.\(format.rawValue)", format: format, split: split, skipMalformed: skip)
    }

    func testJSONLRowsAndLines() throws {
        let (ds, report) = try load("{\"a\": 1, \"b\": \"x\"}\n\n{\"b\": \"y\", \"c\": [1, 2.5, null, true]}\r\n", .jsonl)
        XCTAssertEqual(ds.count, 2)
        XCTAssertEqual(ds.columnNames, ["a", "b", "c"])
        XCTAssertEqual(ds[1]["c"], .array([.int(1), .double(2.5), .null, .bool(true)]))
        XCTAssertEqual(ds.sourceLines, [1, 3])
        XCTAssertEqual(report.skipped.count, 0)
    }

    func testJSONLListsEveryBadLineThenSkipOption() throws {
        let text = "{\"a\": 1}\n{\"a\": 2,}\n[1]\n{\"a\": \"unterminated}\n{\"a\": 5}\n"
        XCTAssertThrowsError(try load(text, .jsonl)) { e in
            guard case DatasetError.malformedRecords(let issues, _) = e else { return XCTFail("\(e)") }
            XCTAssertEqual(issues.map(\.line), [2, 3, 4])
            let msg = "\(e)"
            XCTAssertTrue(msg.contains("3 malformed record(s)"), msg)
            XCTAssertTrue(msg.contains("data.jsonl:2: invalid JSON"), msg)
            XCTAssertTrue(msg.contains("data.jsonl:3: expected a JSON object per line, found an array"), msg)
            XCTAssertTrue(msg.contains("skip_malformed"), msg)
        }
        let (ds, report) = try load(text, .jsonl, skip: true)
        XCTAssertEqual(ds.count, 2)
        XCTAssertEqual(report.skipped.count, 3)
        XCTAssertEqual(report.recordsRead, 5)
    }

    func testJSONArrayAndSplits() throws {
        let (a, _) = try load("[\n {\"x\": 1},\n {\"x\": 2}\n]", .json)
        XCTAssertEqual(a.count, 2)
        XCTAssertEqual(a.sourceLines, [2, 3])
        let splits = "{\"train\": [{\"x\": 1}, {\"x\": 2}],\n \"test\": [\n{\"x\": 3}]}"
        XCTAssertEqual(try load(splits, .json).0.count, 2)
        let t = try load(splits, .json, split: "test").0
        XCTAssertEqual(t[0]["x"], .int(3))
        XCTAssertEqual(t.sourceLines, [3])
        XCTAssertThrowsError(try load(splits, .json, split: "validation")) { e in XCTAssertTrue("\(e)".contains("no split 'validation'")) }
        XCTAssertThrowsError(try load("[{\"x\": 1}, 7]", .json)) { e in XCTAssertTrue("\(e)".contains("record 1 is a number, expected an object"), "\(e)") }
        XCTAssertThrowsError(try load("[{\"x\": 1},\n {\"x\" 2}]", .json)) { e in XCTAssertTrue("\(e)".contains("data.json:2"), "\(e)") }
    }

    func testCSVQuotesNewlinesAndHeader() throws {
        let csv = "prompt,completion\r\n\"Hello, world\",\"She said \"\"hi\"\"\nand left\"\r\nplain,text\n"
        let (ds, _) = try load(csv, .csv)
        XCTAssertEqual(ds.count, 2)
        XCTAssertEqual(ds[0]["prompt"], .string("Hello, world"))
        XCTAssertEqual(ds[0]["completion"], .string("She said \"hi\"\nand left"))
        XCTAssertEqual(ds[1]["completion"], .string("text"))
        XCTAssertEqual(ds.sourceLines, [2, 4])
    }

    func testCSVErrors() throws {
        XCTAssertThrowsError(try load("a,b\n1,2\n3\n4,5,6\n", .csv)) { e in
            guard case DatasetError.malformedRecords(let issues, _) = e else { return XCTFail("\(e)") }
            XCTAssertEqual(issues.map(\.line), [3, 4])
            XCTAssertEqual(issues[0].field, "b")
            XCTAssertEqual(issues[0].description, "data.csv:3 field 'b': 1 fields, the header has 2")
        }
        XCTAssertThrowsError(try load("a,b\n\"open,2\n", .csv)) { e in XCTAssertTrue("\(e)".contains("data.csv:2: a quoted field opened here is never closed"), "\(e)") }
        XCTAssertEqual(try load("a,b\n1,2\n3\n", .csv, skip: true).0.count, 1)
    }

    func testPlainText() throws {
        let (ds, _) = try load("first line\n\nsecond\r\n", .text)
        XCTAssertEqual(ds.rows.map { $0["text"] }, [.string("first line"), .string("second")])
        XCTAssertEqual(ds.sourceLines, [1, 3])
    }

    func testColumnOperations() throws {
        let ds = Dataset(rows: (0..<10).map { Row([("sentence", .string("s\($0)")), ("translation", .string("t\($0)")), ("n", .int($0))]) })
        let renamed = try ds.renameColumn("sentence", to: "prompt")
        XCTAssertEqual(renamed.columnNames, ["prompt", "translation", "n"])
        XCTAssertThrowsError(try ds.renameColumn("nope", to: "x")) { e in XCTAssertTrue("\(e)".contains("no column 'nope'")) }
        XCTAssertThrowsError(try ds.renameColumn("sentence", to: "n")) { e in XCTAssertTrue("\(e)".contains("already exists")) }
        XCTAssertEqual(try ds.removeColumns(["translation"]).columnNames, ["sentence", "n"])
        XCTAssertEqual(try ds.selectColumns(["n", "sentence"]).columnNames, ["n", "sentence"])
        XCTAssertEqual(ds.filter { ($0["n"]?.intValue ?? 0) % 2 == 0 }.count, 5)
        let mapped = ds.map { r in var r = r; r["text"] = .string((r["sentence"]?.stringValue ?? "") + "!"); return r }
        XCTAssertEqual(mapped[3]["text"], .string("s3!"))
        let a = ds.shuffled(seed: 7), b = ds.shuffled(seed: 7), c = ds.shuffled(seed: 8)
        XCTAssertEqual(a.rows, b.rows)
        XCTAssertNotEqual(a.rows, c.rows)
        XCTAssertEqual(Set(a.rows.map { $0["n"]! }), Set(ds.rows.map { $0["n"]! }))
        let (train, test) = try ds.trainTestSplit(testSize: 0.25, seed: 1)
        XCTAssertEqual(test.count, 3)   // ceil(0.25 × 10)
        XCTAssertEqual(train.count, 7)
        XCTAssertEqual(Set((train.rows + test.rows).map { $0["n"]! }).count, 10)
        XCTAssertThrowsError(try ds.trainTestSplit(testSize: 10)) { e in XCTAssertTrue("\(e)".contains("empty split")) }
    }

    func testJSONParserEdgeCases() throws {
        XCTAssertEqual(try JSONParser.parse("\"\\u00e9\\ud83d\\ude00\\n\""), .string("é😀\n"))
        XCTAssertEqual(try JSONParser.parse("-12"), .int(-12))
        XCTAssertEqual(try JSONParser.parse("1e3"), .double(1000))
        XCTAssertThrowsError(try JSONParser.parse(String(repeating: "[", count: 10_000)))   // depth cap, no stack overflow
        XCTAssertThrowsError(try JSONParser.parse("{\"a\":1} x")) { e in XCTAssertTrue("\(e)".contains("column 9"), "\(e)") }
        let o = try JSONParser.parse("{\"b\":1,\"a\":[true,null]}")
        XCTAssertEqual(JSONWriter.string(o), "{\"b\":1,\"a\":[true,null]}")
    }

    func testYodaLoadsFromShared() throws {
        let url = try TestPaths.requireShared("datasets/yoda/train.jsonl")
        let (ds, _) = try DatasetLoader.load(path: url.path)
        XCTAssertEqual(ds.count, 600)
        XCTAssertEqual(ds.columnNames, ["sentence", "translation", "translation_extra"])
    }
}
