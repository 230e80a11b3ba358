import Foundation
import XCTest
@testable import ChatTemplates

/// End to end through the built `swifttune template` binary (skipped when it has not been built).
final class CLITests: XCTestCase {
    func binary() throws -> URL {
        let dir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for candidate in [dir, dir.deletingLastPathComponent()] {
            let url = candidate.appendingPathComponent("swifttune")
            if FileManager.default.isExecutableFile(atPath: url.path) { return url }
        }
        throw XCTSkip("swifttune binary not built next to the test bundle (\(dir.path)); run `swift build` first")
    }

    func run(_ args: [String]) throws -> (Int32, Data, String) {
        let p = Process()
        p.executableURL = try binary()
        p.arguments = args
        let out = Pipe(), err = Pipe()
        p.standardOutput = out; p.standardError = err
        try p.run()
        let o = out.fileHandleForReading.readDataToEndOfFile()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, o, String(decoding: e, as: UTF8.self))
    }

    func tempDir() throws -> URL {
        let d = FileManager.default.temporaryDirectory.appendingPathComponent("swifttune-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: d, withIntermediateDirectories: true)
        return d
    }

    /// `--batch` over the whole corpus: one JSON line per input, in order, byte-identical texts.
    func testBatchOverCorpus() throws {
        _ = try binary()
        let url = try TestSupport.sharedDir().appendingPathComponent("testdata/chat-templates/cases.json")
        let cases = try TestSupport.cases(try TestSupport.loadJSON(url))
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        var lines = ""
        for c in cases {
            lines += try JSON.encode(.dict([("template", .string(c.template)), ("context", c.context), ("now", .string("2024-07-26T00:00:00"))])) + "\n"
        }
        lines += "\n{not json}\n"
        let batch = dir.appendingPathComponent("in.jsonl")
        try lines.write(to: batch, atomically: true, encoding: .utf8)
        let (status, out, err) = try run(["template", "--batch", batch.path])
        XCTAssertEqual(status, 0, err)
        let outLines = String(decoding: out, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
        XCTAssertEqual(outLines.count, cases.count + 2, "one line per non-blank input, then the final newline")
        var ok = 0
        for (c, line) in zip(cases, outLines) {
            guard case .dict(let r) = try JSON.parse(String(line)) else { continue }
            if let e = c.expected, r["text"]?.stringValue == e { ok += 1 }
            else if let e = c.expectedError, let msg = r["error"]?.stringValue, msg.contains(e) { ok += 1 }
        }
        XCTAssertEqual(ok, cases.count)
        guard case .dict(let bad) = try JSON.parse(String(outLines[cases.count])) else { return XCTFail("bad line") }
        XCTAssertNotNil(bad["error"], "a malformed input line gives an error line")
        print("CLI batch: \(ok)/\(cases.count) corpus cases match")
    }

    /// Single render from a model folder: exact bytes on stdout, special tokens filled from tokenizer_config.json.
    func testSingleRenderFromModelFolder() throws {
        _ = try binary()
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let template = "{{ bos_token }}{% for m in messages %}[{{ m.role }}]{{ m.content }}{% endfor %}{% if add_generation_prompt %}[assistant]{% endif %}\n{{ strftime_now('%d %b %Y') }}\n"
        let config = Value.dict([("chat_template", .string(template)), ("bos_token", .dict([("content", .string("<s>"))])), ("eos_token", .string("</s>"))])
        try JSON.encode(config).write(to: dir.appendingPathComponent("tokenizer_config.json"), atomically: true, encoding: .utf8)
        let ctx = #"{"messages": [{"role": "user", "content": "héllo\n"}], "add_generation_prompt": true}"#
        try ctx.write(to: dir.appendingPathComponent("ctx.json"), atomically: true, encoding: .utf8)
        let (status, out, err) = try run(["template", "--model", dir.path, "--context", dir.appendingPathComponent("ctx.json").path, "--now", "2024-07-26T00:00:00"])
        XCTAssertEqual(status, 0, err)
        XCTAssertEqual(String(decoding: out, as: UTF8.self), "<s>[user]héllo\n[assistant]26 Jul 2024")
        // A chat_template.jinja in the folder takes priority, as in transformers.
        try "J{{ eos_token }}".write(to: dir.appendingPathComponent("chat_template.jinja"), atomically: true, encoding: .utf8)
        let (s2, out2, _) = try run(["template", "--model", dir.path, "--context", dir.appendingPathComponent("ctx.json").path])
        XCTAssertEqual(s2, 0)
        XCTAssertEqual(String(decoding: out2, as: UTF8.self), "J</s>")
        // Template errors exit non-zero with the position.
        try "{% if %}".write(to: dir.appendingPathComponent("bad.jinja"), atomically: true, encoding: .utf8)
        let (s3, _, err3) = try run(["template", "--template-file", dir.appendingPathComponent("bad.jinja").path, "--context", dir.appendingPathComponent("ctx.json").path])
        XCTAssertNotEqual(s3, 0)
        XCTAssertTrue(err3.contains("line 1"), err3)
    }
}
