import Foundation
import XCTest
@testable import Models
import ModelIO
import Tensors

enum Fixtures {
    /// Tests/ModelsTests/Fixtures inside the test bundle.
    static var root: URL { Bundle.module.resourceURL!.appendingPathComponent("Fixtures") }
    static func folder(_ name: String) -> URL { root.appendingPathComponent(name) }

    /// A reference.safetensors / logits.safetensors file as name → tensor.
    static func tensors(_ url: URL) throws -> [String: Tensor] {
        let f = try SafeTensorsFile(path: url.path)
        var out: [String: Tensor] = [:]
        for t in f.tensors {
            out[t.name] = try Tensor(borrowing: t.bytes.baseAddress!, byteCount: t.byteCount, dtype: t.dtype, shape: t.shape, owner: t.storage)
        }
        return out
    }
}

/// max |a − b| over all elements.
func maxAbsDiff(_ a: [Float], _ b: [Float]) -> Float {
    precondition(a.count == b.count, "length \(a.count) vs \(b.count)")
    var m: Float = 0
    for i in 0..<a.count { m = Swift.max(m, Swift.abs(a[i] - b[i])); if a[i].isNaN != b[i].isNaN { return .infinity } }
    return m
}

/// max |a − b| / max |b| (a tensor-wise relative error).
func relativeDiff(_ a: [Float], _ b: [Float]) -> Float {
    let scale = b.map { Swift.abs($0) }.max() ?? 0
    return maxAbsDiff(a, b) / Swift.max(scale, 1e-12)
}
