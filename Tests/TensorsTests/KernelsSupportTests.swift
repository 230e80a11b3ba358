import Foundation
import XCTest
@testable import Tensors

/// One fixture case written by scripts/gen_kernel_fixtures.py: raw little-endian arrays plus the manifest entry.
struct KernelFixture {
    let name: String
    let params: [String: Any]
    let tensors: [String: (file: String, dtype: String, shape: [Int])]

    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Fixtures/kernels")

    static func load(_ name: String, file: StaticString = #filePath, line: UInt = #line) throws -> KernelFixture {
        let url = directory.appendingPathComponent("manifest.json")
        guard let data = try? Data(contentsOf: url) else {
            throw FixtureError("missing \(url.path); regenerate with /work/venv/bin/python scripts/gen_kernel_fixtures.py")
        }
        guard let root = try JSONSerialization.jsonObject(with: data) as? [String: Any],
              let cases = root["cases"] as? [[String: Any]] else { throw FixtureError("\(url.path): no \"cases\" array") }
        guard let entry = cases.first(where: { $0["name"] as? String == name }) else {
            throw FixtureError("\(url.path): no case named \(name)")
        }
        var tensors: [String: (String, String, [Int])] = [:]
        for (k, v) in entry["tensors"] as? [String: [String: Any]] ?? [:] {
            guard let f = v["file"] as? String, let d = v["dtype"] as? String, let s = v["shape"] as? [Int] else {
                throw FixtureError("\(name).\(k): malformed tensor entry")
            }
            tensors[k] = (f, d, s)
        }
        return KernelFixture(name: name, params: entry["params"] as? [String: Any] ?? [:], tensors: tensors)
    }

    func has(_ t: String) -> Bool { tensors[t] != nil }

    func count(_ t: String) -> Int { tensors[t].map { $0.shape.reduce(1, *) } ?? 0 }

    private func raw<T>(_ t: String, _ dtype: String, _: T.Type) throws -> [T] {
        guard let e = tensors[t] else { throw FixtureError("\(name): no tensor \(t)") }
        guard e.dtype == dtype else { throw FixtureError("\(name).\(t): dtype \(e.dtype), expected \(dtype)") }
        let data = try Data(contentsOf: KernelFixture.directory.appendingPathComponent(e.file))
        let n = e.shape.reduce(1, *)
        guard data.count == n * MemoryLayout<T>.size else {
            throw FixtureError("\(e.file): \(data.count) bytes, expected \(n * MemoryLayout<T>.size)")
        }
        return data.withUnsafeBytes { Array($0.bindMemory(to: T.self)) }  // fixtures and host are little-endian
    }

    func f32(_ t: String) throws -> [Float] { try raw(t, "f32", Float.self) }
    func i32(_ t: String) throws -> [Int32] { try raw(t, "i32", Int32.self) }
    func u8(_ t: String) throws -> [UInt8] { try raw(t, "u8", UInt8.self) }
    func u16(_ t: String) throws -> [UInt16] { try raw(t, "u16", UInt16.self) }

    func int(_ k: String) -> Int { (params[k] as? NSNumber)?.intValue ?? 0 }
    func float(_ k: String) -> Float { (params[k] as? NSNumber)?.floatValue ?? 0 }
    func bool(_ k: String) -> Bool { (params[k] as? NSNumber)?.boolValue ?? false }
}

struct FixtureError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}

/// Asserts |a - e| <= rtol · (|e| + max|e|) elementwise (relative error against the element, floored by the
/// tensor's scale so near-zero entries of a large tensor are not judged against themselves). Infinities and
/// NaNs must match exactly. Returns the largest scaled error seen.
@discardableResult
func assertClose(_ a: [Float], _ e: [Float], rtol: Float = 1e-5, _ what: String,
                 file: StaticString = #filePath, line: UInt = #line) -> Float {
    guard a.count == e.count else {
        XCTFail("\(what): \(a.count) values, expected \(e.count)", file: file, line: line); return .infinity
    }
    let scale = e.reduce(Float(0)) { $1.isFinite ? max($0, abs($1)) : $0 }
    var worst: Float = 0, worstAt = -1
    for i in 0..<a.count {
        if e[i].isNaN || !e[i].isFinite || !a[i].isFinite {
            if !(a[i] == e[i] || (a[i].isNaN && e[i].isNaN)) {
                XCTFail("\(what)[\(i)] = \(a[i]), expected \(e[i])", file: file, line: line); return .infinity
            }
            continue
        }
        let err = abs(a[i] - e[i]) / (abs(e[i]) + scale + Float.leastNormalMagnitude)
        if err > worst { worst = err; worstAt = i }
    }
    if worst > rtol {
        XCTFail("\(what): scaled error \(worst) > \(rtol) at [\(worstAt)]: \(a[worstAt]) vs \(e[worstAt])",
                file: file, line: line)
    }
    return worst
}

/// Deterministic test data (xorshift), so failures reproduce.
struct TestRNG {
    var state: UInt64
    init(_ seed: UInt64) { state = seed &* 0x9E37_79B9_7F4A_7C15 | 1 }
    mutating func next() -> UInt64 { state ^= state << 13; state ^= state >> 7; state ^= state << 17; return state }
    mutating func uniform() -> Float { Float(next() >> 40) / Float(1 << 24) }
    mutating func normal() -> Float {
        let u = max(uniform(), 1e-7), v = uniform()
        return (-2 * log(u)).squareRoot() * cos(2 * .pi * v)
    }
    mutating func normals(_ n: Int, scale: Float = 1) -> [Float] { (0..<n).map { _ in normal() * scale } }
}

final class KernelsSupportTests: XCTestCase {
    func testManifestListsEveryFixtureFile() throws {
        let data = try Data(contentsOf: KernelFixture.directory.appendingPathComponent("manifest.json"))
        let root = try XCTUnwrap(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let cases = try XCTUnwrap(root["cases"] as? [[String: Any]])
        XCTAssertGreaterThanOrEqual(cases.count, 19)
        for c in cases {
            let f = try KernelFixture.load(c["name"] as! String)
            for (t, e) in f.tensors {
                let size = (try? FileManager.default.attributesOfItem(
                    atPath: KernelFixture.directory.appendingPathComponent(e.file).path)[.size] as? Int) ?? -1
                let width = ["f32": 4, "i32": 4, "u16": 2, "u8": 1][e.dtype] ?? 0
                XCTAssertEqual(size, e.shape.reduce(1, *) * width, "\(f.name).\(t)")
            }
        }
    }
}
