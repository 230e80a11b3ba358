import Foundation
import XCTest
@testable import Quantization

/// Parity with gguf-py 0.19 `gguf.quants.dequantize` / `quantize`: fixtures from scripts/gen_quant_fixtures.py.
/// Tolerance: none: every value must match bit for bit.
final class GGMLDequantizerTests: XCTestCase {
    static let types: [GGMLType] = [.f32, .f16, .bf16, .q8_0, .q4_0, .q4_1, .q5_0, .q5_1, .q2_K, .q3_K, .q4_K, .q5_K, .q6_K]

    func fixture(_ name: String) throws -> [UInt8] {
        guard let url = Bundle.module.url(forResource: "Fixtures/ggml/\(name)", withExtension: nil) else {
            throw XCTSkip("missing fixture \(name): run scripts/gen_quant_fixtures.py")
        }
        return [UInt8](try Data(contentsOf: url))
    }

    func floats(_ bytes: [UInt8]) -> [Float] {
        bytes.withUnsafeBytes { raw in (0..<(bytes.count / 4)).map { Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * $0, as: UInt32.self))) } }
    }

    func assertBitExact(_ got: [Float], _ want: [Float], _ what: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(got.count, want.count, what, file: file, line: line)
        var mismatches = 0
        for i in 0..<min(got.count, want.count) where got[i].bitPattern != want[i].bitPattern && !(got[i].isNaN && want[i].isNaN) {
            if mismatches < 5 { XCTFail("\(what)[\(i)]: got \(got[i]) want \(want[i])", file: file, line: line) }
            mismatches += 1
        }
        XCTAssertEqual(mismatches, 0, "\(what): \(mismatches) values differ", file: file, line: line)
    }

    func testTypeTable() {
        XCTAssertEqual(GGMLType.q4_1.blockSize, 32); XCTAssertEqual(GGMLType.q4_1.typeSize, 20)
        XCTAssertEqual(GGMLType.q6_K.typeSize, 210); XCTAssertEqual(GGMLType.q2_K.typeSize, 84)
        XCTAssertEqual(GGMLType.q3_K.typeSize, 110); XCTAssertEqual(GGMLType.q5_K.typeSize, 176)
        XCTAssertEqual(GGMLType.q4_K.typeSize, 144); XCTAssertEqual(GGMLType.bf16.typeSize, 2)
        XCTAssertEqual(GGMLType(name: "q4_k"), .q4_K); XCTAssertEqual(GGMLType(name: "BF16"), .bf16)
        XCTAssertEqual(GGMLType.q8_0.byteCount(elements: 64), 68)
        XCTAssertNil(GGMLType.q8_0.byteCount(elements: 33))
    }

    func testDequantizeMatchesGGUFPython() throws {
        for type in Self.types {
            let blocks = try fixture("\(type.name).blocks")
            let want = floats(try fixture("\(type.name).f32"))
            let got = try blocks.withUnsafeBytes { try GGMLDequantizer.dequantize(type, $0) }
            assertBitExact(got, want, type.name)
        }
    }

    func testRowwiseMatchesWhole() throws {
        for type in Self.types {
            let blocks = try fixture("\(type.name).blocks")
            let want = floats(try fixture("\(type.name).f32"))
            // Rows of 2 blocks (or 32 values for plain types); every row range must match the whole.
            let rowLength = type.blockSize == 1 ? 32 : 2 * type.blockSize
            let rowCount = want.count / rowLength
            for rows in [0..<rowCount, 1..<3, (rowCount - 1)..<rowCount] {
                var out = [Float](repeating: -1, count: rows.count * rowLength)
                try blocks.withUnsafeBytes { src in
                    try out.withUnsafeMutableBufferPointer { dst in
                        try GGMLDequantizer.dequantizeRows(type, from: src, rowLength: rowLength, rows: rows, into: dst)
                    }
                }
                assertBitExact(out, Array(want[(rows.lowerBound * rowLength)..<(rows.upperBound * rowLength)]), "\(type.name) rows \(rows)")
            }
        }
    }

    func testBadInputsThrow() throws {
        let bytes = [UInt8](repeating: 0, count: 21)
        XCTAssertThrowsError(try bytes.withUnsafeBytes { try GGMLDequantizer.dequantize(.q4_1, $0) }) { error in
            XCTAssertTrue("\(error)".contains("not a whole number"), "\(error)")
        }
        XCTAssertThrowsError(try bytes.withUnsafeBytes { try GGMLDequantizer.dequantize(.iq2_xxs, $0) })
        var small = [Float](repeating: 0, count: 8)
        XCTAssertThrowsError(try [UInt8](repeating: 0, count: 20).withUnsafeBytes { src in
            try small.withUnsafeMutableBufferPointer { try GGMLDequantizer.dequantize(.q4_1, from: src, into: $0) }
        })
        XCTAssertThrowsError(try [UInt8](repeating: 0, count: 40).withUnsafeBytes { src in
            try small.withUnsafeMutableBufferPointer { try GGMLDequantizer.dequantizeRows(.q4_1, from: src, rowLength: 32, rows: 1..<3, into: $0) }
        })
        XCTAssertThrowsError(try [UInt8](repeating: 0, count: 40).withUnsafeBytes { src in
            try small.withUnsafeMutableBufferPointer { try GGMLDequantizer.dequantizeRows(.q4_1, from: src, rowLength: 20, rows: 0..<1, into: $0) }
        })
    }

    #if !(os(macOS) && arch(x86_64))  // Float16 is the reference; Intel macOS lacks it
    func testHalfConversionExhaustive() {
        for h in 0..<65536 {
            let bits = UInt16(h)
            let want = Float(Float16(bitPattern: bits))
            let got = Half.toFloat(bits)
            if want.isNaN { XCTAssertTrue(got.isNaN); continue }
            XCTAssertEqual(got.bitPattern, want.bitPattern, "half 0x\(String(h, radix: 16))")
        }
    }

    /// Float → half against Swift's Float16 conversion (round-to-nearest-even) on edge values and 300 K random bit patterns.
    func testFloatToHalf() {
        var edges: [Float] = [0, -0, 1, -1, 65504, 65505, 65519.99, 65520, 65536, 1e10, -1e10, .infinity, -.infinity,
                              6.1035156e-05, 6.1e-05, 5.9604645e-08, 2.9802322e-08, 2.9802326e-08, 8.940697e-08, 1e-30,
                              .leastNonzeroMagnitude, .greatestFiniteMagnitude, 0.1, 0.333333, 1.00048828125, 1.000732421875]
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<300_000 { edges.append(Float(bitPattern: UInt32.random(in: 0...UInt32.max, using: &rng))) }
        var mismatches = 0
        for f in edges where !f.isNaN {
            if Half.fromFloat(f) != Float16(f).bitPattern {
                if mismatches < 5 { XCTFail("\(f): got \(Half.fromFloat(f)) want \(Float16(f).bitPattern)") }
                mismatches += 1
            }
        }
        XCTAssertEqual(mismatches, 0)
        XCTAssertTrue(Half.toFloat(Half.fromFloat(.nan)).isNaN)
    }

    #endif

    func testQuantizeMatchesGGUFPython() throws {
        let input = floats(try fixture("quant_input.f32"))
        for type in [GGMLType.q8_0, .q4_1] {
            let want = try fixture("\(type.name).quantized")
            let got = try GGMLQuantizer.quantize(type, input)
            XCTAssertEqual(got.count, want.count)
            let firstDiff = zip(got, want).enumerated().first { $0.element.0 != $0.element.1 }?.offset
            XCTAssertNil(firstDiff, "\(type.name) differs first at byte \(firstDiff ?? -1)")
        }
        XCTAssertThrowsError(try GGMLQuantizer.quantize(.q4_K, input))
        XCTAssertThrowsError(try GGMLQuantizer.quantize(.q8_0, [Float](repeating: 0, count: 31)))
    }

    /// Speed: 4 M values of each type (about the size of SmolLM2's largest weights), best of 3 into a warm
    /// buffer (a fresh one measures page faults, not the kernels). Prints the rates; asserts a loose floor.
    func testDequantizeSpeed() throws {
        let elements = 1 << 22
        var out = [Float](repeating: 0, count: elements)
        var report: [String] = []
        for type in Self.types {
            var bytes = [UInt8](repeating: 0, count: elements / type.blockSize * type.typeSize)
            for i in bytes.indices { bytes[i] = UInt8(truncatingIfNeeded: (i &* 2654435761) >> 7) }
            var best = Double.infinity
            for _ in 0..<3 {
                let start = DispatchTime.now().uptimeNanoseconds
                try bytes.withUnsafeBytes { src in
                    try out.withUnsafeMutableBufferPointer { try GGMLDequantizer.dequantize(type, from: src, into: $0) }
                }
                best = min(best, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
            }
            let rate = Double(elements) / best / 1e6
            report.append("\(type.name) \(Int(rate))")
            // Loose floor: catches a kernel that fell off vectorisation by an order of magnitude, not noise.
            XCTAssertGreaterThan(rate, 50, type.name)
        }
        print("dequantize, M values/s: " + report.joined(separator: ", "))
    }
}
