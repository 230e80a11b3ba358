import Foundation
import Datasets
import LoRA
import ModelIO
import Models
import Tensors

/// What trains: a forward pass to logits, the parameters the optimizer updates, and the causal-LM loss.
public struct TrainableModel {
    public let base: CausalLM
    public let lora: LoRAModel?
    public init(base: CausalLM, lora: LoRAModel?) { self.base = base; self.lora = lora }

    public func forward(_ ids: Tensor, mask: Tensor?, positions: Tensor? = nil) throws -> Tensor {
        if let lora { return try lora.forward(inputIds: ids, attentionMask: mask, positionIds: positions) }
        return try base.forward(inputIds: ids, attentionMask: mask, positionIds: positions)
    }
    /// The summed causal-LM loss of a batch and the number of label tokens it counts (HF's shifted
    /// labels, −100 ignored): what the trainer back-propagates, divided by the step's label count.
    public func lossSum(_ ids: Tensor, labels: Tensor, mask: Tensor?, positions: Tensor? = nil) throws -> (sum: Tensor, count: Int) {
        if let lora { return try lora.lossSum(inputIds: ids, labels: labels, attentionMask: mask, positionIds: positions) }
        return try base.lossSum(inputIds: ids, labels: labels, attentionMask: mask, positionIds: positions)
    }
    public var trainableParameters: [(name: String, parameter: Parameter)] {
        lora?.trainableParameters() ?? base.trainableParameters()
    }
    public func train(_ on: Bool) { base.train(on) }
}

/// One `log_history` entry (HF's names).
public struct LogEntry: Sendable {
    public var step: Int
    public var epoch: Double
    public var loss: Double
    public var gradNorm: Double
    public var learningRate: Double
    public var tokensPerSecond: Double
    public var numTokens: Int

    public var json: JSONValue {
        .object(JSONObject([("loss", .double(loss)), ("grad_norm", .double(gradNorm)), ("learning_rate", .double(learningRate)),
                            ("epoch", .double(epoch)), ("step", .int(step)), ("num_tokens", .int(numTokens)),
                            ("tokens_per_second", .double(tokensPerSecond))]))
    }
}

/// HF's closing summary.
public struct TrainSummary: Sendable {
    public var globalStep: Int
    public var trainRuntime: Double
    public var trainSamplesPerSecond: Double
    public var trainStepsPerSecond: Double
    public var trainLoss: Double
    public var epoch: Double
    public var trainedTokens: Int
    public var interrupted: Bool
    /// Process CPU seconds (user) spent in training.
    public var userCPUSeconds: Double

    public var json: JSONValue {
        .object(JSONObject([("train_runtime", .double(trainRuntime)), ("train_samples_per_second", .double(trainSamplesPerSecond)),
                            ("train_steps_per_second", .double(trainStepsPerSecond)), ("train_loss", .double(trainLoss)),
                            ("epoch", .double(epoch)), ("step", .int(globalStep)), ("num_tokens", .int(trainedTokens)),
                            ("user_cpu_seconds", .double(userCPUSeconds))]))
    }
}

/// The optimisation loop of HF's `Trainer`, over tokenized examples and a collator:
/// seeded per-epoch shuffling (or a fixed order), gradient accumulation with the loss of every micro-batch
/// divided by the non-ignored label count of the whole optimizer step (`num_items_in_batch`), global-norm
/// gradient clipping (the logged `grad_norm` is the norm before clipping), AdamW, and the LR schedule
/// stepped after each optimizer step.
public final class Trainer {
    public let args: TrainingArguments
    public let model: TrainableModel
    public let examples: [TokenizedExample]
    public let collator: DataCollator
    /// Shuffle each epoch (HF's RandomSampler); false keeps dataset order (parity tests).
    public var shuffle = true
    /// Called with each progress line and message.
    public var log: (String) -> Void = { print($0) }
    /// Checked after every optimizer step; true saves a checkpoint and stops (SIGINT).
    public var stopRequested: () -> Bool = { false }
    /// Called after every optimizer step with the entry of that step (tests record per-step losses).
    public var onStep: ((LogEntry) -> Void)? = nil
    /// Extra files written into every checkpoint and the final output (tokenizer files, model card).
    public var saveExtras: ((String) throws -> Void)? = nil
    /// The evaluation dataset (HF `eval_dataset`): its loss is logged as `eval_loss` at `eval_strategy`
    /// ("steps": every `eval_steps`, default `logging_steps`; "epoch": after each epoch). nil: none.
    public var evalExamples: [TokenizedExample]? = nil
    /// The collator of the evaluation batches (default: the training collator).
    public var evalCollator: DataCollator? = nil

    public private(set) var optimizer: AdamW
    public private(set) var globalStep = 0
    public private(set) var logHistory: [JSONValue] = []
    public let schedule: LRSchedule
    public let batchesPerEpoch: Int
    public let stepsPerEpoch: Int
    public let totalSteps: Int
    public let epochs: Int

    public init(args: TrainingArguments, model: TrainableModel, examples: [TokenizedExample], collator: DataCollator) throws {
        guard !examples.isEmpty else { throw ConfigError("the training dataset has no examples") }
        self.args = args
        self.model = model
        self.examples = examples
        self.collator = collator
        let params = model.trainableParameters
        guard !params.isEmpty else { throw ConfigError("no trainable parameters: the LoRA config targets nothing, or the base model is frozen") }
        optimizer = AdamW(parameters: params, lr: args.learningRate, beta1: args.adamBeta1, beta2: args.adamBeta2,
                          eps: args.adamEpsilon, weightDecay: args.weightDecay)
        batchesPerEpoch = (examples.count + args.perDeviceTrainBatchSize - 1) / args.perDeviceTrainBatchSize
        stepsPerEpoch = max(1, (batchesPerEpoch + args.gradientAccumulationSteps - 1) / args.gradientAccumulationSteps)
        if args.maxSteps > 0 {
            totalSteps = args.maxSteps
            epochs = (args.maxSteps + stepsPerEpoch - 1) / stepsPerEpoch
        } else {
            epochs = max(1, Int(args.numTrainEpochs.rounded(.up)))
            totalSteps = max(1, Int((Double(stepsPerEpoch) * args.numTrainEpochs).rounded(.up)))
        }
        if args.maxSteps <= 0 && args.numTrainEpochs <= 0 { throw ConfigError("num_train_epochs is 0 and max_steps is not set: nothing to train") }
        let warm = args.warmupSteps > 0 ? (args.warmupSteps < 1 ? Int((args.warmupSteps * Double(totalSteps)).rounded(.up)) : Int(args.warmupSteps))
                                        : Int((args.warmupRatio * Double(totalSteps)).rounded(.up))
        schedule = LRSchedule(type: args.lrSchedulerType, warmupSteps: warm, totalSteps: totalSteps)
    }

    /// A `*_steps` value: >= 1 absolute, < 1 a fraction of the total steps (HF).
    func resolveSteps(_ v: Double) -> Int { v < 1 ? max(1, Int((v * Double(totalSteps)).rounded(.up))) : Int(v) }

    /// The example order of `epoch`: a permutation from the data seed and epoch, so a resumed run sees the
    /// same order without storing it.
    public func order(epoch: Int) -> [Int] {
        var idx = Array(0..<examples.count)
        guard shuffle else { return idx }
        let g = RandomGenerator(seed: (args.dataSeed ?? args.seed) &* 0x9E3779B97F4A7C15 &+ UInt64(epoch))
        for i in stride(from: idx.count - 1, to: 0, by: -1) {
            let j = Int(g.next() % UInt64(i + 1))
            idx.swapAt(i, j)
        }
        return idx
    }

    /// Tensors of a collated batch.
    static func tensors(_ b: Batch) -> (ids: Tensor, labels: Tensor, mask: Tensor?, positions: Tensor?, items: Int, tokens: Int) {
        let rows = b.rowCount, t = b.sequenceLength
        let ids = Tensor(b.inputIds.flatMap { $0.map(Int.init) }, shape: [rows, t])
        let labels = Tensor(b.labels.flatMap { $0.map(Int.init) }, shape: [rows, t])
        let mask = b.attentionMask.map { Tensor($0.flatMap { $0.map(Int.init) }, shape: [rows, t]) }
        let positions = b.positionIds.map { Tensor($0.flatMap { $0.map(Int.init) }, shape: [rows, t]) }
        var items = 0
        for r in b.labels { for i in 1..<max(1, r.count) where r[i] != ignoreIndex { items += 1 } }
        let tokens = b.attentionMask.map { $0.reduce(0) { $0 + $1.reduce(0) { $0 + Int($1) } } } ?? (b.realLength ?? rows * t)
        return (ids, labels, mask, positions, items, tokens)
    }

    /// Runs training from `globalStep` to the end (or until stopped); returns HF's summary.
    public func train() throws -> TrainSummary {
        let start = Date()
        let cpu0 = userCPUTime()
        model.train(true)
        let params = optimizer.params.map(\.parameter)
        let logEvery = resolveSteps(args.loggingSteps)
        let hasEval = !(evalExamples ?? []).isEmpty
        if args.evalStrategy != "no" && !hasEval {
            log("warning: eval_strategy is '\(args.evalStrategy)' but there is no evaluation dataset, so nothing is evaluated; give dataset.eval_dataset_path (or set eval_strategy: no)")
        }
        let evalEvery = args.evalStrategy == "steps" && hasEval ? resolveSteps(args.evalSteps ?? args.loggingSteps) : Int.max
        let saveEvery = args.saveStrategy == "steps" ? resolveSteps(args.saveSteps) : Int.max
        var windowLoss = 0.0, windowSteps = 0, totalLoss = 0.0
        var trainedTokens = 0
        var windowTokens = 0
        var windowStart = Date()
        var interrupted = false
        let startStep = globalStep
        let ga = args.gradientAccumulationSteps
        outer: for epoch in 0..<epochs {
            let ord = order(epoch: epoch)
            let firstStepOfEpoch = epoch * stepsPerEpoch
            var stepInEpoch = 0
            while stepInEpoch < stepsPerEpoch {
                let step = firstStepOfEpoch + stepInEpoch
                if step >= totalSteps { break outer }
                if step < globalStep { stepInEpoch += 1; continue }   // resumed: skip finished steps
                let firstBatch = stepInEpoch * ga
                let lastBatch = min(batchesPerEpoch, firstBatch + ga)
                var batches: [(ids: Tensor, labels: Tensor, mask: Tensor?, positions: Tensor?, items: Int, tokens: Int)] = []
                for bi in firstBatch..<lastBatch {
                    let lo = bi * args.perDeviceTrainBatchSize, hi = min(examples.count, lo + args.perDeviceTrainBatchSize)
                    batches.append(Trainer.tensors(try collator.collate(ord[lo..<hi].map { examples[$0] })))
                }
                let items = batches.reduce(0) { $0 + $1.items }
                var stepLoss = 0.0
                for b in batches {
                    let (sum, _) = try model.lossSum(b.ids, labels: b.labels, mask: b.mask, positions: b.positions)
                    let loss = sum / Float(max(1, items))
                    loss.backward()
                    stepLoss += Double(loss.item())
                    trainedTokens += b.tokens
                    windowTokens += b.tokens
                }
                if items == 0 {
                    log("warning: step \(step + 1) has no label tokens (every label is -100): the loss is 0 and nothing is learned from these examples; check the completion-only masking / response template")
                }
                let norm = Gradients.clip(params, maxNorm: args.maxGradNorm)
                if !norm.isFinite {
                    throw ConfigError("the gradient norm is \(norm) at step \(step + 1) (loss \(stepLoss)): training diverged. Lower learning_rate (now \(args.learningRate)) or keep max_grad_norm > 0; in half precision use bf16 rather than fp16")
                }
                optimizer.lr = args.learningRate * schedule.factor(step)
                optimizer.update()
                for p in params { p.value.zeroGrad() }
                globalStep = step + 1
                windowLoss += stepLoss; windowSteps += 1; totalLoss += stepLoss
                let epochF = Double(epoch) + Double(lastBatch) / Double(batchesPerEpoch)
                let lrNow = optimizer.lr   // HF logs the rate this step used
                let elapsed = Date().timeIntervalSince(start)
                let tps = Double(trainedTokens) / max(1e-9, elapsed)
                let entry = LogEntry(step: globalStep, epoch: epochF, loss: stepLoss, gradNorm: norm, learningRate: lrNow,
                                     tokensPerSecond: tps, numTokens: trainedTokens)
                onStep?(entry)
                let eta = elapsed / Double(globalStep - startStep) * Double(totalSteps - globalStep)
                if globalStep % logEvery == 0 || globalStep == totalSteps {
                    let dt = Date().timeIntervalSince(windowStart)
                    var e = entry
                    e.loss = windowLoss / Double(windowSteps)
                    e.tokensPerSecond = Double(windowTokens) / max(1e-9, dt)
                    logHistory.append(e.json)
                    log(String(format: "step %d/%d | epoch %.2f | loss %.4f | lr %.3e | grad_norm %.4f | %.0f tok/s | ETA %@",
                               globalStep, totalSteps, epochF, e.loss, lrNow, norm, e.tokensPerSecond, formatDuration(eta)))
                    if args.reportTo == "jsonl" { try appendJSONL(e.json, to: args.outputDir + "/training_log.jsonl") }
                    windowLoss = 0; windowSteps = 0; windowTokens = 0; windowStart = Date()
                }
                // Evaluation time is left out of the next window's tokens/s.
                if globalStep % evalEvery == 0 { windowStart += try logEvaluation(epoch: epochF) }
                if globalStep % saveEvery == 0 && globalStep < totalSteps { try saveCheckpoint() }
                if stopRequested() {
                    log("interrupted: saving a checkpoint at step \(globalStep)")
                    try saveCheckpoint()
                    interrupted = true
                    break outer
                }
                if let limit = args.maxTrainSeconds, elapsed >= limit, globalStep < totalSteps {
                    log("max_train_seconds (\(limit) s) reached at step \(globalStep)/\(totalSteps): stopping")
                    interrupted = true
                    break outer
                }
                stepInEpoch += 1
            }
            if args.evalStrategy == "epoch" && hasEval && !interrupted {
                windowStart += try logEvaluation(epoch: Double(globalStep) / Double(stepsPerEpoch))
            }
            if args.saveStrategy == "epoch" && !interrupted && globalStep < totalSteps { try saveCheckpoint() }
        }
        model.train(false)
        let runtime = Date().timeIntervalSince(start)
        let done = globalStep - startStep
        let samples = args.maxSteps > 0 ? Double(args.maxSteps * args.perDeviceTrainBatchSize * args.gradientAccumulationSteps)
                                        : Double(examples.count) * args.numTrainEpochs
        let summary = TrainSummary(globalStep: globalStep, trainRuntime: runtime, trainSamplesPerSecond: samples / runtime,
                                   trainStepsPerSecond: Double(totalSteps) / runtime, trainLoss: done > 0 ? totalLoss / Double(done) : 0,
                                   epoch: Double(globalStep) / Double(stepsPerEpoch), trainedTokens: trainedTokens, interrupted: interrupted,
                                   userCPUSeconds: userCPUTime() - cpu0)
        logHistory.append(summary.json)
        return summary
    }

    // MARK: evaluation

    /// The evaluation loss as HF's `evaluate()` computes it: batches of `per_device_eval_batch_size`
    /// in dataset order, no gradient, dropout off; each batch's mean token loss, averaged over the
    /// batches weighted by their example count. Also the wall time, the example and batch counts.
    public func evaluate() throws -> (loss: Double, runtime: Double, samples: Int, batches: Int) {
        let ex = evalExamples ?? []
        let coll = evalCollator ?? collator
        let start = Date()
        let was = model.base.training
        model.train(false)
        defer { model.train(was) }
        var weighted = 0.0, samples = 0, batches = 0
        let bs = args.perDeviceEvalBatchSize
        try withNoGrad {
            var lo = 0
            while lo < ex.count {
                let hi = min(ex.count, lo + bs)
                let b = Trainer.tensors(try coll.collate(Array(ex[lo..<hi])))
                let (sum, count) = try model.lossSum(b.ids, labels: b.labels, mask: b.mask, positions: b.positions)
                batches += 1
                if count > 0 {
                    weighted += Double(sum.item()) / Double(count) * Double(hi - lo)
                    samples += hi - lo
                }
                lo = hi
            }
        }
        return (samples > 0 ? weighted / Double(samples) : .nan, Date().timeIntervalSince(start), ex.count, batches)
    }

    /// Evaluates and logs an `eval_loss` entry (log_history, training_log.jsonl, console); returns the
    /// seconds it took.
    @discardableResult
    func logEvaluation(epoch: Double) throws -> TimeInterval {
        let r = try evaluate()
        let e = JSONValue.object(JSONObject([
            ("eval_loss", .double(r.loss)), ("eval_runtime", .double(r.runtime)),
            ("eval_samples_per_second", .double(Double(r.samples) / max(1e-9, r.runtime))),
            ("eval_steps_per_second", .double(Double(r.batches) / max(1e-9, r.runtime))),
            ("epoch", .double(epoch)), ("step", .int(globalStep))]))
        logHistory.append(e)
        log(String(format: "eval at step %d | epoch %.2f | eval_loss %.4f | %d examples in %.1f s", globalStep, epoch, r.loss, r.samples, r.runtime))
        if args.reportTo == "jsonl" { try appendJSONL(e, to: args.outputDir + "/training_log.jsonl") }
        return r.runtime
    }

    // MARK: checkpoints

    /// `output_dir/checkpoint-N/`: the adapter (PEFT format) or weights, every trainable tensor and the
    /// AdamW moments (`optimizer.safetensors`), the schedule and data position (`trainer_state.json`),
    /// the LoRA dropout RNG states (`rng_state.json`).
    /// Written into a temporary folder renamed into place, so a crash never leaves a half checkpoint.
    public func saveCheckpoint() throws {
        let fm = FileManager.default
        let final = args.outputDir + "/checkpoint-\(globalStep)"
        let tmp = args.outputDir + "/.checkpoint-\(globalStep).tmp-\(getpid())"
        try? fm.removeItem(atPath: tmp)
        try fm.createDirectory(atPath: tmp, withIntermediateDirectories: true)
        try saveWeights(to: tmp)
        var w = SafeTensorsWriter(metadata: ["format": "pt", "step": "\(optimizer.step)"])
        for (i, g) in optimizer.params.enumerated() {
            try w.add("trainable." + g.name, shape: g.parameter.value.shape, floats: g.parameter.value.toFloatArray())
            try w.add("exp_avg." + g.name, shape: g.parameter.value.shape, floats: optimizer.m[i])
            try w.add("exp_avg_sq." + g.name, shape: g.parameter.value.shape, floats: optimizer.v[i])
        }
        try w.write(to: tmp + "/optimizer.safetensors")
        let state = JSONValue.object(JSONObject([
            ("global_step", .int(globalStep)), ("max_steps", .int(totalSteps)), ("num_train_epochs", .int(epochs)),
            ("epoch", .double(Double(globalStep) / Double(stepsPerEpoch))), ("logging_steps", .int(resolveSteps(args.loggingSteps))),
            ("train_batch_size", .int(args.perDeviceTrainBatchSize)), ("log_history", .array(logHistory)),
            ("optimizer_step", .int(optimizer.step)), ("data_seed", .int(Int(args.dataSeed ?? args.seed))),
            ("scheduler", .object(JSONObject([("type", .string(args.lrSchedulerType.rawValue)), ("warmup_steps", .int(schedule.warmupSteps)),
                                                ("last_epoch", .int(globalStep))]))),
        ]))
        // Laid out as HF's TrainerState.save_to_json: json.dumps(indent=2, sort_keys=True) + "\n".
        try writeAtomically(JSONWriter.string(state, options: .python(indent: 2, sortKeys: true)) + "\n", to: tmp + "/trainer_state.json")
        if let lora = model.lora {
            // HF keeps torch's RNG states in rng_state.pth; the only random stream here is LoRA dropout.
            let words = lora.dropoutRNGState.sorted { $0.key < $1.key }.map { (k, v) in
                (k, JSONValue.array(v.map { .string(String($0, radix: 16)) }))
            }
            let rng = JSONValue.object(JSONObject([("lora_dropout", .object(JSONObject(words)))]))
            try writeAtomically(JSONWriter.string(rng), to: tmp + "/rng_state.json")
        }
        try? fm.removeItem(atPath: final)
        try fm.moveItem(atPath: tmp, toPath: final)
        log("saved \(final)")
        try pruneCheckpoints()
    }

    /// The adapter folder (PEFT) or, for full fine-tuning, `model.safetensors`; plus `saveExtras`.
    public func saveWeights(to folder: String) throws {
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        if let lora = model.lora {
            try lora.save(to: folder)
        } else {
            var w = SafeTensorsWriter(metadata: ["format": "pt"])
            for (n, p) in model.base.namedParameters() { try w.add(n, shape: p.value.shape, floats: p.value.toFloatArray()) }
            try w.write(to: folder + "/model.safetensors")
        }
        try saveExtras?(folder)
    }

    /// Keeps the newest `save_total_limit` checkpoints.
    func pruneCheckpoints() throws {
        guard let limit = args.saveTotalLimit else { return }
        let names = (try? FileManager.default.contentsOfDirectory(atPath: args.outputDir)) ?? []
        let steps = names.compactMap { n -> Int? in n.hasPrefix("checkpoint-") ? Int(n.dropFirst("checkpoint-".count)) : nil }.sorted()
        for s in steps.dropLast(limit) { try? FileManager.default.removeItem(atPath: args.outputDir + "/checkpoint-\(s)") }
    }

    /// Restores weights, optimizer moments, the LoRA dropout RNG states and the step from a checkpoint
    /// folder; `train()` then continues where it stopped and ends bitwise-identical to an uninterrupted run.
    public func resume(from folder: String) throws {
        let statePath = folder + "/trainer_state.json"
        guard let data = FileManager.default.contents(atPath: statePath) else {
            throw ConfigError("resume_from_checkpoint: \(statePath) is missing; give a checkpoint-N folder written by swifttune train")
        }
        let state = try JSONParser.parse(bytes: [UInt8](data))
        guard let step = state["global_step"]?.intValue, let ostep = state["optimizer_step"]?.intValue else {
            throw ConfigError("\(statePath): no global_step / optimizer_step")
        }
        if let t = state["max_steps"]?.intValue, t != totalSteps {
            throw ConfigError("\(statePath): the checkpoint was written for \(t) total steps but this config gives \(totalSteps); resume with the same training settings")
        }
        let file = try SafeTensorsFile(path: folder + "/optimizer.safetensors")
        func floats(_ name: String, _ count: Int) throws -> [Float] {
            guard let t = file.tensor(named: name) else { throw ConfigError("\(file.name): tensor '\(name)' is missing (different model or LoRA config?)") }
            guard t.dtype == .float32, t.elementCount == count else {
                throw ConfigError("\(file.name): tensor '\(name)' has \(t.elementCount) \(t.dtype) elements, expected \(count) float32")
            }
            return Array(t.bytes.bindMemory(to: Float.self))
        }
        var m: [[Float]] = [], v: [[Float]] = []
        for g in optimizer.params {
            let n = g.parameter.value.count
            let w = try floats("trainable." + g.name, n)
            let target = g.parameter.value
            withNoGrad { target.copy(from: Tensor(w, shape: target.shape)) }
            m.append(try floats("exp_avg." + g.name, n))
            v.append(try floats("exp_avg_sq." + g.name, n))
        }
        try optimizer.restore(step: ostep, m: m, v: v)
        if let lora = model.lora {
            let rngPath = folder + "/rng_state.json"
            if let data = FileManager.default.contents(atPath: rngPath) {
                let doc = try JSONParser.parse(bytes: [UInt8](data))
                guard let layers = doc["lora_dropout"]?.objectValue else {
                    throw ConfigError("\(rngPath): no 'lora_dropout' object of per-layer RNG states")
                }
                var states: [String: [UInt64]] = [:]
                for k in layers.keys {
                    let words = (layers[k]?.arrayValue ?? []).map { $0.stringValue.flatMap { UInt64($0, radix: 16) } }
                    guard words.count == 4, words.allSatisfy({ $0 != nil }) else {
                        throw ConfigError("\(rngPath): the state of '\(k)' must be 4 hexadecimal words")
                    }
                    states[k] = words.compactMap { $0 }
                }
                do { try lora.restoreDropoutRNGState(states) } catch { throw ConfigError("\(rngPath): \(error)") }
            } else if let c = lora.config(lora.activeAdapter), c.loraDropout > 0 {
                log("warning: \(folder) has no rng_state.json: the LoRA dropout masks after resuming differ from an uninterrupted run")
            }
        }
        globalStep = step
        logHistory = state["log_history"]?.arrayValue ?? []
        log("resumed from \(folder) at step \(step)/\(totalSteps)")
    }
}

func formatDuration(_ s: Double) -> String {
    guard s.isFinite, s >= 0 else { return "?" }
    let t = Int(s.rounded())
    return t >= 3600 ? String(format: "%dh%02dm", t / 3600, (t % 3600) / 60) : String(format: "%dm%02ds", t / 60, t % 60)
}

func userCPUTime() -> Double {
    var u = rusage()
    getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &u)
    return Double(u.ru_utime.tv_sec) + Double(u.ru_utime.tv_usec) / 1e6
}

func writeAtomically(_ text: String, to path: String) throws {
    do { try Data(text.utf8).write(to: URL(fileURLWithPath: path), options: .atomic) } catch {
        throw ConfigError("cannot write \(path): \(error.localizedDescription)")
    }
}

func appendJSONL(_ v: JSONValue, to path: String) throws {
    let line = JSONWriter.string(v) + "\n"
    if let h = FileHandle(forWritingAtPath: path) {
        defer { try? h.close() }
        h.seekToEndOfFile()
        h.write(Data(line.utf8))
    } else {
        try writeAtomically(line, to: path)
    }
}
