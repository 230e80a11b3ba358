import Foundation
import XCTest
@testable import Tensors

/// float16/bfloat16 conversions against torch (fixtures from scripts/gen_tensor_fixtures.py): all 65,536
/// float16 patterns → float32, and 1,048,576 seeded float32 patterns (incl. inf, NaN, subnormals and the
/// float16 overflow/underflow boundaries) → float16 and → bfloat16. Non-NaN results must be bit-identical;
/// NaN inputs must give NaN (torch's own NaN bits differ between its scalar and vectorised paths).
final class ConversionTests: XCTestCase {
    struct Meta: Decodable {
        let count: Int, raw_count: Int, nan_inputs: Int
        let patterns_fnv1a64: String, f16_fnv1a64: String, bf16_fnv1a64: String
    }

    static let specials: [UInt32] = [
        0x00000000, 0x80000000, 0x7F800000, 0xFF800000, 0x7FC00000, 0xFFC00000, 0x7F800001, 0xFFBFFFFF,
        0x7FFFFFFF, 0x477FE000, 0x477FEFFF, 0x477FF000, 0xC77FF000, 0x33800000, 0x33000000, 0x33000001,
        0xB3000000, 0x387FC000, 0x38800000, 0x7F7FFFFF, 0x00000001, 0x807FFFFF, 0x3F808000, 0x3F818000,
        0x7F7F8000, 0x7F7FFFFF, 0x3F800001, 0x3F7FFFFF]

    /// Same generator as `patterns()` in scripts/gen_tensor_fixtures.py (xorshift64*, high 32 bits; odd
    /// indices steered to exponents 100...150).
    static func patterns(_ n: Int) -> [UInt32] {
        var x: UInt64 = 0x9E37_79B9_7F4A_7C15
        var out = [UInt32](repeating: 0, count: n)
        for i in 0..<n {
            x ^= x >> 12; x ^= x << 25; x ^= x >> 27
            var r = UInt32(truncatingIfNeeded: (x &* 0x2545_F491_4F6C_DD1D) >> 32)
            if i % 2 == 1 { r = (r & 0x807F_FFFF) | ((100 + (r >> 23) % 51) << 23) }
            out[i] = r
        }
        for (i, s) in specials.enumerated() { out[i] = s }
        return out
    }

    static func fnv1a64<T>(_ values: [T]) -> String {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        values.withUnsafeBytes { raw in for b in raw { h = (h ^ UInt64(b)) &* 0x100_0000_01B3 } }
        return String(format: "%016llx", h)
    }

    func load<T>(_ name: String, as: T.Type) throws -> [T] {
        let d = try Data(contentsOf: tensorFixturesURL().appendingPathComponent(name))
        return d.withUnsafeBytes { Array($0.bindMemory(to: T.self)) }   // fixtures are little-endian, as is x86/arm
    }

    func testFloat16ToFloat32Exhaustive() throws {
        let expected: [UInt32] = try load("f16_to_f32.bin", as: UInt32.self)
        XCTAssertEqual(expected.count, 65536)
        let bits = (0..<65536).map { Int($0) }
        let h = Tensor(bits, shape: [65536], dtype: .int64)
        // Build the float16 tensor from raw bit patterns.
        let half = Tensor(zeros: [65536], dtype: .float16)
        let hp = half.storage.base.assumingMemoryBound(to: UInt16.self)
        for (i, b) in h.toIntArray().enumerated() { hp[i] = UInt16(b) }
        let f = half.to(.float32).toFloatArray()
        var bad = 0, nanBits = 0
        for i in 0..<65536 {
            let e = Float(bitPattern: expected[i])
            if e.isNaN {
                if !f[i].isNaN { bad += 1 } else if f[i].bitPattern != expected[i] { nanBits += 1 }
            } else if f[i].bitPattern != expected[i] { bad += 1 }
        }
        XCTAssertEqual(bad, 0, "float16→float32 mismatches")
        if nanBits > 0 { print("note: \(nanBits) float16 NaN payloads convert to different NaN bits than torch") }
    }

    func testFloat32ToHalfAndBFloat16Seeded() throws {
        let meta = try JSONDecoder().decode(Meta.self, from: Data(contentsOf: tensorFixturesURL().appendingPathComponent("conversions.json")))
        let pats = Self.patterns(meta.count)
        XCTAssertEqual(Self.fnv1a64(pats), meta.patterns_fnv1a64, "Swift and Python pattern generators disagree")
        let src = Tensor(zeros: [meta.count], dtype: .float32)
        let sp = src.storage.base.assumingMemoryBound(to: UInt32.self)
        for i in 0..<meta.count { sp[i] = pats[i] }
        let isNaN = pats.map { Float(bitPattern: $0).isNaN }
        XCTAssertEqual(isNaN.filter { $0 }.count, meta.nan_inputs)

        for (dtype, file, hash) in [(DType.float16, "f32_to_f16.bin", meta.f16_fnv1a64), (.bfloat16, "f32_to_bf16.bin", meta.bf16_fnv1a64)] {
            let out = src.to(dtype)
            XCTAssertEqual(out.dtype, dtype)
            let op = out.storage.base.assumingMemoryBound(to: UInt16.self)
            var got = Array(UnsafeBufferPointer(start: op, count: meta.count))
            let raw: [UInt16] = try load(file, as: UInt16.self)
            XCTAssertEqual(raw.count, meta.raw_count)
            var bad = 0, firstBad = -1
            for i in 0..<meta.raw_count {
                let ok: Bool
                if isNaN[i] {
                    ok = dtype == .float16 ? (got[i] & 0x7C00 == 0x7C00 && got[i] & 0x03FF != 0)
                                           : (got[i] & 0x7F80 == 0x7F80 && got[i] & 0x007F != 0)
                } else { ok = got[i] == raw[i] }
                if !ok { bad += 1; if firstBad < 0 { firstBad = i } }
            }
            XCTAssertEqual(bad, 0, "\(dtype): \(bad) of the first \(meta.raw_count) differ from torch; first at \(firstBad): input 0x\(String(pats[Swift.max(firstBad, 0)], radix: 16)) → 0x\(String(got[Swift.max(firstBad, 0)], radix: 16)), torch 0x\(String(raw[Swift.max(firstBad, 0)], radix: 16))")
            for i in 0..<meta.count where isNaN[i] { got[i] = dtype == .float16 ? 0x7E00 : 0x7FC0 }
            XCTAssertEqual(Self.fnv1a64(got), hash, "\(dtype): hash over all \(meta.count) NaN-canonicalised outputs differs from torch")
            // The scalar BFloat16 type must agree with the bulk path on every non-NaN value.
            if dtype == .bfloat16 {
                let scalarBad = (0..<meta.count).filter { !isNaN[$0] && BFloat16(Float(bitPattern: pats[$0])).bitPattern != got[$0] }.count
                XCTAssertEqual(scalarBad, 0, "BFloat16(Float) disagrees with the bulk conversion")
            }
        }
    }

    func testIntegerAndBoolConversions() {
        XCTAssertEqual(Tensor([1.7, -1.7, 0, 300] as [Float]).to(.int64).toIntArray(), [1, -1, 0, 300])
        XCTAssertEqual(Tensor([1.7, -1.7, 0, 300] as [Float]).to(.uint8).toIntArray(), [1, 255, 0, 44]) // wraps like torch
        XCTAssertEqual(Tensor([0, 2, -1] as [Float]).to(.bool).toIntArray(), [0, 1, 1])
        XCTAssertEqual(Tensor([3, -4], dtype: .int32).to(.float32).toFloatArray(), [3, -4])
        XCTAssertEqual(Tensor([3, -4], dtype: .int8).to(.bfloat16).toFloatArray(), [3, -4])
        XCTAssertEqual(Tensor([65504, 65520, 1e-8] as [Float]).to(.float16).toFloatArray(), [65504, .infinity, 0])
    }
}
