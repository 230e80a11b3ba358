import Foundation
import Tokenizers

/// Tokenizer throughput: the 20 long paragraphs of shared/testdata/tokenizers/corpus.json encoded
/// one after another on one thread (`encode(text, addSpecialTokens: false)`), for each core
/// tokenizer. Same method as scripts/bench_tokenizers.py for HF `tokenizers`.
/// Returns one result per tokenizer: name, bytes, seconds, mb_per_s, tokens (per pass), and prints
/// each as a JSON line.
@discardableResult
func tokenizerBenchmark(sharedDir: String, minSeconds: Double = 1.0, printJSON: Bool = true) -> [[String: Any]] {
    let base = sharedDir + "/testdata/tokenizers"
    let names = ["gpt2", "smollm2-135m", "qwen2", "llama3", "llama2", "mistral-7b-v0.3"]
    var results: [[String: Any]] = []
    guard let data = FileManager.default.contents(atPath: base + "/corpus.json"),
          let root = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
          let cases = root["cases"] as? [[String: Any]] else {
        let r: [String: Any] = ["bench": "tokenizers", "error": "cannot read \(base)/corpus.json"]
        if printJSON { printLine(r) }
        return [r]
    }
    let paragraphs = cases.filter { ($0["category"] as? String) == "paragraph" }.compactMap { $0["text"] as? String }
    let bytes = paragraphs.reduce(0) { $0 + $1.utf8.count }
    for name in names {
        let t0 = Date()
        guard let tok = try? Tokenizer(path: "\(base)/\(name)") else {
            let r: [String: Any] = ["bench": "tokenizers", "tokenizer": name, "error": "cannot load"]
            if printJSON { printLine(r) }
            results.append(r)
            continue
        }
        let loadSeconds = Date().timeIntervalSince(t0)
        var tokens = 0
        for p in paragraphs { tokens += tok.encode(p, addSpecialTokens: false).count }  // warm-up
        var passes = 0
        let start = DispatchTime.now().uptimeNanoseconds
        var elapsed = 0.0
        while elapsed < minSeconds || passes < 3 {
            for p in paragraphs { _ = tok.encode(p, addSpecialTokens: false) }
            passes += 1
            elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        }
        let mbps = Double(bytes * passes) / elapsed / 1e6
        let r: [String: Any] = ["bench": "tokenizers", "tokenizer": name, "bytes": bytes, "passes": passes,
                                "seconds": elapsed, "mb_per_s": (mbps * 100).rounded() / 100, "tokens": tokens,
                                "load_seconds": (loadSeconds * 1000).rounded() / 1000]
        if printJSON { printLine(r) }
        results.append(r)
    }
    return results
}

private func printLine(_ r: [String: Any]) {
    if let d = try? JSONSerialization.data(withJSONObject: r, options: [.sortedKeys]), let s = String(data: d, encoding: .utf8) {
        print(s)
    }
}
