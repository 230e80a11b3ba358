import Foundation
import Datasets
import LoRA

/// Learning-rate schedules (transformers' `SchedulerType` names).
public enum LRSchedulerType: String, CaseIterable, Sendable {
    case linear, cosine, cosineWithRestarts = "cosine_with_restarts", constant, constantWithWarmup = "constant_with_warmup"
}

/// The model section: what to fine-tune and how.
public struct ModelSection: Sendable {
    /// A Hugging Face folder (config.json + safetensors + tokenizer.json) or a `.gguf` file.
    public var path: String = ""
    /// "float32" (default). "bfloat16"/"float16" keep frozen base weights in that form (LoRA only).
    public var dtype: String = "float32"
    /// "eager" or "sdpa" (fused attention; the default, faster).
    public var attnImplementation: String = "sdpa"
    /// LoRA config with PEFT's names (`r`, `lora_alpha`, `lora_dropout`, `target_modules`, ...);
    /// nil with `full_finetuning: true` trains every float32 weight.
    public var lora: LoraConfig? = nil
    public var fullFinetuning = false
    /// A chat template overriding the model's own (Jinja source).
    public var chatTemplate: String? = nil
}

/// The evaluation the demo runs: greedy answers of the base and fine-tuned model on a test file.
public struct EvalSection: Sendable {
    /// A .jsonl file of rows; nil: no generation evaluation.
    public var testFile: String? = nil
    public var promptField = "prompt"
    public var referenceField = "completion"
    /// A second reference compared after removing any of `ignoreSuffixes` from the answer
    /// (the yoda "interjection ignored" accuracy).
    public var altReferenceField: String? = nil
    public var ignoreSuffixes: [String] = []
    public var maxNewTokens = 48
    /// How many examples to print.
    public var show = 5
    /// Evaluate the base model too (before training).
    public var compareBase = true
    public var systemPrompt: String? = nil
}

/// transformers' `TrainingArguments` / TRL `SFTConfig` fields this trainer honours, with their names and
/// defaults. Fields that take a fraction (`*_steps` < 1) are resolved against the total step count.
public struct TrainingArguments: Sendable {
    public var outputDir = "output"
    public var perDeviceTrainBatchSize = 8
    public var perDeviceEvalBatchSize = 8
    public var gradientAccumulationSteps = 1
    public var gradientCheckpointing = false
    public var autoFindBatchSize = false
    public var bf16 = false
    public var fp16 = false
    public var numTrainEpochs: Double = 3
    public var maxSteps = -1
    public var learningRate: Double = 5e-5
    public var lrSchedulerType: LRSchedulerType = .linear
    public var warmupRatio: Double = 0
    public var warmupSteps: Double = 0
    public var weightDecay: Double = 0
    public var adamBeta1: Double = 0.9
    public var adamBeta2: Double = 0.999
    public var adamEpsilon: Double = 1e-8
    public var maxGradNorm: Double = 1
    public var optim = "adamw_torch"
    public var seed: UInt64 = 42
    public var dataSeed: UInt64? = nil
    public var loggingSteps: Double = 10
    public var evalStrategy = "no"
    public var evalSteps: Double? = nil
    public var saveStrategy = "steps"
    public var saveSteps: Double = 500
    public var saveTotalLimit: Int? = nil
    public var reportTo = "jsonl"
    public var resumeFromCheckpoint: String? = nil
    /// Stop after this many seconds of training (saving a checkpoint): "epochs as many as fit".
    public var maxTrainSeconds: Double? = nil

    public init() {}

    static let keys: [String] = [
        "output_dir", "per_device_train_batch_size", "per_device_eval_batch_size", "gradient_accumulation_steps",
        "gradient_checkpointing", "auto_find_batch_size", "bf16", "fp16", "num_train_epochs", "max_steps",
        "learning_rate", "lr_scheduler_type", "warmup_ratio", "warmup_steps", "weight_decay", "adam_beta1",
        "adam_beta2", "adam_epsilon", "max_grad_norm", "optim", "seed", "data_seed", "logging_steps",
        "eval_strategy", "eval_steps", "save_strategy", "save_steps", "save_total_limit", "report_to",
        "resume_from_checkpoint", "max_train_seconds",
    ]
}

/// A whole training config: `model`, `dataset` (the Datasets module's keys), `training`
/// (TrainingArguments names) and `eval` sections, from YAML or JSON.
public struct SFTConfig {
    public var model = ModelSection()
    public var dataset: DatasetConfig
    public var training = TrainingArguments()
    public var eval = EvalSection()
    /// The evaluation dataset (`dataset.eval_dataset_path`: a second file prepared exactly like the
    /// training one, HF's `eval_dataset`), whose loss is logged at `training.eval_strategy`; nil: none.
    public var evalDataset: DatasetConfig? = nil
    /// Folder relative paths resolve against (the config file's folder).
    public var baseDirectory: String
    /// Non-fatal notes about the config (ignored precision flags, ...).
    public var notes: [String] = []

    static let sections = ["model", "dataset", "training", "eval"]
    static let modelKeys = ["path", "dtype", "attn_implementation", "lora", "full_finetuning", "chat_template"]
    static let evalKeys = ["test_file", "prompt_field", "reference_field", "alt_reference_field", "ignore_suffixes",
                           "max_new_tokens", "show", "compare_base", "system_prompt"]

    /// Loads a `.yaml`/`.yml`/`.json` config, applying `overrides` (`section.key=value`, value in YAML syntax).
    public static func load(path: String, overrides: [String] = []) throws -> SFTConfig {
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
            throw ConfigError("\(path): no such file or not readable UTF-8")
        }
        let ext = (path as NSString).pathExtension.lowercased()
        var doc: JSONValue
        if ext == "json" {
            do { doc = try JSONParser.parse(text) } catch { throw ConfigError("\(path): invalid JSON: \(error)") }
        } else {
            doc = try YAMLSubset.parse(text, file: path)
        }
        doc = try applyOverrides(doc, overrides)
        let base = (URL(fileURLWithPath: path).standardizedFileURL.deletingLastPathComponent()).path
        return try decode(doc, name: path, baseDirectory: base)
    }

    /// `--set training.learning_rate=1e-4` (a bare TrainingArguments key means `training.<key>`).
    static func applyOverrides(_ doc: JSONValue, _ overrides: [String]) throws -> JSONValue {
        guard var root = doc.objectValue else { throw ConfigError("the config must be a mapping of sections \(sections)") }
        for o in overrides {
            guard let eq = o.firstIndex(of: "=") else { throw ConfigError("--set '\(o)': expected key=value (e.g. training.learning_rate=1e-4)") }
            var path = o[..<eq].split(separator: ".").map(String.init)
            let value = YAMLSubset.plain(String(o[o.index(after: eq)...]))
            if path.count == 1 { path.insert("training", at: 0) }
            guard sections.contains(path[0]) else { throw ConfigError("--set '\(o)': unknown section '\(path[0])'; the sections are \(sections)") }
            root = set(root, path[...], value)
        }
        return .object(root)
    }

    static func set(_ obj: JSONObject, _ path: ArraySlice<String>, _ value: JSONValue) -> JSONObject {
        var o = obj
        guard let k = path.first else { return o }
        if path.count == 1 { o[k] = value; return o }
        o[k] = .object(set(o[k]?.objectValue ?? JSONObject(), path.dropFirst(), value))
        return o
    }

    static func checkKeys(_ obj: JSONObject, _ valid: [String], _ where_: String) throws {
        for k in obj.keys where !valid.contains(k) {
            let near = valid.filter { $0.contains(k) || k.contains($0) || levenshtein($0, k) <= 2 }
            throw ConfigError("\(where_): unknown field '\(k)'\(near.isEmpty ? "" : " (did you mean \(near.joined(separator: " or "))?)"); valid fields: \(valid.sorted().joined(separator: ", "))")
        }
    }

    /// Decodes a parsed config document.
    public static func decode(_ doc: JSONValue, name: String, baseDirectory: String) throws -> SFTConfig {
        guard let root = doc.objectValue else { throw ConfigError("\(name): the config must be a mapping with sections \(sections)") }
        try checkKeys(root, sections, name)
        guard let ds = root["dataset"]?.objectValue else { throw ConfigError("\(name): a 'dataset' section with dataset_path is required") }
        let tr = root["training"]?.objectValue ?? JSONObject()
        try checkKeys(tr, TrainingArguments.keys, "\(name): training")
        var args = TrainingArguments()
        let r = FieldReader(obj: tr, where_: "\(name): training")
        args.outputDir = try r.string("output_dir") ?? args.outputDir
        args.perDeviceTrainBatchSize = try r.int("per_device_train_batch_size", min: 1) ?? args.perDeviceTrainBatchSize
        args.perDeviceEvalBatchSize = try r.int("per_device_eval_batch_size", min: 1) ?? args.perDeviceEvalBatchSize
        args.gradientAccumulationSteps = try r.int("gradient_accumulation_steps", min: 1) ?? 1
        args.gradientCheckpointing = try r.bool("gradient_checkpointing") ?? false
        args.autoFindBatchSize = try r.bool("auto_find_batch_size") ?? false
        args.bf16 = try r.bool("bf16") ?? false
        args.fp16 = try r.bool("fp16") ?? false
        args.numTrainEpochs = try r.double("num_train_epochs", min: 0) ?? args.numTrainEpochs
        args.maxSteps = try r.int("max_steps", min: -1) ?? -1
        args.learningRate = try r.double("learning_rate", min: 0) ?? args.learningRate
        if let s = try r.string("lr_scheduler_type") {
            guard let t = LRSchedulerType(rawValue: s) else {
                throw ConfigError("\(name): training.lr_scheduler_type '\(s)' is not one of \(LRSchedulerType.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            args.lrSchedulerType = t
        }
        args.warmupRatio = try r.double("warmup_ratio", min: 0) ?? 0
        if args.warmupRatio > 1 { throw ConfigError("\(name): training.warmup_ratio must be in [0, 1], got \(args.warmupRatio)") }
        args.warmupSteps = try r.double("warmup_steps", min: 0) ?? 0
        args.weightDecay = try r.double("weight_decay", min: 0) ?? 0
        args.adamBeta1 = try r.double("adam_beta1", min: 0) ?? 0.9
        args.adamBeta2 = try r.double("adam_beta2", min: 0) ?? 0.999
        for (k, v) in [("adam_beta1", args.adamBeta1), ("adam_beta2", args.adamBeta2)] where v >= 1 {
            throw ConfigError("\(name): training.\(k) must be in [0, 1), got \(v)")
        }
        args.adamEpsilon = try r.double("adam_epsilon", min: 0) ?? 1e-8
        args.maxGradNorm = try r.double("max_grad_norm", min: 0) ?? 1
        args.optim = try r.string("optim") ?? "adamw_torch"
        guard ["adamw_torch", "adamw_torch_fused", "adamw_hf"].contains(args.optim) else {
            throw ConfigError("\(name): training.optim '\(args.optim)' is not supported; use adamw_torch")
        }
        args.seed = UInt64(try r.int("seed", min: 0) ?? 42)
        args.dataSeed = try r.int("data_seed", min: 0).map(UInt64.init)
        args.loggingSteps = try r.double("logging_steps", min: 0) ?? 10
        args.evalStrategy = try r.string("eval_strategy") ?? "no"
        args.evalSteps = try r.double("eval_steps", min: 0)
        args.saveStrategy = try r.string("save_strategy") ?? "steps"
        for (k, v) in [("eval_strategy", args.evalStrategy), ("save_strategy", args.saveStrategy)] where !["no", "steps", "epoch"].contains(v) {
            throw ConfigError("\(name): training.\(k) '\(v)' is not one of no, steps, epoch")
        }
        args.saveSteps = try r.double("save_steps", min: 0) ?? 500
        args.saveTotalLimit = try r.int("save_total_limit", min: 1)
        args.reportTo = try r.string("report_to") ?? "jsonl"
        guard ["none", "jsonl"].contains(args.reportTo) else { throw ConfigError("\(name): training.report_to '\(args.reportTo)' is not one of none, jsonl") }
        args.resumeFromCheckpoint = try r.string("resume_from_checkpoint")
        args.maxTrainSeconds = try r.double("max_train_seconds", min: 0)

        var notes: [String] = []
        if args.bf16 || args.fp16 {
            notes.append("\(args.bf16 ? "bf16" : "fp16"): true is accepted but training computes in float32 on the CPU (activations, LoRA weights and optimizer state); set model.dtype to keep frozen base weights in half precision")
        }
        if args.gradientCheckpointing { notes.append("gradient_checkpointing: accepted; activations are kept (the models here fit in memory), results are identical") }
        if args.autoFindBatchSize { notes.append("auto_find_batch_size: accepted; the batch size is not reduced automatically on the CPU") }

        // Model section.
        guard let m = root["model"]?.objectValue else { throw ConfigError("\(name): a 'model' section with 'path' is required") }
        try checkKeys(m, modelKeys, "\(name): model")
        let mr = FieldReader(obj: m, where_: "\(name): model")
        var model = ModelSection()
        guard let p = try mr.string("path") else { throw ConfigError("\(name): model.path is required (a Hugging Face folder or a .gguf file)") }
        model.path = resolve(p, baseDirectory)
        model.dtype = try mr.string("dtype") ?? "float32"
        guard ["float32", "bfloat16", "float16", "auto"].contains(model.dtype) else {
            throw ConfigError("\(name): model.dtype '\(model.dtype)' is not one of float32, bfloat16, float16, auto")
        }
        model.attnImplementation = try mr.string("attn_implementation") ?? "sdpa"
        guard ["eager", "sdpa"].contains(model.attnImplementation) else {
            throw ConfigError("\(name): model.attn_implementation '\(model.attnImplementation)' is not one of eager, sdpa")
        }
        model.fullFinetuning = try mr.bool("full_finetuning") ?? false
        model.chatTemplate = try mr.string("chat_template")
        if let l = m["lora"], l != .null {
            do { model.lora = try JSONDecoder().decode(LoraConfig.self, from: Data(JSONWriter.string(l).utf8)) } catch {
                throw ConfigError("\(name): model.lora: \(error)")
            }
        }
        if model.lora != nil && model.fullFinetuning { throw ConfigError("\(name): model.lora and model.full_finetuning: true exclude each other") }
        if model.lora == nil && !model.fullFinetuning {
            throw ConfigError("\(name): give model.lora (PEFT LoraConfig fields: r, lora_alpha, lora_dropout, target_modules) or model.full_finetuning: true")
        }

        // Dataset section: the batch size and seed live in `training`.
        var dsObj = ds
        let evalPath = try FieldReader(obj: ds, where_: "\(name): dataset").string("eval_dataset_path")
        dsObj["eval_dataset_path"] = nil
        if dsObj["per_device_train_batch_size"] != nil {
            throw ConfigError("\(name): per_device_train_batch_size belongs in the training section")
        }
        dsObj["per_device_train_batch_size"] = .int(args.perDeviceTrainBatchSize)
        if dsObj["seed"] == nil { dsObj["seed"] = .int(Int(args.dataSeed ?? args.seed)) }
        let dataset = try DatasetConfig.decode(json: Data(JSONWriter.string(.object(dsObj)).utf8), name: "\(name): dataset")
        var evalDataset: DatasetConfig? = nil
        if let evalPath {
            var e = dataset
            e.datasetPath = evalPath
            e.perDeviceTrainBatchSize = args.perDeviceEvalBatchSize
            evalDataset = e
        }

        // Eval section.
        var ev = EvalSection()
        if let e = root["eval"]?.objectValue {
            try checkKeys(e, evalKeys, "\(name): eval")
            let er = FieldReader(obj: e, where_: "\(name): eval")
            ev.testFile = try er.string("test_file").map { resolve($0, baseDirectory) }
            ev.promptField = try er.string("prompt_field") ?? ev.promptField
            ev.referenceField = try er.string("reference_field") ?? ev.referenceField
            ev.altReferenceField = try er.string("alt_reference_field")
            if let a = e["ignore_suffixes"] {
                guard let arr = a.arrayValue, arr.allSatisfy({ $0.stringValue != nil }) else {
                    throw ConfigError("\(name): eval.ignore_suffixes must be a list of strings")
                }
                ev.ignoreSuffixes = arr.compactMap(\.stringValue)
            }
            ev.maxNewTokens = try er.int("max_new_tokens", min: 1) ?? 48
            ev.show = try er.int("show", min: 0) ?? 5
            ev.compareBase = try er.bool("compare_base") ?? true
            ev.systemPrompt = try er.string("system_prompt")
        }
        if args.outputDir.hasPrefix("~/") { args.outputDir = resolve(args.outputDir, baseDirectory) }   // else relative to the working folder, as in HF
        return SFTConfig(model: model, dataset: dataset, training: args, eval: ev, evalDataset: evalDataset, baseDirectory: baseDirectory, notes: notes)
    }

    static func resolve(_ p: String, _ base: String) -> String {
        if p.hasPrefix("~/") { return (NSHomeDirectory() as NSString).appendingPathComponent(String(p.dropFirst(2))) }
        if p.hasPrefix("/") { return p }
        return (base as NSString).appendingPathComponent(p)
    }
}

/// Typed field access with errors naming the field.
struct FieldReader {
    let obj: JSONObject
    let where_: String

    func string(_ k: String) throws -> String? {
        guard let v = obj[k], v != .null else { return nil }
        switch v {
        case .string(let s): return s
        case .int, .double, .bool: return v.displayText
        default: throw ConfigError("\(where_).\(k): expected a string, found \(v.typeName)")
        }
    }
    func int(_ k: String, min: Int) throws -> Int? {
        guard let v = obj[k], v != .null else { return nil }
        guard let i = v.intValue else { throw ConfigError("\(where_).\(k): expected an integer, found \(v.typeName) \(v.displayText)") }
        guard i >= min else { throw ConfigError("\(where_).\(k): must be >= \(min), got \(i)") }
        return i
    }
    func double(_ k: String, min: Double) throws -> Double? {
        guard let v = obj[k], v != .null else { return nil }
        let d: Double
        switch v {
        case .int(let i): d = Double(i)
        case .double(let x): d = x
        case .string(let s) where Double(s) != nil: d = Double(s)!
        default: throw ConfigError("\(where_).\(k): expected a number, found \(v.typeName) \(v.displayText)")
        }
        guard d.isFinite, d >= min else { throw ConfigError("\(where_).\(k): must be a finite number >= \(min), got \(d)") }
        return d
    }
    func bool(_ k: String) throws -> Bool? {
        guard let v = obj[k], v != .null else { return nil }
        guard case .bool(let b) = v else { throw ConfigError("\(where_).\(k): expected true or false, found \(v.typeName) \(v.displayText)") }
        return b
    }
}

func levenshtein(_ a: String, _ b: String) -> Int {
    let a = Array(a), b = Array(b)
    if a.isEmpty { return b.count }
    if b.isEmpty { return a.count }
    var prev = Array(0...b.count)
    for i in 1...a.count {
        var cur = [i] + [Int](repeating: 0, count: b.count)
        for j in 1...b.count {
            cur[j] = Swift.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
        }
        prev = cur
    }
    return prev[b.count]
}
