import Foundation
import ModelIO
import Models
import Tensors
import XCTest

/// Fixture access: PEFT references in this target's bundle, tiny base models in ModelsTests/Fixtures
/// (found from #filePath).
enum Fixtures {
    static let cases = ["list-qv", "regex", "all-linear", "all-linear-tied", "default-targets", "modules-to-save",
                        "embedding", "rslora", "dora", "patterns", "phi3-fused"]

    static func folder(_ name: String) -> String {
        Bundle.module.url(forResource: "Fixtures", withExtension: nil)!.appendingPathComponent(name).path
    }

    static var packageRoot: URL {
        var u = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        while u.path != "/" {
            if FileManager.default.fileExists(atPath: u.appendingPathComponent("Package.swift").path) { return u }
            u = u.deletingLastPathComponent()
        }
        return URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }

    static func basePath(_ name: String) -> String {
        packageRoot.appendingPathComponent("Tests/ModelsTests/Fixtures").appendingPathComponent(name).path
    }

    /// The base model a case was made on (from its adapter_config.json).
    static func baseName(ofCase c: String) throws -> String {
        let data = try Data(contentsOf: URL(fileURLWithPath: folder(c) + "/adapter_config.json"))
        let obj = try JSONSerialization.jsonObject(with: data) as! [String: Any]
        return URL(fileURLWithPath: obj["base_model_name_or_path"] as! String).lastPathComponent
    }

    static func loadBase(_ name: String) throws -> CausalLM {
        try CausalLM.load(path: basePath(name))
    }

    /// Every tensor of a safetensors file as float32 Tensors.
    static func tensors(_ path: String) throws -> [String: Tensor] {
        let f = try SafeTensorsFile(path: path)
        var out: [String: Tensor] = [:]
        for t in f.tensors { out[t.name] = Tensor(t.floats(), shape: t.shape) }
        return out
    }

    static func counts(_ c: String) throws -> (trainable: Int, all: Int, line: String, names: [String]) {
        let data = try Data(contentsOf: URL(fileURLWithPath: folder(c) + "/counts.json"))
        let o = try JSONSerialization.jsonObject(with: data) as! [String: Any]
        return (o["trainable"] as! Int, o["all"] as! Int, o["line"] as! String, o["trainable_names"] as! [String])
    }
}

/// max |a − b| / max(max |b|, tiny).
func relDiff(_ a: Tensor, _ b: Tensor) -> Float {
    let x = a.toFloatArray(), y = b.toFloatArray()
    guard x.count == y.count else { return .infinity }
    var m: Float = 0, s: Float = 1e-12
    for i in 0..<x.count { m = max(m, abs(x[i] - y[i])); s = max(s, abs(y[i])) }
    return m / s
}

func assertRelClose(_ a: Tensor, _ b: Tensor, _ tol: Float, _ msg: String, file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(a.shape, b.shape, "\(msg): shape", file: file, line: line)
    let d = relDiff(a, b)
    XCTAssertLessThanOrEqual(d, tol, "\(msg): relative difference \(d) > \(tol)", file: file, line: line)
}
