import Foundation
import Tensors

/// One safetensors file: the header's tensor table over a memory map (no copy until asked).
final class SafetensorsFile {
    struct Entry { let dtype: DType; let shape: [Int]; let range: Range<Int> }
    let file: MappedFile
    let entries: [String: Entry]

    init(path: String) throws {
        file = try MappedFile(path: path)
        var r = ByteReader(file)
        let headerLength = try r.read(UInt64.self, "header length")
        guard headerLength <= UInt64(file.count - 8) else {
            throw ModelError.invalidFile(file: path, "header length \(headerLength) exceeds the file size \(file.count); not a safetensors file?")
        }
        let header = try r.readBytes(Int(headerLength), "header")
        let json: Any
        do { json = try JSONSerialization.jsonObject(with: Data(header)) } catch {
            throw ModelError.invalidFile(file: path, "header is not JSON: \(error.localizedDescription)")
        }
        guard let table = json as? [String: Any] else { throw ModelError.invalidFile(file: path, "header is not a JSON object") }
        let dataStart = 8 + Int(headerLength), dataCount = file.count - dataStart
        var entries: [String: Entry] = [:]
        for (name, value) in table where name != "__metadata__" {
            guard let info = value as? [String: Any], let dt = info["dtype"] as? String,
                  let shape = info["shape"] as? [Int], let offs = info["data_offsets"] as? [Int], offs.count == 2 else {
                throw ModelError.invalidFile(file: path, "tensor '\(name)': header entry needs dtype, shape and data_offsets")
            }
            guard let dtype = DType(safetensorsName: dt) else {
                throw ModelError.invalidFile(file: path, "tensor '\(name)': unsupported dtype \(dt)")
            }
            guard let n = Tensor.count(shape), offs[0] >= 0, offs[0] <= offs[1], offs[1] <= dataCount,
                  offs[1] - offs[0] == n * dtype.byteSize else {
                throw ModelError.invalidFile(file: path, "tensor '\(name)': data_offsets \(offs) do not fit shape \(shape) of \(dt) in \(dataCount) data bytes")
            }
            entries[name] = Entry(dtype: dtype, shape: shape, range: (dataStart + offs[0])..<(dataStart + offs[1]))
        }
        self.entries = entries
    }

    /// The tensor `name` borrowing the mapped bytes (stored dtype, read-only).
    func tensor(_ name: String) throws -> Tensor? {
        guard let e = entries[name] else { return nil }
        return try Tensor(borrowing: file.base + e.range.lowerBound, byteCount: e.range.count, dtype: e.dtype,
                          shape: e.shape, owner: file)
    }
}

/// The safetensors files of a Hugging Face folder: `model.safetensors`, or the shards listed in
/// `model.safetensors.index.json`.
final class SafetensorsCheckpoint {
    let files: [SafetensorsFile]
    let folder: String

    init(folder: URL) throws {
        self.folder = folder.path
        let fm = FileManager.default
        let single = folder.appendingPathComponent("model.safetensors")
        let index = folder.appendingPathComponent("model.safetensors.index.json")
        if fm.fileExists(atPath: single.path) {
            files = [try SafetensorsFile(path: single.path)]
        } else if fm.fileExists(atPath: index.path) {
            let data = try Data(contentsOf: index)
            guard let obj = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
                  let map = obj["weight_map"] as? [String: String] else {
                throw ModelError.invalidFile(file: index.path, "needs a \"weight_map\" object of tensor name → shard file")
            }
            var shards = Array(Set(map.values)).sorted()
            shards = shards.filter { !$0.contains("/") && !$0.hasPrefix(".") }
            files = try shards.map { try SafetensorsFile(path: folder.appendingPathComponent($0).path) }
        } else {
            throw ModelError.invalidFile(file: folder.path, "no model.safetensors or model.safetensors.index.json in the folder")
        }
    }

    func tensor(_ name: String) throws -> Tensor? {
        for f in files { if let t = try f.tensor(name) { return t } }
        return nil
    }

    var names: [String] { files.flatMap { $0.entries.keys } }
}
