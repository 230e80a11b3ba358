import Foundation

/// Finds a model's chat template(s) the way transformers does.
///
/// In a model folder, `chat_template.jinja` (the "default") and `additional_chat_templates/<name>.jinja` take
/// priority over `chat_template` in `tokenizer_config.json` (a string, or a list of `{"name", "template"}`);
/// a legacy processor `chat_template.json` is the last resort.
public struct ChatTemplateSource: Sendable {
    /// Named templates; a single unnamed template is stored under "default".
    public var templates: [String: String]
    /// Special tokens found in tokenizer_config.json (`bos_token`, `eos_token`, `unk_token`, `pad_token`).
    public var specialTokens: [String: String]

    public struct LoadError: Error, CustomStringConvertible {
        public let description: String
        init(_ d: String) { description = d }
    }

    public init(templates: [String: String], specialTokens: [String: String] = [:]) {
        self.templates = templates; self.specialTokens = specialTokens
    }

    /// Load from a model folder, a `tokenizer_config.json` (or any JSON with a `chat_template` key), or a `.jinja` file.
    public static func load(path: String) throws -> ChatTemplateSource {
        let fm = FileManager.default
        var isDir: ObjCBool = false
        guard fm.fileExists(atPath: path, isDirectory: &isDir) else { throw LoadError("\(path): no such file or folder") }
        if !isDir.boolValue {
            if path.hasSuffix(".json") { return try fromConfig(path: path) }
            return ChatTemplateSource(templates: ["default": try readText(path)])
        }
        let dir = URL(fileURLWithPath: path)
        var templates: [String: String] = [:]
        let main = dir.appendingPathComponent("chat_template.jinja").path
        if fm.fileExists(atPath: main) { templates["default"] = try readText(main) }
        let extra = dir.appendingPathComponent("additional_chat_templates")
        if let names = try? fm.contentsOfDirectory(atPath: extra.path) {
            for n in names.sorted() where n.hasSuffix(".jinja") {
                templates[String(n.dropLast(6))] = try readText(extra.appendingPathComponent(n).path)
            }
        }
        var special: [String: String] = [:]
        let configPath = dir.appendingPathComponent("tokenizer_config.json").path
        if fm.fileExists(atPath: configPath) {
            let cfg = try fromConfig(path: configPath, requireTemplate: false)
            special = cfg.specialTokens
            if templates.isEmpty { templates = cfg.templates }
        }
        if templates.isEmpty {
            let legacy = dir.appendingPathComponent("chat_template.json").path
            if fm.fileExists(atPath: legacy) { templates = try fromConfig(path: legacy).templates }
        }
        if templates.isEmpty {
            throw LoadError("\(path): no chat template found (looked for chat_template.jinja, additional_chat_templates/, tokenizer_config.json's \"chat_template\", chat_template.json)")
        }
        return ChatTemplateSource(templates: templates, specialTokens: special)
    }

    static func readText(_ path: String) throws -> String {
        guard let data = FileManager.default.contents(atPath: path) else { throw LoadError("\(path): cannot read file") }
        guard let s = String(data: data, encoding: .utf8) else { throw LoadError("\(path): not valid UTF-8") }
        return s
    }

    static func fromConfig(path: String, requireTemplate: Bool = true) throws -> ChatTemplateSource {
        let value: Value
        do { value = try JSON.parse(try readText(path)) } catch let e as JSON.ParseError { throw LoadError("\(path): \(e)") }
        guard case .dict(let cfg) = value else { throw LoadError("\(path): expected a JSON object") }
        var templates: [String: String] = [:]
        switch cfg["chat_template"] {
        case .string(let s)?: templates["default"] = s
        case .list(let items)?:
            for (i, item) in items.enumerated() {
                guard case .dict(let d) = item, case .string(let name)? = d["name"], case .string(let t)? = d["template"] else {
                    throw LoadError("\(path): chat_template[\(i)] must be an object with string \"name\" and \"template\"")
                }
                templates[name] = t
            }
        case nil, .none?: break
        case let other?: throw LoadError("\(path): \"chat_template\" must be a string or a list of {name, template}, not \(other.typeName)")
        }
        if requireTemplate && templates.isEmpty { throw LoadError("\(path): has no \"chat_template\"") }
        var special: [String: String] = [:]
        for key in ["bos_token", "eos_token", "unk_token", "pad_token"] {
            switch cfg[key] {
            case .string(let s)?: special[key] = s
            case .dict(let d)?: if case .string(let s)? = d["content"] { special[key] = s }
            default: break
            }
        }
        return ChatTemplateSource(templates: templates, specialTokens: special)
    }

    /// Pick a template as transformers' `get_chat_template` does: the named one, else "tool_use" when tools
    /// are given and it exists, else "default".
    public func template(named name: String? = nil, hasTools: Bool = false) throws -> String {
        if let n = name {
            guard let t = templates[n] else { throw LoadError("no chat template named '\(n)'; available: \(templates.keys.sorted().joined(separator: ", "))") }
            return t
        }
        if hasTools, let t = templates["tool_use"] { return t }
        if let t = templates["default"] { return t }
        if templates.count == 1, let t = templates.values.first { return t }
        throw LoadError("this model has several chat templates and no default; pick one of: \(templates.keys.sorted().joined(separator: ", "))")
    }
}
