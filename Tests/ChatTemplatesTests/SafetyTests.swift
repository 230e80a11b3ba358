import Foundation
import XCTest
@testable import ChatTemplates

/// Malformed templates fail with a positioned error; hostile ones hit a bound instead of hanging or crashing.
final class SafetyTests: XCTestCase {
    func syntaxError(_ source: String, file: StaticString = #filePath, line: UInt = #line) -> TemplateError? {
        do { _ = try ChatTemplate(source); XCTFail("expected a syntax error for \(source.debugDescription)", file: file, line: line); return nil }
        catch let e as TemplateError { return e }
        catch { XCTFail("unexpected error \(error)", file: file, line: line); return nil }
    }

    func renderError(_ source: String, _ ctx: [String: Value] = [:], limits: TemplateLimits = TemplateLimits(),
                     file: StaticString = #filePath, line: UInt = #line) -> TemplateError? {
        do {
            let t = try ChatTemplate(source)
            _ = try t.render(ctx, options: RenderOptions(limits: limits))
            XCTFail("expected a render error for \(source.debugDescription)", file: file, line: line)
            return nil
        } catch let e as TemplateError { return e }
        catch { XCTFail("unexpected error \(error)", file: file, line: line); return nil }
    }

    func testMalformedTemplatesReportLineAndColumn() {
        let cases: [(String, Int, Int, String)] = [
            ("{% if x %}\nabc", 2, 4, "endif"),
            ("line1\n{{ x + }}", 2, 8, "unexpected end of print statement"),
            ("ab\ncd {% for x in %}{% endfor %}", 2, 16, "Expected an expression"),
            ("{{ 'unterminated }}", 1, 4, "unexpected char"),
            ("{# never closed", 1, 1, "Missing end of comment tag"),
            ("{% raw %}abc", 1, 1, "Missing end of raw directive"),
            ("\n\n  {% endfor %}", 3, 6, "unknown tag"),
            ("{{ x | nosuchfilter }}", 1, 8, "No filter named"),
            ("{{ x is nosuchtest }}", 1, 6, "No test named"),
            ("{% set %}", 1, 8, "Expected an expression"),
            ("{{ (1, 2 }}", 1, 10, "unexpected '}'"),
            ("{{ [1, 2) }}", 1, 9, "unexpected ')'"),
            ("{% macro f( %}{% endmacro %}", 1, 14, "unexpected '}', expected ')'"),
            ("{% macro f(1) %}{% endmacro %}", 1, 12, "expected a name"),
            ("{{ x", 1, 1, "expected '}}'"),
            ("a\n{% if x %}{% break %}{% endif %}", 2, 14, "'break' outside loop"),
            ("{% for x in y %}{% macro m() %}{% continue %}{% endmacro %}{% endfor %}", 1, 35, "'continue' outside loop"),
        ]
        for (src, l, c, msg) in cases {
            guard let e = syntaxError(src) else { continue }
            XCTAssertEqual(e.kind, .syntax, src)
            XCTAssertEqual(e.line, l, "line for \(src.debugDescription): \(e)")
            XCTAssertEqual(e.column, c, "column for \(src.debugDescription): \(e)")
            XCTAssertTrue(e.message.lowercased().contains(msg.lowercased()), "\(e.message) should mention \(msg)")
        }
    }

    func testRuntimeErrorsCarryPosition() {
        guard let e = renderError("ok\n  {{ 1 + 'a' }}") else { return }
        XCTAssertEqual(e.line, 2)
        XCTAssertEqual(e.column, 8)
        guard let r = renderError("{% if true %}\n{{ raise_exception('Bad roles') }}{% endif %}") else { return }
        XCTAssertEqual(r.kind, .raised)
        XCTAssertEqual(r.message, "Bad roles")
        XCTAssertEqual(r.line, 2)
    }

    func testLoopIterationBound() {
        var lim = TemplateLimits(); lim.maxLoopIterations = 10_000
        let e = renderError("{% for i in range(1000) %}{% for j in range(1000) %}{% endfor %}{% endfor %}", limits: lim)
        XCTAssertEqual(e?.kind, .limit)
    }

    func testExponentialMacroRecursionIsBounded() {
        var lim = TemplateLimits(); lim.maxLoopIterations = 100_000
        let e = renderError("{% macro f(n) %}{% if n < 40 %}{{ f(n + 1) }}{{ f(n + 1) }}{% endif %}{% endmacro %}{{ f(0) }}", limits: lim)
        XCTAssertEqual(e?.kind, .limit)
    }

    func testOutputBound() {
        var lim = TemplateLimits(); lim.maxOutputBytes = 100_000
        let e = renderError("{% for i in range(100000) %}xxxxxxxxxx{% endfor %}", limits: lim)
        XCTAssertEqual(e?.kind, .limit)
        // Exponential string growth is stopped by the size bound, not by memory.
        let e2 = renderError("{% set ns = namespace(s='ab') %}{% for i in range(100) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s|length }}")
        XCTAssertEqual(e2?.kind, .limit)
    }

    func testHugeAllocationsRefused() {
        XCTAssertEqual(renderError("{{ range(10**12)|length }}")?.kind, .limit)
        XCTAssertEqual(renderError("{{ 'x' * 10**12 }}")?.kind, .limit)
        XCTAssertEqual(renderError("{{ [1] * 10**10 }}")?.kind, .limit)
        XCTAssertEqual(renderError("{{ 'x'.center(10**12) }}")?.kind, .limit)
        XCTAssertEqual(renderError("{{ 2 ** 200 }}")?.kind, .limit)
    }

    func testRecursionBound() {
        let e = renderError("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}")
        XCTAssertEqual(e?.kind, .limit)
        // Deep syntactic nesting is refused at parse time, not by overflowing the stack.
        let deep = String(repeating: "(", count: 5000) + "1" + String(repeating: ")", count: 5000)
        XCTAssertEqual(syntaxError("{{ \(deep) }}")?.kind, .limit)
        let deepIf = String(repeating: "{% if true %}", count: 3000) + String(repeating: "{% endif %}", count: 3000)
        XCTAssertEqual(syntaxError(deepIf)?.kind, .limit)
        let notChain = "{{ " + String(repeating: "not ", count: 5000) + "x }}"
        XCTAssertEqual(syntaxError(notChain)?.kind, .limit)
        let filterChain = "{{ x" + String(repeating: "|string", count: 20000) + " }}"
        XCTAssertEqual(syntaxError(filterChain)?.kind, .limit)
        let plusChain = "{{ 1" + String(repeating: " + 1", count: 20000) + " }}"
        XCTAssertEqual(syntaxError(plusChain)?.kind, .limit)
        // Moderate chains are fine.
        XCTAssertEqual(try ChatTemplate("{{ 1" + String(repeating: " + 1", count: 200) + " }}").render([:]), "201")
    }

    final class Box: @unchecked Sendable { var result: Result<String, Error>? = nil }

    /// On a thread with a small stack, deep (but legal) recursion is an error, not a crash.
    func testSmallStackThread() {
        let box = Box()
        let done = DispatchSemaphore(value: 0)
        let source = "{% macro f(n) %}{{ f(n + 1) if n < 40 else 'end' }}{% endmacro %}{{ f(0) }}{{ "
            + String(repeating: "(", count: 60) + "1" + String(repeating: ")", count: 60) + " }}"
        let t = Thread {
            box.result = Result { try ChatTemplate(source).render([:]) }
            done.signal()
        }
        t.stackSize = 256 << 10
        t.start()
        XCTAssertEqual(done.wait(timeout: .now() + 60), .success)
        switch box.result {
        case .success(let s)?: XCTAssertEqual(s, "end1")
        case .failure(let e)?: XCTAssertEqual((e as? TemplateError)?.kind, .limit, "\(e)")
        case nil: XCTFail("no result")
        }
        print("small-stack thread: \(String(describing: box.result))")
    }

    func testDeepJSONRefused() {
        let deep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        XCTAssertThrowsError(try JSON.parse(deep))
    }

    /// Truncated and corrupted versions of every corpus template must parse or throw, and render or throw:
    /// no crash, no hang.
    func testMutatedCorpusTemplatesNeverCrash() throws {
        let url = try TestSupport.sharedDir().appendingPathComponent("testdata/chat-templates/cases.json")
        let cases = try TestSupport.cases(try TestSupport.loadJSON(url))
        var seen = Set<String>()
        var rng = SplitMix(seed: UInt64(ProcessInfo.processInfo.environment["SWIFTTUNE_FUZZ_SEED"] ?? "") ?? 42)
        let rounds = Int(ProcessInfo.processInfo.environment["SWIFTTUNE_FUZZ_ROUNDS"] ?? "") ?? 12
        var rendered = 0, failed = 0
        let junk = ["{%", "%}", "{{", "}}", "{#", "#}", "(", ")", "[", "]", "'", "\"", "|", "-", "~", "\\", "endfor", "endif", "\n", "é"]
        for c in cases where seen.insert(c.template).inserted {
            let u = Array(c.template.unicodeScalars)
            for k in 0..<rounds {
                var m = u
                if k < 4 { m = Array(u[0..<Int(rng.next() % UInt64(max(u.count, 1)))]) }
                else {
                    let pos = Int(rng.next() % UInt64(max(m.count, 1)))
                    let ins = Array(junk[Int(rng.next() % UInt64(junk.count))].unicodeScalars)
                    if k % 2 == 0 && pos < m.count { m.remove(at: pos) }
                    m.insert(contentsOf: ins, at: min(pos, m.count))
                }
                let src = String(String.UnicodeScalarView(m))
                do {
                    let t = try ChatTemplate(src)
                    _ = try t.render(context: c.context, options: RenderOptions(now: TestSupport.pinnedNow))
                    rendered += 1
                } catch is TemplateError { failed += 1 }
            }
        }
        XCTAssertGreaterThan(rendered + failed, 400)
        print("mutated templates: \(rendered) rendered, \(failed) rejected with TemplateError")
    }
}

struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E3779B97F4A7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58476D1CE4E5B9
        z = (z ^ (z >> 27)) &* 0x94D049BB133111EB
        return z ^ (z >> 31)
    }
}

/// Hostile arguments to builtins give errors (or clamped results), never traps.
final class HostileArgumentTests: XCTestCase {
    func render(_ s: String) -> Result<String, Error> { Result { try ChatTemplate(s).render([:]) } }

    func testNoTrapsOnExtremeArguments() {
        let sources = [
            "{{ range(-9223372036854775807, 9223372036854775807)|length }}",
            "{{ range(0, 10, -9223372036854775807 - 1)|list }}",
            "{{ '%d' % 1e300 }}", "{{ '%.999999999f' % 1.5 }}", "{{ '%999999999d' % 1 }}",
            "{{ 'abc'|truncate(9223372036854775807) }}", "{{ 'abc'|truncate(10, leeway=9223372036854775807) }}",
            "{{ [1]|batch(10**12, 0)|list }}", "{{ [1]|slice(10**12)|list }}", "{{ 'a\\tb'.expandtabs(10**12) }}",
            "{{ -9223372036854775807 - 1 }}", "{{ (-9223372036854775807 - 1) // -1 }}", "{{ (-9223372036854775807 - 1)|abs }}",
            "{{ 9223372036854775807 + 1 }}", "{{ 'x'|center(-5) }}", "{{ 'x'.zfill(-3) }}", "{{ [1, 2][::-9223372036854775807] }}",
            "{{ 'abc'[-9223372036854775807:9223372036854775807] }}", "{{ 1e308 * 10 }}", "{{ (1e308 * 10)|int }}",
            "{% set c = none %}{% for i in [1] %}{% set ns = namespace(c=loop.cycle) %}{% endfor %}ok",
            "{{ 999999999999999999999999 }}",
        ]
        for s in sources {
            switch render(s) {
            case .success, .failure(is TemplateError): break
            case .failure(let e): XCTFail("\(s): unexpected \(e)")
            }
        }
        XCTAssertEqual(NaiveDateTime(year: 99999, month: 99, day: -4, hour: 99).strftime("%Y-%m-%d %H %j %a"), "9999-12-01 23 335 Wed")
    }

    /// A loop's `cycle` outliving its loop must stay callable (no dangling reference).
    func testLoopCallablesOutliveTheLoop() throws {
        let t = try ChatTemplate("{% set ns = namespace(f=none) %}{% for i in [1, 2] %}{% set ns.f = loop.cycle %}{% endfor %}{{ ns.f('a', 'b') }}")
        XCTAssertEqual(try t.render([:]), "b")
    }
}
