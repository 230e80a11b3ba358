import JSONCore
import Foundation

/// The safetensors weights of a Hugging Face model folder: one `model.safetensors`, or shards listed by
/// `model.safetensors.index.json` (`{"metadata": {...}, "weight_map": {tensor name: shard file}}`),
/// or, without either, every `*.safetensors` file in the folder. Shards are mapped lazily by the OS;
/// tensors are looked up by name across them.
public final class SafeTensorsFolder: @unchecked Sendable {
    public static let indexFileName = "model.safetensors.index.json"
    public static let singleFileName = "model.safetensors"

    /// The folder (or single file) path.
    public let path: String
    /// The shard files, in name order.
    public let shards: [SafeTensorsFile]
    /// The index's `metadata` values as text (e.g. `total_size`); empty without an index.
    public let indexMetadata: [String: String]
    private let location: [String: (shard: Int, tensor: Int)]
    /// All tensor names: index order when there is an index, else shard by shard in storage order.
    public let names: [String]

    /// Opens a folder, or a single `.safetensors` file.
    public init(path: String) throws {
        self.path = path
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else {
            throw ModelIOError(.io, file: path, "no such file or folder", fix: "check the model path")
        }
        if !isDir.boolValue {
            let file = try SafeTensorsFile(path: path)
            shards = [file]
            indexMetadata = [:]
            names = file.names
            location = Dictionary(uniqueKeysWithValues: file.tensors.enumerated().map { ($1.name, (0, $0)) })
            return
        }
        let dir = URL(fileURLWithPath: path)
        let indexPath = dir.appendingPathComponent(SafeTensorsFolder.indexFileName).path
        if FileManager.default.fileExists(atPath: indexPath) {
            let (metadata, weightMap) = try SafeTensorsFolder.readIndex(indexPath)
            let files = Array(Set(weightMap.map(\.1))).sorted()
            var shardIndex: [String: Int] = [:]
            var opened: [SafeTensorsFile] = []
            for f in files {
                shardIndex[f] = opened.count
                opened.append(try SafeTensorsFile(path: dir.appendingPathComponent(f).path))
            }
            var location: [String: (Int, Int)] = [:]
            for (name, f) in weightMap {
                let s = shardIndex[f]!
                guard let t = opened[s].tensors.firstIndex(where: { $0.name == name }) else {
                    throw ModelIOError(.missing, file: indexPath, item: name, "the weight_map places it in \(f), which has no such tensor",
                                       fix: "the index and shards do not match: download the model again")
                }
                location[name] = (s, t)
            }
            shards = opened
            indexMetadata = metadata
            names = weightMap.map(\.0)
            self.location = location
            return
        }
        let single = dir.appendingPathComponent(SafeTensorsFolder.singleFileName).path
        var files: [String]
        if FileManager.default.fileExists(atPath: single) {
            files = [SafeTensorsFolder.singleFileName]
        } else {
            files = ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).filter { $0.hasSuffix(".safetensors") }.sorted()
        }
        guard !files.isEmpty else {
            throw ModelIOError(.missing, file: path, "no .safetensors file in the folder", fix: "point at a Hugging Face model folder with safetensors weights")
        }
        var opened: [SafeTensorsFile] = []
        var location: [String: (Int, Int)] = [:]
        var names: [String] = []
        for f in files {
            let file = try SafeTensorsFile(path: dir.appendingPathComponent(f).path)
            for (k, t) in file.tensors.enumerated() {
                if let previous = location[t.name] {
                    throw ModelIOError(.malformed, file: file.name, item: t.name, "tensor also appears in \(opened[previous.0].name)",
                                       fix: "remove stray .safetensors files from the folder")
                }
                location[t.name] = (opened.count, k)
                names.append(t.name)
            }
            opened.append(file)
        }
        shards = opened
        indexMetadata = [:]
        self.names = names
        self.location = location
    }

    /// Parses an index file: metadata as text, and the weight map in file order.
    static func readIndex(_ indexPath: String) throws -> ([String: String], [(String, String)]) {
        let fix = "the index is damaged: download the model again"
        guard let data = FileManager.default.contents(atPath: indexPath) else {
            throw ModelIOError(.io, file: indexPath, "cannot read the file", fix: "check permissions")
        }
        let json: JSONValue
        do {
            json = try data.withUnsafeBytes { raw in
                guard String(validating: raw, as: UTF8.self) != nil else { throw ModelIOError(.malformed, file: indexPath, "invalid JSON: not valid UTF-8", fix: fix) }
                do { return try JSONParser.parse(raw, options: .safetensors) } catch {
                    throw ModelIOError(.malformed, file: indexPath, "invalid JSON: \(error)", fix: fix)
                }
            }
        }
        guard case let .object(top) = json else { throw ModelIOError(.malformed, file: indexPath, "top level is not an object", fix: fix) }
        var metadata: [String: String] = [:]
        var weightMap: [(String, String)]?
        for (k, v) in top {
            if k == "metadata", case let .object(m) = v {
                for (mk, mv) in m {
                    switch mv {
                    case let .string(s): metadata[mk] = s
                    case .int, .double, .bigInt: metadata[mk] = mv.numberText
                    case let .bool(b): metadata[mk] = b ? "true" : "false"
                    default: break
                    }
                }
            }
            if k == "weight_map" {
                guard case let .object(entries) = v else {
                    throw ModelIOError(.malformed, file: indexPath, item: "weight_map", "must be an object", fix: fix)
                }
                var map: [(String, String)] = []
                var seen = Set<String>()
                for (name, fv) in entries {
                    guard case let .string(f) = fv else {
                        throw ModelIOError(.malformed, file: indexPath, item: name, "weight_map values must be file names", fix: fix)
                    }
                    guard !f.isEmpty, !f.contains("/"), !f.contains("\\"), f != "..", f != "." else {
                        throw ModelIOError(.malformed, file: indexPath, item: name, "shard file name \"\(f)\" must be a plain name inside the folder", fix: fix)
                    }
                    guard seen.insert(name).inserted else {
                        throw ModelIOError(.malformed, file: indexPath, item: name, "listed twice in weight_map", fix: fix)
                    }
                    map.append((name, f))
                }
                weightMap = map
            }
        }
        guard let weightMap else { throw ModelIOError(.malformed, file: indexPath, item: "weight_map", "missing", fix: fix) }
        return (metadata, weightMap)
    }

    /// All tensors, in `names` order.
    public var tensors: [SafeTensor] { names.compactMap(tensor(named:)) }

    /// The tensor called `name`, or nil.
    public func tensor(named name: String) -> SafeTensor? {
        guard let (s, t) = location[name] else { return nil }
        return shards[s].tensors[t]
    }

    /// The tensor called `name`; throws a `missing` error.
    public func require(_ name: String) throws -> SafeTensor {
        guard let t = tensor(named: name) else {
            throw ModelIOError(.missing, file: path, item: name, "no such tensor in the \(names.count) tensors of the model",
                               fix: "check the tensor name against `swifttune inspect`")
        }
        return t
    }

    /// The `__metadata__` of the first shard (Hugging Face writes `{"format": "pt"}` in every shard).
    public var metadata: [String: String] { shards.first?.metadata ?? [:] }
}
