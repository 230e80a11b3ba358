import XCTest
@testable import Datasets

final class ConfigPipelineTests: XCTestCase {
    func decode(_ json: String) throws -> DatasetConfig { try DatasetConfig.decode(json: Data(json.utf8), name: "train.json") }

    func testConfigNamesAndDefaults() throws {
        let c = try decode(#"{"dataset_path": "d.jsonl", "max_length": 64, "packing": true, "packing_strategy": "wrapped", "padding_side": "left"}"#)
        XCTAssertEqual(c.maxSeqLength, 64)
        XCTAssertEqual(c.packingStrategy, .wrapped)
        XCTAssertEqual(c.paddingSide, .left)
        XCTAssertNil(c.completionOnlyLoss)
        XCTAssertEqual(c.datasetTextField, "text")
        XCTAssertEqual(try decode(#"{"dataset_path": "d.jsonl"}"#).maxSeqLength, 1024)
        XCTAssertNil(try decode(#"{"dataset_path": "d.jsonl", "max_seq_length": null}"#).maxSeqLength)
        XCTAssertEqual(try decode(#"{"dataset": {"dataset_path": "d.jsonl", "max_seq_length": 32}}"#).maxSeqLength, 32)
        let t = try decode("{\"dataset_path\": \"d.jsonl\", \"response_template\": \"### Answer:\", \"instruction_template\": [5, 6]}")
        XCTAssertEqual(t.responseTemplate, .text("### Answer:"))
        XCTAssertEqual(t.instructionTemplate, .ids([5, 6]))
        // Round trip.
        let again = try JSONDecoder().decode(DatasetConfig.self, from: try JSONEncoder().encode(t))
        XCTAssertEqual(again, t)
    }

    func testConfigErrors() {
        func msg(_ json: String) -> String { do { _ = try decode(json); return "no error" } catch { return "\(error)" } }
        XCTAssertTrue(msg(#"{"dataset_path": "d", "max_seq_len": 5}"#).contains("unknown key(s) [\"max_seq_len\"]"))
        XCTAssertTrue(msg(#"{"max_seq_length": 5}"#).contains("'dataset_path' is required"))
        XCTAssertTrue(msg(#"{"dataset_path": "d", "max_seq_length": 5, "max_length": 5}"#).contains("either 'max_seq_length' or 'max_length'"))
        XCTAssertTrue(msg(#"{"dataset_path": "d", "packing": true, "max_seq_length": null}"#).contains("packing: true needs max_seq_length"))
        XCTAssertTrue(msg(#"{"dataset_path": "d", "packing": true, "response_template": "x"}"#).contains("packing cannot be combined with the completion-only collator"))
        XCTAssertTrue(msg(#"{"dataset_path": "d", "packing": "yes"}"#).contains("'packing': expected Bool"), msg(#"{"dataset_path": "d", "packing": "yes"}"#))
        XCTAssertTrue(msg(#"{"dataset_path": "d", "packing_strategy": "ffd"}"#).contains("'packing_strategy'"))
        XCTAssertTrue(msg("{\"dataset_path\": ").contains("invalid JSON"))
        // Hostile sizes are rejected before anything is allocated.
        XCTAssertTrue(msg(#"{"dataset_path": "d", "packing": true, "max_seq_length": 1000000000000}"#).contains("beyond any model's context"))
        XCTAssertTrue(msg(#"{"dataset_path": "d", "pad_to_multiple_of": 1000000000}"#).contains("pad_to_multiple_of must be in 1...65536"))
        XCTAssertThrowsError(try DatasetConfig.load(path: "/tmp/train.yaml")) { e in XCTAssertTrue("\(e)".contains("YAML configs are not supported yet"), "\(e)") }
    }

    func tempDir() throws -> URL {
        let d = FileManager.default.temporaryDirectory.appendingPathComponent("datasets-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: d, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: d) }
        return d
    }

    func testPipelineWithFakesColumnMappingAndBookCollator() throws {
        let dir = try tempDir()
        try "sentence,translation,extra\nHi,Yo,1\nBye,Cya,2\n".write(to: dir.appendingPathComponent("d.csv"), atomically: true, encoding: .utf8)
        let cfg = try decode(#"{"dataset_path": "d.csv", "column_mapping": {"prompt": "sentence", "completion": "translation"}, "response_template": "<|assistant|>\n", "padding_side": "left", "per_device_train_batch_size": 2}"#)
        let p = try DataPipeline(config: cfg, encoder: FakeEncoder(), renderer: FakePhi3Renderer(), baseDirectory: dir.path)
        XCTAssertEqual(p.prepared.format, .promptCompletion(conversational: true))
        let b = try p.batch(0)
        let enc = FakeEncoder()
        XCTAssertEqual(enc.decode(b.labels[0].filter { $0 >= 0 }, skipSpecialTokens: false), "Yo<|end|>\n</s>")
        XCTAssertEqual(enc.decode(b.labels[1].filter { $0 >= 0 }, skipSpecialTokens: false), "Cya<|end|>\n</s>")
        XCTAssertEqual(b.attentionMask![0].first, 0)   // left padded
        let out = dir.appendingPathComponent("batches.jsonl").path
        XCTAssertEqual(try p.writeDump(to: out), 2)
        let lines = try String(contentsOfFile: out, encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(lines.count, 2)
        let row = try JSONParser.parse(String(lines[0]))
        XCTAssertEqual(row.objectValue?.keys, ["input_ids", "labels", "attention_mask", "position_ids"])
        XCTAssertEqual(row["position_ids"]?.arrayValue?.first, .int(0))
        XCTAssertEqual(try p.writeDump(to: out, limit: 1), 1)
    }

    func testFormattingTemplateMissingColumn() throws {
        let dir = try tempDir()
        try "{\"sentence\": \"a\"}\n".write(to: dir.appendingPathComponent("d.jsonl"), atomically: true, encoding: .utf8)
        let cfg = try decode(#"{"dataset_path": "d.jsonl", "formatting_template": "Q: {{ sentence }} A: {{ answer }}"}"#)
        XCTAssertThrowsError(try DataPipeline(config: cfg, encoder: FakeEncoder(), renderer: nil, baseDirectory: dir.path)) { e in
            XCTAssertTrue("\(e)".contains("formatting_template uses [\"{{ answer }}\"] but the dataset columns are [\"sentence\"]"), "\(e)")
        }
    }

    func testMaxLengthAboveModelFailsThePipeline() throws {
        let dir = try tempDir()
        try "{\"text\": \"a\"}\n".write(to: dir.appendingPathComponent("d.jsonl"), atomically: true, encoding: .utf8)
        let cfg = try decode(#"{"dataset_path": "d.jsonl", "max_seq_length": 4096}"#)
        XCTAssertThrowsError(try DataPipeline(config: cfg, encoder: FakeEncoder(), renderer: nil, baseDirectory: dir.path, maxPositionEmbeddings: 2048)) { e in
            XCTAssertTrue("\(e)".contains("above the model's max_position_embeddings 2048"), "\(e)")
        }
    }

    func smolPath() throws -> String { try TestPaths.requireShared("testdata/tokenizers/smollm2-135m").path }

    func testPreviewAndDumpOnSmolLM2MatchTRL() throws {
        let cfg = try decode("""
            {"dataset_path": "\(TestPaths.fixtures.appendingPathComponent("yoda32.json").path)",
             "column_mapping": {"prompt": "sentence", "completion": "translation_extra"}, "remove_columns": ["translation"],
             "max_seq_length": 56}
            """)
        let p = try DataPipeline(config: cfg, tokenizerPath: try smolPath(), maxPositionEmbeddings: 8192)
        XCTAssertTrue(p.diagnostics.contains { $0.code == .padEqualsEOS })
        // Dump rows == TRL's collated rows.
        let f = try TRLFixture("conv_completion_only")
        let rows = try p.dumpRows()
        XCTAssertEqual(rows.count, 32)
        XCTAssertEqual(rows.map(\.inputIds), f.batches.flatMap(\.inputIds))
        XCTAssertEqual(rows.map(\.labels), f.batches.flatMap(\.labels))
        XCTAssertEqual(rows.map(\.attentionMask), f.batches.flatMap { $0.attentionMask! })
        let text = try p.preview(rows: 1)
        XCTAssertTrue(text.contains("format: prompt-completion (conversational)"), text)
        XCTAssertTrue(text.contains("warning [pad-equals-eos]"), text)
        XCTAssertTrue(text.contains("<|im_start|>user\nSlash the gold cloth into fine ribbons.<|im_end|>"), text)
        XCTAssertTrue(text.contains("labels decoded (labels >= 0):\nInto fine ribbons, slash the gold cloth you must. Mmm.<|im_end|>\n"), text)
        XCTAssertTrue(text.contains("statistics: 32 rows"), text)
    }

    func testPaddingFreeDumpDerivesAttentionMask() throws {
        let cfg = try decode("""
            {"dataset_path": "\(TestPaths.fixtures.appendingPathComponent("yoda32.json").path)",
             "column_mapping": {"prompt": "sentence", "completion": "translation_extra"},
             "max_seq_length": null, "padding_free": true, "pad_to_multiple_of": 16}
            """)
        let p = try DataPipeline(config: cfg, tokenizerPath: try smolPath())
        let f = try TRLFixture("conv_padding_free_pad16")
        let rows = try p.dumpRows()
        XCTAssertEqual(rows.map(\.inputIds), f.batches.flatMap(\.inputIds))
        XCTAssertEqual(rows.map(\.positionIds), f.batches.flatMap { $0.positionIds! })
        for (k, r) in rows.enumerated() {
            let real = f.examples[(k * 8)..<min(k * 8 + 8, f.examples.count)].map(\.inputIds.count).reduce(0, +)
            XCTAssertEqual(r.inputIds.count % 16, 0)
            XCTAssertEqual(r.attentionMask, (0..<r.inputIds.count).map { $0 < real ? 1 : 0 })
        }
        let st = try p.statistics()
        XCTAssertEqual(st.sequences, 32)
        XCTAssertGreaterThan(st.paddingPercent, 0)
    }

    func testPackedPipelineStatistics() throws {
        let cfg = try decode("""
            {"dataset_path": "\(TestPaths.fixtures.appendingPathComponent("yoda32.json").path)",
             "column_mapping": {"prompt": "sentence", "completion": "translation_extra"},
             "max_seq_length": 128, "packing": true}
            """)
        let p = try DataPipeline(config: cfg, tokenizerPath: try smolPath())
        let f = try TRLFixture("conv_packing_bfd")
        let rows = try p.dumpRows()
        XCTAssertEqual(rows.map(\.inputIds), f.batches.flatMap(\.inputIds))
        XCTAssertEqual(rows.map(\.positionIds), f.batches.flatMap { $0.positionIds! })
        XCTAssertEqual(rows.map(\.labels), f.batches.flatMap(\.labels))
        XCTAssertTrue(rows.allSatisfy { $0.attentionMask.allSatisfy { $0 == 1 } })
        let st = try p.statistics()
        XCTAssertEqual(st.sequences, 32)
        XCTAssertEqual(st.rows, 2)
        XCTAssertEqual(st.paddingPercent, 0)
        XCTAssertEqual(st.sequencesPerRow, 16)
        XCTAssertFalse(p.diagnostics.contains { $0.code == .rightPadding })
    }
}

final class PipelineTemplateSearchTests: XCTestCase {
    func testMissingResponseTemplateIsSummarizedWithRows() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("datasets-tpl-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try "{\"text\": \"### Question: a\\n### Answer: b\"}\n{\"text\": \"no template here\"}\n{\"text\": \"### Answer: c\"}\n"
            .write(to: dir.appendingPathComponent("d.jsonl"), atomically: true, encoding: .utf8)
        let cfg = try DatasetConfig.decode(json: Data("{\"dataset_path\": \"d.jsonl\", \"response_template\": \"### Answer:\", \"per_device_train_batch_size\": 2}".utf8))
        let p = try DataPipeline(config: cfg, encoder: FakeEncoder(), renderer: nil, baseDirectory: dir.path)
        let d = p.diagnostics.filter { $0.code == .responseTemplateNotFound }
        XCTAssertEqual(d.count, 1)
        XCTAssertTrue(d[0].message.contains("was not found in 1 of 3 example(s) (\(dir.path)/d.jsonl:2)"), d[0].message)
        XCTAssertTrue(d[0].message.contains("single special token"), d[0].message)
        XCTAssertTrue(try p.preview().contains("warning [response-template-not-found]"))
        XCTAssertEqual(p.diagnostics.filter { $0.code == .responseTemplateNotFound }.count, 1)   // preview adds no duplicates
    }
}

final class EOSOverrideTests: XCTestCase {
    func testEOSTokenOverride() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("datasets-eos-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try "{\"text\": \"ab\"}\n".write(to: dir.appendingPathComponent("d.jsonl"), atomically: true, encoding: .utf8)
        let cfg = try DatasetConfig.decode(json: Data("{\"dataset_path\": \"d.jsonl\", \"eos_token\": \"<|end|>\"}".utf8))
        let p = try DataPipeline(config: cfg, encoder: FakeEncoder(), renderer: nil, baseDirectory: dir.path)
        XCTAssertEqual(p.prepared.examples[0].inputIds, try FakeEncoder().encode("ab<|end|>", addSpecialTokens: false))
        let bad = try DatasetConfig.decode(json: Data("{\"dataset_path\": \"d.jsonl\", \"eos_token\": \"<eot>\"}".utf8))
        XCTAssertThrowsError(try DataPipeline(config: bad, encoder: FakeEncoder(), renderer: nil, baseDirectory: dir.path)) { e in
            XCTAssertTrue("\(e)".contains("eos_token '<eot>' is not in the tokenizer's vocabulary"), "\(e)")
        }
    }
}

final class ConstantLengthPipelineTests: XCTestCase {
    func testBookConstantLengthPacking() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("datasets-cl-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try "abc\ndefgh\nij\n".write(to: dir.appendingPathComponent("d.txt"), atomically: true, encoding: .utf8)
        let cfg = try DatasetConfig.decode(json: Data(#"{"dataset_path": "d.txt", "packing": true, "packing_strategy": "constant_length", "max_seq_length": 4}"#.utf8))
        let p = try DataPipeline(config: cfg, encoder: FakeEncoder(), renderer: nil, baseDirectory: dir.path)
        let enc = FakeEncoder()
        // Texts get their EOS ("abc</s>"), then the book's separator EOS: abc</s></s>defgh</s></s>ij</s></s> = 16 → 4 rows.
        let rows = try p.dumpRows()
        XCTAssertEqual(rows.map { enc.decode($0.inputIds, skipSpecialTokens: false) }, ["abc</s>", "</s>def", "gh</s></s>", "ij</s></s>"])
        XCTAssertTrue(rows.allSatisfy { $0.attentionMask == [1, 1, 1, 1] && $0.labels == $0.inputIds })
        let st = try p.statistics()
        XCTAssertTrue(st.sequencesCrossRows)
        XCTAssertTrue(st.description.contains("sequences per row n/a"), st.description)
    }
}

final class EpochOrderTests: XCTestCase {
    func testEpochBatchIndices() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("datasets-ep-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try (0..<10).map { "line \($0)" }.joined(separator: "\n").write(to: dir.appendingPathComponent("d.txt"), atomically: true, encoding: .utf8)
        let cfg = try DatasetConfig.decode(json: Data(#"{"dataset_path": "d.txt", "per_device_train_batch_size": 4, "padding_side": "left"}"#.utf8))
        let p = try DataPipeline(config: cfg, encoder: FakeEncoder(), renderer: nil, baseDirectory: dir.path)
        let e0 = p.epochBatchIndices(epoch: 0), e1 = p.epochBatchIndices(epoch: 1)
        XCTAssertEqual(e0.map(\.count), [4, 4, 2])
        XCTAssertEqual(e0.flatMap { $0 }.sorted(), Array(0..<10))
        XCTAssertNotEqual(e0, e1)
        XCTAssertEqual(e0, p.epochBatchIndices(epoch: 0))
        XCTAssertEqual(p.epochBatchIndices(epoch: 0, dropLast: true).count, 2)
        XCTAssertEqual(p.epochBatchIndices(epoch: 0, shuffle: false).first, [0, 1, 2, 3])
        let b = try p.batch(indices: e0[0])
        XCTAssertEqual(b.rowCount, 4)
        XCTAssertThrowsError(try p.batch(indices: [10]))
    }
}
