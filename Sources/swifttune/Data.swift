import ArgumentParser
import Datasets
import Foundation
import Training

/// `swifttune data`: look at the training data exactly as the trainer will see it (the book's "double-check the
/// data loaders" step).
struct DataCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "data",
        abstract: "Preview or dump the collated training batches of a dataset config.",
        discussion: """
            The config is the training config of `swifttune train` (YAML; its dataset section) or a JSON dataset
            config, with TRL's SFTConfig names: dataset_path, column_mapping,
            formatting_template, max_seq_length (or max_length), packing, packing_strategy (bfd, bfd_split, wrapped,
            constant_length), completion_only_loss, assistant_only_loss, padding_side, dataset_text_field,
            pad_to_multiple_of, pad_token, eos_token, response_template, instruction_template, flattening,
            per_device_train_batch_size, shuffle_dataset, seed, skip_malformed.
            A whole training config with the dataset keys under "dataset" is accepted too.
            """,
        subcommands: [Preview.self, Dump.self])

    struct Common: ParsableArguments {
        @Option(name: .long, help: "Training config (YAML, as for `swifttune train`) or dataset config (JSON); its dataset section is used.")
        var config: String

        @Option(name: .long, help: "Model folder with tokenizer.json (and chat_template.jinja / tokenizer_config.json, config.json). Default: the config's model_name_or_path.")
        var model: String?

        @Option(name: .customLong("chat-template"), help: "Use this .jinja chat template instead of the model's.")
        var chatTemplate: String?

        func pipeline() throws -> DataPipeline {
            let cfg: DatasetConfig
            if Self.isYAML(config) {
                // The training config of `swifttune train`: its `dataset:` section is the dataset config.
                guard let doc = try Self.topLevelThrowing(config) else { throw ValidationError("\(config): cannot read the config") }
                cfg = try DatasetConfig.decode(json: Data(JSONWriter.string(doc).utf8), name: config)
            } else {
                cfg = try DatasetConfig.load(path: config)
            }
            guard let modelPath = model ?? Self.modelFromConfig(config) else {
                throw ValidationError("give --model MODEL_FOLDER (or model_name_or_path in the config)")
            }
            let template = try chatTemplate.map { p -> String in
                guard let d = FileManager.default.contents(atPath: p) else { throw ValidationError("\(p): cannot read the chat template") }
                return String(decoding: d, as: UTF8.self)
            }
            let base = (config as NSString).deletingLastPathComponent
            return try DataPipeline(config: cfg, tokenizerPath: modelPath, chatTemplate: template,
                                    baseDirectory: base.isEmpty ? "." : base,
                                    maxPositionEmbeddings: Self.maxPositionEmbeddings(modelPath))
        }

        static func isYAML(_ path: String) -> Bool {
            ["yaml", "yml"].contains((path as NSString).pathExtension.lowercased())
        }

        static func topLevelThrowing(_ path: String) throws -> JSONValue? {
            guard let d = FileManager.default.contents(atPath: path) else { return nil }
            if isYAML(path) { return try YAMLSubset.parse(String(decoding: d, as: UTF8.self), file: path) }
            return try JSONParser.parse(bytes: [UInt8](d))
        }

        static func topLevel(_ path: String) -> JSONValue? { try? topLevelThrowing(path) }

        /// The model of a config: `model_name_or_path`, `model` as a string, or `model.path` (training configs).
        static func modelFromConfig(_ path: String) -> String? {
            guard let doc = topLevel(path) else { return nil }
            guard let model = (doc["model_name_or_path"] ?? doc["model"]).flatMap({ $0.stringValue ?? $0["path"]?.stringValue }) else { return nil }
            return (model as NSString).expandingTildeInPath
        }

        /// `max_position_embeddings` from the model folder's config.json, when there is one.
        static func maxPositionEmbeddings(_ model: String) -> Int? {
            var isDir: ObjCBool = false
            guard FileManager.default.fileExists(atPath: model, isDirectory: &isDir), isDir.boolValue else { return nil }
            let doc = topLevel((model as NSString).appendingPathComponent("config.json"))
            return (doc?["max_position_embeddings"] ?? doc?["text_config"]?["max_position_embeddings"])?.intValue
        }
    }

    struct Preview: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show the first batch decoded, its labels decoded (labels >= 0), warnings and packing statistics.")

        @OptionGroup var common: Common

        @Option(name: .customLong("n"), help: "Rows of the first batch to show.")
        var rows = 2

        func run() throws {
            guard rows > 0 else { throw ValidationError("--n must be positive") }
            print(try common.pipeline().preview(rows: rows), terminator: "")
        }
    }

    struct Dump: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write every collated row as JSONL: {\"input_ids\", \"labels\", \"attention_mask\", \"position_ids\"}.")

        @OptionGroup var common: Common

        @Option(name: .long, help: "Output JSONL file (written atomically).")
        var out: String

        @Option(name: .long, help: "Write at most this many rows.")
        var limit: Int?

        func run() throws {
            if let l = limit, l <= 0 { throw ValidationError("--limit must be positive") }
            let p = try common.pipeline()
            for d in p.diagnostics { FileHandle.standardError.write(Data((d.description + "\n").utf8)) }
            let n = try p.writeDump(to: out, limit: limit)
            print("wrote \(n) row(s) to \(out)")
        }
    }
}
