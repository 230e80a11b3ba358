import ArgumentParser
import Foundation
import Tokenizers

/// Loads a tokenizer for the CLI, turning loader errors into a clean exit message.
private func loadTokenizer(_ path: String) throws -> Tokenizer {
    try Tokenizer(path: path)
}

/// A CLI failure printed as `Error: <message>` without the usage text.
struct TokenizeCLIError: Error, CustomStringConvertible {
    let description: String
}

private func jsonLine(_ obj: Any) -> String {
    guard let d = try? JSONSerialization.data(withJSONObject: obj, options: [.sortedKeys, .withoutEscapingSlashes]),
          let s = String(data: d, encoding: .utf8) else { return "{\"error\": \"cannot serialise output\"}" }
    return s
}

/// `swifttune tokenize`: text → token ids, like `tokenizer.encode` in Hugging Face `tokenizers`.
struct Tokenize: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Encode text with a Hugging Face tokenizer (model folder or tokenizer.json).",
        discussion: """
        Prints the ids separated by spaces, or with --json an object with ids, tokens and offsets
        (code-point offsets, as the Python bindings return them). With --batch IN.jsonl every input line
        {"text": ..., "add_special_tokens": bool} gives one output line {"ids": [...]} or {"error": ...}.
        """)

    @Option(name: .long, help: "A Hugging Face model folder (with tokenizer.json) or a tokenizer.json file.")
    var model: String

    @Option(name: .long, help: "The text to encode.")
    var text: String?

    @Option(name: .long, help: "A UTF-8 file whose whole content is encoded.")
    var file: String?

    @Option(name: .long, help: "A JSON-lines file of {\"text\": ..., \"add_special_tokens\": bool} objects.")
    var batch: String?

    @Flag(name: .long, help: "Add the special tokens of the post-processor (e.g. BOS).")
    var addSpecialTokens = false

    @Flag(name: .long, help: "Print a JSON object with ids, tokens and offsets.")
    var json = false

    func validate() throws {
        let given = [text != nil, file != nil, batch != nil].filter { $0 }.count
        if given != 1 { throw ValidationError("give exactly one of --text, --file or --batch") }
    }

    func run() throws {
        let tok = try loadTokenizer(model)
        if let batch {
            try runBatch(tok, batch)
            return
        }
        let input: String
        if let text {
            input = text
        } else if let file {
            guard let data = FileManager.default.contents(atPath: file) else {
                throw TokenizeCLIError(description: "cannot read --file \(file)")
            }
            input = String(decoding: data, as: UTF8.self)
        } else {
            input = ""
        }
        let e = tok.encode(input, addSpecialTokens: addSpecialTokens)
        if json {
            print(jsonLine(["ids": e.ids, "tokens": e.tokens, "offsets": e.offsets.map { [$0.start, $0.end] }]))
        } else {
            print(e.ids.map(String.init).joined(separator: " "))
        }
    }

    private struct BatchLine: Decodable {
        let text: String
        let add_special_tokens: Bool?
    }

    private func runBatch(_ tok: Tokenizer, _ path: String) throws {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw TokenizeCLIError(description: "cannot read --batch \(path)")
        }
        let lines = data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
        let decoder = JSONDecoder()
        var out = ""
        for (n, raw) in lines.enumerated() {
            var line = Data(raw)
            if line.last == UInt8(ascii: "\r") { line.removeLast() }
            if line.allSatisfy({ $0 == 0x20 || $0 == 0x09 }) {
                if n == lines.count - 1 { continue }  // trailing newline
                out += jsonLine(["error": "line \(n + 1): empty line"]) + "\n"
                continue
            }
            do {
                let item = try decoder.decode(BatchLine.self, from: line)
                let e = tok.encode(item.text, addSpecialTokens: item.add_special_tokens ?? addSpecialTokens)
                var obj: [String: Any] = ["ids": e.ids]
                if json {
                    obj["tokens"] = e.tokens
                    obj["offsets"] = e.offsets.map { [$0.start, $0.end] }
                }
                out += jsonLine(obj) + "\n"
            } catch {
                out += jsonLine(["error": "line \(n + 1): expected {\"text\": string, \"add_special_tokens\": bool}: \(error)"]) + "\n"
            }
        }
        FileHandle.standardOutput.write(Data(out.utf8))
    }
}

/// `swifttune detokenize`: token ids → text, like `tokenizer.decode`.
struct Detokenize: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Decode token ids with a Hugging Face tokenizer (model folder or tokenizer.json).")

    @Option(name: .long, help: "A Hugging Face model folder (with tokenizer.json) or a tokenizer.json file.")
    var model: String

    @Option(name: .long, help: "Comma- or space-separated token ids, e.g. 1,2,3.")
    var ids: String

    @Flag(name: .long, help: "Drop special tokens (BOS, EOS, ...) from the output.")
    var skipSpecialTokens = false

    func run() throws {
        let tok = try loadTokenizer(model)
        var list: [Int] = []
        for part in ids.split(whereSeparator: { $0 == "," || $0 == " " || $0 == "\n" || $0 == "\t" }) {
            guard let v = Int(part.trimmingCharacters(in: .whitespaces)) else {
                throw ValidationError("--ids: \"\(part)\" is not an integer")
            }
            guard v >= 0, v < tok.vocabSize else {
                throw TokenizeCLIError(description: "--ids: \(v) is outside the vocabulary (0..<\(tok.vocabSize))")
            }
            list.append(v)
        }
        print(tok.decode(list, skipSpecialTokens: skipSpecialTokens))
    }
}
