import Foundation
import XCTest
@testable import Models

/// RoPE inverse frequencies for rope_type default / linear / dynamic / llama3 against transformers'
/// ROPE_INIT_FUNCTIONS (fixture from scripts/gen_rope_fixtures.py), within 1e-6 relative.
final class RopeTests: XCTestCase {
    struct Case: Decodable {
        let name: String
        let seq_len: Int?
        let inv_freq: [Double]
        let config: AnyJSON
    }
    /// Keeps the raw config object to feed ModelConfig's own decoder.
    struct AnyJSON: Decodable {
        let data: Data
        init(from decoder: Decoder) throws {
            data = try JSONSerialization.data(withJSONObject: try decoder.singleValueContainer().decode(JSONValue.self).object)
        }
    }
    indirect enum JSONValue: Decodable {
        case num(Double), str(String), bool(Bool), obj([String: JSONValue]), null
        init(from d: Decoder) throws {
            let c = try d.singleValueContainer()
            if let b = try? c.decode(Bool.self) { self = .bool(b) }
            else if let n = try? c.decode(Double.self) { self = .num(n) }
            else if let s = try? c.decode(String.self) { self = .str(s) }
            else if let o = try? c.decode([String: JSONValue].self) { self = .obj(o) }
            else { self = .null }
        }
        var object: Any {
            switch self {
            case .num(let n): return n == n.rounded() && abs(n) < 1e15 ? Int(n) as Any : n
            case .str(let s): return s
            case .bool(let b): return b
            case .obj(let o): return o.mapValues(\.object)
            case .null: return NSNull()
            }
        }
    }

    func testInverseFrequenciesMatchTransformers() throws {
        let cases = try JSONDecoder().decode([Case].self, from: Data(contentsOf: Fixtures.root.appendingPathComponent("rope.json")))
        XCTAssertEqual(cases.count, 5)
        for c in cases {
            let config = try JSONDecoder().decode(ModelConfig.self, from: c.config.data)
            let rope = RotaryEmbedding(config: config)
            let got = rope.invFreq(maxPosition: (c.seq_len ?? 1) - 1)
            XCTAssertEqual(got.count, c.inv_freq.count, c.name)
            for (g, w) in zip(got, c.inv_freq) {
                XCTAssertEqual(Double(g), w, accuracy: 1e-6 * abs(w), "\(c.name)")
            }
        }
    }
}
