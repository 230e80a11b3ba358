import ArgumentParser
import ChatTemplates
import Foundation

/// `swifttune template`: render a chat template exactly as transformers' `apply_chat_template(tokenize=False)`.
struct Template: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "template",
        abstract: "Render a model's chat template with the given variables, byte-identical to transformers.",
        discussion: """
            CONTEXT.json holds the template variables (messages, add_generation_prompt, tools, bos_token, ...). \
            Special tokens missing from it are filled from the model's tokenizer_config.json, as transformers does. \
            The rendered text is printed as is: nothing appended, no trailing newline.

            --batch IN.jsonl reads lines {"template": optional, "context": {...}, "now": optional} and writes \
            one JSON line per input line, in order: {"text": ...} or {"error": ...} (blank lines are skipped).
            """)

    @Option(name: .long, help: "A Hugging Face model folder, a tokenizer_config.json, or a .jinja file.")
    var model: String?

    @Option(name: .long, help: "JSON file with the template variables.")
    var context: String?

    @Option(name: .customLong("template-file"), help: "Use this template file instead of the model's template.")
    var templateFile: String?

    @Option(name: .customLong("template-name"), help: "Which of the model's named templates to use (default: 'default', or 'tool_use' when tools are given).")
    var templateName: String?

    @Option(name: .long, help: "Pin the clock strftime_now() reads, e.g. 2024-07-26T00:00:00.")
    var now: String?

    @Option(name: .long, help: "JSONL file of renders to do (see above); results go to stdout.")
    var batch: String?

    @Flag(name: .customLong("no-special-tokens"), help: "Do not fill bos_token/eos_token/... from tokenizer_config.json.")
    var noSpecialTokens = false

    struct Failure: Error, CustomStringConvertible { let description: String }

    func validate() throws {
        if batch == nil && context == nil { throw ValidationError("give --context CONTEXT.json (or --batch IN.jsonl)") }
        if batch != nil && context != nil { throw ValidationError("--context and --batch cannot be combined") }
        if model == nil && templateFile == nil && batch == nil { throw ValidationError("give --model PATH or --template-file F") }
        if let n = now, NaiveDateTime(iso: n) == nil { throw ValidationError("--now must look like 2024-07-26T00:00:00, got '\(n)'") }
    }

    func run() throws {
        let source = try model.map { try ChatTemplateSource.load(path: $0) }
        let fixedTemplate = try templateFile.map { path -> String in
            guard let d = FileManager.default.contents(atPath: path), let s = String(data: d, encoding: .utf8) else {
                throw Failure(description: "\(path): cannot read template file")
            }
            return s
        }
        let clock = now.flatMap { NaiveDateTime(iso: $0) }

        func pickTemplate(_ vars: [String: Value]) throws -> String {
            if let t = fixedTemplate { return t }
            guard let s = source else { throw Failure(description: "no template: give --model or --template-file, or a \"template\" in the batch line") }
            var hasTools = false
            if let tools = vars["tools"], !tools.isNone, !tools.isUndefined { hasTools = true }
            return try s.template(named: templateName, hasTools: hasTools)
        }

        func withSpecialTokens(_ vars: [String: Value]) -> [String: Value] {
            guard !noSpecialTokens, let s = source else { return vars }
            var v = vars
            for (k, tok) in s.specialTokens where v[k] == nil { v[k] = .string(tok) }
            return v
        }

        if let batchPath = batch {
            try runBatch(batchPath, clock: clock, pickTemplate: pickTemplate, withSpecialTokens: withSpecialTokens)
            return
        }
        guard let ctxPath = context, let data = FileManager.default.contents(atPath: ctxPath) else {
            throw Failure(description: "\(context ?? ""): cannot read context file")
        }
        let ctxValue: Value
        do { ctxValue = try JSON.parse(String(decoding: data, as: UTF8.self)) } catch { throw Failure(description: "\(ctxPath): \(error)") }
        let vars = withSpecialTokens(try ChatTemplate.variables(ctxValue))
        let template = try ChatTemplate.cached(try pickTemplate(vars))
        let text = try template.render(vars, options: RenderOptions(now: clock))
        FileHandle.standardOutput.write(Data(text.utf8))
    }

    func runBatch(_ path: String, clock: NaiveDateTime?, pickTemplate: ([String: Value]) throws -> String,
                  withSpecialTokens: ([String: Value]) -> [String: Value]) throws {
        guard let data = FileManager.default.contents(atPath: path) else { throw Failure(description: "\(path): cannot read batch file") }
        let text = String(decoding: data, as: UTF8.self)
        var out = ""
        let stdout = FileHandle.standardOutput
        for (n, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            if line.allSatisfy({ $0 == " " || $0 == "\t" || $0 == "\r" }) { continue }
            var result: Value
            do {
                guard case .dict(let req) = try JSON.parse(String(line)) else { throw Failure(description: "line \(n + 1): expected a JSON object") }
                guard let ctx = req["context"] else { throw Failure(description: "line \(n + 1): missing \"context\"") }
                let vars = withSpecialTokens(try ChatTemplate.variables(ctx))
                var lineClock = clock
                if case .string(let s)? = req["now"] {
                    guard let c = NaiveDateTime(iso: s) else { throw Failure(description: "line \(n + 1): bad \"now\" '\(s)'") }
                    lineClock = c
                }
                let source: String
                if case .string(let t)? = req["template"] { source = t } else { source = try pickTemplate(vars) }
                let rendered = try ChatTemplate.cached(source).render(vars, options: RenderOptions(now: lineClock))
                result = .dict([("text", .string(rendered))])
            } catch {
                result = .dict([("error", .string(String(describing: error)))])
            }
            out += try JSON.encode(result)
            out += "\n"
            if out.utf8.count > 1 << 20 { stdout.write(Data(out.utf8)); out = "" }
        }
        stdout.write(Data(out.utf8))
    }
}
