import ArgumentParser
import Foundation
import Training

/// Set by SIGINT; the trainer checks it after every optimizer step, saves a checkpoint and stops.
nonisolated(unsafe) var trainInterruptRequested = false

/// `swifttune train CONFIG`: supervised fine-tuning (TRL SFTTrainer semantics) from a YAML/JSON config,
/// optionally followed by the greedy exact-match evaluation of the base and the fine-tuned model.
struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Fine-tune a model (LoRA or full) on a dataset, TRL SFTTrainer-style, from a YAML or JSON config.",
        discussion: """
        The config has four sections (YAML subset or JSON; unknown fields are errors listing the valid ones):
          model:    path (HF folder or .gguf), dtype (float32), attn_implementation (sdpa|eager),
                    lora {r, lora_alpha, lora_dropout, target_modules, ...PEFT LoraConfig} or full_finetuning: true,
                    chat_template
          dataset:  the Datasets keys (dataset_path, column_mapping, format, max_seq_length,
                    completion_only_loss, packing, ...; see `swifttune data --help`), plus
                    eval_dataset_path: a second file prepared the same way, HF's eval_dataset
          training: TrainingArguments names: output_dir, num_train_epochs, max_steps (wins),
                    per_device_train_batch_size, gradient_accumulation_steps, learning_rate,
                    lr_scheduler_type (linear|cosine|cosine_with_restarts|constant|constant_with_warmup),
                    warmup_ratio, warmup_steps (wins; < 1 = fraction), weight_decay (not on norms/biases),
                    adam_beta1/2, adam_epsilon, max_grad_norm, optim (adamw_torch), seed, data_seed,
                    logging_steps, save_strategy/save_steps/save_total_limit, report_to (none|jsonl),
                    eval_strategy (no|steps|epoch), eval_steps (default logging_steps; < 1 = fraction),
                    per_device_eval_batch_size (eval_loss on dataset.eval_dataset_path, and the
                    generation batch of the eval section),
                    resume_from_checkpoint (a folder or "latest"), max_train_seconds,
                    bf16/fp16/gradient_checkpointing/auto_find_batch_size (accepted; training runs in float32)
          eval:     test_file, prompt_field, reference_field, alt_reference_field, ignore_suffixes,
                    max_new_tokens (48), show (5), compare_base (true), system_prompt
        With an eval.test_file (or --eval-test FILE), the base model's and the fine-tuned model's greedy
        answers (stop at <|im_end|>/EOS) are printed with the exact-match accuracy.
        Ctrl-C saves a checkpoint (output_dir/checkpoint-N) and exits; resume with
        --set resume_from_checkpoint=latest.
        """)

    @Argument(help: "Config file (.yaml, .yml or .json).")
    var config: String

    @Option(name: .customLong("set"), help: "Override a field: section.key=value (a bare key means training.key). Repeatable.")
    var overrides: [String] = []

    @Option(name: .customLong("eval-test"), help: "A .jsonl test file to evaluate on (overrides eval.test_file).")
    var evalTest: String?

    @Flag(name: .customLong("no-eval"), help: "Skip the generation evaluation.")
    var noEval = false

    @Flag(name: .customLong("eval-only"), help: "Only evaluate the base model (no training).")
    var evalOnly = false

    func run() throws {
        var cfg: SFTConfig
        do { cfg = try SFTConfig.load(path: config, overrides: overrides) } catch let e as ConfigError {
            throw ValidationError(e.message)
        }
        if let t = evalTest { cfg.eval.testFile = t }
        if noEval { cfg.eval.testFile = nil }
        let t0 = Date()
        print("loading \(cfg.model.path)")
        let loaded = try ModelLoader.load(cfg.model)
        let sft = try SFTTrainer(config: cfg, loaded: loaded, log: { print($0); fflush(stdout) })
        var evaluator: GreedyEvaluator? = nil
        var rows: [(prompt: String, reference: String, alt: String?)] = []
        var baseResult: EvalResult? = nil
        if let test = cfg.eval.testFile {
            let ev = GreedyEvaluator(tokenizer: loaded.tokenizer, renderer: sft.renderer, section: cfg.eval)
            rows = try ev.loadRows(test)
            evaluator = ev
            if cfg.eval.compareBase || evalOnly {
                let lora = sft.model.lora
                let r = try ev.evaluate(rows: rows, config: loaded.model.config, batchSize: cfg.training.perDeviceEvalBatchSize) { ids, mask, pos, cache in
                    if let lora { return try lora.disableAdapter { try lora.forward(inputIds: ids, attentionMask: mask, positionIds: pos, cache: cache, lastOnly: true) } }
                    return try loaded.model.forward(inputIds: ids, attentionMask: mask, positionIds: pos, cache: cache, lastOnly: true)
                }
                print(String(format: "base model: exact %d/%d, ignoring the suffix %d/%d (%.1f s)", r.exactCount, rows.count,
                             r.altExactCount, rows.count, r.seconds))
                baseResult = r
            }
        }
        if evalOnly { return }
        signal(SIGINT) { _ in trainInterruptRequested = true }
        sft.trainer.stopRequested = { trainInterruptRequested }
        let summary = try sft.train()
        signal(SIGINT, SIG_DFL)
        if summary.interrupted && trainInterruptRequested { print("stopped; resume with --set resume_from_checkpoint=latest"); return }
        if let ev = evaluator {
            let lora = sft.model.lora
            let r = try ev.evaluate(rows: rows, config: loaded.model.config, batchSize: cfg.training.perDeviceEvalBatchSize) { ids, mask, pos, cache in
                if let lora { return try lora.forward(inputIds: ids, attentionMask: mask, positionIds: pos, cache: cache, lastOnly: true) }
                return try loaded.model.forward(inputIds: ids, attentionMask: mask, positionIds: pos, cache: cache, lastOnly: true)
            }
            print("")
            for i in 0..<min(cfg.eval.show, rows.count) {
                print("prompt:      \(rows[i].prompt)")
                print("reference:   \(r.answers[i].reference)")
                if let b = baseResult { print("base:        \(b.answers[i].answer)") }
                print("fine-tuned:  \(r.answers[i].answer)\(r.answers[i].exact ? "  ✓" : (r.answers[i].altExact ? "  ✓ (suffix ignored)" : ""))")
                print("")
            }
            if let b = baseResult {
                print(String(format: "base model:       exact %d/%d, ignoring the suffix %d/%d", b.exactCount, rows.count, b.altExactCount, rows.count))
            }
            print(String(format: "fine-tuned model: exact %d/%d, ignoring the suffix %d/%d (%.1f s, %d tokens generated)",
                         r.exactCount, rows.count, r.altExactCount, rows.count, r.seconds, r.generatedTokens))
        }
        print(String(format: "total wall time %.1f s", Date().timeIntervalSince(t0)))
    }
}
