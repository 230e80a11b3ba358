import XCTest
@testable import Datasets

/// End-to-end parity with TRL 1.16's SFTTrainer dataset preparation + collators, using the real SmolLM2
/// tokenizer (Tokenizers module) and its ChatML template (ChatTemplates module). Exact integer equality of
/// input_ids, labels, attention_mask and position_ids. Fixtures: scripts/gen_dataset_fixtures.py.
final class TRLParityTests: XCTestCase {
    static let padToken = "<|endoftext|>"   // the fixtures pad with UNK, SwiftTune's fix for SmolLM2's PAD == EOS

    /// Loaded once for the whole class (loading tokenizer.json dominates the debug-build test time).
    nonisolated(unsafe) static var cached: (TokenizerEncoder, TemplateRenderer)?

    func smol() throws -> (TokenizerEncoder, TemplateRenderer) {
        if let c = Self.cached { return c }
        let dir = try TestPaths.requireShared("testdata/tokenizers/smollm2-135m")
        let enc = try TokenizerEncoder(path: dir.path)
        guard let r = try TemplateRenderer(tokenizer: enc.tokenizer) else {
            XCTFail("SmolLM2's chat_template.jinja was not loaded")
            throw DatasetError.io("no chat template")
        }
        Self.cached = (enc, r)
        return (enc, r)
    }

    func yoda() throws -> Dataset {
        try DatasetLoader.load(path: TestPaths.fixtures.appendingPathComponent("yoda32.json").path).0
    }

    func yodaPromptCompletion() throws -> Dataset {
        try yoda().renameColumns([("sentence", "prompt"), ("translation_extra", "completion")]).removeColumns(["translation"])
    }

    func prepare(_ ds: Dataset, renderer: ChatRendering? = nil, formatting: ((Row) throws -> String)? = nil,
                 _ configure: (inout PreparationOptions) -> Void) throws -> PreparedDataset {
        let (enc, r) = try smol()
        var o = PreparationOptions()
        configure(&o)
        return try SFTPreparer(encoder: enc, renderer: renderer ?? r, options: o, formattingFunction: formatting).prepare(ds)
    }

    func check(_ fixture: String, _ prepared: PreparedDataset, paddingFree: Bool = false, padToMultipleOf: Int? = nil,
               file: StaticString = #filePath, line: UInt = #line) throws {
        let f = try TRLFixture(fixture)
        XCTAssertEqual(prepared.examples.count, f.examples.count, fixture, file: file, line: line)
        for (k, (a, b)) in zip(prepared.examples, f.examples).enumerated() where a != b {
            XCTFail("\(fixture): example \(k) differs\n swift: \(a)\n trl:   \(b)", file: file, line: line)
            break
        }
        let (enc, _) = try smol()
        let pad = try DataValidation.resolvePadToken(encoder: enc).id
        XCTAssertEqual(pad, f.padTokenId, "pad id", file: file, line: line)
        let got = try collateAll(LanguageModelingCollator(padTokenId: pad!, paddingFree: paddingFree, padToMultipleOf: padToMultipleOf), prepared.examples)
        XCTAssertEqual(got, f.batches, "\(fixture) batches", file: file, line: line)
    }

    func testConversationalCompletionOnly() throws {
        let p = try prepare(yodaPromptCompletion()) { $0.maxLength = 56 }
        XCTAssertEqual(p.format, .promptCompletion(conversational: true))
        try check("conv_completion_only", p)
        XCTAssertTrue(p.diagnostics.contains { $0.code == .truncated })
    }

    func testConversationalFullLossPadToMultiple() throws {
        try check("conv_full_loss_pad8", try prepare(yodaPromptCompletion()) { $0.maxLength = 64; $0.completionOnlyLoss = false }, padToMultipleOf: 8)
    }

    func testPaddingFree() throws {
        try check("conv_padding_free", try prepare(yodaPromptCompletion()) { $0.maxLength = nil }, paddingFree: true)
    }

    func testKeepEndTruncation() throws {
        try check("conv_keep_end", try prepare(yodaPromptCompletion()) { $0.maxLength = 40; $0.truncationMode = .keepEnd })
    }

    func testPaddingFreePadToMultiple() throws {
        try check("conv_padding_free_pad16", try prepare(yodaPromptCompletion()) { $0.maxLength = nil }, paddingFree: true, padToMultipleOf: 16)
    }

    func testPackingBFDAndWrapped() throws {
        try check("conv_packing_bfd", try prepare(yodaPromptCompletion()) { $0.maxLength = 128; $0.packing = true }, paddingFree: true)
        try check("conv_packing_bfd48", try prepare(yodaPromptCompletion()) { $0.maxLength = 48; $0.packing = true }, paddingFree: true)
        try check("conv_packing_bfd_split48", try prepare(yodaPromptCompletion()) { $0.maxLength = 48; $0.packing = true; $0.packingStrategy = .bfdSplit }, paddingFree: true)
        try check("conv_packing_wrapped", try prepare(yodaPromptCompletion()) { $0.maxLength = 128; $0.packing = true; $0.packingStrategy = .wrapped })
    }

    func testTextPromptCompletion() throws {
        let ds = try yodaPromptCompletion().map { r in
            var r = r; r["completion"] = .string(" " + (r["completion"]?.stringValue ?? "")); return r
        }
        let p = try prepare(ds) { $0.maxLength = 64; $0.promptCompletionAsChat = false }
        XCTAssertEqual(p.format, .promptCompletion(conversational: false))
        try check("text_prompt_completion", p)
    }

    func testFormattingTemplateLanguageModeling() throws {
        let t = try FormattingTemplate("### Question: {{ sentence }}\n### Answer: {{ translation }}")
        let p = try prepare(try yoda(), formatting: { try t.format($0, eosToken: nil, bosToken: nil) }) { $0.maxLength = 64 }
        try check("formatting_func_lm", p)
    }

    func multiturn() throws -> Dataset {
        try DatasetLoader.load(path: TestPaths.fixtures.appendingPathComponent("multiturn.jsonl").path).0
    }

    /// The generation-marked copy of SmolLM2's template used by the fixture generator (TRL requires markers).
    static let markedTemplate = "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n' }}{% endif %}{% if message['role'] == 'assistant' %}{{ '<|im_start|>assistant\n' }}{% generation %}{{ message['content'] + '<|im_end|>' + '\n' }}{% endgeneration %}{% else %}{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}{% endif %}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"

    func testMultiTurnAssistantOnlyWithGenerationMarkers() throws {
        let (_, plain) = try smol()
        let marked = try TemplateRenderer(source: Self.markedTemplate, specialTokens: plain.specialTokens)
        XCTAssertTrue(marked.hasGenerationMarkers)
        try check("multiturn_assistant_only", try prepare(multiturn(), renderer: marked) { $0.maxLength = 96; $0.assistantOnlyLoss = true })
    }

    func testMultiTurnAssistantOnlyByPrefixRendering() throws {
        // SmolLM2's own template has no markers: the prefix-rendering fallback must give the same labels.
        let (_, plain) = try smol()
        XCTAssertFalse(plain.hasGenerationMarkers)
        try check("multiturn_assistant_only", try prepare(multiturn(), renderer: plain) { $0.maxLength = 96; $0.assistantOnlyLoss = true })
    }

    func testMultiTurnFullLoss() throws {
        try check("multiturn_full_loss", try prepare(multiturn()) { $0.maxLength = nil })
    }

    func testToolsColumnReachesTheTemplate() throws {
        let (_, plain) = try smol()
        let doc = try JSONParser.parse(bytes: [UInt8](try Data(contentsOf: TestPaths.fixtures.appendingPathComponent("tools_template.json"))))
        let r = try TemplateRenderer(source: doc["template"]!.stringValue!, specialTokens: plain.specialTokens)
        let ds = try DatasetLoader.load(path: TestPaths.fixtures.appendingPathComponent("tools.jsonl").path).0
        try check("tools_full_loss", try prepare(ds, renderer: r) { $0.maxLength = nil })
    }

    func testFlatteningOnPreparedExamples() throws {
        let p = try prepare(yodaPromptCompletion()) { $0.maxLength = nil; $0.completionOnlyLoss = false }
        let f = try TRLFixture("flattening")
        XCTAssertEqual(try collateAll(FlatteningCollator(), p.examples), f.batches)
    }

    func testBookResponseTemplateCollatorEqualsTRLCompletionMask() throws {
        // The book's collator searching "<|im_start|>assistant\n" in fully-labelled rows masks exactly what TRL's
        // prompt/completion preparation masks (padding-free, so padding side plays no part).
        let (enc, _) = try smol()
        let full = try TRLFixture("flattening").examples          // no max_length, labels = input_ids
        let trl = try TRLFixture("conv_padding_free")              // no max_length, completion-only labels
        let c = try CompletionOnlyCollator.make(responseTemplate: "<|im_start|>assistant\n", encoder: enc, padTokenId: 0, paddingFree: true)
        XCTAssertEqual(c.responseTemplate, [1, 520, 9531, 198])
        XCTAssertEqual(try collateAll(c, full), trl.batches)
        XCTAssertTrue(c.warnings.isEmpty)
    }

    func testParallelPreparationEqualsSerial() throws {
        let full = try DatasetLoader.load(path: try TestPaths.requireShared("datasets/yoda/train.jsonl").path).0
            .renameColumns([("sentence", "prompt"), ("translation_extra", "completion")])
        let a = try prepare(full) { $0.maxLength = 64 }
        let b = try prepare(full) { $0.maxLength = 64; $0.parallel = false }
        XCTAssertEqual(a.examples.count, 600)
        XCTAssertEqual(a.examples, b.examples)
        XCTAssertEqual(a.sourceRows, b.sourceRows)
        XCTAssertEqual(a.diagnostics, b.diagnostics)
    }

    func testLabelsDecodeToCompletionWithEOS() throws {
        let (enc, _) = try smol()
        let p = try prepare(yodaPromptCompletion()) { $0.maxLength = 1024 }
        let trained = p.examples[0].labels.filter { $0 >= 0 }
        XCTAssertEqual(enc.decode(trained, skipSpecialTokens: false), "Into fine ribbons, slash the gold cloth you must. Mmm.<|im_end|>\n")
        XCTAssertFalse(p.diagnostics.contains { $0.code == .missingEOS })
    }
}
