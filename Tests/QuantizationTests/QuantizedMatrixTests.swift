import XCTest
@testable import Quantization
import Tensors

/// `QuantizedMatrix.gemv` against dequantise-then-dot (float64 sums of the dequantised values, which
/// are bit-exact with gguf-py): every type with a kernel, every instruction-set variant this CPU has,
/// odd shapes, one to three input rows, with bias. Tolerance: 1e-5 relative to Σ|w·x| (the scale of
/// a float32 dot product's rounding error; a plain relative error is meaningless when terms cancel),
/// and 1e-5 relative to |y| wherever |y| is at least a tenth of that scale.
final class QuantizedMatrixTests: XCTestCase {
    static let types: [GGMLType] = [.q4_0, .q4_1, .q5_0, .q5_1, .q8_0]

    /// Random blocks with finite scales in ±[0.001, 0.05] (the other bytes are random).
    func randomBlocks(_ type: GGMLType, rows: Int, cols: Int, seed: UInt64) -> [UInt8] {
        var state = seed &* 0x9E37_79B9_7F4A_7C15 | 1
        func next() -> UInt64 { state ^= state << 13; state ^= state >> 7; state ^= state << 17; return state }
        let n = rows * cols / type.blockSize * type.typeSize
        var bytes = (0..<n).map { _ in UInt8(truncatingIfNeeded: next()) }
        let scaleFields = (type == .q4_1 || type == .q5_1) ? 2 : 1
        for b in 0..<(n / type.typeSize) {
            for f in 0..<scaleFields {
                let mag = 0.001 + Float(next() % 1000) / 1000 * 0.049
                let h = Half.fromFloat(next() % 2 == 0 ? mag : -mag)
                bytes[b * type.typeSize + 2 * f] = UInt8(h & 0xFF)
                bytes[b * type.typeSize + 2 * f + 1] = UInt8(h >> 8)
            }
        }
        return bytes
    }

    func testGEMVMatchesDequantisedDot() throws {
        let original = QuantizedMatrix.setKernelISA(maxLevel: 3)
        defer { QuantizedMatrix.setKernelISA(maxLevel: original) }
        var checked = 0
        for level in 0...original {
            XCTAssertEqual(QuantizedMatrix.setKernelISA(maxLevel: level), level)
            for type in Self.types {
                for (rows, cols, xRows) in [(1, 32, 1), (7, 96, 2), (37, 576, 3), (130, 1536, 1)] {
                    let bytes = randomBlocks(type, rows: rows, cols: cols, seed: UInt64(rows * 1000 + cols + Int(type.rawValue)))
                    let m = try bytes.withUnsafeBytes { try QuantizedMatrix(type: type, rows: rows, cols: cols, bytes: $0) }
                    let w = try bytes.withUnsafeBytes { try GGMLDequantizer.dequantize(type, $0) }
                    let x = (0..<(xRows * cols)).map { i in Float(sin(Double(i) * 0.37 + Double(rows))) * 2 }
                    let bias = (0..<rows).map { Float($0) * 0.01 - 0.3 }
                    var y = [Float](repeating: .nan, count: xRows * rows)
                    x.withUnsafeBufferPointer { xp in bias.withUnsafeBufferPointer { bp in y.withUnsafeMutableBufferPointer { yp in
                        m.gemv(x: xp.baseAddress!, xRows: xRows, y: yp.baseAddress!, bias: bp.baseAddress!)
                    } } }
                    for r in 0..<xRows {
                        for j in 0..<rows {
                            var ref = Double(bias[j]), scale = abs(Double(bias[j]))
                            for k in 0..<cols {
                                let p = Double(w[j * cols + k]) * Double(x[r * cols + k])
                                ref += p; scale += abs(p)
                            }
                            let got = Double(y[r * rows + j]), err = abs(got - ref)
                            XCTAssertLessThanOrEqual(err, 1e-5 * scale, "\(type) isa \(level) [\(rows)x\(cols)] row \(r) out \(j): \(got) vs \(ref)")
                            if abs(ref) >= 0.1 * scale {
                                XCTAssertLessThanOrEqual(err, 1e-5 * abs(ref), "\(type) isa \(level) [\(rows)x\(cols)] relative")
                            }
                            checked += 1
                        }
                    }
                }
            }
        }
        XCTAssertGreaterThan(checked, 0)
    }

    /// Dequantised rows (the prefill path) equal GGMLDequantizer's bit for bit, rows permuted as asked,
    /// for every type and instruction-set variant.
    func testRowOrderAndDequantizedRows() throws {
        let original = QuantizedMatrix.setKernelISA(maxLevel: 3)
        defer { QuantizedMatrix.setKernelISA(maxLevel: original) }
        for level in 0...original {
            QuantizedMatrix.setKernelISA(maxLevel: level)
            for type in Self.types {
                let rows = 6, cols = 96
                let bytes = randomBlocks(type, rows: rows, cols: cols, seed: 7 + UInt64(type.rawValue))
                let order = [3, 0, 5, 1, 4, 2]
                let m = try bytes.withUnsafeBytes { try QuantizedMatrix(type: type, rows: rows, cols: cols, bytes: $0, rowOrder: order) }
                let w = try bytes.withUnsafeBytes { try GGMLDequantizer.dequantize(type, $0) }
                let got = m.dequantized()
                for i in 0..<rows {
                    XCTAssertEqual(Array(got[(i * cols)..<((i + 1) * cols)]).map(\.bitPattern),
                                   Array(w[(order[i] * cols)..<((order[i] + 1) * cols)]).map(\.bitPattern), "\(type) isa \(level) row \(i)")
                }
            }
        }
    }

    /// On CPUs with VNNI the repacked copy replaces the blocks: they come back byte for byte (rows in the
    /// asked order, a partial last group of 16) and dequantise bit for bit from the repacked form. A NaN
    /// scale (whose payload the repacked form drops) keeps the blocks.
    func testRepackedCopyReplacesTheBlocks() throws {
        for type in Self.types {
            let rows = 37, cols = 96
            let bytes = randomBlocks(type, rows: rows, cols: cols, seed: 99 + UInt64(type.rawValue))
            let order = (0..<rows).map { ($0 * 11) % rows }
            let m = try bytes.withUnsafeBytes { try QuantizedMatrix(type: type, rows: rows, cols: cols, bytes: $0, rowOrder: order) }
            guard m.packedByteCount > 0 else { throw XCTSkip("no AVX-512 VNNI: the blocks are the only copy") }
            XCTAssertFalse(m.keepsBlocks, "\(type)")
            XCTAssertEqual(m.residentByteCount, m.packedByteCount)
            var back = [UInt8](repeating: 0, count: rows * m.rowBytes)
            back.withUnsafeMutableBytes { m.copyBlocks(0..<rows, to: $0.baseAddress!) }
            for i in 0..<rows {
                XCTAssertEqual(Array(back[(i * m.rowBytes)..<((i + 1) * m.rowBytes)]),
                               Array(bytes[(order[i] * m.rowBytes)..<((order[i] + 1) * m.rowBytes)]), "\(type) row \(i)")
            }
            let w = try bytes.withUnsafeBytes { try GGMLDequantizer.dequantize(type, $0) }
            let got = m.dequantized()
            for i in 0..<rows {
                XCTAssertEqual(Array(got[(i * cols)..<((i + 1) * cols)]).map(\.bitPattern),
                               Array(w[(order[i] * cols)..<((order[i] + 1) * cols)]).map(\.bitPattern), "\(type) row \(i)")
            }
            // Rows 5..<21 cross a group boundary.
            var part = [Float](repeating: 0, count: 16 * cols)
            part.withUnsafeMutableBufferPointer { m.dequantizeRows(5..<21, into: $0.baseAddress!) }
            XCTAssertEqual(part.map(\.bitPattern), Array(got[(5 * cols)..<(21 * cols)]).map(\.bitPattern), "\(type) rows 5..<21")
            // A NaN scale in one block: the blocks stay, and read back unchanged.
            var odd = bytes
            odd[3 * m.rowBytes] = 0x01; odd[3 * m.rowBytes + 1] = 0x7E     // half 0x7E01: a NaN with a payload
            let kept = try odd.withUnsafeBytes { try QuantizedMatrix(type: type, rows: rows, cols: cols, bytes: $0) }
            XCTAssertTrue(kept.keepsBlocks, "\(type)")
            var again = [UInt8](repeating: 0, count: rows * m.rowBytes)
            again.withUnsafeMutableBytes { kept.copyBlocks(0..<rows, to: $0.baseAddress!) }
            XCTAssertEqual(again, odd)
        }
    }

    func testRejectsBadInput() throws {
        let bytes = [UInt8](repeating: 0, count: 40)
        try bytes.withUnsafeBytes { raw in
            XCTAssertThrowsError(try QuantizedMatrix(type: .q4_1, rows: 2, cols: 33, bytes: raw))         // partial block
            XCTAssertThrowsError(try QuantizedMatrix(type: .q4_1, rows: 3, cols: 32, bytes: raw))         // wrong byte count
            XCTAssertThrowsError(try QuantizedMatrix(type: .q6_K, rows: 1, cols: 256, bytes: raw))        // no kernel
            XCTAssertThrowsError(try QuantizedMatrix(type: .q4_1, rows: 2, cols: 32, bytes: raw, rowOrder: [0, 0]))
            XCTAssertNoThrow(try QuantizedMatrix(type: .q4_1, rows: 2, cols: 32, bytes: raw, rowOrder: [1, 0]))
        }
    }
}
