import Foundation
import XCTest
@testable import ChatTemplates

/// Locates shared test material: `<package root>/../shared`, or `$SWIFTTUNE_SHARED`.
enum TestSupport {
    static var packageRoot: URL {
        var dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        while dir.path != "/" {
            if FileManager.default.fileExists(atPath: dir.appendingPathComponent("Package.swift").path) { return dir }
            dir = dir.deletingLastPathComponent()
        }
        return dir
    }

    static func sharedDir() throws -> URL {
        if let env = ProcessInfo.processInfo.environment["SWIFTTUNE_SHARED"] { return URL(fileURLWithPath: env) }
        let url = packageRoot.deletingLastPathComponent().appendingPathComponent("shared")
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw XCTSkip("shared test material not found at \(url.path); set SWIFTTUNE_SHARED to the shared folder")
        }
        return url
    }

    static var fixtures: URL { URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures") }

    static func loadJSON(_ url: URL) throws -> Value {
        let text = try String(contentsOf: url, encoding: .utf8)
        return try JSON.parse(text)
    }

    static let pinnedNow = NaiveDateTime(iso: "2024-07-26T00:00:00")!

    struct Case {
        let id: String
        let template: String
        let context: Value
        let expected: String?
        let expectedError: String?
        let now: NaiveDateTime?
    }

    static func cases(_ v: Value) throws -> [Case] {
        guard case .list(let items) = v else { throw TemplateError(.runtime, "cases file is not a JSON array") }
        return items.compactMap { item in
            guard case .dict(let d) = item, case .string(let id)? = d["id"], case .string(let t)? = d["template"],
                  let ctx = d["context"] else { return nil }
            var now: NaiveDateTime? = pinnedNow
            if case .string(let n)? = d["now"] { now = NaiveDateTime(iso: n) }
            return Case(id: id, template: t, context: ctx, expected: d["expected"]?.stringValue,
                        expectedError: d["expected_error"]?.stringValue, now: now)
        }
    }

    /// Render every case; return (passed, failure descriptions).
    static func check(_ cases: [Case]) -> (Int, [String]) {
        var passed = 0
        var failures: [String] = []
        for c in cases {
            do {
                let t = try ChatTemplate.cached(c.template)
                let out = try t.render(context: c.context, options: RenderOptions(now: c.now))
                if let e = c.expected, out == e, out.utf8.elementsEqual(e.utf8) { passed += 1 }
                else if let e = c.expected { failures.append("\(c.id): output differs\n--- expected\n\(e.debugDescription)\n--- got\n\(out.debugDescription)") }
                else { failures.append("\(c.id): expected error \(c.expectedError ?? "?"), got output \(out.debugDescription)") }
            } catch {
                if let want = c.expectedError, want.isEmpty || "\(error)".contains(want) { passed += 1 }
                else { failures.append("\(c.id): error \(error)") }
            }
        }
        return (passed, failures)
    }
}
