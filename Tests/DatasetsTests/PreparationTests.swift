import XCTest
@testable import Datasets

/// SFT preparation semantics on a character-level fake tokenizer (exact expectations computed by hand).
final class PreparationTests: XCTestCase {
    let enc = FakeEncoder()
    func ids(_ s: String) -> [Int32] { try! enc.encode(s, addSpecialTokens: false) }
    func rows(_ json: String) throws -> Dataset { try DatasetLoader.load(data: Array(json.utf8), name: "t.jsonl", format: .jsonl).0 }
    func prep(_ ds: Dataset, _ configure: (inout PreparationOptions) -> Void = { _ in }, renderer: ChatRendering? = FakePhi3Renderer(),
              formatting: ((Row) throws -> String)? = nil) throws -> PreparedDataset {
        var o = PreparationOptions()
        configure(&o)
        return try SFTPreparer(encoder: enc, renderer: renderer, options: o, formattingFunction: formatting).prepare(ds)
    }

    func testFormatDetection() throws {
        XCTAssertEqual(try DatasetFormat.detect(Row([("messages", .array([.object(JSONObject([("role", .string("user")), ("content", .string("x"))]))]))])), .conversational)
        XCTAssertEqual(try DatasetFormat.detect(Row([("prompt", .string("a")), ("completion", .string("b")), ("extra", .int(1))])), .promptCompletion(conversational: false))
        XCTAssertEqual(try DatasetFormat.detect(Row([("text", .string("a"))])), .languageModeling(textField: "text"))
        XCTAssertEqual(try DatasetFormat.detect(Row([("body", .string("a"))]), textField: "body"), .languageModeling(textField: "body"))
        XCTAssertThrowsError(try DatasetFormat.detect(Row([("sentence", .string("a"))]))) { e in
            let m = "\(e)"
            XCTAssertTrue(m.contains("cannot tell the dataset format from the columns [\"sentence\"]"), m)
            XCTAssertTrue(m.contains("formatting_template"), m)
        }
        XCTAssertThrowsError(try DatasetFormat.detect(Row([("prompt", .string("a"))]))) { e in XCTAssertTrue("\(e)".contains("no 'completion' column")) }
    }

    func testInstructionRowsBecomeConversationsWithCompletionOnlyLabels() throws {
        let ds = try rows("{\"prompt\": \"Hi\", \"completion\": \"Yo\"}\n")
        let p = try prep(ds)
        XCTAssertEqual(p.format, .promptCompletion(conversational: true))
        let full = "<|user|>\nHi<|end|>\n<|assistant|>\nYo<|end|>\n</s>"
        XCTAssertEqual(p.examples[0].inputIds, ids(full))
        let promptLen = ids("<|user|>\nHi<|end|>\n<|assistant|>\n").count
        XCTAssertEqual(p.examples[0].labels, Array(repeating: ignoreIndex, count: promptLen) + ids("Yo<|end|>\n</s>"))
        // completion_only_loss: false trains on everything.
        XCTAssertEqual(try prep(ds) { $0.completionOnlyLoss = false }.examples[0].labels, ids(full))
    }

    func testTextPromptCompletionAddsEOSOnce() throws {
        let ds = try rows("{\"prompt\": \"Q\", \"completion\": \" A\"}\n{\"prompt\": \"Q\", \"completion\": \" B</s>\"}\n")
        let p = try prep(ds) { $0.promptCompletionAsChat = false }
        XCTAssertEqual(p.format, .promptCompletion(conversational: false))
        XCTAssertEqual(p.examples[0].inputIds, ids("Q A</s>"))
        XCTAssertEqual(p.examples[0].labels, [ignoreIndex] + ids(" A</s>"))
        XCTAssertEqual(p.examples[1].inputIds, ids("Q B</s>"))   // not "</s></s>"
    }

    func testNoDoubledBOSOrEOSWhenTokenizerAddsThem() throws {
        var e = FakeEncoder(); e.addsBOS = true; e.addsEOS = true
        let ds = try rows("{\"text\": \"<s>abc\"}\n{\"text\": \"xyz</s>\"}\n")
        let p = try SFTPreparer(encoder: e, renderer: nil).prepare(ds)
        XCTAssertEqual(p.examples[0].inputIds, [1] + ids("abc</s>"))
        XCTAssertEqual(p.examples[1].inputIds, [1] + ids("xyz</s>"))
        XCTAssertTrue(p.diagnostics.contains { $0.code == .doubledSpecialToken })
    }

    func testLanguageModelingAndFormattingTemplate() throws {
        let ds = try rows("{\"sentence\": \"S\", \"translation\": \"T\"}\n")
        let t = try FormattingTemplate("### Question: {{ sentence }}\n### Answer: {{translation}}")
        XCTAssertEqual(t.columns, ["sentence", "translation"])
        let p = try prep(ds, formatting: { try t.format($0, eosToken: "</s>", bosToken: nil) })
        XCTAssertEqual(p.format, .languageModeling(textField: "text"))
        XCTAssertEqual(p.examples[0].inputIds, ids("### Question: S\n### Answer: T</s>"))
        XCTAssertEqual(p.examples[0].labels, p.examples[0].inputIds)
        XCTAssertThrowsError(try FormattingTemplate("{{ a ")) { e in XCTAssertTrue("\(e)".contains("without a closing")) }
        XCTAssertThrowsError(try FormattingTemplate("{{ a | upper }}")) { e in XCTAssertTrue("\(e)".contains("not a column name")) }
        XCTAssertThrowsError(try prep(ds, { $0.completionOnlyLoss = true }, formatting: { try t.format($0, eosToken: nil, bosToken: nil) })) { e in
            XCTAssertTrue("\(e)".contains("completion_only_loss: true cannot be combined with a formatting function"), "\(e)")
        }
    }

    func testAssistantOnlyLossMultiTurn() throws {
        let ds = try rows(#"{"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}, {"role": "user", "content": "c"}, {"role": "assistant", "content": "d"}]}"# + "\n")
        let p = try prep(ds, { $0.assistantOnlyLoss = true }, renderer: FakeChatMLRenderer())
        let e = p.examples[0]
        XCTAssertEqual(e.inputIds, ids("<|user|>\na</s>\n<|assistant|>\nb</s>\n<|user|>\nc</s>\n<|assistant|>\nd</s>\n"))
        let trained = e.labels.filter { $0 != ignoreIndex }
        XCTAssertEqual(trained, ids("b</s>\n") + ids("d</s>\n"))   // every assistant turn, with its end-of-turn
        XCTAssertEqual(enc.decode(trained, skipSpecialTokens: false), "b</s>\nd</s>\n")
        // Without assistant_only_loss a conversation trains on everything.
        XCTAssertEqual(try prep(ds, renderer: FakeChatMLRenderer()).examples[0].labels, e.inputIds)
    }

    func testAssistantOnlyLossErrors() throws {
        let text = try rows("{\"text\": \"abc\"}\n")
        XCTAssertThrowsError(try prep(text) { $0.assistantOnlyLoss = true }) { e in XCTAssertTrue("\(e)".contains("assistant_only_loss: true needs conversational data"), "\(e)") }
        let noAssistant = try rows(#"{"messages": [{"role": "user", "content": "a"}]}"# + "\n")
        XCTAssertThrowsError(try prep(noAssistant, { $0.assistantOnlyLoss = true }, renderer: FakeChatMLRenderer())) { e in
            XCTAssertTrue("\(e)".contains("t.jsonl:1 field 'messages': assistant_only_loss is on but no token"), "\(e)")
        }
    }

    func testBadMessagesReportFileLineAndField() throws {
        let ds = try rows("""
            {"messages": [{"role": "user", "content": "ok"}]}
            {"messages": [{"role": "user"}]}
            {"messages": "hello"}
            {"messages": [{"role": 3, "content": "x"}]}

            """)
        XCTAssertThrowsError(try prep(ds)) { e in
            let m = "\(e)"
            XCTAssertTrue(m.contains("t.jsonl:2 field 'messages[0].content': missing"), m)
            XCTAssertTrue(m.contains("t.jsonl:3 field 'messages': expected a list of messages, found a string"), m)
            XCTAssertTrue(m.contains("t.jsonl:4 field 'messages[0].role': expected a string, found a number"), m)
        }
    }

    func testBadToolsColumn() throws {
        let ds = try rows(#"{"messages": [{"role": "user", "content": "a"}], "tools": "not json"}"# + "\n" + #"{"messages": [{"role": "user", "content": "a"}], "tools": 5}"# + "\n")
        XCTAssertThrowsError(try prep(ds, renderer: FakeChatMLRenderer())) { e in
            let m = "\(e)"
            XCTAssertTrue(m.contains("t.jsonl:1 field 'tools': expected a list of tool schemas (or that list as a JSON string)"), m)
            XCTAssertTrue(m.contains("t.jsonl:2 field 'tools': expected a list of tool schemas, found a number"), m)
        }
    }

    func testShareGPTConversationsAreConverted() throws {
        let ds = try rows(#"{"conversations": [{"from": "human", "value": "a"}, {"from": "gpt", "value": "b"}]}"# + "\n")
        let p = try prep(ds, renderer: FakeChatMLRenderer())
        XCTAssertEqual(p.examples[0].inputIds, ids("<|user|>\na</s>\n<|assistant|>\nb</s>\n"))
    }

    func testTruncationAndAllMaskedDrop() throws {
        let ds = try rows("{\"prompt\": \"a long prompt here\", \"completion\": \"x\"}\n{\"prompt\": \"p\", \"completion\": \"yy\"}\n")
        let p = try prep(ds) { $0.maxLength = 18; $0.promptCompletionAsChat = false }
        // Row 1 ("a long prompt herex</s>", 20 tokens) keeps only prompt tokens → dropped; row 2 survives.
        XCTAssertEqual(p.examples.count, 1)
        XCTAssertEqual(p.examples[0].inputIds, ids("pyy</s>"))
        let masked = p.diagnostics.first { $0.code == .allMaskedExample }
        XCTAssertNotNil(masked)
        guard let masked else { return }
        XCTAssertTrue(masked.message.contains("t.jsonl:1"), masked.message)
        XCTAssertTrue(masked.message.contains("Raise max_seq_length"), masked.message)
        let kept = try prep(ds) { $0.maxLength = 18; $0.promptCompletionAsChat = false; $0.truncationMode = .keepEnd }
        XCTAssertEqual(kept.examples.count, 2)
        XCTAssertEqual(kept.examples[0].inputIds, Array(ids("a long prompt herex</s>").suffix(18)))
        XCTAssertTrue(kept.diagnostics.contains { $0.code == .truncated })
    }

    func testMissingEOSWarning() throws {
        // A template that never emits EOS and a tokenizer whose EOS differs from the end-of-turn marker.
        struct NoEOS: ChatRendering {
            func render(messages: [ChatMessage], addGenerationPrompt: Bool) throws -> String {
                messages.map { "<|\($0.role)|>\($0.content)<|end|>" }.joined() + (addGenerationPrompt ? "<|assistant|>" : "")
            }
        }
        let ds = try rows("{\"prompt\": \"q\", \"completion\": \"a\"}\n")
        let p = try prep(ds, renderer: NoEOS())
        let d = p.diagnostics.first { $0.code == .missingEOS }
        XCTAssertTrue(d?.message.contains("the model will not learn to stop") == true, "\(p.diagnostics)")
    }

    func testPackingRequiresMaxLength() throws {
        let ds = try rows("{\"text\": \"abc\"}\n")
        XCTAssertThrowsError(try prep(ds) { $0.packing = true; $0.maxLength = nil }) { e in XCTAssertTrue("\(e)".contains("packing: true needs max_seq_length")) }
    }

    func testPreTokenizedRowsPassThrough() throws {
        let ds = try rows("{\"input_ids\": [5, 6, 7], \"labels\": [-100, 6, 7]}\n{\"input_ids\": [8]}\n")
        let p = try prep(ds)
        XCTAssertEqual(p.format, .tokenized)
        XCTAssertEqual(p.examples, [TokenizedExample(inputIds: [5, 6, 7], labels: [-100, 6, 7]), TokenizedExample(inputIds: [8])])
        let bad = try rows("{\"input_ids\": [5, \"x\"]}\n")
        XCTAssertThrowsError(try prep(bad)) { e in XCTAssertTrue("\(e)".contains("field 'input_ids[1]': expected an integer token id"), "\(e)") }
    }
}

final class ForcedFormatTests: XCTestCase {
    func testForcedFormatSelectsColumns() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("datasets-fmt-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        // Both a text column and prompt/completion: detection would pick prompt/completion; format forces LM.
        try "{\"text\": \"abc\", \"prompt\": \"p\", \"completion\": \"c\"}\n".write(to: dir.appendingPathComponent("d.jsonl"), atomically: true, encoding: .utf8)
        let cfg = try DatasetConfig.decode(json: Data("{\"dataset_path\": \"d.jsonl\", \"format\": \"language_modeling\"}".utf8))
        let p = try DataPipeline(config: cfg, encoder: FakeEncoder(), renderer: nil, baseDirectory: dir.path)
        XCTAssertEqual(p.prepared.format, .languageModeling(textField: "text"))
        XCTAssertEqual(p.prepared.examples[0].inputIds, try FakeEncoder().encode("abc</s>", addSpecialTokens: false))
        let bad = try DatasetConfig.decode(json: Data("{\"dataset_path\": \"d.jsonl\", \"format\": \"conversational\"}".utf8))
        XCTAssertThrowsError(try DataPipeline(config: bad, encoder: FakeEncoder(), renderer: nil, baseDirectory: dir.path)) { e in
            XCTAssertTrue("\(e)".contains("no 'messages' or 'conversations' column"), "\(e)")
        }
    }

    func testAssistantMaskFallbackIsReported() throws {
        let ds = try DatasetLoader.load(data: Array(#"{"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}]}"#.utf8), name: "m.jsonl", format: .jsonl).0
        var o = PreparationOptions(); o.assistantOnlyLoss = true
        let p = try SFTPreparer(encoder: FakeEncoder(), renderer: FakeChatMLRenderer(), options: o).prepare(ds)
        XCTAssertTrue(p.diagnostics.contains { $0.code == .assistantMaskFallback && $0.message.contains("{% generation %}") })
    }
}
