import XCTest
import Foundation
import Datasets
import LoRA
import ModelIO
import Models
import Tensors
import Tokenizers
@testable import Training

/// Test material: this target's Fixtures (via #filePath) and the tiny Llama of ModelsTests.
enum Paths {
    static let testsDir = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    static let fixtures = testsDir.appendingPathComponent("Fixtures").path
    static let tinyLlama = testsDir.deletingLastPathComponent().appendingPathComponent("ModelsTests/Fixtures/tiny-llama").path
    static func tempDir(_ name: String) -> String {
        let d = NSTemporaryDirectory() + "swifttune-training-\(name)-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try? FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
        return d
    }
}

/// The TRL fixture: examples (input_ids + completion_mask) and settings.
struct ParityData {
    var examples: [TokenizedExample]
    var settings: JSONValue
    var expected: JSONValue

    static func load() throws -> ParityData {
        let dir = Paths.fixtures + "/trl_parity"
        let data = try JSONParser.parse(bytes: [UInt8](try Data(contentsOf: URL(fileURLWithPath: dir + "/data.json"))))
        let exp = try JSONParser.parse(bytes: [UInt8](try Data(contentsOf: URL(fileURLWithPath: dir + "/expected.json"))))
        var ex: [TokenizedExample] = []
        for r in data["examples"]?.arrayValue ?? [] {
            let ids = (r["input_ids"]?.arrayValue ?? []).compactMap { $0.intValue }.map(Int32.init)
            let m = (r["completion_mask"]?.arrayValue ?? []).compactMap { $0.intValue }
            ex.append(TokenizedExample(inputIds: ids, labels: zip(ids, m).map { $1 == 1 ? $0 : ignoreIndex }))
        }
        return ParityData(examples: ex, settings: data["settings"] ?? .null, expected: exp)
    }

    func args(outputDir: String) -> TrainingArguments {
        var a = TrainingArguments()
        a.outputDir = outputDir
        a.perDeviceTrainBatchSize = settings["batch"]?.intValue ?? 0
        a.gradientAccumulationSteps = settings["grad_accum"]?.intValue ?? 0
        a.maxSteps = settings["max_steps"]?.intValue ?? 0
        a.learningRate = double(settings["lr"])
        a.lrSchedulerType = .linear
        a.warmupSteps = Double(settings["warmup_steps"]?.intValue ?? 0)
        a.weightDecay = double(settings["weight_decay"])
        a.maxGradNorm = double(settings["max_grad_norm"])
        a.loggingSteps = 1
        a.saveStrategy = "no"
        a.reportTo = "none"
        return a
    }
}

func double(_ v: JSONValue?) -> Double {
    switch v { case .double(let d)?: return d; case .int(let i)?: return Double(i); default: return .nan }
}

/// Tiny Llama + the fixture's initial PEFT adapter, trainable.
func tinyLoRAModel() throws -> TrainableModel {
    let base = try CausalLM.load(path: Paths.tinyLlama, options: LoadOptions(dtype: .float32, attentionImplementation: .sdpa))
    let lora = try LoRA.loadAdapter(from: Paths.fixtures + "/trl_parity/initial_adapter", into: base, isTrainable: true)
    return TrainableModel(base: base, lora: lora)
}

final class TRLParityTests: XCTestCase {
    /// 20 optimizer steps, batch 2 × accumulation 2, fixed order, dropout 0, warmup + linear decay,
    /// weight decay, clipping active on most steps: per-step loss and pre-clip grad norm equal TRL's
    /// SFTTrainer + PEFT within 1e-4 relative; the learning rates equal; the final adapter matches.
    func testPerStepLossAndGradNormMatchTRL() throws {
        let d = try ParityData.load()
        let model = try tinyLoRAModel()
        let trainer = try Trainer(args: d.args(outputDir: Paths.tempDir("parity")), model: model, examples: d.examples,
                                  collator: LanguageModelingCollator(padTokenId: 0))
        trainer.shuffle = false
        trainer.log = { _ in }
        var steps: [LogEntry] = []
        trainer.onStep = { steps.append($0) }
        _ = try trainer.train()
        let loss = (d.expected["loss"]?.arrayValue ?? []).map { double($0) }
        let norm = (d.expected["grad_norm"]?.arrayValue ?? []).map { double($0) }
        let lr = (d.expected["learning_rate"]?.arrayValue ?? []).map { double($0) }
        XCTAssertEqual(steps.count, 20)
        XCTAssertEqual(loss.count, 20)
        for (i, s) in steps.enumerated() where i < loss.count {
            XCTAssertEqual(s.loss, loss[i], accuracy: 1e-4 * abs(loss[i]), "loss at step \(i + 1)")
            XCTAssertEqual(s.gradNorm, norm[i], accuracy: 1e-4 * abs(norm[i]), "grad_norm at step \(i + 1)")
            XCTAssertEqual(s.learningRate, lr[i], accuracy: 1e-9, "learning_rate at step \(i + 1)")
        }
        // Final adapter weights (PEFT names without the adapter name) within 1e-4 absolute.
        let ref = try SafeTensorsFile(path: Paths.fixtures + "/trl_parity/final_adapter.safetensors")
        var compared = 0
        for (name, p) in model.trainableParameters {
            let key = name.replacingOccurrences(of: ".default", with: "")
            guard let t = ref.tensor(named: key) else { XCTFail("no \(key) in the TRL adapter"); continue }
            let want = Array(t.bytes.bindMemory(to: Float.self))
            let got = p.value.toFloatArray()
            XCTAssertEqual(want.count, got.count)
            let maxDiff = zip(want, got).map { abs($0 - $1) }.max() ?? 0
            XCTAssertLessThan(maxDiff, 1e-4, key)
            compared += 1
        }
        XCTAssertEqual(compared, ref.tensors.count)
    }
}

final class CheckpointTests: XCTestCase {
    func makeTrainer(_ out: String, maxSteps: Int = 8) throws -> Trainer {
        let d = try ParityData.load()
        var a = d.args(outputDir: out)
        a.maxSteps = maxSteps
        a.saveStrategy = "steps"
        a.saveSteps = 2
        a.saveTotalLimit = 2
        let t = try Trainer(args: a, model: try tinyLoRAModel(), examples: Array(d.examples.prefix(20)),
                            collator: LanguageModelingCollator(padTokenId: 0))
        t.log = { _ in }
        return t
    }

    /// Interrupt after 3 steps (as SIGINT does), resume from the checkpoint in a fresh trainer: the final
    /// weights and optimizer moments equal an uninterrupted run bit for bit (shuffled order, two epochs).
    func testResumeIsBitwiseIdentical() throws {
        let outA = Paths.tempDir("full"), outB = Paths.tempDir("resume")
        let full = try makeTrainer(outA)
        _ = try full.train()

        let first = try makeTrainer(outB)
        var n = 0
        first.onStep = { _ in n += 1 }
        first.stopRequested = { n >= 3 }
        let s1 = try first.train()
        XCTAssertTrue(s1.interrupted)
        XCTAssertEqual(first.globalStep, 3)
        let ck = outB + "/checkpoint-3"
        for f in ["adapter_model.safetensors", "adapter_config.json", "optimizer.safetensors", "trainer_state.json"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: ck + "/" + f), f)
        }
        let second = try makeTrainer(outB)
        try second.resume(from: ck)
        _ = try second.train()
        XCTAssertEqual(second.globalStep, 8)
        for (a, b) in zip(full.model.trainableParameters, second.model.trainableParameters) {
            XCTAssertEqual(a.name, b.name)
            XCTAssertEqual(a.parameter.value.toFloatArray(), b.parameter.value.toFloatArray(), a.name)
        }
        XCTAssertEqual(full.optimizer.m, second.optimizer.m)
        XCTAssertEqual(full.optimizer.v, second.optimizer.v)
        // save_total_limit 2 keeps the newest two.
        let names = try FileManager.default.contentsOfDirectory(atPath: outA).filter { $0.hasPrefix("checkpoint-") }.sorted()
        XCTAssertEqual(names, ["checkpoint-4", "checkpoint-6"])
        // trainer_state.json carries HF's log_history.
        let st = try JSONParser.parse(bytes: [UInt8](try Data(contentsOf: URL(fileURLWithPath: outA + "/checkpoint-6/trainer_state.json"))))
        XCTAssertEqual(st["global_step"]?.intValue, 6)
        XCTAssertEqual(st["log_history"]?.arrayValue?.count, 6)
    }

    func testResumeRejectsMismatchedRun() throws {
        let out = Paths.tempDir("mismatch")
        let t = try makeTrainer(out, maxSteps: 4)
        _ = try t.train()
        let other = try makeTrainer(out, maxSteps: 6)
        XCTAssertThrowsError(try other.resume(from: out + "/checkpoint-2")) { e in
            XCTAssertTrue("\(e)".contains("total steps"), "\(e)")
        }
        XCTAssertThrowsError(try other.resume(from: out + "/nope")) { e in
            XCTAssertTrue("\(e)".contains("trainer_state.json"), "\(e)")
        }
    }
}

final class OptimizerTests: XCTestCase {
    /// torch.optim.AdamW on a 3-element parameter for 3 steps (values from torch 2.15, lr 0.1, wd 0.1).
    func testAdamWMatchesTorchFormula() {
        let p = Parameter(Tensor([1, -2, 3] as [Float], shape: [3]).requiringGrad())
        let opt = AdamW(parameters: [("w", p)], lr: 0.1, weightDecay: 0.1)
        var ref: [Double] = [1, -2, 3]
        var m = [0.0, 0, 0], v = [0.0, 0, 0]
        for step in 1...3 {
            let g: [Float] = [0.5, -1, 2].map { $0 * Float(step) }
            p.value.grad = Tensor(g, shape: [3])
            opt.update()
            for j in 0..<3 {
                ref[j] *= 1 - 0.1 * 0.1
                m[j] = 0.9 * m[j] + 0.1 * Double(g[j]); v[j] = 0.999 * v[j] + 0.001 * Double(g[j]) * Double(g[j])
                let bc1 = 1 - pow(0.9, Double(step)), bc2 = 1 - pow(0.999, Double(step))
                ref[j] -= 0.1 / bc1 * m[j] / (v[j].squareRoot() / bc2.squareRoot() + 1e-8)
            }
        }
        for (a, b) in zip(p.value.toFloatArray(), ref) { XCTAssertEqual(Double(a), b, accuracy: 1e-5) }
        XCTAssertTrue(AdamW.decays("base_model.model.model.layers.0.self_attn.q_proj.lora_A.default.weight"))
        XCTAssertFalse(AdamW.decays("model.layers.0.input_layernorm.weight"))
        XCTAssertFalse(AdamW.decays("model.layers.0.mlp.up_proj.bias"))
    }

    func testClipReturnsPreClipNormAndScales() {
        let a = Parameter(Tensor([3, 0] as [Float], shape: [2]).requiringGrad()), b = Parameter(Tensor([0] as [Float], shape: [1]).requiringGrad())
        a.value.grad = Tensor([3, 0] as [Float], shape: [2]); b.value.grad = Tensor([4] as [Float], shape: [1])
        let n = Gradients.clip([a, b], maxNorm: 1)
        XCTAssertEqual(n, 5, accuracy: 1e-9)
        let g = a.value.grad!.toFloatArray() + b.value.grad!.toFloatArray()
        XCTAssertEqual(Double(g[0]), 3 / (5 + 1e-6), accuracy: 1e-6)
        XCTAssertEqual(Double(g[2]), 4 / (5 + 1e-6), accuracy: 1e-6)
        // Below the threshold nothing changes.
        a.value.grad = Tensor([0.3, 0], shape: [2]); b.value.grad = Tensor([0.4], shape: [1])
        XCTAssertEqual(Gradients.clip([a, b], maxNorm: 1), 0.5, accuracy: 1e-7)
        XCTAssertEqual(a.value.grad!.toFloatArray(), [0.3, 0])
    }

    /// transformers' schedule lambdas (optimization.py), hand-evaluated.
    func testSchedules() {
        let lin = LRSchedule(type: .linear, warmupSteps: 2, totalSteps: 10)
        XCTAssertEqual(lin.factor(0), 0); XCTAssertEqual(lin.factor(1), 0.5); XCTAssertEqual(lin.factor(2), 1)
        XCTAssertEqual(lin.factor(6), 0.5); XCTAssertEqual(lin.factor(10), 0)
        let cos = LRSchedule(type: .cosine, warmupSteps: 0, totalSteps: 10)
        XCTAssertEqual(cos.factor(5), 0.5, accuracy: 1e-12); XCTAssertEqual(cos.factor(10), 0, accuracy: 1e-12)
        let rst = LRSchedule(type: .cosineWithRestarts, warmupSteps: 0, totalSteps: 10)
        XCTAssertEqual(rst.factor(5), 0.5, accuracy: 1e-12); XCTAssertEqual(rst.factor(10), 0)
        XCTAssertEqual(LRSchedule(type: .constant, warmupSteps: 3, totalSteps: 10).factor(0), 1)
        let cw = LRSchedule(type: .constantWithWarmup, warmupSteps: 4, totalSteps: 10)
        XCTAssertEqual(cw.factor(1), 0.25); XCTAssertEqual(cw.factor(7), 1)
    }
}

final class ConfigTests: XCTestCase {
    let yaml = """
    # comment
    model:
      path: model.gguf
      lora: {r: 16, lora_alpha: 32, lora_dropout: 0.05, target_modules: all-linear}
    dataset:
      dataset_path: train.jsonl
      column_mapping:
        prompt: sentence
        completion: "translation_extra"   # quoted
      max_seq_length: 64
    training:
      learning_rate: 3.0e-4
      num_train_epochs: 3
      lr_scheduler_type: cosine
      warmup_steps: 0.1
    eval:
      test_file: test.jsonl
      ignore_suffixes:
        - "Hmm. Yes."
        - Mmm.
    """

    func write(_ text: String, ext: String = "yaml") throws -> String {
        let p = Paths.tempDir("cfg") + "/train.\(ext)"
        try text.write(toFile: p, atomically: true, encoding: .utf8)
        return p
    }

    func testYAMLConfigDecodes() throws {
        let p = try write(yaml)
        let c = try SFTConfig.load(path: p, overrides: ["per_device_train_batch_size=4", "training.seed=7", "eval.show=2"])
        let dir = (p as NSString).deletingLastPathComponent
        XCTAssertEqual(c.model.path, dir + "/model.gguf")
        XCTAssertEqual(c.model.lora?.r, 16)
        XCTAssertEqual(c.model.lora?.loraAlpha, 32)
        XCTAssertEqual(c.model.lora?.targetModules, .allLinear)
        XCTAssertEqual(c.dataset.columnMapping, ["prompt": "sentence", "completion": "translation_extra"])
        XCTAssertEqual(c.dataset.maxSeqLength, 64)
        XCTAssertEqual(c.dataset.perDeviceTrainBatchSize, 4)
        XCTAssertEqual(c.training.learningRate, 3e-4)
        XCTAssertEqual(c.training.lrSchedulerType, .cosine)
        XCTAssertEqual(c.training.seed, 7)
        XCTAssertEqual(c.eval.show, 2)
        XCTAssertEqual(c.eval.ignoreSuffixes, ["Hmm. Yes.", "Mmm."])
        XCTAssertEqual(c.eval.testFile, dir + "/test.jsonl")
    }

    func testJSONConfigDecodes() throws {
        let p = try write(#"{"model": {"path": "/m", "full_finetuning": true}, "dataset": {"dataset_path": "d.jsonl"}, "training": {"max_steps": 5}}"#, ext: "json")
        let c = try SFTConfig.load(path: p)
        XCTAssertTrue(c.model.fullFinetuning)
        XCTAssertEqual(c.training.maxSteps, 5)
    }

    func expectError(_ text: String, overrides: [String] = [], _ needles: [String], file: StaticString = #filePath, line: UInt = #line) throws {
        let p = try write(text)
        XCTAssertThrowsError(try SFTConfig.load(path: p, overrides: overrides), file: file, line: line) { e in
            for n in needles { XCTAssertTrue("\(e)".contains(n), "'\(n)' not in: \(e)", file: file, line: line) }
        }
    }

    func testUnknownFieldListsValidOnes() throws {
        try expectError(yaml, overrides: ["learnng_rate=1"], ["unknown field 'learnng_rate'", "did you mean learning_rate", "valid fields:", "warmup_ratio"])
        try expectError(yaml, overrides: ["model.pth=x"], ["unknown field 'pth'", "path"])
        try expectError(yaml + "\nextra: 1\n", ["unknown field 'extra'", "dataset"])
    }

    func testBadValuesNameTheField() throws {
        try expectError(yaml, overrides: ["lr_scheduler_type=polynomal"], ["lr_scheduler_type", "cosine_with_restarts"])
        try expectError(yaml, overrides: ["learning_rate=fast"], ["training.learning_rate", "number"])
        try expectError(yaml, overrides: ["gradient_accumulation_steps=0"], ["gradient_accumulation_steps", ">= 1"])
        try expectError(yaml, overrides: ["warmup_ratio=2"], ["warmup_ratio"])
        try expectError(yaml, overrides: ["optim=sgd"], ["optim", "adamw_torch"])
        try expectError(yaml, overrides: ["nosection.x=1"], ["unknown section"])
        try expectError("model:\n  path: m\ndataset:\n  dataset_path: d\n", ["model.lora", "full_finetuning"])
        try expectError("model:\n  path: m\n   bad: 1\n", ["unexpected indentation"])
        try expectError("model:\n  path: &a m\n", ["anchors"])
    }

    func testPrecisionFlagsAreAcceptedWithANote() throws {
        let p = try write(yaml)
        let c = try SFTConfig.load(path: p, overrides: ["bf16=true"])
        XCTAssertTrue(c.notes.contains { $0.contains("bf16") && $0.contains("float32") })
    }

    func testYAMLSubset() throws {
        let v = try YAMLSubset.parse("a:\n  - x: 1\n    y: [1, 'two', {k: v}]\n  - 2.5\nb: ~\nc: 'it''s # not a comment'\nd: \"q\\\"\"\n")
        XCTAssertEqual(v["a"]?.arrayValue?.count, 2)
        XCTAssertEqual(v["a"]?.arrayValue?[0]["x"], .int(1))
        XCTAssertEqual(v["a"]?.arrayValue?[0]["y"], .array([.int(1), .string("two"), .object(JSONObject([("k", .string("v"))]))]))
        XCTAssertEqual(v["a"]?.arrayValue?[1], .double(2.5))
        XCTAssertEqual(v["b"], .null)
        XCTAssertEqual(v["c"], .string("it's # not a comment"))
        XCTAssertEqual(v["d"], .string("q\""))
        XCTAssertThrowsError(try YAMLSubset.parse("a: 1\na: 2\n")) { XCTAssertTrue("\($0)".contains("duplicate key 'a'")) }
        XCTAssertThrowsError(try YAMLSubset.parse("a: [1, 2\n")) { XCTAssertTrue("\($0)".contains(":1:")) }
    }
}

final class TrainerBehaviourTests: XCTestCase {
    /// Examples without any label token train nothing: a clear warning per step, loss 0.
    func testAllMaskedLabelsWarn() throws {
        let d = try ParityData.load()
        var a = d.args(outputDir: Paths.tempDir("masked"))
        a.maxSteps = 1
        let ex = d.examples.prefix(4).map { TokenizedExample(inputIds: $0.inputIds, labels: [Int32](repeating: ignoreIndex, count: $0.inputIds.count)) }
        let t = try Trainer(args: a, model: try tinyLoRAModel(), examples: Array(ex), collator: LanguageModelingCollator(padTokenId: 0))
        var lines: [String] = []
        t.log = { lines.append($0) }
        let s = try t.train()
        XCTAssertEqual(s.trainLoss, 0)
        XCTAssertTrue(lines.contains { $0.contains("no label tokens") }, "\(lines)")
    }

    func testEmptyDatasetAndStepCounts() throws {
        let d = try ParityData.load()
        var a = d.args(outputDir: Paths.tempDir("counts"))
        XCTAssertThrowsError(try Trainer(args: a, model: try tinyLoRAModel(), examples: [], collator: LanguageModelingCollator(padTokenId: 0))) {
            XCTAssertTrue("\($0)".contains("no examples"))
        }
        // 48 examples, batch 2 → 24 batches; accumulation 2 → 12 steps/epoch; 1.5 epochs → 18 steps.
        a.maxSteps = -1
        a.numTrainEpochs = 1.5
        a.warmupSteps = 0
        a.warmupRatio = 0.1
        let t = try Trainer(args: a, model: try tinyLoRAModel(), examples: d.examples, collator: LanguageModelingCollator(padTokenId: 0))
        XCTAssertEqual(t.stepsPerEpoch, 12)
        XCTAssertEqual(t.totalSteps, 18)
        XCTAssertEqual(t.epochs, 2)
        XCTAssertEqual(t.schedule.warmupSteps, 2)
        // A seeded order: a permutation, stable for a seed, different per epoch.
        XCTAssertEqual(t.order(epoch: 0).sorted(), Array(0..<48))
        XCTAssertEqual(t.order(epoch: 0), t.order(epoch: 0))
        XCTAssertNotEqual(t.order(epoch: 0), t.order(epoch: 1))
    }

    func testLossPlotIsSVG() {
        let h: [JSONValue] = [.object(JSONObject([("step", .int(10)), ("loss", .double(2.5))])),
                              .object(JSONObject([("step", .int(20)), ("loss", .double(1.25))]))]
        let s = LossPlot.svg(history: h)
        XCTAssertTrue(s.hasPrefix("<svg"))
        XCTAssertTrue(s.contains("<polyline"))
        XCTAssertTrue(s.hasSuffix("</svg>\n"))
        XCTAssertTrue(LossPlot.svg(history: []).contains("no logged steps"))
    }
}

final class GenerationEvalTests: XCTestCase {
    /// A tokenizer (BPE without merges; only its vocabulary matters here) over the tiny Llama's 128 ids ("t0" … "t127"; t2 = EOS).
    func tinyTokenizer() throws -> Tokenizer {
        var vocab: [String] = []
        for i in 0..<128 { vocab.append("\"t\(i)\": \(i)") }
        let json = """
        {"version": "1.0", "added_tokens": [{"id": 2, "content": "t2", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true}],
         "normalizer": null, "pre_tokenizer": {"type": "WhitespaceSplit"}, "post_processor": null, "decoder": null,
         "model": {"type": "BPE", "vocab": {\(vocab.joined(separator: ", "))}, "merges": [], "unk_token": "t1"}}
        """
        return try Tokenizer(tokenizerJSON: Data(json.utf8))
    }

    /// Batched greedy decoding (left padding, positions over real tokens, shared KV cache) gives the
    /// same tokens as decoding each prompt alone.
    func testBatchedGreedyEqualsSingle() throws {
        let base = try CausalLM.load(path: Paths.tinyLlama, options: LoadOptions(dtype: .float32, attentionImplementation: .sdpa))
        var sec = EvalSection()
        sec.maxNewTokens = 12
        let ev = GreedyEvaluator(tokenizer: try tinyTokenizer(), renderer: nil, section: sec)
        let prompts = [[5, 9, 17], [40, 41, 42, 43, 44, 45, 46], [100, 3, 77, 12, 9]]
        let batched = try ev.generateBatch(prompts, config: base.config) { ids, mask, pos, cache in
            try base.forward(inputIds: ids, attentionMask: mask, positionIds: pos, cache: cache, lastOnly: true)
        }
        for (p, got) in zip(prompts, batched) {
            let single = try ev.generate(p, config: base.config) { ids, cache in
                try base.forward(inputIds: ids, cache: cache, lastOnly: true)
            }
            XCTAssertEqual(got, single, "prompt \(p)")
            XCTAssertFalse(single.isEmpty)
        }
        XCTAssertEqual(ev.strip("On the mat, the cat sat. Hmm."), "On the mat, the cat sat. Hmm.")
        var s2 = sec
        s2.ignoreSuffixes = ["Hmm.", "Hmm. Yes."]
        XCTAssertEqual(GreedyEvaluator(tokenizer: ev.tokenizer, renderer: nil, section: s2).strip("The cat sat. Hmm. Yes."), "The cat sat.")
    }
}
