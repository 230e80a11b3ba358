import Foundation
import LoRA
import Models
import Tensors
import Training

/// `swifttune-bench train-step [--model PATH] [--batch 8] [--seq 64] [--steps 5] [--warmup 2] [--profile]`:
/// the twin of /work/shared/bench/torch_lora_step.py (scripts/bench_train_torch.py runs it): the real
/// model in float32, PEFT-style LoRA r 8 / alpha 16 / dropout 0 / all-linear, batch × seq uniform random
/// ids with labels = ids (every position counts), AdamW (torch defaults: lr 1e-4, weight decay 0.01),
/// 2 warm-up then 5 timed steps of forward + loss + backward + update + zero_grad. One JSON line out
/// with tokens/s and the peak RSS (`--r N --dropout P`: other LoRA settings, alpha = 2r, e.g. the demo's 16 / 0.05); `--profile` adds a line splitting the forward
/// time into the decoder stack and the output head + cross-entropy.
enum TrainStepBench {
    static func run(_ args: [String]) throws {
        var model = NSHomeDirectory() + "/.cache/swifttune/models/SmolLM2-135M-Instruct.Q4_1.gguf"
        var b = 8, t = 64, steps = 5, warmup = 2, profile = false, r = 8, dropout = 0.0
        var i = 0
        func value() throws -> String {
            i += 1
            guard i < args.count else { throw BenchError("\(args[i - 1]) needs a value") }
            return args[i]
        }
        while i < args.count {
            switch args[i] {
            case "--model": model = try value()
            case "--batch": b = Int(try value()) ?? b
            case "--seq": t = Int(try value()) ?? t
            case "--steps": steps = max(1, Int(try value()) ?? steps)
            case "--warmup": warmup = max(0, Int(try value()) ?? warmup)
            case "--profile": profile = true
            case "--r": r = max(1, Int(try value()) ?? r)
            case "--dropout": dropout = min(0.9, max(0, Double(try value()) ?? 0))
            default: throw BenchError("train-step: unknown option \(args[i]) (--model PATH --batch N --seq N --steps N --warmup N --r N --dropout P --profile)")
            }
            i += 1
        }
        guard FileManager.default.fileExists(atPath: model) else {
            throw BenchError("train-step: no model at \(model); run scripts/fetch-model.sh or pass --model")
        }
        let base = try CausalLM.load(path: model, options: LoadOptions(dtype: .float32, attentionImplementation: .sdpa))
        var cfg = LoraConfig()
        cfg.r = r; cfg.loraAlpha = Double(2 * r); cfg.loraDropout = dropout; cfg.targetModules = .allLinear
        let lora = try LoRA.apply(config: cfg, to: base, seed: 0)
        let tm = TrainableModel(base: base, lora: lora)
        let params = tm.trainableParameters
        let opt = AdamW(parameters: params, lr: 1e-4, weightDecay: 0.01)
        let vocab = base.config.vocabSize
        let g = RandomGenerator(seed: 0)
        let ids = Tensor((0..<(b * t)).map { _ in Int(g.next() % UInt64(vocab)) }, shape: [b, t])
        var phases = [0.0, 0.0, 0.0, 0.0]
        func now() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }
        func step() throws -> Float {
            let t0 = now()
            let (sum, count) = try tm.lossSum(ids, labels: ids, mask: nil)
            let loss = sum / Float(max(1, count))
            let t1 = now()
            loss.backward()
            let t2 = now()
            opt.update()
            for p in params { p.parameter.value.zeroGrad() }
            let t3 = now()
            phases[0] += t1 - t0; phases[1] += t2 - t1; phases[2] += t3 - t2
            return loss.item()
        }
        for _ in 0..<warmup { _ = try step() }
        phases = [0, 0, 0, 0]
        let start = now()
        var loss: Float = 0
        for _ in 0..<steps { loss = try step() }
        let dt = now() - start
        let tps = Double(steps * b * t) / dt
        var u = rusage()
        getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &u)
        let rss = Double(u.ru_maxrss) / 1024
        print(String(format: "{\"impl\": \"swifttune\", \"bench\": \"lora_train_step\", \"shape\": \"b%d_t%d\", \"tokens_per_s\": %.1f, \"step_ms\": %.1f, \"forward_loss_ms\": %.1f, \"backward_ms\": %.1f, \"optimizer_ms\": %.1f, \"loss\": %.4f, \"peak_rss_mib\": %.0f}",
                     b, t, tps, dt / Double(steps) * 1e3, phases[0] / Double(steps) * 1e3, phases[1] / Double(steps) * 1e3,
                     phases[2] / Double(steps) * 1e3, loss, rss))
        fflush(stdout)
        if profile {
            // Where the forward time goes: the decoder stack alone (logits at the last position only, the
            // graph recorded as in training) against the whole loss (stack + head + cross-entropy).
            var stack = 0.0, whole = 0.0
            for _ in 0..<3 {
                let t0 = now()
                _ = try lora.forward(inputIds: ids, lastOnly: true)
                let t1 = now()
                _ = try tm.lossSum(ids, labels: ids, mask: nil)
                let t2 = now()
                stack += t1 - t0; whole += t2 - t1
            }
            print(String(format: "{\"impl\": \"swifttune\", \"bench\": \"forward_split\", \"stack_ms\": %.1f, \"head_and_ce_ms\": %.1f}",
                         stack / 3 * 1e3, (whole - stack) / 3 * 1e3))
        }
    }
}

struct BenchError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}
