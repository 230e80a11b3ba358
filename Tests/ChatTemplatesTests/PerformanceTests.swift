import Foundation
import XCTest
@testable import ChatTemplates

/// Compile once, render many: a typical chat template must render well under a millisecond (release).
final class PerformanceTests: XCTestCase {
    func testRenderSpeed() throws {
        let url = try TestSupport.sharedDir().appendingPathComponent("testdata/chat-templates/cases.json")
        let cases = try TestSupport.cases(try TestSupport.loadJSON(url)).filter { $0.expected != nil }
        // One multi-turn case per template.
        var byTemplate: [String: TestSupport.Case] = [:]
        for c in cases where c.id.contains("system-multiturn") || byTemplate[c.template] == nil { byTemplate[c.template] = c }
        var worst = 0.0, total = 0.0, worstID = ""
        let reps = 200
        for c in byTemplate.values {
            let t = try ChatTemplate(c.template)
            let vars = try ChatTemplate.variables(c.context)
            let opts = RenderOptions(now: TestSupport.pinnedNow)
            _ = try t.render(vars, options: opts)
            let start = DispatchTime.now().uptimeNanoseconds
            for _ in 0..<reps { _ = try t.render(vars, options: opts) }
            let per = Double(DispatchTime.now().uptimeNanoseconds - start) / Double(reps) / 1000
            total += per
            if per > worst { worst = per; worstID = c.id }
        }
        let mean = total / Double(byTemplate.count)
        print(String(format: "render: mean %.1f µs, worst %.1f µs (%@) over %d templates", mean, worst, worstID, byTemplate.count))
        // Parse time of the largest template.
        let biggest = byTemplate.keys.max { $0.utf8.count < $1.utf8.count }!
        let ps = DispatchTime.now().uptimeNanoseconds
        for _ in 0..<50 { _ = try ChatTemplate(biggest) }
        print(String(format: "parse of the largest template (%d bytes): %.1f µs", biggest.utf8.count, Double(DispatchTime.now().uptimeNanoseconds - ps) / 50 / 1000))
        #if !DEBUG
        XCTAssertLessThan(mean, 1000, "mean render time should be well under 1 ms")
        #endif
    }
}
