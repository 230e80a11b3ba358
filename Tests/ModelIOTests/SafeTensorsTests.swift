import Foundation
import Tensors
import XCTest
@testable import ModelIO

/// safetensors parity with the Python `safetensors` 0.8 library (fixtures: scripts/gen_modelio_fixtures.py).
/// Values must match exactly (no tolerance); files written here must be byte-identical to Python's.
final class SafeTensorsTests: XCTestCase {
    func testReadsEveryDTypeWrittenByTorch() throws {
        let file = try SafeTensorsFile(path: Fixtures.url("safetensors/all_dtypes.safetensors").path)
        let expected = try Fixtures.json("safetensors/expected.json") as! [String: [String: Any]]
        XCTAssertEqual(file.metadata, ["format": "pt"])
        XCTAssertEqual(Set(file.names), Set(expected.keys))
        let dtypes: [String: DType] = ["torch.float32": .float32, "torch.float16": .float16, "torch.bfloat16": .bfloat16, "torch.int8": .int8,
                                       "torch.uint8": .uint8, "torch.int32": .int32, "torch.int64": .int64, "torch.bool": .bool]
        for (name, info) in expected {
            let t = try file.require(name)
            XCTAssertEqual(t.dtype, dtypes[info["dtype"] as! String], name)
            XCTAssertEqual(t.shape, info["shape"] as! [Int], name)
            let want = (info["values"] as! [NSNumber]).map { Float($0.doubleValue) }
            XCTAssertEqual(t.floats(), want, name)
            var out = [Float](repeating: .nan, count: t.elementCount)
            try out.withUnsafeMutableBufferPointer { try t.convert(into: $0) }
            XCTAssertEqual(out, want, name)
        }
        // Exact integer views: i64 values beyond Float precision.
        let i64 = try file.require("ints.i64").view(as: Int64.self)
        XCTAssertEqual(Array(i64), [-(1 << 40), 3, 7, 1 << 50])
        XCTAssertEqual(Array(try file.require("ints.i32").view(as: Int32.self)), [Int32.min, -5, 0, Int32.max])
        XCTAssertEqual(try file.require("scalar").shape, [])
        XCTAssertEqual(try file.require("empty").byteCount, 0)
    }

    func testViewsAreZeroCopyIntoTheMapping() throws {
        let file = try SafeTensorsFile(path: Fixtures.url("safetensors/all_dtypes.safetensors").path)
        let t = try file.require("model.embed_tokens.weight")
        let view = try t.view(as: Float.self)
        let base = UnsafeRawPointer(file.storage.buffer.baseAddress!)
        let p = UnsafeRawPointer(view.baseAddress!)
        XCTAssertTrue(p >= base && p + view.count * 4 <= base + file.storage.count, "the view must point into the file's mapping")
        XCTAssertEqual(view.count, 20)
        XCTAssertThrowsError(try t.view(as: Int32.self)) { XCTAssertTrue("\($0)".contains("model.embed_tokens.weight")) }
        XCTAssertEqual(try file.require("layers.0.bf16").view(as: UInt16.self).count, 7)
        XCTAssertEqual(try file.require("mask").view(as: UInt8.self).map { $0 }, [1, 0, 1])
        // A view outlives the file object: the tensor holds the mapping.
        var keep: SafeTensor?
        do { keep = try SafeTensorsFile(path: Fixtures.url("safetensors/all_dtypes.safetensors").path).require("ints.i8") }
        XCTAssertEqual(Array(try keep!.view(as: Int8.self)), [-128, -1, 0, 1, 127])
    }

    /// Reading a Python-written file and writing its tensors back gives the same bytes.
    func testWriterIsByteIdenticalToPython() throws {
        let dir = try Fixtures.temporaryDirectory(self)
        for name in ["all_dtypes", "numpy_tricky", "numpy_meta", "torch_order"] {
            let original = try Fixtures.bytes("safetensors/\(name).safetensors")
            let file = try SafeTensorsFile(bytes: original, name: name)
            var writer = SafeTensorsWriter(metadata: file.metadata)
            // Add in a scrambled order: the writer must restore the reference order itself.
            for t in file.tensors.reversed() { try writer.add(t) }
            let bytes = writer.serialize()
            XCTAssertEqual(bytes.count, original.count, name)
            if bytes != original {
                let header = { (b: [UInt8]) in String(decoding: b.prefix(min(b.count, 600)), as: UTF8.self) }
                XCTFail("\(name) differs:\n swift:  \(header(bytes))\n python: \(header(original))")
            }
            let path = dir.appendingPathComponent("\(name).safetensors").path
            try writer.write(to: path)
            XCTAssertEqual(try [UInt8](Data(contentsOf: URL(fileURLWithPath: path))), original, name)
        }
        // No temporary files left behind by the atomic writes.
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasPrefix(".") }, [])
    }

    func testSeveralMetadataKeys() throws {
        let file = try SafeTensorsFile(path: Fixtures.url("safetensors/multi_meta.safetensors").path)
        XCTAssertEqual(file.metadata, ["format": "pt", "k1": "v1", "k2": "v2", "k3": "v3"])
        var writer = SafeTensorsWriter(metadata: file.metadata)
        try writer.add(file.require("x"))
        let again = try SafeTensorsFile(bytes: writer.serialize(), name: "again")
        XCTAssertEqual(again.metadata, file.metadata)
        XCTAssertEqual(try again.require("x").floats(), [1, 1, 1])
        let header = String(decoding: writer.serialize()[8...], as: UTF8.self)
        XCTAssertTrue(header.hasPrefix("{\"__metadata__\":{\"format\":\"pt\",\"k1\":\"v1\",\"k2\":\"v2\",\"k3\":\"v3\"},\"x\":"), header)
    }

    func testWriterRoundTripAndErrors() throws {
        var writer = SafeTensorsWriter()
        let values: [Float] = (0..<24).map { Float($0) * 0.25 - 3 }
        try writer.add("w", shape: [2, 3, 4], floats: values)
        try writer.add("h", dtype: .float16, shape: [2], bytes: [0x00, 0x3C, 0x00, 0xC0])
        try writer.add("bf", dtype: .bfloat16, shape: [1], bytes: BFloat16(1.5).bitPattern.littleEndianBytes)
        XCTAssertThrowsError(try writer.add("w", shape: [1], floats: [1])) { XCTAssertTrue("\($0)".contains("twice")) }
        XCTAssertThrowsError(try writer.add("bad", shape: [5], floats: [1])) { XCTAssertTrue("\($0)".contains("needs 20 bytes")) }
        XCTAssertThrowsError(try writer.add("__metadata__", shape: [1], floats: [1]))
        XCTAssertThrowsError(try writer.add("huge", dtype: .int64, shape: [1 << 31, 1 << 31], bytes: [])) { XCTAssertTrue("\($0)".contains("more than Int.max")) }
        XCTAssertThrowsError(try writer.add("neg", dtype: .int8, shape: [-1], bytes: []))
        let dir = try Fixtures.temporaryDirectory(self)
        let path = dir.appendingPathComponent("rt.safetensors").path
        try writer.write(to: path)
        let file = try SafeTensorsFile(path: path)
        XCTAssertEqual(file.names, ["w", "bf", "h"])
        XCTAssertEqual(try file.require("w").floats(), values)
        XCTAssertEqual(try file.require("h").floats(), [1, -2])
        XCTAssertEqual(try file.require("bf").floats(), [1.5])
        XCTAssertEqual(file.headerLength % 8, 0)
        XCTAssertThrowsError(try writer.write(to: "/nonexistent-dir/x.safetensors")) {
            XCTAssertTrue("\($0)".contains("/nonexistent-dir/x.safetensors") && "\($0)".contains("temporary file"), "\($0)")
        }
        XCTAssertThrowsError(try file.require("nope")) { XCTAssertTrue("\($0)".contains("rt.safetensors") && "\($0)".contains("nope")) }
    }

    func testShardedFolder() throws {
        let folder = try SafeTensorsFolder(path: Fixtures.url("safetensors/sharded").path)
        let expected = try Fixtures.json("safetensors/sharded_expected.json") as! [String: [NSNumber]]
        XCTAssertEqual(folder.shards.count, 2)
        XCTAssertEqual(Set(folder.names), Set(expected.keys))
        XCTAssertNotNil(folder.indexMetadata["total_size"])
        for (name, want) in expected {
            XCTAssertEqual(try folder.require(name).floats(), want.map { Float($0.doubleValue) }, name)
        }
        XCTAssertTrue(try folder.require("model.layers.1.weight").file.hasSuffix("model-00002-of-00002.safetensors"))
        XCTAssertThrowsError(try folder.require("missing.weight")) { XCTAssertTrue("\($0)".contains("missing.weight")) }
        // A single file opens as a one-shard folder.
        XCTAssertEqual(try SafeTensorsFolder(path: Fixtures.url("safetensors/multi_meta.safetensors").path).names, ["x"])
    }

    func testShardedIndexErrors() throws {
        let dir = try Fixtures.temporaryDirectory(self)
        for f in ["model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"] {
            try FileManager.default.copyItem(at: Fixtures.url("safetensors/sharded/\(f)"), to: dir.appendingPathComponent(f))
        }
        let index = dir.appendingPathComponent("model.safetensors.index.json")
        try #"{"weight_map": {"ghost": "model-00001-of-00002.safetensors"}}"#.write(to: index, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try SafeTensorsFolder(path: dir.path)) { XCTAssertTrue("\($0)".contains("ghost"), "\($0)") }
        try #"{"weight_map": {"a": "../etc/passwd"}}"#.write(to: index, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try SafeTensorsFolder(path: dir.path)) { XCTAssertTrue("\($0)".contains("plain name"), "\($0)") }
        try #"{"weight_map": {"a": "#.write(to: index, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try SafeTensorsFolder(path: dir.path)) { XCTAssertTrue("\($0)".contains("invalid JSON"), "\($0)") }
        try FileManager.default.removeItem(at: index)
        XCTAssertEqual(try SafeTensorsFolder(path: dir.path).names.count, 4, "without an index every shard is read")
    }

    // MARK: malformed input

    /// A file from a header string and a data section.
    func file(_ header: String, data: Int = 0, pad: Bool = true) -> [UInt8] {
        var h = Array(header.utf8)
        if pad { h += [UInt8](repeating: 0x20, count: (8 - h.count % 8) % 8) }
        return UInt64(h.count).littleEndianBytes + h + [UInt8](repeating: 7, count: data)
    }

    func assertRejects(_ bytes: [UInt8], _ fragments: [String], file: StaticString = #filePath, line: UInt = #line) {
        do {
            _ = try SafeTensorsFile(bytes: bytes, name: "bad.safetensors")
            XCTFail("accepted a malformed file (expected \(fragments))", file: file, line: line)
        } catch let error as ModelIOError {
            let text = "\(error)"
            XCTAssertTrue(text.hasPrefix("bad.safetensors"), text, file: file, line: line)
            for f in fragments { XCTAssertTrue(text.contains(f), "\(text) should mention \(f)", file: file, line: line) }
        } catch {
            XCTFail("unexpected error type \(error)", file: file, line: line)
        }
    }

    func testMalformedFilesGiveClearErrors() {
        let ok = #"{"t":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#
        XCTAssertNoThrow(try SafeTensorsFile(bytes: file(ok, data: 8), name: "ok"))
        assertRejects([1, 2, 3], ["shorter than the 8-byte header length"])
        assertRejects(UInt64(1000).littleEndianBytes + [UInt8](repeating: 0x20, count: 10), ["runs past the end"])
        assertRejects(UInt64(1 << 40).littleEndianBytes + [0x7B], ["exceeds"])
        assertRejects(UInt64.max.littleEndianBytes, ["exceeds"])
        assertRejects(file(ok, data: 4), ["'t'", "run past"])
        assertRejects(file(ok, data: 12), ["tensors cover 8 bytes but the data section holds 12"])
        assertRejects(file(#"{"t":{"dtype":"F32","shape":[2],"data_offsets":[0,8]"#, data: 8), ["invalid JSON"])
        assertRejects(file(#"[1,2]"#), ["start with '{'"])
        assertRejects(file(#"{"t":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#, data: 8), ["'t'", "shape [3] × F32 is 12 bytes"])
        assertRejects(file(#"{"t":{"dtype":"F99","shape":[2],"data_offsets":[0,8]}}"#, data: 8), ["'t'", "F99", "not supported"])
        assertRejects(file(#"{"t":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}}"#, data: 8), ["non-negative"])
        assertRejects(file(#"{"t":{"dtype":"F32","shape":[1.5],"data_offsets":[0,8]}}"#, data: 8), ["non-negative"])
        assertRejects(file(#"{"t":{"dtype":"F32","shape":[4294967296,4294967296,4294967296],"data_offsets":[0,8]}}"#, data: 8), ["overflow"])
        assertRejects(file(#"{"t":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}}"#, data: 8), ["end before"])
        assertRejects(file(#"{"t":{"dtype":"F32","shape":[2],"data_offsets":[0,99999999999999999999]}}"#, data: 8), ["data_offsets"])
        assertRejects(file(#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#, data: 8),
                      ["'b'", "overlaps"])
        assertRejects(file(#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}"#, data: 12),
                      ["'b'", "gap"])
        assertRejects(file(#"{"t":{"dtype":"F32","shape":[0],"data_offsets":[0,0]},"t":{"dtype":"F32","shape":[0],"data_offsets":[0,0]}}"#), ["twice"])
        assertRejects(file(#"{"__metadata__":{"a":1}}"#), ["metadata values must be strings"])
        assertRejects(file(#"{"t":{"shape":[2],"data_offsets":[0,8]}}"#, data: 8), ["missing \"dtype\""])
        assertRejects(file(#"{"t":5}"#), ["must be an object"])
        assertRejects(file("{\"t\":\"\u{1}\"}"), ["invalid JSON"])
        assertRejects(UInt64(4).littleEndianBytes + [0x7B, 0xFF, 0xFE, 0x7D], ["UTF-8"])
        let deep = String(repeating: "[", count: 100) + String(repeating: "]", count: 100)
        assertRejects(file("{\"t\":\(deep)}"), ["nested deeper"])
        XCTAssertThrowsError(try SafeTensorsFile(path: "/nonexistent/x.safetensors")) { XCTAssertTrue("\($0)".contains("/nonexistent/x.safetensors")) }
    }

    /// 12,000 mutated files: each parses or throws a ModelIOError; never crashes, and every accepted
    /// tensor's bytes lie inside the buffer.
    func testFuzzMutatedFiles() throws {
        var seeds: [[UInt8]] = []
        for name in ["all_dtypes", "numpy_tricky", "numpy_meta", "multi_meta", "torch_order"] {
            seeds.append(try Fixtures.bytes("safetensors/\(name).safetensors"))
        }
        var rng = SplitMix64(seed: 0x5AFE)
        var accepted = 0, rejected = 0
        let dir = try Fixtures.temporaryDirectory(self)
        for iteration in 0..<12_000 {
            var b = seeds[Int(rng.next() % UInt64(seeds.count))]
            mutate(&b, &rng)
            do {
                let f: SafeTensorsFile
                if iteration % 2000 == 0 {
                    // A few go through the file system and mmap.
                    let path = dir.appendingPathComponent("fuzz\(iteration).safetensors").path
                    try Data(b).write(to: URL(fileURLWithPath: path))
                    f = try SafeTensorsFile(path: path)
                } else {
                    f = try SafeTensorsFile(bytes: b, name: "fuzz\(iteration)")
                }
                let base = f.storage.buffer.baseAddress.map(UnsafeRawPointer.init)
                for t in f.tensors {
                    if t.byteCount > 0 {
                        let p = UnsafeRawPointer(t.bytes.baseAddress!)
                        XCTAssertTrue(p >= base! && p + t.byteCount <= base! + f.storage.count)
                    }
                    XCTAssertEqual(t.floats().count, t.elementCount)
                }
                accepted += 1
            } catch is ModelIOError {
                rejected += 1
            }
        }
        XCTAssertEqual(accepted + rejected, 12_000)
        XCTAssertGreaterThan(rejected, 1000)
        XCTAssertGreaterThan(accepted, 100, "some mutations (e.g. in data bytes) keep the file valid")
    }

    func mutate(_ b: inout [UInt8], _ rng: inout SplitMix64) {
        let rounds = 1 + Int(rng.next() % 3)
        for _ in 0..<rounds {
            guard b.count >= 8 else { return }
            let headerEnd = min(b.count, 8 + Int(b.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) } & 0xFFFF))
            switch rng.next() % 9 {
            case 0: b[Int(rng.next() % UInt64(b.count))] ^= UInt8(1 << (rng.next() % 8))
            case 1: b = Array(b.prefix(Int(rng.next() % UInt64(b.count))))
            case 2: // the header length
                let v = rng.next() % 4 == 0 ? rng.next() : UInt64(bitPattern: Int64(headerEnd - 8) + Int64(rng.next() % 33) - 16)
                let le = v.littleEndianBytes
                for k in 0..<min(8, b.count) { b[k] = le[k] }
            case 3: // a digit inside the header (offsets and shapes)
                let digits = (8..<headerEnd).filter { b[$0] >= 0x30 && b[$0] <= 0x39 }
                if let k = digits.randomElement(using: &rng) { b[k] = 0x30 + UInt8(rng.next() % 10) }
            case 4: // a structural character
                let k = 8 + Int(rng.next() % UInt64(max(1, headerEnd - 8)))
                if k < b.count { b[k] = Array("{}[],:\"0-9e".utf8).randomElement(using: &rng)! }
            case 5: // insert a number
                let k = 8 + Int(rng.next() % UInt64(max(1, headerEnd - 8)))
                if k <= b.count { b.insert(contentsOf: Array(String(rng.next() % 100_000_000_000).utf8), at: k) }
            case 6: // delete a range
                let k = Int(rng.next() % UInt64(b.count)), n = Int(rng.next() % 16)
                b.removeSubrange(k..<min(b.count, k + n))
            case 7: // a dtype name
                let text = String(decoding: b, as: UTF8.self)
                let names = ["F32", "F16", "BF16", "I8", "U8", "I32", "I64", "BOOL", "F64", "X"]
                if let r = text.range(of: names.randomElement(using: &rng)!) {
                    b = Array(text.replacingCharacters(in: r, with: names.randomElement(using: &rng)!).utf8)
                }
            default: // data bytes only
                if headerEnd < b.count { b[headerEnd + Int(rng.next() % UInt64(b.count - headerEnd))] = UInt8(rng.next() & 0xFF) }
            }
        }
    }
}

extension FixedWidthInteger {
    var littleEndianBytes: [UInt8] { withUnsafeBytes(of: self.littleEndian) { [UInt8]($0) } }
}
