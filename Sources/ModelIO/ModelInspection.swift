import Foundation
import Quantization

/// A summary of a model file or folder (GGUF, safetensors file, or Hugging Face folder of safetensors
/// shards) for `swifttune inspect`: architecture and key hyperparameters, tokenizer facts, parameter
/// count, type census, bytes as stored, and the tensor list. Nothing is dequantised: only headers are read.
public struct ModelInspection: Sendable {
    public enum Format: String, Sendable { case gguf = "GGUF", safetensors = "safetensors" }

    public struct Tensor: Sendable, Equatable {
        public var name: String
        /// Row-major shape (PyTorch order; for GGUF the GGML dimensions reversed).
        public var shape: [Int]
        /// `F32`, `BF16`, `Q4_K`, ... (GGML type names for GGUF, safetensors dtype names otherwise).
        public var type: String
        public var elementCount: Int
        public var byteCount: Int
    }

    public struct TypeCount: Sendable, Equatable {
        public var type: String
        public var tensors: Int
        public var parameters: Int
        public var bytes: Int
    }

    public var path: String
    public var format: Format
    /// One line describing the container (version, counts, shards).
    public var container: String
    public var architecture: String?
    /// Labelled facts in display order (name, hyperparameters, tokenizer, chat template).
    public var details: [(label: String, value: String)]
    public var tensors: [Tensor]

    public var parameterCount: Int { tensors.reduce(0) { $0 + $1.elementCount } }
    /// Bytes of tensor data as stored (quantised sizes for GGUF).
    public var footprintBytes: Int { tensors.reduce(0) { $0 + $1.byteCount } }

    /// Tensors, parameters and bytes per type, most bytes first.
    public var typeCensus: [TypeCount] {
        var byType: [String: TypeCount] = [:]
        for t in tensors {
            var c = byType[t.type] ?? TypeCount(type: t.type, tensors: 0, parameters: 0, bytes: 0)
            c.tensors += 1; c.parameters += t.elementCount; c.bytes += t.byteCount
            byType[t.type] = c
        }
        return byType.values.sorted { ($0.bytes, $1.type) > ($1.bytes, $0.type) }
    }

    /// Inspects a `.gguf` file, a `.safetensors` file, or a model folder.
    public static func inspect(path: String) throws -> ModelInspection {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else {
            throw ModelIOError(.io, file: path, "no such file or folder", fix: "check the model path")
        }
        if isDir.boolValue {
            let entries = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
            if !entries.contains(where: { $0.hasSuffix(".safetensors") }) {
                let ggufs = entries.filter { $0.hasSuffix(".gguf") }.sorted()
                if ggufs.count == 1 { return try ModelInspection(gguf: GGUFFile(path: path + "/" + ggufs[0])) }
            }
            return try ModelInspection(safetensors: SafeTensorsFolder(path: path))
        }
        if try isGGUF(path) { return try ModelInspection(gguf: GGUFFile(path: path)) }
        return try ModelInspection(safetensors: SafeTensorsFolder(path: path))
    }

    private static func isGGUF(_ path: String) throws -> Bool {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw ModelIOError(.io, file: path, "cannot open the file", fix: "check permissions")
        }
        defer { try? handle.close() }
        let magic = (try? handle.read(upToCount: 4)) ?? nil
        return magic.map { Array($0) == Array("GGUF".utf8) } ?? false
    }

    // MARK: GGUF

    public init(gguf file: GGUFFile) {
        path = file.name
        format = .gguf
        container = "GGUF v\(file.version), \(file.metadata.count) metadata keys, \(file.tensors.count) tensors, alignment \(file.alignment)"
        let arch = try? file.string("general.architecture")
        architecture = arch
        var details: [(String, String)] = []
        for key in ["general.name", "general.basename", "general.size_label", "general.finetune", "general.license", "general.file_type", "general.quantization_version"] {
            if let v = file.value(key) { details.append((key, v.summary)) }
        }
        if let arch {
            for (key, value) in file.metadata where key.hasPrefix(arch + ".") { details.append((key, value.summary)) }
        }
        if let model = try? file.string("tokenizer.ggml.model") {
            var parts = [model]
            if let pre = try? file.string("tokenizer.ggml.pre") { parts.append("pre \(pre)") }
            if let tokens = try? file.array("tokenizer.ggml.tokens") { parts.append("vocab \(tokens.count)") }
            if let merges = try? file.array("tokenizer.ggml.merges") { parts.append("merges \(merges.count)") }
            for (key, label) in [("tokenizer.ggml.bos_token_id", "bos"), ("tokenizer.ggml.eos_token_id", "eos"), ("tokenizer.ggml.padding_token_id", "pad")] {
                if let id = try? file.int(key) { parts.append("\(label) \(id)") }
            }
            details.append(("tokenizer", parts.joined(separator: ", ")))
        } else {
            details.append(("tokenizer", "none in the file"))
        }
        if let template = try? file.string("tokenizer.chat_template") {
            details.append(("chat template", "present (\(template.utf8.count) bytes)"))
        } else {
            details.append(("chat template", "absent"))
        }
        self.details = details
        tensors = file.tensors.map {
            Tensor(name: $0.name, shape: $0.shape, type: $0.type.name, elementCount: $0.elementCount, byteCount: $0.byteCount)
        }
    }

    // MARK: safetensors

    public init(safetensors folder: SafeTensorsFolder) {
        path = folder.path
        format = .safetensors
        let shardText = folder.shards.count == 1 ? "1 file" : "\(folder.shards.count) shards"
        container = "safetensors, \(shardText), \(folder.names.count) tensors"
        var details: [(String, String)] = []
        for (k, v) in folder.metadata.sorted(by: { $0.key < $1.key }) { details.append(("metadata.\(k)", v)) }
        var arch: String?
        var isDir: ObjCBool = false
        let dir = FileManager.default.fileExists(atPath: folder.path, isDirectory: &isDir) && isDir.boolValue
            ? folder.path : URL(fileURLWithPath: folder.path).deletingLastPathComponent().path
        if let data = FileManager.default.contents(atPath: dir + "/config.json"),
           let config = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] {
            if let archs = config["architectures"] as? [String], let first = archs.first { details.append(("architectures", archs.joined(separator: ", "))); arch = first }
            if let type = config["model_type"] as? String { details.append(("model_type", type)); arch = arch ?? type }
            for key in ["hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads", "num_key_value_heads", "head_dim",
                        "vocab_size", "max_position_embeddings", "rms_norm_eps", "rope_theta", "tie_word_embeddings", "torch_dtype", "dtype"] {
                if let v = config[key], !(v is NSNull) { details.append((key, "\(v)")) }
            }
        } else {
            details.append(("config.json", "absent"))
        }
        let tokenizer = FileManager.default.fileExists(atPath: dir + "/tokenizer.json")
        details.append(("tokenizer", tokenizer ? "tokenizer.json present" : "absent"))
        var template = FileManager.default.fileExists(atPath: dir + "/chat_template.jinja") || FileManager.default.fileExists(atPath: dir + "/chat_template.json")
        if !template, let data = FileManager.default.contents(atPath: dir + "/tokenizer_config.json"),
           let cfg = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any], cfg["chat_template"] != nil {
            template = true
        }
        details.append(("chat template", template ? "present" : "absent"))
        architecture = arch
        self.details = details
        tensors = folder.tensors.map {
            Tensor(name: $0.name, shape: $0.shape, type: $0.dtype.safetensorsName, elementCount: $0.elementCount, byteCount: $0.byteCount)
        }
    }

    // MARK: report

    /// `1234567` → `1,234,567`.
    static func grouped(_ n: Int) -> String {
        let s = String(n.magnitude)
        var out = ""
        for (i, c) in s.enumerated() {
            if i > 0, (s.count - i) % 3 == 0 { out.append(",") }
            out.append(c)
        }
        return (n < 0 ? "-" : "") + out
    }

    /// `1234567` → `1.23 MB` (decimal units, as model sizes are usually quoted).
    static func bytesText(_ n: Int) -> String {
        let units = ["B", "KB", "MB", "GB", "TB"]
        var v = Double(n), u = 0
        while v >= 1000, u < units.count - 1 { v /= 1000; u += 1 }
        return u == 0 ? "\(n) B" : String(format: "%.2f %@", v, units[u])
    }

    static func countText(_ n: Int) -> String {
        if n >= 1_000_000_000 { return String(format: "%.2f B", Double(n) / 1e9) }
        if n >= 1_000_000 { return String(format: "%.1f M", Double(n) / 1e6) }
        if n >= 1_000 { return String(format: "%.1f K", Double(n) / 1e3) }
        return "\(n)"
    }

    /// The human-readable report; `maxTensors` limits the tensor list (nil: all).
    public func report(maxTensors: Int? = nil) -> String {
        var lines: [String] = []
        lines.append(path)
        lines.append("format: \(container)")
        lines.append("architecture: \(architecture ?? "unknown")")
        let width = details.map(\.label.count).max() ?? 0
        for (label, value) in details {
            lines.append("  \(label.padding(toLength: width, withPad: " ", startingAt: 0))  \(value)")
        }
        lines.append("parameters: \(ModelInspection.grouped(parameterCount)) (\(ModelInspection.countText(parameterCount)))")
        lines.append("footprint: \(ModelInspection.bytesText(footprintBytes)) (\(ModelInspection.grouped(footprintBytes)) bytes of tensor data as stored)")
        lines.append("types:")
        for c in typeCensus {
            lines.append("  \(c.type.padding(toLength: 6, withPad: " ", startingAt: 0)) \(String(c.tensors).leftPadded(5)) tensors  \(ModelInspection.grouped(c.parameters).leftPadded(14)) params  \(ModelInspection.bytesText(c.bytes).leftPadded(10))")
        }
        let shown = maxTensors.map { min($0, tensors.count) } ?? tensors.count
        lines.append("tensors (\(tensors.count), shapes row-major):")
        let nameWidth = min(60, tensors.prefix(shown).map(\.name.count).max() ?? 0)
        for t in tensors.prefix(shown) {
            let shape = "[" + t.shape.map(String.init).joined(separator: ", ") + "]"
            lines.append("  \(t.name.padding(toLength: max(nameWidth, t.name.count), withPad: " ", startingAt: 0))  \(shape.padding(toLength: max(16, shape.count), withPad: " ", startingAt: 0))  \(t.type.padding(toLength: 5, withPad: " ", startingAt: 0))  \(ModelInspection.bytesText(t.byteCount))")
        }
        if shown < tensors.count { lines.append("  ... \(tensors.count - shown) more") }
        return lines.joined(separator: "\n")
    }
}

extension String {
    func leftPadded(_ width: Int) -> String { count >= width ? self : String(repeating: " ", count: width - count) + self }
}
