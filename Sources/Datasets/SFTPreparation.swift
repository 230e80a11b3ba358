import Foundation

/// `truncation_mode` of TRL's SFTConfig.
public enum TruncationMode: String, Codable, Sendable { case keepStart = "keep_start", keepEnd = "keep_end" }

/// One tokenized training example: `labels` is -100 where no loss is taken. `seqLengths` is set on packed rows
/// (the lengths of the sequences packed into it, in order).
public struct TokenizedExample: Equatable, Sendable {
    public var inputIds: [Int32]
    public var labels: [Int32]
    public var seqLengths: [Int]?

    public init(inputIds: [Int32], labels: [Int32]? = nil, seqLengths: [Int]? = nil) {
        self.inputIds = inputIds; self.labels = labels ?? inputIds; self.seqLengths = seqLengths
    }
}

/// The label value that the loss ignores (PyTorch's `CrossEntropyLoss(ignore_index=-100)`).
public let ignoreIndex: Int32 = -100

/// Options of SFT dataset preparation (TRL `SFTConfig` names in comments).
public struct PreparationOptions: Sendable {
    /// `max_length` (TRL default 1024); nil = no truncation. Required when packing.
    public var maxLength: Int? = 1024
    public var truncationMode: TruncationMode = .keepStart
    public var packing = false
    public var packingStrategy: PackingStrategy = .bfd
    /// nil = TRL's default: true for prompt-completion data, false otherwise.
    public var completionOnlyLoss: Bool? = nil
    public var assistantOnlyLoss = false
    public var datasetTextField = "text"
    /// Render string prompt/completion rows through the chat template as a user/assistant exchange (as the book's
    /// TRL did). false = TRL 1.x text semantics: `prompt + completion + eos`, no template.
    public var promptCompletionAsChat = true
    /// `shuffle_dataset` + `seed`: shuffle before packing and at the end.
    public var shuffleDataset = false
    public var seed: UInt64 = 42
    /// Tokenize rows on all cores (the tokenizer and template are thread-safe); results are identical either way.
    public var parallel = true

    public init() {}
}

/// What preparing one row produced.
struct RowOutcome {
    var example: TokenizedExample?
    var issue: RecordIssue?
    var notPrefix = false
    var noEOS = false
    var empty = false
    var doubled = 0
    var unknownRoles: [String] = []
}

/// The result of preparation: examples ready for a collator, with what was found on the way.
public struct PreparedDataset: Sendable {
    public var examples: [TokenizedExample]
    public var format: DatasetFormat
    public var diagnostics: [DataDiagnostic]
    /// For each example (before packing), the dataset row it came from.
    public var sourceRows: [Int]
}

/// TRL 1.x `SFTTrainer._prepare_dataset` in Swift: format → tokenize (through the chat template) → labels
/// (completion-only / assistant-only) → truncate → pack.
public struct SFTPreparer {
    public var encoder: TextEncoding
    public var renderer: ChatRendering?
    public var options: PreparationOptions
    /// Python's `formatting_func`: a row → its training text (turns any row into language modelling).
    /// Called concurrently from several threads when `options.parallel` is on: it must not mutate shared state.
    public var formattingFunction: ((Row) throws -> String)?

    public init(encoder: TextEncoding, renderer: ChatRendering?, options: PreparationOptions = PreparationOptions(),
                formattingFunction: ((Row) throws -> String)? = nil) {
        self.encoder = encoder; self.renderer = renderer; self.options = options; self.formattingFunction = formattingFunction
    }

    public func prepare(_ dataset: Dataset) throws -> PreparedDataset {
        guard let first = dataset.rows.first else { throw DatasetError.invalidArgument("the dataset is empty (0 rows)") }
        var diagnostics: [DataDiagnostic] = []
        var format: DatasetFormat
        if formattingFunction != nil {
            format = .languageModeling(textField: options.datasetTextField)
        } else {
            format = try DatasetFormat.detect(first, textField: options.datasetTextField)
        }
        let isPromptCompletion: Bool
        if case .promptCompletion = format { isPromptCompletion = true } else { isPromptCompletion = false }
        let completionOnly = options.completionOnlyLoss ?? isPromptCompletion
        if completionOnly && formattingFunction != nil && options.completionOnlyLoss == true {
            throw DatasetError.invalidConfig("completion_only_loss: true cannot be combined with a formatting function/template: formatting turns every row into plain text, so there is no completion to isolate. Remove completion_only_loss, or give prompt/completion columns instead of a template.")
        }
        if options.packing && options.maxLength == nil {
            throw DatasetError.invalidConfig("packing: true needs max_seq_length (max_length): packed rows are cut to that length. Set e.g. max_seq_length: 1024.")
        }
        let chatPC = isPromptCompletion && options.promptCompletionAsChat && renderer != nil
        if options.assistantOnlyLoss {
            let conv: Bool
            switch format {
            case .conversational: conv = true
            case .promptCompletion(let c): conv = c || chatPC
            default: conv = false
            }
            guard conv else {
                throw DatasetError.invalidConfig("assistant_only_loss: true needs conversational data (a 'messages' column or message-list prompt/completion); this dataset is \(format). Use completion_only_loss with prompt/completion columns instead.")
            }
        }
        if case .promptCompletion(true) = format, renderer == nil {
            throw DatasetError.invalidConfig("the dataset is conversational but the model has no chat template; set chat_template (e.g. a ChatML template) before training")
        }
        if case .conversational = format, renderer == nil {
            throw DatasetError.invalidConfig("the dataset is conversational but the model has no chat template; set chat_template (e.g. a ChatML template) before training")
        }
        if case .promptCompletion(false) = format, chatPC { format = .promptCompletion(conversational: true) }

        let eosToken = encoder.eosToken
        let eosId = encoder.eosTokenId
        var examples: [TokenizedExample] = []
        var sources: [Int] = []
        var issues: [RecordIssue] = []
        var noEOSRows: [String] = [], notPrefixRows: [String] = [], emptyRows: [String] = [], doubled = 0
        var unknownRoles = Set<String>()
        examples.reserveCapacity(dataset.count)

        func issue(_ i: Int, _ field: String?, _ message: String) -> RecordIssue {
            return (RecordIssue(file: dataset.sourceFile ?? "dataset", line: dataset.sourceLines[i] > 0 ? dataset.sourceLines[i] : i + 1,
                                      field: field, message: message + (dataset.sourceLines[i] > 0 ? "" : " (row \(i))")))
        }

        // One row → its outcome; pure apart from the encoder/renderer, which are thread-safe, so rows run in parallel.
        func process(_ i: Int) -> RowOutcome {
            let row = dataset.rows[i]
            var out = RowOutcome()
            do {
                var ids: [Int32]
                var completionMask: [Bool]? = nil
                var assistantMask: [Bool]? = nil
                switch format {
                case .tokenized:
                    ids = try intArray(row["input_ids"], field: "input_ids")
                    if row["labels"] != nil {
                        let l = try intArray(row["labels"], field: "labels")
                        guard l.count == ids.count else { throw MessageIssue(field: "labels", message: "\(l.count) labels for \(ids.count) input_ids") }
                        out.example = TokenizedExample(inputIds: ids, labels: l)
                        return out
                    }
                case .languageModeling(let field):
                    var text: String
                    if let f = formattingFunction { text = try f(row) } else {
                        guard let v = row[field] else { throw MessageIssue(field: field, message: "missing (the dataset is language modelling on '\(field)')") }
                        guard let s = v.stringValue else { throw MessageIssue(field: field, message: "expected a string, found \(v.typeName)") }
                        text = s
                    }
                    if let e = eosToken, !text.hasSuffix(e) { text += e }
                    ids = try encodeNoDoubles(text, doubled: &out.doubled)
                case .conversational:
                    let key = row["messages"] != nil ? "messages" : "conversations"
                    let msgs = try parseMessages(row[key], field: key)
                    for m in msgs where !knownChatRoles.contains(m.role) { out.unknownRoles.append(m.role) }
                    let tools = try toolList(row["tools"])
                    let r = try renderer!.render(messages: msgs, tools: tools, addGenerationPrompt: false)
                    ids = try encoder.encode(r, addSpecialTokens: false)
                    if options.assistantOnlyLoss { assistantMask = try assistantTokenMask(msgs, tools: tools, fullIds: ids) }
                case .promptCompletion(let conversational):
                    if conversational {
                        let p: [ChatMessage], c: [ChatMessage]
                        if row["prompt"]?.stringValue != nil || row["completion"]?.stringValue != nil {
                            guard let ps = row["prompt"]?.stringValue else { throw MessageIssue(field: "prompt", message: "expected a string like the other rows, found \(row["prompt"]?.typeName ?? "nothing")") }
                            guard let cs = row["completion"]?.stringValue else { throw MessageIssue(field: "completion", message: "expected a string like the other rows, found \(row["completion"]?.typeName ?? "nothing")") }
                            p = [ChatMessage(role: "user", content: ps)]
                            c = [ChatMessage(role: "assistant", content: cs)]
                        } else {
                            p = try parseMessages(row["prompt"], field: "prompt")
                            c = try parseMessages(row["completion"], field: "completion")
                        }
                        for m in p + c where !knownChatRoles.contains(m.role) { out.unknownRoles.append(m.role) }
                        let tools = try toolList(row["tools"])
                        let promptIds = try encoder.encode(renderer!.render(messages: p, tools: tools, addGenerationPrompt: true), addSpecialTokens: false)
                        ids = try encoder.encode(renderer!.render(messages: p + c, tools: tools, addGenerationPrompt: false), addSpecialTokens: false)
                        let n = commonPrefixLength(promptIds, ids)
                        if n < promptIds.count { out.notPrefix = true }
                        completionMask = Array(repeating: false, count: n) + Array(repeating: true, count: ids.count - n)
                        if options.assistantOnlyLoss { assistantMask = try assistantTokenMask(p + c, tools: tools, fullIds: ids) }
                    } else {
                        guard let ps = row["prompt"]?.stringValue else { throw MessageIssue(field: "prompt", message: "expected a string, found \(row["prompt"]?.typeName ?? "nothing")") }
                        guard var cs = row["completion"]?.stringValue else { throw MessageIssue(field: "completion", message: "expected a string, found \(row["completion"]?.typeName ?? "nothing")") }
                        if let e = eosToken, !cs.hasSuffix(e) { cs += e }
                        var ignored = 0
                        let promptIds = try encodeNoDoubles(ps, doubled: &ignored)
                        ids = try encodeNoDoubles(ps + cs, doubled: &out.doubled)
                        let n = commonPrefixLength(promptIds, ids)
                        if n < promptIds.count { out.notPrefix = true }
                        completionMask = Array(repeating: false, count: n) + Array(repeating: true, count: ids.count - n)
                    }
                }
                if ids.isEmpty { out.empty = true; return out }
                var labels = ids
                for t in 0..<ids.count {
                    if completionOnly, let m = completionMask, !m[t] { labels[t] = ignoreIndex }
                    if let m = assistantMask, !m[t] { labels[t] = ignoreIndex }
                }
                if let m = assistantMask, !m.contains(true) {
                    throw MessageIssue(field: "messages", message: "assistant_only_loss is on but no token of this conversation belongs to an assistant turn (no assistant message, or the chat template renders none); add an assistant reply or turn assistant_only_loss off")
                }
                if let e = eosId, !labels.contains(e) { out.noEOS = true }
                out.example = TokenizedExample(inputIds: ids, labels: labels)
            } catch let m as MessageIssue {
                out.issue = issue(i, m.field, m.message)
            } catch let e as DatasetError {
                out.issue = issue(i, nil, e.description)
            } catch {
                out.issue = issue(i, nil, "\(error)")
            }
            return out
        }

        var outcomes = [RowOutcome](repeating: RowOutcome(), count: dataset.count)
        let chunks = options.parallel ? min(ProcessInfo.processInfo.activeProcessorCount * 4, max(1, dataset.count / 16)) : 1
        outcomes.withUnsafeMutableBufferPointer { buf in
            let n = dataset.count
            DispatchQueue.concurrentPerform(iterations: chunks) { c in
                for i in (c * n / chunks)..<((c + 1) * n / chunks) { buf[i] = process(i) }
            }
        }
        for (i, o) in outcomes.enumerated() {
            if let iss = o.issue { issues.append(iss); continue }
            doubled += o.doubled
            unknownRoles.formUnion(o.unknownRoles)
            if o.notPrefix { notPrefixRows.append(dataset.origin(of: i)) }
            if o.empty { emptyRows.append(dataset.origin(of: i)); continue }
            if o.noEOS { noEOSRows.append(dataset.origin(of: i)) }
            if let e = o.example { examples.append(e); sources.append(i) }
        }

        if !issues.isEmpty {
            throw DatasetError.malformedRecords(issues, hint: "Fix these rows (or filter them out) so every row matches the \(format) format.")
        }
        if !unknownRoles.isEmpty {
            diagnostics.append(DataDiagnostic(.warning, .unknownRole, "roles \(unknownRoles.sorted()) are not system/user/assistant/tool; the chat template may drop or reject them. Map them to a standard role (e.g. 'human' → 'user')."))
        }
        if options.assistantOnlyLoss {
            let marked = (renderer as? GenerationMarkedRendering)?.hasGenerationMarkers == true && encoder is OffsetEncoding
            if !marked {
                diagnostics.append(DataDiagnostic(.info, .assistantMaskFallback, "the chat template has no {% generation %} markers (or the tokenizer gives no offsets): assistant tokens were found by rendering each conversation prefix, i.e. each assistant turn's content and end-of-turn tokens are trained. Add {% generation %}…{% endgeneration %} around the assistant output in the template to control this exactly."))
            }
        }
        if doubled > 0 {
            diagnostics.append(DataDiagnostic(.info, .doubledSpecialToken, "\(doubled) example(s) already contained the BOS/EOS that the tokenizer adds; the duplicate was removed. Leave BOS/EOS out of the text (EOS is appended for you)."))
        }
        if !notPrefixRows.isEmpty {
            diagnostics.append(DataDiagnostic(.warning, .promptNotPrefix, "the tokenized prompt is not a prefix of the tokenized prompt+completion in \(notPrefixRows.count) example(s) (\(describeRows(notPrefixRows))): the chat template renders the prompt differently alone, or tokens merge across the boundary. The completion starts where they diverge. End the prompt on a token boundary or use a template that renders the prompt the same way in both cases."))
        }
        if !emptyRows.isEmpty {
            diagnostics.append(DataDiagnostic(.warning, .emptyExample, "\(emptyRows.count) example(s) tokenized to nothing and were dropped (\(describeRows(emptyRows))). Remove empty rows from the dataset."))
        }
        if !noEOSRows.isEmpty && !options.packing {
            diagnostics.append(DataDiagnostic(.warning, .missingEOS, "\(noEOSRows.count) example(s) have no trained EOS token '\(eosToken ?? "?")' (\(describeRows(noEOSRows))): the model will not learn to stop. The chat template should end each assistant turn with EOS, or a formatting template should end with {{ eos_token }}."))
        }

        // Truncation (not when packing: packing cuts to max_length itself).
        if let maxLen = options.maxLength, !options.packing {
            var truncated: [String] = [], allMasked: [String] = []
            var kept: [TokenizedExample] = [], keptSources: [Int] = []
            for (k, var e) in examples.enumerated() {
                if e.inputIds.count > maxLen {
                    truncated.append(dataset.origin(of: sources[k]))
                    switch options.truncationMode {
                    case .keepStart: e.inputIds = Array(e.inputIds.prefix(maxLen)); e.labels = Array(e.labels.prefix(maxLen))
                    case .keepEnd: e.inputIds = Array(e.inputIds.suffix(maxLen)); e.labels = Array(e.labels.suffix(maxLen))
                    }
                }
                if !e.labels.contains(where: { $0 != ignoreIndex }) { allMasked.append(dataset.origin(of: sources[k])); continue }
                kept.append(e); keptSources.append(sources[k])
            }
            if !truncated.isEmpty {
                diagnostics.append(DataDiagnostic(.info, .truncated, "\(truncated.count) example(s) were longer than max_seq_length \(maxLen) and were truncated (\(options.truncationMode.rawValue)) (\(describeRows(truncated))); a truncated completion loses its EOS. Raise max_seq_length if the model's context allows."))
            }
            if !allMasked.isEmpty {
                diagnostics.append(DataDiagnostic(.warning, .allMaskedExample, "\(allMasked.count) example(s) had no trained token left (every label -100) and were dropped (\(describeRows(allMasked))): the prompt alone fills max_seq_length \(maxLen), or there is no completion. Raise max_seq_length or shorten the prompts."))
            }
            examples = kept; sources = keptSources
        }
        if examples.isEmpty {
            throw DatasetError.invalidArgument("no trainable example is left after preparation (see the warnings: \(diagnostics.map(\.message).joined(separator: " | ")))")
        }
        if options.packing, let maxLen = options.maxLength {
            if options.shuffleDataset {
                let perm = Dataset.permutation(count: examples.count, seed: options.seed)
                examples = perm.map { examples[$0] }; sources = perm.map { sources[$0] }
            }
            examples = try Packing.pack(examples, seqLength: maxLen, strategy: options.packingStrategy, eosTokenId: eosId)
        }
        return PreparedDataset(examples: examples, format: format, diagnostics: diagnostics, sourceRows: sources)
    }

    /// Encodes with special tokens, removing a BOS/EOS the text already had next to the one the tokenizer adds.
    private func encodeNoDoubles(_ text: String, doubled: inout Int) throws -> [Int32] {
        var ids = try encoder.encode(text, addSpecialTokens: true)
        if let b = encoder.bosTokenId, ids.count >= 2, ids[0] == b, ids[1] == b { ids.removeFirst(); doubled += 1 }
        if let e = encoder.eosTokenId, ids.count >= 2, ids[ids.count - 1] == e, ids[ids.count - 2] == e,
           let plain = try? encoder.encode(text, addSpecialTokens: false), plain.last == e, plain.count < ids.count {
            ids.removeLast(); doubled += 1
        }
        return ids
    }

    /// Which tokens belong to assistant turns, by rendering prefixes: the span of assistant message i is what
    /// `render(messages[...i])` adds to `render(messages[..<i], add_generation_prompt: true)`, i.e. the content and
    /// its end-of-turn tokens — what a `{% generation %}` block around them marks in TRL's training templates.
    ///
    /// When the template has `{% generation %}` markers and the tokenizer reports offsets, the mask is
    /// transformers' `return_assistant_tokens_mask`: every token overlapping a generation range.
    func assistantTokenMask(_ msgs: [ChatMessage], tools: [JSONValue]? = nil, fullIds: [Int32]) throws -> [Bool] {
        var mask = Array(repeating: false, count: fullIds.count)
        guard let renderer else { return mask }
        if let marked = renderer as? GenerationMarkedRendering, marked.hasGenerationMarkers, let enc = encoder as? OffsetEncoding {
            let (text, spans) = try marked.renderWithGenerationRanges(messages: msgs, tools: tools, addGenerationPrompt: false)
            let (ids, offsets) = try enc.encodeWithOffsets(text, addSpecialTokens: false)
            guard ids == fullIds else { throw MessageIssue(field: "messages", message: "the chat template rendered differently on a second call (non-deterministic template?)") }
            var k = 0
            for (t, off) in offsets.enumerated() {
                while k < spans.count, off.lowerBound >= spans[k].upperBound { k += 1 }
                if k == spans.count { break }
                if off.upperBound > spans[k].lowerBound { mask[t] = true }
            }
            return mask
        }
        for (i, m) in msgs.enumerated() where m.role == "assistant" {
            let before = try encoder.encode(renderer.render(messages: Array(msgs[..<i]), tools: tools, addGenerationPrompt: true), addSpecialTokens: false)
            let through = try encoder.encode(renderer.render(messages: Array(msgs[...i]), tools: tools, addGenerationPrompt: false), addSpecialTokens: false)
            let start = commonPrefixLength(before, fullIds)
            let end = commonPrefixLength(through, fullIds)
            if start < end { for t in start..<end { mask[t] = true } }
        }
        return mask
    }

    /// A row's `tools` column: a list of function schemas, or that list as a JSON string (TRL accepts both).
    private func toolList(_ v: JSONValue?) throws -> [JSONValue]? {
        switch v {
        case nil, .null?: return nil
        case .array(let a)?: return a
        case .string(let s)?:
            guard let parsed = try? JSONParser.parse(s), let a = parsed.arrayValue else {
                throw MessageIssue(field: "tools", message: "expected a list of tool schemas (or that list as a JSON string)")
            }
            return a
        case let x?: throw MessageIssue(field: "tools", message: "expected a list of tool schemas, found \(x.typeName)")
        }
    }

    private func intArray(_ v: JSONValue?, field: String) throws -> [Int32] {
        guard let a = v?.arrayValue else { throw MessageIssue(field: field, message: "expected a list of token ids, found \(v?.typeName ?? "nothing")") }
        var out: [Int32] = []
        out.reserveCapacity(a.count)
        for (k, x) in a.enumerated() {
            guard let n = x.intValue, n >= Int(Int32.min), n <= Int(Int32.max) else {
                throw MessageIssue(field: "\(field)[\(k)]", message: "expected an integer token id, found \(x.typeName)")
            }
            out.append(Int32(n))
        }
        return out
    }
}

/// Number of leading tokens two sequences share (TRL `common_prefix_length`).
public func commonPrefixLength(_ a: [Int32], _ b: [Int32]) -> Int {
    var n = 0
    while n < a.count, n < b.count, a[n] == b[n] { n += 1 }
    return n
}
