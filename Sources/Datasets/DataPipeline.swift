import Foundation

/// Config → loaded rows → prepared examples → collated batches, with everything the book checks by hand
/// (`swifttune data preview` / `data dump` are thin wrappers over this).
public final class DataPipeline {
    public let config: DatasetConfig
    public let encoder: TextEncoding
    public let dataset: Dataset
    public let loadReport: LoadReport
    public let prepared: PreparedDataset
    public let collator: DataCollator
    public let padTokenId: Int32?
    /// Load, preparation and set-up findings (collator warnings are added as batches are built).
    public private(set) var diagnostics: [DataDiagnostic]
    /// Human-readable collator description for previews.
    public let collatorDescription: String

    /// - Parameters:
    ///   - baseDirectory: folder relative `dataset_path`s resolve against (the config file's folder).
    ///   - maxPositionEmbeddings: the model's `max_position_embeddings` (checked against max_seq_length).
    ///   - formattingFunction: a Swift `formatting_func`; overrides `formatting_template`.
    public init(config: DatasetConfig, encoder: TextEncoding, renderer: ChatRendering?, baseDirectory: String? = nil,
                maxPositionEmbeddings: Int? = nil, formattingFunction: ((Row) throws -> String)? = nil) throws {
        try config.validate()
        self.config = config
        let encoder: TextEncoding = try config.eosToken.map { try EOSOverrideEncoder(base: encoder, eosToken: $0) } ?? encoder
        self.encoder = encoder
        var diags: [DataDiagnostic] = []

        var path = config.datasetPath
        if !path.hasPrefix("/"), let base = baseDirectory { path = (base as NSString).appendingPathComponent(path) }
        var (ds, report) = try DatasetLoader.load(path: path, format: config.fileFormat, split: config.split,
                                                  textColumn: config.datasetTextField, skipMalformed: config.skipMalformed)
        if !report.skipped.isEmpty {
            diags.append(DataDiagnostic(.warning, .skippedRecords, "skipped \(report.skipped.count) malformed record(s) of \(report.recordsRead) (skip_malformed is on); first: \(report.skipped[0]). Fix them or keep skip_malformed."))
        }
        if let drop = config.removeColumns { ds = try ds.removeColumns(drop) }
        if let mapping = config.columnMapping {
            // Rename source → TRL name; a TRL-named column already present is replaced by the mapped one.
            for (target, source) in mapping.sorted(by: { $0.key < $1.key }) where target != source {
                if ds.columnNames.contains(target) { ds = try ds.removeColumns([target]) }
                ds = try ds.renameColumn(source, to: target)
            }
        }
        if let f = config.format {
            let needed: [String] = f == "conversational" ? [] : (f == "prompt_completion" ? ["prompt", "completion"] : [config.datasetTextField])
            if f == "conversational" && !ds.columnNames.contains("messages") && !ds.columnNames.contains("conversations") {
                throw DatasetError.unknownFormat("format is conversational but there is no 'messages' or 'conversations' column (columns: \(ds.columnNames)); map yours with column_mapping: {\"messages\": \"<column>\"}")
            }
            for n in needed where !ds.columnNames.contains(n) {
                throw DatasetError.unknownFormat("format is \(f) but there is no '\(n)' column (columns: \(ds.columnNames)); map yours with column_mapping: {\"\(n)\": \"<column>\"}")
            }
            // Keep only the format's columns so detection cannot pick another one.
            let keep = f == "conversational" ? ds.columnNames.filter { $0 == "messages" || $0 == "conversations" } : needed
            ds = try ds.selectColumns(keep)
        }
        dataset = ds
        loadReport = report

        var formatting = formattingFunction
        if formatting == nil, let t = config.formattingTemplate {
            let tmpl = try FormattingTemplate(t)
            let missing = tmpl.columns.filter { !ds.columnNames.contains($0) }
            if !missing.isEmpty {
                throw DatasetError.invalidConfig("formatting_template uses \(missing.map { "{{ \($0) }}" }) but the dataset columns are \(ds.columnNames)")
            }
            let eos = encoder.eosToken, bos = encoder.bosToken
            formatting = { row in try tmpl.format(row, eosToken: eos, bosToken: bos) }
        }

        var opts = PreparationOptions()
        opts.maxLength = config.maxSeqLength
        opts.truncationMode = config.truncationMode
        opts.packing = config.packing
        opts.packingStrategy = config.packingStrategy
        opts.completionOnlyLoss = config.responseTemplate != nil ? false : config.completionOnlyLoss
        opts.assistantOnlyLoss = config.assistantOnlyLoss
        opts.datasetTextField = config.datasetTextField
        opts.promptCompletionAsChat = config.promptCompletionAsChat
        opts.shuffleDataset = config.shuffleDataset
        opts.seed = config.seed
        prepared = try SFTPreparer(encoder: encoder, renderer: renderer, options: opts, formattingFunction: formatting).prepare(ds)
        diags += prepared.diagnostics

        let (pad, padDiags) = try DataValidation.resolvePadToken(encoder: encoder, configPadToken: config.padToken)
        padTokenId = pad
        let paddingFree = config.paddingFree || (config.packing && (config.packingStrategy == .bfd || config.packingStrategy == .bfdSplit))
        let needsPad = !(paddingFree && config.padToMultipleOf == nil) && !config.flattening
        diags += padDiags.filter { needsPad || $0.severity != .error }
        diags += DataValidation.checkMaxLength(config.maxSeqLength, maxPositionEmbeddings: maxPositionEmbeddings, tokenizerMaxLength: encoder.modelMaxLength)
        diags += DataValidation.checkPaddingSide(config.paddingSide, packing: config.packing, paddingFree: paddingFree || config.flattening)

        if config.flattening {
            collator = FlatteningCollator()
            collatorDescription = "DataCollatorWithFlattening (padding-free, position_ids restart per sequence, first label -100)"
        } else if let resp = config.responseTemplate {
            guard let p = pad else { throw DatasetError.invalidConfig("the completion-only collator pads, but no pad token could be chosen; set pad_token") }
            collator = try CompletionOnlyCollator(responseTemplate: resp.ids(encoder), instructionTemplate: config.instructionTemplate.map { try $0.ids(encoder) },
                                                  padTokenId: p, paddingSide: config.paddingSide, paddingFree: config.paddingFree)
            collatorDescription = "DataCollatorForCompletionOnlyLM (book), response template \(try resp.ids(encoder))" + (config.paddingFree ? ", padding-free" : ", padding side \(config.paddingSide.rawValue)")
        } else {
            guard let p = pad ?? (needsPad ? nil : 0) else { throw DatasetError.invalidConfig("no pad token could be chosen; set pad_token") }
            collator = LanguageModelingCollator(padTokenId: p, paddingFree: paddingFree, padToMultipleOf: config.padToMultipleOf, paddingSide: config.paddingSide)
            collatorDescription = "DataCollatorForLanguageModeling (TRL)" + (paddingFree ? ", padding-free (position_ids restart per sequence)" : ", padding side \(config.paddingSide.rawValue)") + (pad.map { ", pad id \($0)" } ?? "")
        }
        diags += DataValidation.checkExamples(config.packing ? [] : prepared.examples, sourceRows: prepared.sourceRows, dataset: ds)
        diagnostics = diags
        if let c = collator as? CompletionOnlyCollator { diagnostics += try summarizeTemplateSearch(c) }
        let errors = diags.filter { $0.severity == .error }
        if !errors.isEmpty { throw DatasetError.invalidConfig(errors.map(\.message).joined(separator: "\n")) }
    }

    /// Number of batches of `per_device_train_batch_size` examples.
    public var batchCount: Int { (prepared.examples.count + config.perDeviceTrainBatchSize - 1) / config.perDeviceTrainBatchSize }

    /// Batch `i` (consecutive examples, in dataset order).
    public func batch(_ i: Int) throws -> Batch {
        let n = config.perDeviceTrainBatchSize
        guard i >= 0, i < batchCount else { throw DatasetError.invalidArgument("batch \(i) out of range 0..<\(batchCount)") }
        return try collator.collate(Array(prepared.examples[(i * n)..<min((i + 1) * n, prepared.examples.count)]))
    }

    /// The example indices of each batch of an epoch, for a trainer: a seeded permutation per epoch (the
    /// `RandomSampler` role; reproducible, not PyTorch's order), cut into `per_device_train_batch_size` groups.
    public func epochBatchIndices(epoch: Int, seed: UInt64? = nil, shuffle: Bool = true, dropLast: Bool = false) -> [[Int]] {
        let n = prepared.examples.count, bs = config.perDeviceTrainBatchSize
        let order = shuffle ? Dataset.permutation(count: n, seed: (seed ?? config.seed) &+ UInt64(truncatingIfNeeded: epoch) &* 0x9E37_79B9) : Array(0..<n)
        var out: [[Int]] = []
        var s = 0
        while s < n {
            let e = min(s + bs, n)
            if e - s < bs && dropLast { break }
            out.append(Array(order[s..<e]))
            s = e
        }
        return out
    }

    /// Collates the examples at `indices` (see `epochBatchIndices`).
    public func batch(indices: [Int]) throws -> Batch {
        guard !indices.isEmpty, indices.allSatisfy({ $0 >= 0 && $0 < prepared.examples.count }) else {
            throw DatasetError.invalidArgument("batch indices must be non-empty and within 0..<\(prepared.examples.count)")
        }
        return try collator.collate(indices.map { prepared.examples[$0] })
    }

    /// Runs the completion-only collator over every batch once and turns its per-row misses into one
    /// diagnostic per template, naming the examples (file:line) that lost all their labels.
    private func summarizeTemplateSearch(_ c: CompletionOnlyCollator) throws -> [DataDiagnostic] {
        c.resetWarnings()
        var missed: [DataDiagnostic.Code: [String]] = [:]
        var first: [DataDiagnostic.Code: DataDiagnostic] = [:]
        let n = config.perDeviceTrainBatchSize
        for i in 0..<batchCount {
            _ = try batch(i)
            for (w, r) in zip(c.warnings, c.warningRows) {
                let k = i * n + r
                let ref = k < prepared.sourceRows.count ? dataset.origin(of: prepared.sourceRows[k]) : "example \(k)"
                missed[w.code, default: []].append(ref)
                if first[w.code] == nil { first[w.code] = w }
            }
            c.resetWarnings()
        }
        return missed.keys.sorted { $0.rawValue > $1.rawValue }.map { code in
            let refs = missed[code]!
            let what = code == .responseTemplateNotFound ? "response template \(c.responseTemplate)" : "instruction template \(c.instructionTemplate ?? [])"
            return DataDiagnostic(.warning, code, "the \(what) was not found in \(refs.count) of \(prepared.examples.count) example(s) (\(describeRows(refs))); their labels are all -100 (no loss). A template often tokenizes differently inside the text than alone (the book's '### Assistant:' after a newline); give response_template as the token ids it has in context, or make it a single special token.")
        }
    }

    /// Every collated row as the dump writes it. Keys the collator leaves out are derived the way the engine
    /// does: attention_mask = 1 on real tokens; position_ids = positions counted over real tokens (0 on pads).
    public func dumpRows(limit: Int? = nil) throws -> [CollatedRow] {
        var out: [CollatedRow] = []
        for i in 0..<batchCount {
            let b = try batch(i)
            for r in 0..<b.rowCount {
                if let l = limit, out.count >= l { return out }
                out.append(CollatedRow(batch: b, row: r))
            }
        }
        return out
    }

    /// Writes `dumpRows` as JSONL, atomically (temp file + rename). Returns the number of rows written.
    @discardableResult
    public func writeDump(to path: String, limit: Int? = nil) throws -> Int {
        let rows = try dumpRows(limit: limit)
        var s = ""
        for r in rows { s += r.jsonLine + "\n" }
        try atomicWrite(Data(s.utf8), to: path)
        return rows.count
    }

    /// Token, padding and packing statistics over all batches.
    public func statistics() throws -> PackingStatistics {
        var st = PackingStatistics()
        for i in 0..<batchCount {
            let b = try batch(i)
            for r in 0..<b.rowCount {
                let row = CollatedRow(batch: b, row: r)
                st.rows += 1
                st.slots += row.inputIds.count
                let real = row.attentionMask.reduce(0) { $0 + Int($1) }
                st.tokens += real
                st.trainedTokens += row.labels.reduce(0) { $0 + ($1 != ignoreIndex ? 1 : 0) }
                // Sequences = restarts of position_ids among real tokens.
                st.sequences += zip(row.positionIds, row.attentionMask).reduce(0) { $0 + ($1.0 == 0 && $1.1 == 1 ? 1 : 0) }
            }
        }
        st.sequencesCrossRows = config.packing && (config.packingStrategy == .wrapped || config.packingStrategy == .constantLength)
        return st
    }

    /// The `swifttune data preview` text: the set-up, the diagnostics, the first `rows` rows of the first batch
    /// decoded, their labels decoded as `labels[labels >= 0]`, and the statistics.
    public func preview(rows: Int = 2) throws -> String {
        var s = ""
        let b = try batch(0)
        let stats = try statistics()
        s += "dataset: \(loadReport.file) — \(dataset.count) rows, format: \(prepared.format)\n"
        s += "examples: \(prepared.examples.count)\(config.packing ? " packed rows (\(config.packingStrategy.rawValue), max_seq_length \(config.maxSeqLength ?? 0))" : "") in \(batchCount) batch(es) of \(config.perDeviceTrainBatchSize)\n"
        s += "collator: \(collatorDescription)\n"
        s += "tokens: eos \(encoder.eosToken.map { "'\($0)'" } ?? "none") (id \(encoder.eosTokenId.map(String.init) ?? "-")), pad id \(padTokenId.map(String.init) ?? "-")\n"
        for d in diagnostics { s += d.description + "\n" }
        s += "\nfirst batch: \(b.rowCount) row(s) × \(b.sequenceLength) tokens; keys: input_ids, labels\(b.attentionMask != nil ? ", attention_mask" : "")\(b.positionIds != nil ? ", position_ids" : "")\n"
        for r in 0..<min(rows, b.rowCount) {
            let row = CollatedRow(batch: b, row: r)
            s += "\n--- row \(r): \(row.inputIds.count) tokens, \(row.attentionMask.reduce(0) { $0 + Int($1) }) real, \(row.labels.filter { $0 != ignoreIndex }.count) trained ---\n"
            s += "input_ids: \(JSONWriter.intArray(row.inputIds))\n"
            s += "decoded:\n\(encoder.decode(row.inputIds, skipSpecialTokens: false))\n"
            s += "labels: \(JSONWriter.intArray(row.labels))\n"
            s += "labels decoded (labels >= 0):\n\(encoder.decode(row.labels.filter { $0 >= 0 }, skipSpecialTokens: false))\n"
            if b.positionIds != nil { s += "position_ids: \(JSONWriter.intArray(row.positionIds))\n" }
        }
        s += "\n" + stats.description + "\n"
        return s
    }
}

/// One collated row with all four keys (see `DataPipeline.dumpRows`).
public struct CollatedRow: Equatable, Sendable {
    public var inputIds: [Int32]
    public var labels: [Int32]
    public var attentionMask: [Int32]
    public var positionIds: [Int32]

    public init(inputIds: [Int32], labels: [Int32], attentionMask: [Int32], positionIds: [Int32]) {
        self.inputIds = inputIds; self.labels = labels; self.attentionMask = attentionMask; self.positionIds = positionIds
    }

    init(batch b: Batch, row r: Int) {
        inputIds = b.inputIds[r]
        labels = b.labels[r]
        let n = inputIds.count
        if let m = b.attentionMask { attentionMask = m[r] } else {
            // Padding-free rows are only padded at the end (pad_to_multiple_of).
            let real = b.realLength ?? n
            attentionMask = (0..<n).map { $0 < real ? 1 : 0 }
        }
        if let p = b.positionIds { positionIds = p[r] } else {
            var pos: [Int32] = [], c: Int32 = 0
            for t in 0..<n { if attentionMask[t] == 1 { pos.append(c); c += 1 } else { pos.append(0) } }
            positionIds = pos
        }
    }

    /// `{"input_ids": [...], "labels": [...], "attention_mask": [...], "position_ids": [...]}`.
    public var jsonLine: String {
        "{\"input_ids\":\(JSONWriter.intArray(inputIds)),\"labels\":\(JSONWriter.intArray(labels)),\"attention_mask\":\(JSONWriter.intArray(attentionMask)),\"position_ids\":\(JSONWriter.intArray(positionIds))}"
    }
}

/// What `data preview` reports about packing and padding.
public struct PackingStatistics: Equatable, Sendable, CustomStringConvertible {
    public var rows = 0
    /// Row slots including padding.
    public var slots = 0
    /// Real (non-pad) tokens.
    public var tokens = 0
    public var trainedTokens = 0
    /// Sequences (position restarts) over all rows.
    public var sequences = 0
    /// wrapped / constant_length packing: sequences run across rows, so "per row" counts pieces.
    public var sequencesCrossRows = false

    public var paddingPercent: Double { slots == 0 ? 0 : Double(slots - tokens) * 100 / Double(slots) }
    public var sequencesPerRow: Double { rows == 0 ? 0 : Double(sequences) / Double(rows) }

    public var description: String {
        let pct = String(format: "%.1f", paddingPercent)
        let spr = sequencesCrossRows ? "n/a (sequences run across rows, attention crosses examples)" : String(format: "%.2f", sequencesPerRow)
        return "statistics: \(rows) rows, \(tokens) tokens (\(trainedTokens) trained), \(slots) slots, padding \(pct)%, sequences per row \(spr)"
    }
}

/// Writes `data` to `path` through a temporary file in the same folder and a rename.
func atomicWrite(_ data: Data, to path: String) throws {
    let url = URL(fileURLWithPath: path)
    let tmp = url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).tmp-\(ProcessInfo.processInfo.processIdentifier)")
    do {
        try data.write(to: tmp)
        // POSIX rename replaces the destination atomically (Foundation's replaceItemAt is unreliable on Linux).
        guard rename(tmp.path, url.path) == 0 else {
            throw DatasetError.io("\(path): cannot rename the temporary file into place (errno \(errno))")
        }
    } catch {
        try? FileManager.default.removeItem(at: tmp)
        throw DatasetError.io("\(path): cannot write (\(error.localizedDescription))")
    }
}
