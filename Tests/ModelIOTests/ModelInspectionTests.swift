import Foundation
import XCTest
@testable import ModelIO

final class ModelInspectionTests: XCTestCase {
    func testGGUFReport() throws {
        let info = try ModelInspection.inspect(path: Fixtures.url("gguf/writer_basic.gguf").path)
        XCTAssertEqual(info.format, .gguf)
        XCTAssertEqual(info.architecture, "llama")
        XCTAssertEqual(info.tensors.count, 8)
        // 15 + 14 + 4·256 + 512 + 1 values; bytes as stored: F32 60, F16 28, Q8_0 8·34, Q4_1 8·20, Q4_0 8·18, BF16 512, Q6_K 2·210, F32 4.
        XCTAssertEqual(info.parameterCount, 15 + 14 + 4 * 256 + 512 + 1)
        XCTAssertEqual(info.footprintBytes, 60 + 28 + 272 + 160 + 144 + 512 + 420 + 4)
        let census = Dictionary(uniqueKeysWithValues: info.typeCensus.map { ($0.type, $0) })
        XCTAssertEqual(census["F32"]?.tensors, 2)
        XCTAssertEqual(census["Q6_K"]?.bytes, 420)
        let text = info.report()
        for fragment in ["format: GGUF v3, 29 metadata keys, 8 tensors, alignment 32", "architecture: llama", "llama.block_count", "2",
                         "tokenizer", "gpt2, vocab 4, merges 2", "chat template", "present (50 bytes)",
                         "parameters: 1,566", "q6_k.weight", "[2, 256]", "Q6_K"] {
            XCTAssertTrue(text.contains(fragment), "report lacks \(fragment):\n\(text)")
        }
        XCTAssertTrue(info.report(maxTensors: 3).contains("... 5 more"))
    }

    func testSafetensorsFolderReport() throws {
        let dir = try Fixtures.temporaryDirectory(self)
        for f in ["model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors", "model.safetensors.index.json"] {
            try FileManager.default.copyItem(at: Fixtures.url("safetensors/sharded/\(f)"), to: dir.appendingPathComponent(f))
        }
        try #"{"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 4, "num_hidden_layers": 2}"#
            .write(to: dir.appendingPathComponent("config.json"), atomically: true, encoding: .utf8)
        try #"{"chat_template": "{{ x }}"}"#.write(to: dir.appendingPathComponent("tokenizer_config.json"), atomically: true, encoding: .utf8)
        let info = try ModelInspection.inspect(path: dir.path)
        XCTAssertEqual(info.format, .safetensors)
        XCTAssertEqual(info.architecture, "LlamaForCausalLM")
        XCTAssertEqual(info.parameterCount, 16 + 24 + 16 + 24)
        XCTAssertEqual(info.footprintBytes, 16 * 4 + 24 * 4 + 16 * 2 + 24 * 4)
        let text = info.report()
        for fragment in ["safetensors, 2 shards, 4 tensors", "num_hidden_layers", "chat template", "present", "BF16", "lm_head.weight", "[6, 4]"] {
            XCTAssertTrue(text.contains(fragment), "report lacks \(fragment):\n\(text)")
        }
        let single = try ModelInspection.inspect(path: Fixtures.url("safetensors/all_dtypes.safetensors").path)
        XCTAssertEqual(single.tensors.count, 10)
        XCTAssertTrue(single.report().contains("metadata.format"))
        XCTAssertThrowsError(try ModelInspection.inspect(path: "/nonexistent/model")) { XCTAssertTrue("\($0)".contains("/nonexistent/model")) }
    }

    func testRealModelReport() throws {
        let path = SmolLM2ModelTests.modelPath
        guard FileManager.default.fileExists(atPath: path) else { print("note: \(path) absent (scripts/fetch-model.sh); skipping"); return }
        let start = Date()
        let info = try ModelInspection.inspect(path: path)
        let seconds = Date().timeIntervalSince(start)
        XCTAssertEqual(info.tensors.count, 272)
        XCTAssertEqual(info.parameterCount, 134_515_008)
        let text = info.report(maxTensors: 12)
        for fragment in ["architecture: llama", "llama.block_count", "30", "vocab 49152", "merges 48900", "chat template", "present",
                         "Q4_1", "token_embd.weight", "[49152, 576]"] {
            XCTAssertTrue(text.contains(fragment), "report lacks \(fragment):\n\(text)")
        }
        print(text)
        print(String(format: "inspect took %.3f s", seconds))
    }
}
