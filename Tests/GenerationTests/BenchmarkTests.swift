import Foundation
import XCTest
import Generation
import Models
import Tensors

/// Prefill (512 tokens) and decode (128 tokens) throughput on SmolLM2-135M, printed, not asserted.
/// Runs only with SWIFTTUNE_BENCH=1 (use a release build and OPENBLAS_CORETYPE=SKYLAKEX).
final class BenchmarkTests: XCTestCase {
    func testSmolLM2Throughput() throws {
        guard ProcessInfo.processInfo.environment["SWIFTTUNE_BENCH"] == "1" else { return }
        guard FileManager.default.fileExists(atPath: Paths.smolLM2) else { print("note: \(Paths.smolLM2) absent"); return }
        let model = try CausalLM.load(path: Paths.smolLM2)
        let prompt = (0..<512).map { 100 + ($0 * 7919) % 40000 }
        for impl in AttentionImplementation.allCases where ProcessInfo.processInfo.environment["SWIFTTUNE_BENCH_SKIP_PREFILL"] == nil {
            model.attentionImplementation = impl
            try withNoGrad {
                let cache = KVCache(config: model.config, batch: 1, capacity: 512)
                let t0 = Date()
                _ = try model.forward(inputIds: Tensor(prompt, shape: [1, 512]), cache: cache, lastOnly: true)
                let dt = Date().timeIntervalSince(t0)
                print(String(format: "bench: prefill 512 tokens (%@): %.2f s, %.1f tokens/s", impl.rawValue, dt, 512 / dt))
            }
        }
        let gen = Generator(model: model)
        let t0 = Date()
        var first: Date? = nil
        let r = try gen.generate(promptIds: Array(prompt.prefix(16)), config: .init(maxNewTokens: 129, eosTokenIds: [])) { _ in
            if first == nil { first = Date() }
        }
        let dt = Date().timeIntervalSince(first!)
        print(String(format: "bench: decode 128 tokens: %.2f s, %.1f tokens/s (first token after %.2f s)", dt, 128 / dt, first!.timeIntervalSince(t0)))
        XCTAssertEqual(r.tokens.count, 129)
    }
}
