import Foundation

/// The data part of a training config, with TRL's `SFTConfig` field names. Read from JSON (YAML is not supported
/// yet). Unknown keys are rejected so that a typo (`max_seq_len`) is an error, not a silently ignored setting.
///
/// ```json
/// {"dataset_path": "yoda/train.jsonl",
///  "column_mapping": {"prompt": "sentence", "completion": "translation_extra"},
///  "max_seq_length": 64, "packing": false, "padding_side": "left"}
/// ```
public struct DatasetConfig: Codable, Equatable, Sendable {
    /// Dataset file (.jsonl, .json, .csv, .txt). Relative paths resolve against the config file's folder.
    public var datasetPath: String
    /// File format when the extension does not tell (jsonl, json, csv, text).
    public var fileFormat: DataFileFormat?
    /// Split of a JSON file holding `{"train": [...], ...}` (default: train).
    public var split: String?
    /// Drop malformed records (and report how many) instead of failing the load.
    public var skipMalformed = false
    /// TRL column ← your column, e.g. `{"prompt": "sentence", "completion": "translation_extra"}`.
    public var columnMapping: [String: String]?
    /// Columns to drop before detection.
    public var removeColumns: [String]?
    /// Force a format instead of detecting it: conversational, prompt_completion, language_modeling.
    public var format: String?
    /// Config stand-in for `formatting_func`: `"### Question: {{ sentence }}\n### Answer: {{ translation }}"`.
    public var formattingTemplate: String?
    /// `dataset_text_field` (default "text").
    public var datasetTextField = "text"
    /// `max_length` / `max_seq_length` (both accepted; default 1024 as in TRL; null = no truncation).
    public var maxSeqLength: Int? = 1024
    public var truncationMode: TruncationMode = .keepStart
    public var packing = false
    public var packingStrategy: PackingStrategy = .bfd
    /// `padding_free` (implied by packing with bfd/bfd_split, as in TRL).
    public var paddingFree = false
    /// nil: TRL default (true for prompt/completion data).
    public var completionOnlyLoss: Bool?
    public var assistantOnlyLoss = false
    /// TRL pads on the right; the book recommends left for non-packed batches.
    public var paddingSide: PaddingSide = .right
    public var padToMultipleOf: Int?
    /// Token to pad with (must be in the vocabulary); default: the book's rule (see `DataValidation.resolvePadToken`).
    public var padToken: String?
    /// TRL `eos_token`: replaces the tokenizer's EOS (appended to texts/completions, passed to the template).
    public var eosToken: String?
    /// Book collator (`DataCollatorForCompletionOnlyLM`): response template as text or token ids. Replaces the
    /// TRL label building when set.
    public var responseTemplate: TemplateSpec?
    /// Book collator, multi-turn: instruction template as text or token ids.
    public var instructionTemplate: TemplateSpec?
    /// Use transformers' `DataCollatorWithFlattening` (padding-free; labels from the examples).
    public var flattening = false
    /// String prompt/completion rows go through the chat template as user/assistant (default true).
    public var promptCompletionAsChat = true
    public var perDeviceTrainBatchSize = 8
    public var shuffleDataset = false
    public var seed: UInt64 = 42

    /// Text or token ids.
    public enum TemplateSpec: Codable, Equatable, Sendable {
        case text(String)
        case ids([Int32])

        public init(from decoder: Decoder) throws {
            let c = try decoder.singleValueContainer()
            if let s = try? c.decode(String.self) { self = .text(s); return }
            if let a = try? c.decode([Int32].self) { self = .ids(a); return }
            throw DecodingError.dataCorruptedError(in: c, debugDescription: "expected a string or a list of token ids")
        }

        public func encode(to encoder: Encoder) throws {
            var c = encoder.singleValueContainer()
            switch self { case .text(let s): try c.encode(s); case .ids(let a): try c.encode(a) }
        }

        func ids(_ enc: TextEncoding) throws -> [Int32] {
            switch self { case .ids(let a): return a; case .text(let s): return try enc.encode(s, addSpecialTokens: false) }
        }
    }

    public init(datasetPath: String) { self.datasetPath = datasetPath }

    enum Key: String, CodingKey, CaseIterable {
        case datasetPath = "dataset_path", fileFormat = "file_format", split, skipMalformed = "skip_malformed"
        case columnMapping = "column_mapping", removeColumns = "remove_columns", format
        case formattingTemplate = "formatting_template", datasetTextField = "dataset_text_field"
        case maxSeqLength = "max_seq_length", maxLength = "max_length", truncationMode = "truncation_mode"
        case packing, packingStrategy = "packing_strategy", paddingFree = "padding_free"
        case completionOnlyLoss = "completion_only_loss", assistantOnlyLoss = "assistant_only_loss"
        case paddingSide = "padding_side", padToMultipleOf = "pad_to_multiple_of", padToken = "pad_token", eosToken = "eos_token"
        case responseTemplate = "response_template", instructionTemplate = "instruction_template", flattening
        case promptCompletionAsChat = "prompt_completion_as_chat", perDeviceTrainBatchSize = "per_device_train_batch_size"
        case shuffleDataset = "shuffle_dataset", seed
    }

    struct AnyKey: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    public init(from decoder: Decoder) throws {
        let all = try decoder.container(keyedBy: AnyKey.self)
        let known = Set(Key.allCases.map(\.rawValue))
        let unknown = all.allKeys.map(\.stringValue).filter { !known.contains($0) }
        if !unknown.isEmpty {
            throw DatasetError.invalidConfig("unknown key(s) \(unknown.sorted()); the dataset keys are \(Key.allCases.map(\.rawValue).sorted())")
        }
        let c = try decoder.container(keyedBy: Key.self)
        func get<T: Decodable>(_ t: T.Type, _ k: Key) throws -> T? {
            do { return try c.decodeIfPresent(t, forKey: k) } catch {
                throw DatasetError.invalidConfig("'\(k.rawValue)': \(Self.describe(error))")
            }
        }
        guard let path = try get(String.self, .datasetPath) else { throw DatasetError.invalidConfig("'dataset_path' is required (the .jsonl/.json/.csv/.txt file to train on)") }
        datasetPath = path
        fileFormat = try get(DataFileFormat.self, .fileFormat)
        split = try get(String.self, .split)
        skipMalformed = try get(Bool.self, .skipMalformed) ?? false
        columnMapping = try get([String: String].self, .columnMapping)
        removeColumns = try get([String].self, .removeColumns)
        format = try get(String.self, .format)
        if let f = format, !["conversational", "prompt_completion", "language_modeling"].contains(f) {
            throw DatasetError.invalidConfig("'format': '\(f)' is not one of conversational, prompt_completion, language_modeling (or leave it out to detect)")
        }
        formattingTemplate = try get(String.self, .formattingTemplate)
        datasetTextField = try get(String.self, .datasetTextField) ?? "text"
        let a = c.contains(.maxSeqLength), b = c.contains(.maxLength)
        if a && b { throw DatasetError.invalidConfig("give either 'max_seq_length' or 'max_length' (they are the same setting), not both") }
        let lenKey: Key = b ? .maxLength : .maxSeqLength
        if c.contains(lenKey), (try? c.decodeNil(forKey: lenKey)) == true { maxSeqLength = nil } else { maxSeqLength = try get(Int.self, lenKey) ?? 1024 }
        truncationMode = try get(TruncationMode.self, .truncationMode) ?? .keepStart
        packing = try get(Bool.self, .packing) ?? false
        packingStrategy = try get(PackingStrategy.self, .packingStrategy) ?? .bfd
        paddingFree = try get(Bool.self, .paddingFree) ?? false
        completionOnlyLoss = try get(Bool.self, .completionOnlyLoss)
        assistantOnlyLoss = try get(Bool.self, .assistantOnlyLoss) ?? false
        paddingSide = try get(PaddingSide.self, .paddingSide) ?? .right
        padToMultipleOf = try get(Int.self, .padToMultipleOf)
        padToken = try get(String.self, .padToken)
        eosToken = try get(String.self, .eosToken)
        responseTemplate = try get(TemplateSpec.self, .responseTemplate)
        instructionTemplate = try get(TemplateSpec.self, .instructionTemplate)
        flattening = try get(Bool.self, .flattening) ?? false
        promptCompletionAsChat = try get(Bool.self, .promptCompletionAsChat) ?? true
        perDeviceTrainBatchSize = try get(Int.self, .perDeviceTrainBatchSize) ?? 8
        shuffleDataset = try get(Bool.self, .shuffleDataset) ?? false
        seed = try get(UInt64.self, .seed) ?? 42
        try validate()
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: Key.self)
        try c.encode(datasetPath, forKey: .datasetPath)
        try c.encodeIfPresent(fileFormat, forKey: .fileFormat)
        try c.encodeIfPresent(split, forKey: .split)
        try c.encode(skipMalformed, forKey: .skipMalformed)
        try c.encodeIfPresent(columnMapping, forKey: .columnMapping)
        try c.encodeIfPresent(removeColumns, forKey: .removeColumns)
        try c.encodeIfPresent(format, forKey: .format)
        try c.encodeIfPresent(formattingTemplate, forKey: .formattingTemplate)
        try c.encode(datasetTextField, forKey: .datasetTextField)
        if let m = maxSeqLength { try c.encode(m, forKey: .maxSeqLength) } else { try c.encodeNil(forKey: .maxSeqLength) }
        try c.encode(truncationMode, forKey: .truncationMode)
        try c.encode(packing, forKey: .packing)
        try c.encode(packingStrategy, forKey: .packingStrategy)
        try c.encode(paddingFree, forKey: .paddingFree)
        try c.encodeIfPresent(completionOnlyLoss, forKey: .completionOnlyLoss)
        try c.encode(assistantOnlyLoss, forKey: .assistantOnlyLoss)
        try c.encode(paddingSide, forKey: .paddingSide)
        try c.encodeIfPresent(padToMultipleOf, forKey: .padToMultipleOf)
        try c.encodeIfPresent(padToken, forKey: .padToken)
        try c.encodeIfPresent(eosToken, forKey: .eosToken)
        try c.encodeIfPresent(responseTemplate, forKey: .responseTemplate)
        try c.encodeIfPresent(instructionTemplate, forKey: .instructionTemplate)
        try c.encode(flattening, forKey: .flattening)
        try c.encode(promptCompletionAsChat, forKey: .promptCompletionAsChat)
        try c.encode(perDeviceTrainBatchSize, forKey: .perDeviceTrainBatchSize)
        try c.encode(shuffleDataset, forKey: .shuffleDataset)
        try c.encode(seed, forKey: .seed)
    }

    /// Cross-field checks (the book's chapter -1 rules that are config errors, not data warnings).
    public func validate() throws {
        if let m = maxSeqLength, m <= 0 { throw DatasetError.invalidConfig("max_seq_length must be positive, got \(m)") }
        if packing && maxSeqLength == nil { throw DatasetError.invalidConfig("packing: true needs max_seq_length (packed rows are cut to it); set e.g. max_seq_length: 1024") }
        if let m = maxSeqLength, m > Packing.maxSeqLength {
            throw DatasetError.invalidConfig("max_seq_length \(m) is beyond any model's context (limit \(Packing.maxSeqLength)); use the model's max_position_embeddings")
        }
        if let p = padToMultipleOf, p <= 0 || p > 65536 { throw DatasetError.invalidConfig("pad_to_multiple_of must be in 1...65536 (typically 8 or 64), got \(p)") }
        if perDeviceTrainBatchSize <= 0 { throw DatasetError.invalidConfig("per_device_train_batch_size must be positive, got \(perDeviceTrainBatchSize)") }
        if packing && responseTemplate != nil {
            throw DatasetError.invalidConfig("packing cannot be combined with the completion-only collator (response_template): packed rows mix examples, so the template search masks the wrong spans. Use packing without response_template (TRL masks prompts per example with completion_only_loss), or packing: false.")
        }
        if instructionTemplate != nil && responseTemplate == nil {
            throw DatasetError.invalidConfig("instruction_template needs a response_template too")
        }
        if flattening && (packing || responseTemplate != nil) {
            throw DatasetError.invalidConfig("flattening is a collator of its own; combine it with neither packing nor response_template")
        }
    }

    /// Reads a JSON config file (a `.yaml`/`.yml` file gets a clear "not supported yet" error).
    public static func load(path: String) throws -> DatasetConfig {
        let ext = (path as NSString).pathExtension.lowercased()
        if ext == "yaml" || ext == "yml" {
            throw DatasetError.invalidConfig("\(path): YAML configs are not supported yet; write the same keys as JSON (e.g. train.json)")
        }
        guard let data = FileManager.default.contents(atPath: path) else { throw DatasetError.io("\(path): no such file or not readable") }
        return try decode(json: data, name: path)
    }

    /// Decodes a config from JSON bytes; a `{"dataset": {...}}` wrapper (a whole training config) is accepted.
    public static func decode(json data: Data, name: String = "config") throws -> DatasetConfig {
        let doc: JSONValue
        do { doc = try JSONParser.parse(bytes: [UInt8](data)) } catch let e as JSONParseError {
            throw DatasetError.invalidConfig("\(name): invalid JSON: \(e)")
        }
        var body = data
        if let inner = doc["dataset"], inner.objectValue != nil { body = Data(JSONWriter.string(inner).utf8) }
        do { return try JSONDecoder().decode(DatasetConfig.self, from: body) } catch let e as DatasetError {
            throw DatasetError.invalidConfig("\(name): " + e.description.replacingOccurrences(of: "invalid dataset config: ", with: ""))
        } catch {
            throw DatasetError.invalidConfig("\(name): \(describe(error))")
        }
    }

    static func describe(_ error: Error) -> String {
        switch error {
        case DecodingError.typeMismatch(let t, let ctx): return "expected \(t): \(ctx.debugDescription)"
        case DecodingError.dataCorrupted(let ctx): return ctx.debugDescription
        case DecodingError.valueNotFound(let t, _): return "expected \(t), found null"
        case DecodingError.keyNotFound(let k, _): return "missing '\(k.stringValue)'"
        default: return "\(error)"
        }
    }
}
