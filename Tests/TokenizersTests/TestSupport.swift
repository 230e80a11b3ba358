import Foundation
import XCTest
@testable import Tokenizers

/// `<package root>/../shared`, or `$SWIFTTUNE_SHARED`.
func sharedDir(file: String = #filePath) throws -> String {
    if let env = ProcessInfo.processInfo.environment["SWIFTTUNE_SHARED"], !env.isEmpty { return env }
    var dir = URL(fileURLWithPath: file).deletingLastPathComponent()
    while dir.path != "/" {
        if FileManager.default.fileExists(atPath: dir.appendingPathComponent("Package.swift").path) {
            let shared = dir.deletingLastPathComponent().appendingPathComponent("shared").path
            guard FileManager.default.fileExists(atPath: shared) else {
                throw XCTSkip("shared test material not found at \(shared) (set SWIFTTUNE_SHARED)")
            }
            return shared
        }
        dir = dir.deletingLastPathComponent()
    }
    throw XCTSkip("package root not found above \(file)")
}

func tokenizerDir(_ name: String) throws -> String {
    let d = try sharedDir() + "/testdata/tokenizers/" + name
    guard FileManager.default.fileExists(atPath: d + "/tokenizer.json") else {
        XCTFail("missing test tokenizer \(d)/tokenizer.json")
        throw XCTSkip("missing \(d)")
    }
    return d
}

/// Loaded tokenizers, shared between tests (loading the big ones takes a while).
final class TokenizerCache: @unchecked Sendable {
    static let shared = TokenizerCache()
    private let lock = NSLock()
    private var items: [String: Tokenizer] = [:]
    func get(_ name: String) throws -> Tokenizer {
        lock.lock(); defer { lock.unlock() }
        if let t = items[name] { return t }
        let t = try Tokenizer(path: try tokenizerDir(name))
        items[name] = t
        return t
    }
}

struct ReferenceCase {
    let id: String
    let text: String
    let ids: [Int]
    let tokens: [String]
    let offsets: [TokenOffset]
    let idsWithSpecial: [Int]
    let offsetsWithSpecial: [TokenOffset]
    let decoded: String
    let decodedWithSpecial: String
    let decodedWithSpecialSkip: String
}

func loadCases(_ name: String) throws -> [ReferenceCase] {
    let path = try tokenizerDir(name) + "/cases.json"
    let root = try parseJSON(Data(contentsOf: URL(fileURLWithPath: path)), name: path) as! JSONDict
    let cases = (root["cases"] as! [Any]).map { $0 as! JSONDict }
    func offs(_ v: Any?) -> [TokenOffset] { (v as! [[Int]]).map { TokenOffset($0[0], $0[1]) } }
    return cases.map { c in
        ReferenceCase(id: c["id"] as! String, text: c["text"] as! String, ids: c["ids"] as! [Int], tokens: c["tokens"] as! [String],
                      offsets: offs(c["offsets"]), idsWithSpecial: c["ids_with_special"] as! [Int],
                      offsetsWithSpecial: offs(c["offsets_with_special"]), decoded: c["decoded"] as! String,
                      decodedWithSpecial: c["decoded_with_special"] as! String,
                      decodedWithSpecialSkip: c["decoded_with_special_skip"] as! String)
    }
}

/// Scalar-exact string equality (Swift's `==` treats canonically equivalent strings as equal).
func exact(_ a: String, _ b: String) -> Bool { a.unicodeScalars.elementsEqual(b.unicodeScalars) }
func exact(_ a: [String], _ b: [String]) -> Bool { a.count == b.count && zip(a, b).allSatisfy { exact($0, $1) } }
