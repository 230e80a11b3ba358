import Foundation
import Datasets
import LoRA
import Models
import Tensors
import Tokenizers

/// TRL's `SFTTrainer` driven by an `SFTConfig`: loads the model and tokenizer, prepares the dataset
/// with the Datasets module (chat template, completion-only loss, truncation, collator), wraps the
/// model with LoRA (or trains it fully), trains, and writes the outputs:
/// `output_dir/` adapter (PEFT) + tokenizer files + README.md model card, `training_log.jsonl`,
/// `loss.svg`, `checkpoint-N/` folders, `train_results.json`.
public final class SFTTrainer {
    public let config: SFTConfig
    public let loaded: LoadedModel
    public let pipeline: DataPipeline
    public let model: TrainableModel
    public let trainer: Trainer
    public let renderer: TemplateRenderer?
    public var log: (String) -> Void {
        didSet { trainer.log = log }
    }

    public init(config: SFTConfig, loaded: LoadedModel? = nil, log: @escaping (String) -> Void = { print($0) }) throws {
        self.config = config
        self.log = log
        let lm = try loaded ?? ModelLoader.load(config.model)
        self.loaded = lm
        var rend: TemplateRenderer? = nil
        if let src = lm.chatTemplate {
            var special: [String: String] = [:]
            if let t = lm.tokenizer.bosToken { special["bos_token"] = t }
            if let t = lm.tokenizer.eosToken { special["eos_token"] = t }
            if let t = lm.tokenizer.unkToken { special["unk_token"] = t }
            if let t = lm.tokenizer.padToken { special["pad_token"] = t }
            rend = try TemplateRenderer(source: src, specialTokens: special)
        }
        renderer = rend
        pipeline = try DataPipeline(config: config.dataset, encoder: TokenizerEncoder(lm.tokenizer), renderer: rend,
                                    baseDirectory: config.baseDirectory, maxPositionEmbeddings: lm.model.config.maxPositionEmbeddings)
        for d in pipeline.diagnostics { log("\(d.severity == .warning ? "warning" : "note"): \(d.message)") }
        let examples = pipeline.prepared.examples
        let trainedLabels = examples.reduce(0) { $0 + $1.labels.dropFirst().filter { $0 != ignoreIndex }.count }
        if trainedLabels == 0 {
            throw ConfigError("no example has a label token to learn from (all labels are -100): check completion_only_loss / the response template")
        }
        if config.model.lora == nil && lm.model.trainableParameters().isEmpty {
            throw ConfigError("full fine-tuning needs float32 weights; the model was loaded as \(config.model.dtype). Set model.dtype: float32 or use LoRA")
        }
        var lora: LoRAModel? = nil
        if let lc = config.model.lora {
            lora = try LoRA.apply(config: lc, to: lm.model, seed: config.training.seed)
        } else {
            lm.model.unfreeze()
        }
        model = TrainableModel(base: lm.model, lora: lora)
        trainer = try Trainer(args: config.training, model: model, examples: examples, collator: pipeline.collator)
        trainer.log = log
        trainer.saveExtras = { [weak self] folder in try self?.writeExtras(to: folder) }
        if let ec = config.evalDataset {
            let ep = try DataPipeline(config: ec, encoder: TokenizerEncoder(lm.tokenizer), renderer: rend,
                                      baseDirectory: config.baseDirectory, maxPositionEmbeddings: lm.model.config.maxPositionEmbeddings)
            for d in ep.diagnostics { log("\(d.severity == .warning ? "warning" : "note"): eval dataset: \(d.message)") }
            trainer.evalExamples = ep.prepared.examples
            trainer.evalCollator = ep.collator
            log("eval dataset: \(ep.prepared.examples.count) examples (\(ec.datasetPath)), eval_strategy \(config.training.evalStrategy)")
        }
        for n in config.notes { log("note: \(n)") }
        if let lora { log(lora.trainableParameterSummary()) }
        let ex = examples.count, bs = config.training.perDeviceTrainBatchSize, ga = config.training.gradientAccumulationSteps
        log("examples \(ex) | batch \(bs) × accumulation \(ga) | \(trainer.stepsPerEpoch) steps/epoch | \(trainer.totalSteps) steps (\(trainer.epochs) epoch(s)) | lr \(config.training.learningRate) \(config.training.lrSchedulerType.rawValue), warmup \(trainer.schedule.warmupSteps)")
        if trainer.totalSteps < 10 { log("warning: only \(trainer.totalSteps) optimizer step(s): the model will barely change; raise num_train_epochs or lower per_device_train_batch_size") }
        if config.training.learningRate >= 1e-2 { log("warning: learning_rate \(config.training.learningRate) is very high for fine-tuning (LoRA typically 1e-4…5e-4, full fine-tuning 1e-5…5e-5); expect divergence") }
    }

    /// Trains (resuming when `resume_from_checkpoint` is set), then writes the final adapter and outputs.
    public func train() throws -> TrainSummary {
        let out = config.training.outputDir
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        if let r = config.training.resumeFromCheckpoint {
            let folder = r == "latest" || r == "true" ? try latestCheckpoint() : r
            try trainer.resume(from: folder)
        } else if FileManager.default.fileExists(atPath: out + "/training_log.jsonl") {
            try? FileManager.default.removeItem(atPath: out + "/training_log.jsonl")
        }
        let s = try trainer.train()
        try trainer.saveWeights(to: out)
        try writeAtomically(JSONWriter.string(s.json) + "\n", to: out + "/train_results.json")
        try writeAtomically(LossPlot.svg(history: trainer.logHistory), to: out + "/loss.svg")
        try writeAtomically(modelCard(summary: s), to: out + "/README.md")
        log(String(format: "{'train_runtime': %.2f, 'train_samples_per_second': %.3f, 'train_steps_per_second': %.3f, 'train_loss': %.4f, 'epoch': %.2f}",
                   s.trainRuntime, s.trainSamplesPerSecond, s.trainStepsPerSecond, s.trainLoss, s.epoch))
        log(String(format: "trained %d tokens (%.0f tokens/s), user CPU %.1f s; adapter in %@", s.trainedTokens,
                   Double(s.trainedTokens) / max(1e-9, s.trainRuntime), s.userCPUSeconds, out))
        return s
    }

    func latestCheckpoint() throws -> String {
        let out = config.training.outputDir
        let steps = ((try? FileManager.default.contentsOfDirectory(atPath: out)) ?? [])
            .compactMap { $0.hasPrefix("checkpoint-") ? Int($0.dropFirst("checkpoint-".count)) : nil }
        guard let s = steps.max() else { throw ConfigError("resume_from_checkpoint: no checkpoint-N folder in \(out)") }
        return out + "/checkpoint-\(s)"
    }

    /// Tokenizer files beside the adapter (copied from a model folder; for a GGUF base the chat template).
    func writeExtras(to folder: String) throws {
        let path = config.model.path
        var isDir: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDir), isDir.boolValue {
            for f in ["tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "chat_template.jinja"] {
                let src = path + "/" + f, dst = folder + "/" + f
                guard FileManager.default.fileExists(atPath: src) else { continue }
                try? FileManager.default.removeItem(atPath: dst)
                try FileManager.default.copyItem(atPath: src, toPath: dst)
            }
        } else if let t = loaded.chatTemplate {
            try writeAtomically(t, to: folder + "/chat_template.jinja")
        }
    }

    func modelCard(summary s: TrainSummary) -> String {
        let a = config.training
        var lines = ["---", "base_model: \(config.model.path)", "library_name: peft", "tags:", "- swifttune", "- sft", "- lora", "---", "",
                     "# Fine-tuned adapter", "",
                     "Trained with `swifttune train` (SFT, TRL-compatible semantics).", "",
                     "| setting | value |", "|---|---|"]
        if let l = config.model.lora {
            lines.append("| LoRA | r \(l.r), alpha \(l.loraAlpha), dropout \(l.loraDropout), targets \(l.targetModules.map { "\($0)" } ?? "default") |")
        }
        lines += ["| dataset | \(config.dataset.datasetPath) (\(trainer.examples.count) examples, max_seq_length \(config.dataset.maxSeqLength.map(String.init) ?? "none")) |",
                  "| optimizer | \(a.optim), lr \(a.learningRate) \(a.lrSchedulerType.rawValue), weight_decay \(a.weightDecay), max_grad_norm \(a.maxGradNorm) |",
                  "| batch | \(a.perDeviceTrainBatchSize) × accumulation \(a.gradientAccumulationSteps) |",
                  "| steps | \(s.globalStep) (epoch \(String(format: "%.2f", s.epoch))) |",
                  String(format: "| train_loss | %.4f |", s.trainLoss),
                  String(format: "| train_runtime | %.1f s |", s.trainRuntime), "",
                  "Load with PEFT: `PeftModel.from_pretrained(base, \"<this folder>\")`, or `swifttune` with this folder as the adapter.", ""]
        return lines.joined(separator: "\n")
    }
}

/// The loss curve as a hand-written SVG (no plotting library).
public enum LossPlot {
    public static func svg(history: [JSONValue]) -> String {
        let pts: [(Double, Double)] = history.compactMap { e in
            guard let s = e["step"]?.intValue, case .double(let l)? = e["loss"] else { return nil }
            return (Double(s), l)
        }
        let evalPts: [(Double, Double)] = history.compactMap { e in
            guard let s = e["step"]?.intValue, case .double(let l)? = e["eval_loss"], l.isFinite else { return nil }
            return (Double(s), l)
        }
        let all = pts + evalPts
        let w = 640.0, h = 360.0, ml = 60.0, mr = 20.0, mt = 20.0, mb = 40.0
        var out = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(w))\" height=\"\(Int(h))\" viewBox=\"0 0 \(Int(w)) \(Int(h))\">\n"
        out += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
        out += "<text x=\"\(Int(w / 2))\" y=\"14\" font-family=\"sans-serif\" font-size=\"12\" text-anchor=\"middle\">training loss</text>\n"
        guard let maxStep = all.map(\.0).max(), let maxLoss = all.map(\.1).max(), let minLoss0 = all.map(\.1).min() else {
            return out + "<text x=\"\(Int(w / 2))\" y=\"\(Int(h / 2))\" text-anchor=\"middle\">no logged steps</text>\n</svg>\n"
        }
        let minLoss = min(0, minLoss0), span = max(1e-9, maxLoss - minLoss)
        func x(_ s: Double) -> Double { ml + (w - ml - mr) * s / max(1, maxStep) }
        func y(_ l: Double) -> Double { mt + (h - mt - mb) * (1 - (l - minLoss) / span) }
        out += "<line x1=\"\(ml)\" y1=\"\(h - mb)\" x2=\"\(w - mr)\" y2=\"\(h - mb)\" stroke=\"black\"/>\n"
        out += "<line x1=\"\(ml)\" y1=\"\(mt)\" x2=\"\(ml)\" y2=\"\(h - mb)\" stroke=\"black\"/>\n"
        for i in 0...4 {
            let l = minLoss + span * Double(i) / 4
            out += String(format: "<text x=\"%.1f\" y=\"%.1f\" font-family=\"sans-serif\" font-size=\"10\" text-anchor=\"end\">%.3f</text>\n", ml - 4, y(l) + 3, l)
            let s = maxStep * Double(i) / 4
            out += String(format: "<text x=\"%.1f\" y=\"%.1f\" font-family=\"sans-serif\" font-size=\"10\" text-anchor=\"middle\">%d</text>\n", x(s), h - mb + 14, Int(s))
        }
        out += "<text x=\"\(Int(w / 2))\" y=\"\(Int(h - 6))\" font-family=\"sans-serif\" font-size=\"11\" text-anchor=\"middle\">step</text>\n"
        let path = pts.map { String(format: "%.1f,%.1f", x($0.0), y($0.1)) }.joined(separator: " ")
        out += "<polyline fill=\"none\" stroke=\"#1f77b4\" stroke-width=\"1.5\" points=\"\(path)\"/>\n"
        if !evalPts.isEmpty {
            let ep = evalPts.map { String(format: "%.1f,%.1f", x($0.0), y($0.1)) }.joined(separator: " ")
            out += "<polyline fill=\"none\" stroke=\"#ff7f0e\" stroke-width=\"1.5\" points=\"\(ep)\"/>\n"
            for p in evalPts { out += String(format: "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"2.5\" fill=\"#ff7f0e\"/>\n", x(p.0), y(p.1)) }
            out += "<text x=\"\(Int(w - mr - 4))\" y=\"\(Int(mt + 12))\" font-family=\"sans-serif\" font-size=\"11\" text-anchor=\"end\" fill=\"#1f77b4\">train loss</text>\n"
            out += "<text x=\"\(Int(w - mr - 4))\" y=\"\(Int(mt + 26))\" font-family=\"sans-serif\" font-size=\"11\" text-anchor=\"end\" fill=\"#ff7f0e\">eval loss</text>\n"
        }
        return out + "</svg>\n"
    }
}
