import Foundation
import Quantization
import XCTest
@testable import ModelIO

/// GGUF parity with gguf-py 0.19 (`GGUFWriter`, `GGUFReader`, `quants.dequantize`); fixtures from
/// scripts/gen_modelio_fixtures.py. Values compare exactly; written files must be byte-identical.
final class GGUFTests: XCTestCase {
    func expected() throws -> [String: Any] { try Fixtures.json("gguf/gguf_expected.json") as! [String: Any] }

    /// Compares a parsed value against gguf-py's `contents()` rendering.
    func assertMatches(_ value: GGUFValue, _ types: [String], _ want: Any, _ key: String) {
        let typeNames: [GGUFValueType: String] = [.uint8: "UINT8", .int8: "INT8", .uint16: "UINT16", .int16: "INT16", .uint32: "UINT32",
                                                  .int32: "INT32", .uint64: "UINT64", .int64: "INT64", .float32: "FLOAT32",
                                                  .float64: "FLOAT64", .bool: "BOOL", .string: "STRING", .array: "ARRAY"]
        XCTAssertEqual(typeNames[value.type], types.first, key)
        switch value {
        case let .string(s): XCTAssertEqual(s, want as? String, key)
        case let .bool(b): XCTAssertEqual(b, (want as? NSNumber)?.boolValue, key)
        // Foundation's JSON reader rounds some doubles by an ulp: compare float32 at float32 precision.
        case let .float32(f): XCTAssertEqual(f, (want as? NSNumber).map { Float($0.doubleValue) }, key)
        case let .float64(f): XCTAssertEqual(f, (want as? NSNumber)?.doubleValue ?? .nan, accuracy: abs(f) * 1e-15, key)
        case let .uint64(u): XCTAssertEqual(u, (want as? NSNumber)?.uint64Value, key)
        case let .array(a):
            let items = want as! [Any]
            XCTAssertEqual(typeNames[a.elementType], types.dropFirst().first, key)
            if case let .array(inner) = a {
                // gguf-py's contents() flattens nested arrays: compare the flattened leaves.
                func leaves(_ x: GGUFArray) -> [GGUFArray] { if case let .array(xs) = x { return xs.flatMap(leaves) } else { return [x] } }
                let flat = inner.flatMap(leaves)
                XCTAssertEqual(typeNames[flat[0].elementType], types.last, key)
                var k = 0
                for leaf in flat {
                    assertMatches(.array(leaf), ["ARRAY", types.last!], Array(items[k..<(k + leaf.count)]), key)
                    k += leaf.count
                }
                XCTAssertEqual(k, items.count, key)
                return
            }
            XCTAssertEqual(a.count, items.count, key)
            switch a {
            case let .string(s): XCTAssertEqual(s, items as? [String], key)
            case let .bool(b): XCTAssertEqual(b, items.map { ($0 as! NSNumber).boolValue }, key)
            default:
                if let ints = a.ints { XCTAssertEqual(ints, items.map { ($0 as! NSNumber).intValue }, key) }
                else { XCTAssertEqual(a.floats!, items.map { Float(($0 as! NSNumber).doubleValue) }, key) }
            }
        default: XCTAssertEqual(value.intValue, (want as? NSNumber)?.intValue, key)
        }
    }

    func testReadsFileWrittenByGGUFPython() throws {
        let file = try GGUFFile(path: Fixtures.url("gguf/writer_basic.gguf").path)
        let exp = try expected()
        XCTAssertEqual(file.version, 3)
        XCTAssertEqual(file.alignment, 32)
        XCTAssertEqual(file.keys, exp["keys"] as! [String])
        let meta = exp["metadata"] as! [String: [String: Any]]
        for (key, value) in file.metadata {
            assertMatches(value, meta[key]!["types"] as! [String], meta[key]!["value"]!, key)
        }
        XCTAssertEqual(file.tensors.map(\.name), exp["tensor_order"] as! [String])
        XCTAssertEqual(file.dataOffset, exp["data_offset"] as! Int)
        let offsets = exp["offsets"] as! [String: Int]
        let tensors = exp["tensors"] as! [String: [String: Any]]
        for t in file.tensors {
            XCTAssertEqual(file.dataOffset + t.offset, offsets[t.name], t.name)
            let e = tensors[t.name]!
            XCTAssertEqual(t.type.name, e["type"] as? String, t.name)
            XCTAssertEqual(t.shape, e["shape"] as! [Int], t.name)
            XCTAssertEqual(try file.dequantize(t.name), (e["values"] as! [NSNumber]).map { Float($0.doubleValue) }, t.name)
        }
        // Zero-copy: tensor bytes point into the mapping.
        let q = try file.require("q4_1.weight")
        let view = file.bytes(of: q)
        XCTAssertEqual(view.count, 4 * 2 * 20)
        XCTAssertEqual(UnsafeRawPointer(view.baseAddress!) - UnsafeRawPointer(file.storage.buffer.baseAddress!), file.dataOffset + q.offset)
        // Typed zero-copy views.
        XCTAssertEqual(Array(try file.floatView("f32.weight")), try file.dequantize("f32.weight"))
        XCTAssertEqual(try file.view("f16.weight", as: UInt16.self).count, 14)
        XCTAssertThrowsError(try file.floatView("q4_1.weight")) { XCTAssertTrue("\($0)".contains("dequantize"), "\($0)") }
        XCTAssertThrowsError(try file.view("f32.weight", as: Int32.self))
        // Row-wise dequantisation of rows 1..<3 equals the middle of the whole tensor.
        let whole = try file.dequantize("q4_1.weight")
        var rows = [Float](repeating: 0, count: 128)
        try rows.withUnsafeMutableBufferPointer { try file.dequantizeRows("q4_1.weight", rows: 1..<3, into: $0) }
        XCTAssertEqual(rows, Array(whole[64..<192]))
    }

    func testTypedAccessors() throws {
        let file = try GGUFFile(path: Fixtures.url("gguf/writer_basic.gguf").path)
        XCTAssertEqual(try file.string("general.architecture"), "llama")
        XCTAssertEqual(try file.uint32("llama.block_count"), 2)
        XCTAssertEqual(try file.int("t.i64"), -(1 << 62))
        XCTAssertEqual(try file.float("t.f32"), 0.1)
        XCTAssertEqual(try file.bool("t.bool"), true)
        XCTAssertEqual(try file.strings("tokenizer.ggml.tokens"), ["<s>", "</s>", "a", "b"])
        XCTAssertEqual(try file.floats("tokenizer.ggml.scores"), [0, -1, -2, -3])
        XCTAssertEqual(try file.ints("tokenizer.ggml.token_type"), [3, 3, 1, 1])
        XCTAssertEqual(try file.strings("tokenizer.ggml.merges"), ["a b", "ab c"])
        XCTAssertEqual(try file.array("t.nested"), .array([.int32([1, 2]), .int32([3, 4, 5])]))
        XCTAssertThrowsError(try file.uint32("t.i8")) { XCTAssertTrue("\($0)".contains("'t.i8'") && "\($0)".contains("UInt32"), "\($0)") }
        XCTAssertThrowsError(try file.string("llama.block_count")) { XCTAssertTrue("\($0)".contains("expected a string"), "\($0)") }
        XCTAssertThrowsError(try file.string("nope")) {
            XCTAssertTrue("\($0)".contains("writer_basic.gguf") && "\($0)".contains("'nope'") && "\($0)".contains("missing"), "\($0)")
        }
        XCTAssertThrowsError(try file.dequantize("nope"))
    }

    /// Reading gguf-py's files and writing the same content back gives identical bytes.
    func testWriterIsByteIdenticalToGGUFPython() throws {
        let dir = try Fixtures.temporaryDirectory(self)
        for name in ["writer_basic", "writer_align64"] {
            let original = try Fixtures.bytes("gguf/\(name).gguf")
            let file = try GGUFFile(bytes: original, name: name)
            var writer = GGUFWriter()
            for (k, v) in file.metadata { try writer.set(k, v) }
            for t in file.tensors {
                try writer.addTensorUnsafe(t.name, shape: t.shape, type: t.type, bytes: file.bytes(of: t), keepAlive: file.storage)
            }
            XCTAssertEqual(writer.alignment, name == "writer_basic" ? 32 : 64)
            let bytes = writer.serialize()
            XCTAssertEqual(bytes.count, original.count, name)
            XCTAssertNil(zip(bytes, original).enumerated().first { $0.element.0 != $0.element.1 }?.offset, "\(name): first differing byte")
            let path = dir.appendingPathComponent("\(name).gguf").path
            try writer.write(to: path)
            XCTAssertEqual(try Fixtures.bytes("gguf/\(name).gguf"), [UInt8](try Data(contentsOf: URL(fileURLWithPath: path))))
        }
    }

    func testWriterBuildsFromScratch() throws {
        var w = GGUFWriter()
        try w.set("general.architecture", .string("llama"))
        try w.set("llama.block_count", .uint32(1))
        try w.set("llama.block_count", .uint32(2))  // replaced in place
        try w.set("tokenizer.ggml.tokens", .array(.string(["a", "b"])))
        XCTAssertThrowsError(try w.set("general.alignment", .uint32(24)))
        let values = (0..<64).map { Float($0) / 7 }
        try w.addTensor("w", shape: [2, 32], floats: values)
        let q = try GGMLQuantizer.quantize(.q8_0, values)
        try w.addTensor("q", shape: [2, 32], type: .q8_0, bytes: q)
        XCTAssertThrowsError(try w.addTensor("q", shape: [2, 32], type: .q8_0, bytes: q)) { XCTAssertTrue("\($0)".contains("twice")) }
        XCTAssertThrowsError(try w.addTensor("bad", shape: [2, 31], type: .q8_0, bytes: q)) { XCTAssertTrue("\($0)".contains("'bad'")) }
        XCTAssertThrowsError(try w.addTensor("bad", shape: [1, 1, 1, 1, 1], floats: [1]))
        XCTAssertThrowsError(try w.addTensor("huge", shape: [1 << 40, 1 << 40], type: .f32, bytes: []))
        let file = try GGUFFile(bytes: w.serialize(), name: "built")
        XCTAssertEqual(file.keys, ["general.architecture", "llama.block_count", "tokenizer.ggml.tokens"])
        XCTAssertEqual(try file.uint32("llama.block_count"), 2)
        XCTAssertEqual(try file.dequantize("w"), values)
        XCTAssertEqual(try file.require("q").dimensions, [32, 2])
        let back = try file.dequantize("q")
        // Q8_0 error: at most half a step (max|x| / 254) plus the f16 rounding of the scale.
        for (a, b) in zip(back, values) { XCTAssertEqual(a, b, accuracy: 9.0 / 254 + 0.01) }
    }

    func testVersion2AndUnsupportedVersions() throws {
        var bytes = try Fixtures.bytes("gguf/writer_basic.gguf")
        bytes[4] = 2
        let v2 = try GGUFFile(bytes: bytes, name: "v2.gguf")
        XCTAssertEqual(v2.version, 2)
        XCTAssertEqual(v2.tensors.map(\.name), try GGUFFile(path: Fixtures.url("gguf/writer_basic.gguf").path).tensors.map(\.name))
        bytes[4] = 1
        XCTAssertThrowsError(try GGUFFile(bytes: bytes, name: "v1.gguf")) { XCTAssertTrue("\($0)".contains("version 1"), "\($0)") }
        bytes[4] = 0; bytes[7] = 3
        XCTAssertThrowsError(try GGUFFile(bytes: bytes, name: "be.gguf")) { XCTAssertTrue("\($0)".contains("big-endian"), "\($0)") }
        XCTAssertThrowsError(try GGUFFile(bytes: Array("GGML".utf8) + [3, 0, 0, 0], name: "x.gguf")) { XCTAssertTrue("\($0)".contains("magic"), "\($0)") }
    }

    // MARK: hostile files

    /// Raw GGUF builder for malformed files.
    struct Raw {
        var b: [UInt8] = Array("GGUF".utf8)
        mutating func u32(_ v: UInt32) { b += v.littleEndianBytes }
        mutating func u64(_ v: UInt64) { b += v.littleEndianBytes }
        mutating func str(_ s: String) { u64(UInt64(s.utf8.count)); b += Array(s.utf8) }
        mutating func pad(_ a: Int = 32) { while b.count % a != 0 { b.append(0) } }
        static func header(tensors: UInt64, kvs: UInt64) -> Raw { var r = Raw(); r.u32(3); r.u64(tensors); r.u64(kvs); return r }
    }

    func assertRejects(_ bytes: [UInt8], _ fragments: [String], file: StaticString = #filePath, line: UInt = #line) {
        do {
            _ = try GGUFFile(bytes: bytes, name: "bad.gguf")
            XCTFail("accepted a hostile file (expected \(fragments))", file: file, line: line)
        } catch let error as ModelIOError {
            let text = "\(error)"
            XCTAssertTrue(text.hasPrefix("bad.gguf"), text, file: file, line: line)
            for f in fragments { XCTAssertTrue(text.contains(f), "\(text) should mention \(f)", file: file, line: line) }
        } catch {
            XCTFail("unexpected error type \(error)", file: file, line: line)
        }
    }

    func tensorFile(dims: [UInt64], type: UInt32 = 0, offset: UInt64 = 0, data: Int = 64, alignment: UInt32? = nil, second: (String, UInt64)? = nil) -> [UInt8] {
        var r = Raw.header(tensors: second == nil ? 1 : 2, kvs: alignment == nil ? 0 : 1)
        if let alignment { r.str("general.alignment"); r.u32(4); r.u32(alignment) }
        r.str("t"); r.u32(UInt32(dims.count)); for d in dims { r.u64(d) }; r.u32(type); r.u64(offset)
        if let (name, off) = second { r.str(name); r.u32(1); r.u64(4); r.u32(0); r.u64(off) }
        r.pad(alignment == nil || alignment == 0 ? 32 : Int(alignment!))
        r.b += [UInt8](repeating: 0, count: data)
        return r.b
    }

    func testHostileFilesGiveClearErrors() throws {
        XCTAssertNoThrow(try GGUFFile(bytes: tensorFile(dims: [4, 2]), name: "ok"))
        let good = try Fixtures.bytes("gguf/writer_basic.gguf")
        for cut in [0, 3, 7, 12, 20, 30, 100, 1000, 2000, good.count - 40] {
            assertRejects(Array(good.prefix(cut)), ["bad.gguf"])
        }
        var r = Raw.header(tensors: 1 << 60, kvs: 0)
        assertRejects(r.b, ["tensor count", "impossible"])
        r = Raw.header(tensors: 0, kvs: UInt64.max)
        assertRejects(r.b, ["metadata count", "impossible"])
        r = Raw.header(tensors: 0, kvs: 1); r.u64(UInt64.max - 3); r.b += [UInt8](repeating: 0, count: 16)
        assertRejects(r.b, ["claims"])
        r = Raw.header(tensors: 0, kvs: 1); r.str("k"); r.u32(8); r.u64(1 << 50)
        assertRejects(r.b, ["'k'", "claims"])
        r = Raw.header(tensors: 0, kvs: 1); r.str("arr"); r.u32(9); r.u32(6); r.u64(1 << 61)
        assertRejects(r.b, ["'arr'", "impossible"])
        r = Raw.header(tensors: 0, kvs: 1); r.str("arr"); r.u32(9); r.u32(8); r.u64(3); r.str("a"); r.b += [UInt8](repeating: 0xFF, count: 24)
        assertRejects(r.b, ["element 1 of 'arr'"])
        r = Raw.header(tensors: 0, kvs: 1); r.str("deep"); r.u32(9)
        for _ in 0..<20 { r.u32(9); r.u64(1) }
        r.u32(0); r.u64(0)
        assertRejects(r.b, ["'deep'", "nested deeper"])
        r = Raw.header(tensors: 0, kvs: 1); r.str("k"); r.u32(77); r.u32(0)
        assertRejects(r.b, ["'k'", "unknown metadata value type 77"])
        r = Raw.header(tensors: 0, kvs: 1); r.str("arr"); r.u32(9); r.u32(99); r.u64(0)
        assertRejects(r.b, ["'arr'", "unknown array element type 99"])
        r = Raw.header(tensors: 0, kvs: 2); r.str("k"); r.u32(0); r.b.append(1); r.str("k"); r.u32(0); r.b.append(1)
        assertRejects(r.b, ["'k'", "twice"])
        assertRejects(tensorFile(dims: [4, 2], type: 123), ["'t'", "unknown GGML tensor type 123"])
        assertRejects(tensorFile(dims: [1, 1, 1, 1, 1]), ["'t'", "5 dimensions"])
        assertRejects(tensorFile(dims: [1 << 62, 1 << 62]), ["'t'", "overflow"])
        assertRejects(tensorFile(dims: [UInt64.max]), ["'t'", "out of range"])
        assertRejects(tensorFile(dims: [4, 2], offset: 16), ["'t'", "alignment"])
        assertRejects(tensorFile(dims: [4, 2], offset: 64), ["'t'", "runs past"])
        assertRejects(tensorFile(dims: [4, 2], offset: UInt64.max - 31), ["'t'"])
        assertRejects(tensorFile(dims: [1 << 40]), ["'t'", "runs past"])
        assertRejects(tensorFile(dims: [33], type: 8), ["'t'", "block size"])
        assertRejects(tensorFile(dims: [8], second: ("u", 0)), ["'u'", "overlaps"])
        assertRejects(tensorFile(dims: [4], alignment: 24), ["general.alignment", "power-of-two"])
        assertRejects(tensorFile(dims: [4], alignment: 0), ["general.alignment"])
        var dup = Raw.header(tensors: 2, kvs: 0)
        for _ in 0..<2 { dup.str("t"); dup.u32(1); dup.u64(4); dup.u32(0); dup.u64(0) }
        dup.pad(); dup.b += [UInt8](repeating: 0, count: 32)
        assertRejects(dup.b, ["'t'", "twice"])
        XCTAssertThrowsError(try GGUFFile(path: "/nonexistent/m.gguf")) { XCTAssertTrue("\($0)".contains("/nonexistent/m.gguf")) }
    }

    /// 12,000 mutated files: each parses or throws a ModelIOError, never crashes; accepted tensors lie
    /// inside the file and dequantise without trouble.
    func testFuzzMutatedFiles() throws {
        let seeds = [try Fixtures.bytes("gguf/writer_basic.gguf"), try Fixtures.bytes("gguf/writer_align64.gguf"),
                     tensorFile(dims: [32, 2], type: 8, data: 68), tensorFile(dims: [4, 2])]
        var rng = SplitMix64(seed: 0x66_5547)
        var accepted = 0, rejected = 0
        let dir = try Fixtures.temporaryDirectory(self)
        for iteration in 0..<12_000 {
            var b = seeds[Int(rng.next() % UInt64(seeds.count))]
            mutate(&b, &rng)
            do {
                let f: GGUFFile
                if iteration % 2000 == 0 {
                    let path = dir.appendingPathComponent("fuzz\(iteration).gguf").path
                    try Data(b).write(to: URL(fileURLWithPath: path))
                    f = try GGUFFile(path: path)
                } else {
                    f = try GGUFFile(bytes: b, name: "fuzz\(iteration)")
                }
                for t in f.tensors {
                    let view = f.bytes(of: t)
                    XCTAssertTrue(f.dataOffset + t.offset + view.count <= f.storage.count)
                    if t.type.canDequantize, t.elementCount <= 1 << 16 { XCTAssertEqual(try f.dequantize(t.name).count, t.elementCount) }
                }
                for (_, v) in f.metadata { _ = v.summary }
                accepted += 1
            } catch is ModelIOError {
                rejected += 1
            }
        }
        XCTAssertEqual(accepted + rejected, 12_000)
        XCTAssertGreaterThan(rejected, 1000)
        XCTAssertGreaterThan(accepted, 100)
    }

    func mutate(_ b: inout [UInt8], _ rng: inout SplitMix64) {
        let rounds = 1 + Int(rng.next() % 3)
        for _ in 0..<rounds {
            guard b.count > 24 else { return }
            let k = Int(rng.next() % UInt64(b.count))
            switch rng.next() % 7 {
            case 0: b[k] ^= UInt8(1 << (rng.next() % 8))
            case 1: b = Array(b.prefix(k))
            case 2: b[k] = [0, 1, 0xFF, 0x7F, 0x80, 9, 8, 12][Int(rng.next() % 8)]
            case 3: // an 8-byte field: a count, length or offset
                let v: UInt64 = [0, 1, UInt64.max, 1 << 32, 1 << 62, UInt64(rng.next() % 4096), rng.next()][Int(rng.next() % 7)]
                let at = k - k % 4
                let le = v.littleEndianBytes
                for j in 0..<8 where at + j < b.count { b[at + j] = le[j] }
            case 4: b.removeSubrange(k..<min(b.count, k + Int(rng.next() % 16)))
            case 5: b.insert(contentsOf: (0..<Int(rng.next() % 12)).map { _ in UInt8(rng.next() & 0xFF) }, at: k)
            default: // the header counts
                let at = 8 + 8 * Int(rng.next() % 2)
                b[at] = UInt8(rng.next() & 0xFF)
            }
        }
    }
}
