/// transformers' `apply_chat_template(..., tokenize=False)` on top of a compiled template.
extension ChatTemplate {
    /// Names a message's reasoning may be passed under; the first is what templates read.
    static let reasoningFields = ["reasoning_content", "thinking", "reasoning"]

    /// transformers' message pre-processing: keys whose value is None are dropped, and a message with
    /// reasoning (`reasoning_content`, `thinking` or `reasoning`) gets it as both `thinking` and `reasoning_content`.
    public static func normalizeMessages(_ messages: [Value]) throws -> [Value] {
        try messages.enumerated().map { i, m in
            guard case .dict(let d) = m else { throw TemplateError(.runtime, "messages[\(i)] must be an object, got \(m.typeName)") }
            var out = PyDict()
            for (k, v) in zip(d.keys, d.values) where !v.isNone { out[k] = v }
            if let r = reasoningFields.lazy.compactMap({ out[$0] }).first {
                // {"thinking": r, **message, "reasoning_content": r}
                var aliased = PyDict()
                aliased["thinking"] = r
                for (k, v) in zip(out.keys, out.values) { aliased[k] = v }
                aliased["thinking"] = out["thinking"] ?? r
                aliased["reasoning_content"] = r
                out = aliased
            }
            return .dict(out)
        }
    }

    /// Render a conversation as `tokenizer.apply_chat_template(messages, tools=, documents=,
    /// add_generation_prompt=, continue_final_message=, tokenize=False, **extra)` does.
    ///
    /// - Parameters:
    ///   - extra: further template variables (special tokens such as `bos_token`, `enable_thinking`, ...).
    ///   - continueFinalMessage: leave the last message open for the model to continue (its text must
    ///     be a string `content`); the rendered prompt is cut right after that text.
    public func apply(messages: [Value], tools: [Value]? = nil, documents: [Value]? = nil,
                      addGenerationPrompt: Bool = false, continueFinalMessage: Bool = false,
                      extra: [String: Value] = [:], options: RenderOptions = RenderOptions()) throws -> RenderResult {
        var chat = try ChatTemplate.normalizeMessages(messages)
        let tag = "CONTINUE_FINAL_MESSAGE_TAG "
        var finalText = ""
        if continueFinalMessage {
            guard case .dict(var last)? = chat.last else { throw TemplateError(.runtime, "continue_final_message is set but the conversation is empty") }
            guard case .string(let s)? = last["content"] else {
                throw TemplateError(.runtime, "continue_final_message is set but the final message has no string \"content\" to continue")
            }
            finalText = s
            last["content"] = .string(s + tag)
            chat[chat.count - 1] = .dict(last)
        }
        var vars = extra
        vars["messages"] = .list(chat)
        vars["tools"] = tools.map { Value.list($0) } ?? Value.none
        vars["documents"] = documents.map { Value.list($0) } ?? Value.none
        vars["add_generation_prompt"] = .bool(addGenerationPrompt)
        var result = try renderWithGenerationRanges(vars, options: options)
        if continueFinalMessage {
            let stripped = PyString.strip(finalText, nil, left: true, right: true)
            let trimmedTag = PyString.strip(tag, nil, left: true, right: true)
            let bytes = Array(result.text.utf8)
            guard PyString.find(bytes, Array(stripped.utf8), from: 0) != nil,
                  let loc = PyString.rfind(bytes, Array(trimmedTag.utf8)) else {
                throw TemplateError(.runtime, "continue_final_message is set but the final message does not appear in the rendered chat; the template changes it")
            }
            let tagBytes = Array(tag.utf8)
            if loc + tagBytes.count <= bytes.count && Array(bytes[loc..<(loc + tagBytes.count)]) == tagBytes {
                result.text = String(decoding: bytes[0..<loc], as: UTF8.self)
            } else {
                result.text = PyString.strip(String(decoding: bytes[0..<loc], as: UTF8.self), nil, left: false, right: true)
            }
            let n = result.text.utf8.count
            let scalars = result.text.unicodeScalars.count
            result.generationByteRanges = result.generationByteRanges.map { min($0.lowerBound, n)..<min($0.upperBound, n) }
            result.generationRanges = result.generationRanges.map { min($0.lowerBound, scalars)..<min($0.upperBound, scalars) }
        }
        return result
    }
}
