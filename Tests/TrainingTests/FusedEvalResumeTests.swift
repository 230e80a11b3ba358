import XCTest
import Foundation
import Datasets
import LoRA
import ModelIO
import Models
import Tensors
@testable import Training

func maxRelDiff(_ a: [Float], _ b: [Float]) -> Float {
    let scale = max(b.map(abs).max() ?? 0, 1e-12)
    return zip(a, b).map { abs($0 - $1) }.max().map { $0 / scale } ?? 0
}

final class FusedOpsTests: XCTestCase {
    /// The fused LoRA linear (with a dropout mask) equals the generic op chain
    /// `x·Wᵀ + s·((x⊙mask)·Aᵀ)·Bᵀ`: output and the gradients of x, A and B (1e-5 relative).
    func testLoRALinearMatchesGenericOps() throws {
        let g = RandomGenerator(seed: 3)
        let w = Tensor.randn([24, 16], generator: g)
        let a = Tensor.randn([4, 16], generator: g), b = Tensor.randn([24, 4], generator: g)
        let x0 = Tensor.randn([2, 5, 16], generator: g)
        let mask = Tensor.dropoutMask([2, 5, 16], p: 0.3, generator: g)
        let dy = Tensor.randn([2, 5, 24], generator: g)
        // Not a dropout mask (values other than 0 and one scale).
        let uneven = Tensor((0..<160).map { i in Float(i % 3) * 0.6 }, shape: [2, 5, 16])
        for m in [nil, mask, uneven] {
            let x1 = x0.detach().contiguous().requiringGrad(), a1 = a.detach().requiringGrad(), b1 = b.detach().requiringGrad()
            let ref = linear(x1, weight: w) + linear(linear(m.map { x1 * $0 } ?? x1, weight: a1), weight: b1) * 0.5
            ref.backward(gradient: dy)
            let x2 = x0.detach().contiguous().requiringGrad(), a2 = a.detach().requiringGrad(), b2 = b.detach().requiringGrad()
            let base = withNoGrad { linear(x2, weight: w) }
            let out = try XCTUnwrap(loraLinear(x: x2, base: base, weight: w, a: a2, b: b2, scaling: 0.5, dropoutMask: m))
            out.backward(gradient: dy)
            XCTAssertLessThan(maxRelDiff(out.toFloatArray(), ref.toFloatArray()), 1e-5)
            XCTAssertLessThan(maxRelDiff(x2.grad!.toFloatArray(), x1.grad!.toFloatArray()), 1e-5)
            XCTAssertLessThan(maxRelDiff(a2.grad!.toFloatArray(), a1.grad!.toFloatArray()), 1e-5)
            XCTAssertLessThan(maxRelDiff(b2.grad!.toFloatArray(), b1.grad!.toFloatArray()), 1e-5)
        }
        // The float mask, the same mask with one -0, and (below) the mask as bytes give the same bits.
        var signed = mask.toFloatArray()
        let zero = try XCTUnwrap(signed.firstIndex(of: 0))
        signed[zero] = -0.0
        var grads: [[[UInt32]]] = []
        for m in [mask, Tensor(signed, shape: mask.shape)] {
            let x3 = x0.detach().contiguous().requiringGrad(), a3 = a.detach().requiringGrad(), b3 = b.detach().requiringGrad()
            let base = withNoGrad { linear(x3, weight: w) }
            let out = try XCTUnwrap(loraLinear(x: x3, base: base, weight: w, a: a3, b: b3, scaling: 0.5, dropoutMask: m))
            out.backward(gradient: dy)
            grads.append([out, x3.grad!, a3.grad!, b3.grad!].map { $0.toFloatArray().map { ($0 + 0).bitPattern } })
        }
        // The bytes handed over directly (what LoRALinear does) give the same bits again.
        do {
            let g2 = RandomGenerator(seed: 3)
            _ = Tensor.randn([24, 16], generator: g2); _ = Tensor.randn([4, 16], generator: g2)
            _ = Tensor.randn([24, 4], generator: g2); _ = Tensor.randn([2, 5, 16], generator: g2)
            let keep = DropoutKeep(count: 160, p: 0.3, generator: g2)
            XCTAssertEqual(keep.floatMask([2, 5, 16]).toFloatArray(), mask.toFloatArray())
            let x3 = x0.detach().contiguous().requiringGrad(), a3 = a.detach().requiringGrad(), b3 = b.detach().requiringGrad()
            let base = withNoGrad { linear(x3, weight: w) }
            let out = try XCTUnwrap(loraLinear(x: x3, base: base, weight: w, a: a3, b: b3, scaling: 0.5, dropoutKeep: keep))
            out.backward(gradient: dy)
            grads.append([out, x3.grad!, a3.grad!, b3.grad!].map { $0.toFloatArray().map { ($0 + 0).bitPattern } })
            // Not both forms at once, nor a mask of the wrong length.
            XCTAssertNil(loraLinear(x: x3, base: base, weight: w, a: a3, b: b3, scaling: 0.5, dropoutMask: mask, dropoutKeep: keep))
            XCTAssertNil(loraLinear(x: x3, base: base, weight: w, a: a3, b: b3, scaling: 0.5,
                                    dropoutKeep: DropoutKeep(count: 159, p: 0.3, generator: g2)))
        }
        XCTAssertEqual(grads[0], grads[1])
        XCTAssertEqual(grads[0], grads[2])
        // A trainable base weight is not handled (its gradient would be lost): nil, nothing written.
        let wt = w.detach().requiringGrad()
        let base = withNoGrad { linear(x0, weight: w) }
        let before = base.toFloatArray()
        XCTAssertNil(loraLinear(x: x0, base: base, weight: wt, a: a, b: b, scaling: 1))
        XCTAssertEqual(base.toFloatArray(), before)
    }

    /// The fused, label-positions-only head + cross-entropy (`CausalLM.lossSum(inputIds:labels:)`) gives the
    /// loss and LoRA gradients of the two-step path (full logits, then cross-entropy), with completion-only
    /// labels (most positions −100), with every position counted, and for a trainable (untied) head.
    func testMaskedFusedLossEqualsFullLogitsPath() throws {
        let d = try ParityData.load()
        let batch = Trainer.tensors(try LanguageModelingCollator(padTokenId: 0).collate(Array(d.examples.prefix(4))))
        let allLabels = batch.ids
        for (labels, trainHead) in [(batch.labels, false), (allLabels, false), (batch.labels, true)] {
            let m1 = try tinyLoRAModel(), m2 = try tinyLoRAModel()
            if trainHead { m1.base.lmHead!.weight.value.requiresGrad = true; m2.base.lmHead!.weight.value.requiresGrad = true }
            let (s1, c1) = try m1.lossSum(batch.ids, labels: labels, mask: batch.mask)
            let logits = try m2.forward(batch.ids, mask: batch.mask)
            let (s2, c2) = try m2.base.lossSum(logits: logits, labels: labels)
            XCTAssertEqual(c1, c2)
            XCTAssertEqual(s1.item(), s2.item(), accuracy: 1e-5 * abs(s2.item()))
            (s1 / Float(c1)).backward(); (s2 / Float(c2)).backward()
            var compared = 0
            for (p1, p2) in zip(m1.trainableParameters, m2.trainableParameters) {
                XCTAssertEqual(p1.name, p2.name)
                XCTAssertLessThan(maxRelDiff(p1.parameter.value.grad!.toFloatArray(), p2.parameter.value.grad!.toFloatArray()), 1e-4, p1.name)
                compared += 1
            }
            if trainHead {
                XCTAssertLessThan(maxRelDiff(m1.base.lmHead!.weight.value.grad!.toFloatArray(), m2.base.lmHead!.weight.value.grad!.toFloatArray()), 1e-4)
            }
            XCTAssertGreaterThan(compared, 0)
        }
        // Bad labels: a clear error naming the position.
        let bad = Tensor(batch.labels.toIntArray().enumerated().map { $0.offset == 3 ? 999 : $0.element }, shape: batch.labels.shape)
        XCTAssertThrowsError(try tinyLoRAModel().lossSum(batch.ids, labels: bad, mask: batch.mask)) { e in
            XCTAssertTrue("\(e)".contains("999") && "\(e)".contains("position 3"), "\(e)")
        }
    }
}

final class DropoutResumeTests: XCTestCase {
    /// Tiny Llama with a fresh LoRA adapter (dropout 0.1), trainer over the parity examples, shuffled.
    func makeTrainer(_ out: String, maxSteps: Int = 6) throws -> Trainer {
        let d = try ParityData.load()
        var a = d.args(outputDir: out)
        a.maxSteps = maxSteps
        a.saveStrategy = "steps"
        a.saveSteps = 2
        let base = try CausalLM.load(path: Paths.tinyLlama, options: LoadOptions(dtype: .float32, attentionImplementation: .sdpa))
        var c = LoraConfig()
        c.r = 4; c.loraAlpha = 8; c.loraDropout = 0.1; c.targetModules = .allLinear; c.initLoraWeights = .random
        let lora = try LoRA.apply(config: c, to: base, seed: 5)
        let t = try Trainer(args: a, model: TrainableModel(base: base, lora: lora), examples: Array(d.examples.prefix(24)),
                            collator: LanguageModelingCollator(padTokenId: 0))
        t.log = { _ in }
        return t
    }

    /// With lora_dropout 0.1: stop after 3 steps, resume from checkpoint-2 in a fresh trainer: the per-step
    /// losses and the final adapter equal an uninterrupted run bit for bit. Without rng_state.json the
    /// resumed run differs (the masks matter), with a warning.
    func testResumeWithDropoutIsBitwiseIdentical() throws {
        let outA = Paths.tempDir("drop-full"), outB = Paths.tempDir("drop-resume")
        let full = try makeTrainer(outA)
        var lossesA: [Double] = []
        full.onStep = { lossesA.append($0.loss) }
        _ = try full.train()

        let first = try makeTrainer(outB)
        var n = 0
        first.onStep = { _ in n += 1 }
        first.stopRequested = { n >= 3 }
        _ = try first.train()
        let ck = outB + "/checkpoint-2"
        XCTAssertTrue(FileManager.default.fileExists(atPath: ck + "/rng_state.json"))

        let second = try makeTrainer(outB)
        try second.resume(from: ck)
        var lossesB: [Double] = []
        second.onStep = { lossesB.append($0.loss) }
        _ = try second.train()
        XCTAssertEqual(lossesB, Array(lossesA.suffix(4)))
        for (a, b) in zip(full.model.trainableParameters, second.model.trainableParameters) {
            XCTAssertEqual(a.parameter.value.toFloatArray(), b.parameter.value.toFloatArray(), a.name)
        }

        // The same resume without the RNG state: a warning, and different masks, so different weights.
        try FileManager.default.removeItem(atPath: ck + "/rng_state.json")
        let third = try makeTrainer(outB)
        var lines: [String] = []
        third.log = { lines.append($0) }
        try third.resume(from: ck)
        _ = try third.train()
        XCTAssertTrue(lines.contains { $0.contains("no rng_state.json") }, "\(lines)")
        let differs = zip(full.model.trainableParameters, third.model.trainableParameters).contains {
            $0.parameter.value.toFloatArray() != $1.parameter.value.toFloatArray()
        }
        XCTAssertTrue(differs)
    }
}

final class PeriodicEvalTests: XCTestCase {
    /// eval_strategy steps, eval_steps 2, 4 steps: two eval_loss entries (log_history, training_log.jsonl),
    /// each equal to the example-weighted mean of the per-batch mean token losses (HF's evaluation loop)
    /// computed here by the plain forward + loss; the eval line in loss.svg.
    func testEvalLossEveryEvalSteps() throws {
        let d = try ParityData.load()
        let out = Paths.tempDir("eval")
        var a = d.args(outputDir: out)
        a.maxSteps = 4
        a.loggingSteps = 1
        a.evalStrategy = "steps"
        a.evalSteps = 2
        a.perDeviceEvalBatchSize = 3
        a.reportTo = "jsonl"
        let evalEx = Array(d.examples.suffix(7))
        let t = try Trainer(args: a, model: try tinyLoRAModel(), examples: Array(d.examples.prefix(20)),
                            collator: LanguageModelingCollator(padTokenId: 0))
        t.log = { _ in }
        t.evalExamples = evalEx
        var evalAt2: Double? = nil
        t.onStep = { e in
            guard e.step == 2 else { return }
            // Reference at the same weights: batches of 3, 3, 1.
            var w = 0.0
            withNoGrad {
                for lo in stride(from: 0, to: 7, by: 3) {
                    let rows = Array(evalEx[lo..<min(7, lo + 3)])
                    let b = Trainer.tensors(try! LanguageModelingCollator(padTokenId: 0).collate(rows))
                    let logits = try! t.model.forward(b.ids, mask: b.mask)
                    w += Double(try! t.model.base.loss(logits: logits, labels: b.labels).item()) * Double(rows.count)
                }
            }
            evalAt2 = w / 7
        }
        _ = try t.train()
        let evals = t.logHistory.filter { $0["eval_loss"] != nil }
        XCTAssertEqual(evals.map { $0["step"]?.intValue }, [2, 4])
        guard case .double(let l2)? = evals.first?["eval_loss"], let ref = evalAt2 else { return XCTFail("no eval at step 2") }
        XCTAssertEqual(l2, ref, accuracy: 1e-5 * ref)
        let jsonl = try String(contentsOfFile: out + "/training_log.jsonl", encoding: .utf8)
        XCTAssertEqual(jsonl.split(separator: "\n").filter { $0.contains("\"eval_loss\"") }.count, 2)
        let svg = LossPlot.svg(history: t.logHistory)
        XCTAssertTrue(svg.contains("#ff7f0e") && svg.contains("eval loss"))
    }

    /// eval_strategy set without an evaluation dataset: a warning, training proceeds, no eval entries;
    /// eval_strategy epoch evaluates after each epoch.
    func testEvalWarningsAndEpochStrategy() throws {
        let d = try ParityData.load()
        var a = d.args(outputDir: Paths.tempDir("eval-warn"))
        a.maxSteps = 2
        a.evalStrategy = "steps"
        let t = try Trainer(args: a, model: try tinyLoRAModel(), examples: Array(d.examples.prefix(8)), collator: LanguageModelingCollator(padTokenId: 0))
        var lines: [String] = []
        t.log = { lines.append($0) }
        _ = try t.train()
        XCTAssertTrue(lines.contains { $0.contains("eval_strategy") && $0.contains("no evaluation dataset") }, "\(lines)")
        XCTAssertTrue(t.logHistory.allSatisfy { $0["eval_loss"] == nil })

        var b = d.args(outputDir: Paths.tempDir("eval-epoch"))
        b.maxSteps = -1
        b.numTrainEpochs = 2
        b.evalStrategy = "epoch"
        let t2 = try Trainer(args: b, model: try tinyLoRAModel(), examples: Array(d.examples.prefix(8)), collator: LanguageModelingCollator(padTokenId: 0))
        t2.log = { _ in }
        t2.evalExamples = Array(d.examples.suffix(4))
        _ = try t2.train()
        XCTAssertEqual(t2.logHistory.filter { $0["eval_loss"] != nil }.map { $0["step"]?.intValue }, [2, 4])
    }

    func testEvalDatasetPathInConfig() throws {
        let p = Paths.tempDir("cfg-eval") + "/train.yaml"
        try """
        model: {path: m.gguf, lora: {r: 4}}
        dataset: {dataset_path: train.jsonl, eval_dataset_path: test.jsonl, max_seq_length: 32}
        training: {eval_strategy: steps, eval_steps: 0.25, per_device_eval_batch_size: 5}
        """.write(toFile: p, atomically: true, encoding: .utf8)
        let c = try SFTConfig.load(path: p)
        XCTAssertEqual(c.evalDataset?.datasetPath, "test.jsonl")
        XCTAssertEqual(c.evalDataset?.perDeviceTrainBatchSize, 5)
        XCTAssertEqual(c.evalDataset?.maxSeqLength, 32)
        XCTAssertEqual(c.training.evalSteps, 0.25)
        XCTAssertNil(try SFTConfig.load(path: p, overrides: ["dataset.eval_dataset_path=null"]).evalDataset)
    }
}
