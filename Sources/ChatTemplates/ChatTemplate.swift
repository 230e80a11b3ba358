import Foundation

/// What a render produced: the text, and where `{% generation %}` blocks put their output.
public struct RenderResult: Sendable, Equatable {
    /// The rendered prompt.
    public var text: String
    /// Ranges of `text`, in Unicode code points (Python string indices, as transformers'
    /// `return_assistant_tokens_mask` uses), produced inside `{% generation %}` blocks, in order.
    public var generationRanges: [Range<Int>]
    /// The same ranges in UTF-8 byte offsets of `text`.
    public var generationByteRanges: [Range<Int>]
}

/// Options for one render.
public struct RenderOptions: Sendable {
    /// The clock `strftime_now` reads; nil means the current local time.
    public var now: NaiveDateTime?
    public var limits: TemplateLimits
    public init(now: NaiveDateTime? = nil, limits: TemplateLimits = TemplateLimits()) { self.now = now; self.limits = limits }
}

/// A compiled chat template. Parse once, render many times; safe to share between threads.
///
/// Renders byte-identically to transformers' `apply_chat_template(..., tokenize=False)`: jinja2's
/// `ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)` with `loopcontrols`,
/// `{% generation %}`, `raise_exception`, `strftime_now`, `namespace`, `dict` and HF's `tojson`.
public final class ChatTemplate: @unchecked Sendable {
    public let source: String
    let nodes: [Node]
    let limits: TemplateLimits

    /// Parse `source`; throws `TemplateError` (kind `.syntax`, with line and column) if it is not valid Jinja.
    public init(_ source: String, limits: TemplateLimits = TemplateLimits()) throws {
        self.source = source
        self.limits = limits
        var lexer = Lexer(source)
        let tokens = try lexer.run()
        var parser = Parser(tokens: tokens, maxDepth: limits.maxNestingDepth)
        nodes = try parser.parseTemplate()
    }

    private static let cacheLock = NSLock()
    nonisolated(unsafe) private static var cache: [String: ChatTemplate] = [:]

    /// A compiled template for `source`, from a process-wide cache (templates are parsed once).
    public static func cached(_ source: String) throws -> ChatTemplate {
        cacheLock.lock()
        if let t = cache[source] { cacheLock.unlock(); return t }
        cacheLock.unlock()
        let t = try ChatTemplate(source)
        cacheLock.lock()
        if cache.count > 64 { cache.removeAll() }
        cache[source] = t
        cacheLock.unlock()
        return t
    }

    /// Render with the given top-level variables (`messages`, `add_generation_prompt`, `bos_token`, ...).
    public func render(_ context: [String: Value], options: RenderOptions = RenderOptions()) throws -> String {
        try renderWithGenerationRanges(context, options: options).text
    }

    /// Render with a context given as a JSON object value (as in cases.json's `context`).
    public func render(context: Value, options: RenderOptions = RenderOptions()) throws -> String {
        try render(ChatTemplate.variables(context), options: options)
    }

    /// Turn a dict value into template variables.
    public static func variables(_ context: Value) throws -> [String: Value] {
        guard case .dict(let d) = context else { throw TemplateError(.runtime, "the template context must be a JSON object") }
        var vars: [String: Value] = [:]
        for (k, v) in zip(d.keys, d.values) {
            guard case .string(let name) = k else { continue }
            vars[name] = v
        }
        return vars
    }

    /// Render and report the `{% generation %}` ranges (for assistant-token masks).
    public func renderWithGenerationRanges(_ context: [String: Value], options: RenderOptions = RenderOptions()) throws -> RenderResult {
        var lim = options.limits
        lim.maxNestingDepth = limits.maxNestingDepth
        let interp = Interpreter(limits: lim, now: options.now ?? NaiveDateTime.now())
        let text = try interp.run(nodes, context: context)
        var byteRanges: [Range<Int>] = []
        var ranges: [Range<Int>] = []
        if !interp.generationMarks.isEmpty {
            // Convert root-output byte offsets to code-point offsets in one pass.
            let bytes = Array(text.utf8)
            var scalarAt = [Int](repeating: 0, count: bytes.count + 1)
            var n = 0
            for (i, b) in bytes.enumerated() { scalarAt[i] = n; if b & 0xC0 != 0x80 { n += 1 } }
            scalarAt[bytes.count] = n
            for (start, body) in interp.generationMarks {
                let s = min(start, bytes.count)
                byteRanges.append(s..<(s + body.utf8.count))
                let cs = scalarAt[s]
                ranges.append(cs..<(cs + body.unicodeScalars.count))
            }
        }
        return RenderResult(text: text, generationRanges: ranges, generationByteRanges: byteRanges)
    }
}
