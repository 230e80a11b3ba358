import Foundation
import JSONCore
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
    let root = try parseJSON(Data(contentsOf: URL(fileURLWithPath: path)), name: path)
    let cases = root["cases"]!.arr
    func offs(_ v: JSONValue?) -> [TokenOffset] { v!.arr.map { TokenOffset($0.arr[0].i, $0.arr[1].i) } }
    return cases.map { c in
        ReferenceCase(id: c["id"]!.str, text: c["text"]!.str, ids: c["ids"]!.ints, tokens: c["tokens"]!.strs,
                      offsets: offs(c["offsets"]), idsWithSpecial: c["ids_with_special"]!.ints,
                      offsetsWithSpecial: offs(c["offsets_with_special"]), decoded: c["decoded"]!.str,
                      decodedWithSpecial: c["decoded_with_special"]!.str,
                      decodedWithSpecialSkip: c["decoded_with_special_skip"]!.str)
    }
}

/// Fixture accessors: a fixture without the expected shape traps the test.
extension JSONValue {
    var str: String { stringValue! }
    var i: Int { intValue! }
    var arr: [JSONValue] { arrayValue! }
    var obj: JSONObject { objectValue! }
    var ints: [Int] { arr.map(\.i) }
    var strs: [String] { arr.map(\.str) }
}

/// Scalar-exact string equality (Swift's `==` treats canonically equivalent strings as equal).
func exact(_ a: String, _ b: String) -> Bool { a.unicodeScalars.elementsEqual(b.unicodeScalars) }
func exact(_ a: [String], _ b: [String]) -> Bool { a.count == b.count && zip(a, b).allSatisfy { exact($0, $1) } }
