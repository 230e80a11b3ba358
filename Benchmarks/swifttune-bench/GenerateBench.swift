import Foundation
import Generation
import Models
import Tensors
import Quantization
import Tokenizers

/// Inference speed on a GGUF model (default SmolLM2-135M-Instruct Q4_1), 2 threads unless
/// SWIFTTUNE_THREADS says otherwise. Twin of scripts/bench_generate_hf.py (transformers) and of
/// shared/bench/llamacpp_decode.py (llama.cpp); scripts/bench_generate.sh runs all three.
///
/// - prefill: a 512-token prompt (" The quick brown fox jumps over the lazy dog." × 60, first 512
///   tokens, as llama.cpp's script builds it) through the model into a fresh KV cache, logits of the
///   last position only; best of `SWIFTTUNE_BENCH_REPEATS` (default 3).
/// - time to first token: the chat prompt of llama.cpp's script, prefill plus the greedy choice.
/// - decode: 128 more greedy tokens after the first (no EOS stop), tokens per second between the
///   first and the last.
/// - peak RSS: getrusage's ru_maxrss of this process (the model load included).
/// Weights stay in their GGUF blocks (`LoadOptions.keepQuantized`); SWIFTTUNE_BENCH_F32=1 measures
/// the float32 load instead. Prints one JSON line per measurement (`impl` "swifttune").
enum GenerateBench {
    static let chatPrompt = "<|im_start|>user\nWrite a long story about a robot who learns to paint.<|im_end|>\n<|im_start|>assistant\n"
    static let longText = String(repeating: " The quick brown fox jumps over the lazy dog.", count: 60)

    static func run(arguments: [String]) throws {
        let env = ProcessInfo.processInfo.environment
        let path = arguments.first ?? env["SWIFTTUNE_SMOLLM2_GGUF"]
            ?? FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".cache/swifttune/models/SmolLM2-135M-Instruct.Q4_1.gguf").path
        let newTokens = Int(env["SWIFTTUNE_BENCH_NEW_TOKENS"] ?? "") ?? 128
        let repeats = max(1, Int(env["SWIFTTUNE_BENCH_REPEATS"] ?? "") ?? 3)
        let quantized = env["SWIFTTUNE_BENCH_F32"] != "1"
        let t0 = now()
        let model = try CausalLM.load(path: path, options: LoadOptions(keepQuantized: quantized))
        let loadS = now() - t0
        let tokenizer = try Tokenizer(path: path)
        let weights = quantized ? "gguf-blocks" : "f32"
        emit(["bench": "load", "seconds": loadS, "weights": weights, "peak_rss_mb": peakRSS()])

        let long = Array(tokenizer.encodeIds(longText, addSpecialTokens: false).prefix(512))
        var best = Double.infinity
        for _ in 0..<repeats {
            try withNoGrad {
                let cache = KVCache(config: model.config, batch: 1, capacity: long.count)
                let s = now()
                _ = try model.forward(inputIds: Tensor(long, shape: [1, long.count]), cache: cache, lastOnly: true)
                best = min(best, now() - s)
            }
        }
        emit(["bench": "prefill", "tokens": long.count, "seconds": best, "tokens_per_s": Double(long.count) / best, "weights": weights])

        let chat = tokenizer.encodeIds(chatPrompt, addSpecialTokens: false)
        let gen = Generator(model: model)
        var bestTTFT = Double.infinity, bestDecode = 0.0
        var text = ""
        for _ in 0..<repeats {
            var stamps: [Double] = []
            let s = now()
            let r = try gen.generate(promptIds: chat, config: GenerationConfig(maxNewTokens: newTokens + 1, eosTokenIds: [])) { _ in
                stamps.append(now())
            }
            guard let first = stamps.first, let last = stamps.last, stamps.count > 1 else { continue }
            bestTTFT = min(bestTTFT, first - s)
            bestDecode = max(bestDecode, Double(stamps.count - 1) / (last - first))
            text = tokenizer.decode(Array(r.tokens.prefix(40)), skipSpecialTokens: false)
        }
        emit(["bench": "ttft", "prompt_tokens": chat.count, "seconds": bestTTFT, "weights": weights])
        emit(["bench": "decode", "tokens": newTokens, "tokens_per_s": bestDecode, "weights": weights, "text": text])
        emit(["bench": "peak_rss", "mb": peakRSS(), "weights": weights])
    }

    /// getrusage's high-water mark of resident memory, MiB.
    static func peakRSS() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return Double(usage.ru_maxrss) / 1024
    }

    static func now() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }

    static func emit(_ fields: [String: Any]) {
        var all = fields
        all["impl"] = "swifttune"
        all["threads"] = Parallel.workers
        if let data = try? JSONSerialization.data(withJSONObject: all, options: [.sortedKeys]), let s = String(data: data, encoding: .utf8) {
            print(s)
            fflush(stdout)
        }
    }
}

extension GenerateBench {
    /// The decode kernels alone (`swifttune-bench gemv [MODEL.gguf]`): each distinct weight shape
    /// of the model's first layer and the output head, one input row, multiply-adds per second.
    static func gemv(arguments: [String]) throws {
        let env = ProcessInfo.processInfo.environment
        let path = arguments.first ?? env["SWIFTTUNE_SMOLLM2_GGUF"]
            ?? FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".cache/swifttune/models/SmolLM2-135M-Instruct.Q4_1.gguf").path
        let model = try CausalLM.load(path: path, options: LoadOptions(keepQuantized: true))
        let layer = model.model.layers[0]
        var mats: [(String, QuantizedMatrix)] = []
        for (name, lin) in [("q_proj", layer.selfAttn.qProj), ("k_proj", layer.selfAttn.kProj), ("up_proj", layer.mlp.upProj),
                            ("down_proj", layer.mlp.downProj)] {
            if let q = lin?.quantizedWeight { mats.append((name, q)) }
        }
        if let e = model.model.embedTokens.quantizedWeight { mats.append(("lm_head", e)) }
        for (name, m) in mats {
            let x = (0..<m.cols).map { Float(sin(Double($0))) }
            var y = [Float](repeating: 0, count: m.rows)
            let s = x.withUnsafeBufferPointer { xp in
                y.withUnsafeMutableBufferPointer { yp in
                    EngineBench.time { m.gemv(x: xp.baseAddress!, xRows: 1, y: yp.baseAddress!) }
                }
            }
            emit(["bench": "gemv", "weight": name, "type": m.type.name, "shape": "\(m.rows)x\(m.cols)", "us": s * 1e6,
                  "gmacs": Double(m.rows * m.cols) / s / 1e9, "isa": QuantizedMatrix.kernelISA])
        }
    }
}
