import Foundation

/// The row formats SFT understands, detected as TRL 1.x detects them.
public enum DatasetFormat: Equatable, Sendable, CustomStringConvertible {
    /// `messages` (or `conversations`, converted) — a list of `{role, content}`.
    case conversational
    /// `prompt` + `completion`; `conversational` when both are message lists.
    case promptCompletion(conversational: Bool)
    /// Plain text in `dataset_text_field` (TRL default `text`).
    case languageModeling(textField: String)
    /// Already tokenized (`input_ids`, optional `labels`): used as is.
    case tokenized

    public var description: String {
        switch self {
        case .conversational: return "conversational (messages)"
        case .promptCompletion(let c): return c ? "prompt-completion (conversational)" : "prompt-completion (text)"
        case .languageModeling(let f): return "language modeling (text field '\(f)')"
        case .tokenized: return "pre-tokenized (input_ids)"
        }
    }

    /// Detects the format from the first row, like TRL (`is_conversational`, `"prompt" in example`, text field).
    public static func detect(_ row: Row, textField: String = "text") throws -> DatasetFormat {
        if row["input_ids"] != nil { return .tokenized }
        if row["prompt"] != nil {
            guard row["completion"] != nil else {
                throw DatasetError.unknownFormat("the rows have a 'prompt' column but no 'completion' column; SFT needs both (rename the answer column to 'completion', e.g. columns: {\"completion\": \"answer\"})")
            }
            return .promptCompletion(conversational: isMessageList(row["prompt"]) || isMessageList(row["completion"]))
        }
        if row["messages"] != nil || row["conversations"] != nil { return .conversational }
        if row[textField] != nil { return .languageModeling(textField: textField) }
        let cols = row.keys
        throw DatasetError.unknownFormat("""
            cannot tell the dataset format from the columns \(cols). Expected one of:
              • conversational: a 'messages' (or 'conversations') column of [{"role": ..., "content": ...}]
              • instruction: 'prompt' and 'completion' columns (strings or message lists)
              • language modeling: a '\(textField)' column (or set dataset_text_field)
            Rename columns with `columns: {"prompt": "<your question column>", "completion": "<your answer column>"}`, or give a `formatting_template` such as "### Question: {{ sentence }}\\n### Answer: {{ translation }}".
            """)
    }

    static func isMessageList(_ v: JSONValue?) -> Bool {
        guard let a = v?.arrayValue, let first = a.first?.objectValue else { return false }
        return first["role"] != nil || (first["from"] != nil && first["value"] != nil)
    }
}

/// Roles SFT templates know; others are passed through with a warning.
public let knownChatRoles: Set<String> = ["system", "user", "assistant", "tool"]

/// Parses a message list (ChatML `role`/`content`, or ShareGPT `from`/`value` converted as TRL's
/// `maybe_convert_to_chatml` does; ShareGPT's `human`/`gpt` speaker names become `user`/`assistant`).
/// `field` names the column for errors (e.g. "messages").
public func parseMessages(_ value: JSONValue?, field: String) throws -> [ChatMessage] {
    guard let value else { throw MessageIssue(field: field, message: "missing") }
    guard let list = value.arrayValue else { throw MessageIssue(field: field, message: "expected a list of messages, found \(value.typeName)") }
    guard !list.isEmpty else { throw MessageIssue(field: field, message: "the message list is empty") }
    var out: [ChatMessage] = []
    for (i, m) in list.enumerated() {
        let f = "\(field)[\(i)]"
        guard var o = m.objectValue else { throw MessageIssue(field: f, message: "expected an object {\"role\": ..., \"content\": ...}, found \(m.typeName)") }
        if o["role"] == nil, let from = o["from"] { o["role"] = from; o["from"] = nil }
        if o["content"] == nil, let value = o["value"] { o["content"] = value; o["value"] = nil }
        guard let roleValue = o["role"] else { throw MessageIssue(field: f + ".role", message: "missing") }
        guard var role = roleValue.stringValue else { throw MessageIssue(field: f + ".role", message: "expected a string, found \(roleValue.typeName)") }
        if role == "human" { role = "user" } else if role == "gpt" { role = "assistant" }
        let content: String
        switch o["content"] {
        case .string(let s)?: content = s
        case .null?, nil:
            // Assistant turns that only carry tool calls have no content.
            guard o["tool_calls"] != nil else { throw MessageIssue(field: f + ".content", message: "missing (only a message with tool_calls may omit it)") }
            content = ""
        case let v?: throw MessageIssue(field: f + ".content", message: "expected a string, found \(v.typeName)")
        }
        var extra = o
        extra["role"] = nil
        extra["content"] = o["content"] == .null || o["content"] == nil ? .null : nil
        out.append(ChatMessage(role: role, content: content, extra: extra))
    }
    return out
}

/// A bad message field (converted to a `RecordIssue` with the row's file and line by the caller).
public struct MessageIssue: Error, Sendable { public var field: String; public var message: String }
