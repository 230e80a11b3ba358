import ArgumentParser
import ChatTemplates
import Foundation
import Generation
import LoRA
import Models
import Tokenizers

/// Options shared by `generate` and `chat`: the model, adapters and sampling settings.
struct ModelOptions: ParsableArguments {
    @Option(help: "A Hugging Face model folder or a GGUF file.")
    var model: String

    @Option(help: "A PEFT adapter folder; repeat to merge several into the base (each with weight 1).")
    var adapter: [String] = []

    @Option(help: "Maximum number of new tokens.") var maxNewTokens = 256
    @Option(help: "Sampling temperature; 0 means greedy.") var temperature: Float = 0
    @Option(help: "Keep the k most likely tokens (0: all).") var topK = 0
    @Option(help: "Keep the smallest set of tokens whose probability reaches p.") var topP: Float = 1
    @Option(help: "Drop tokens below min-p times the top probability.") var minP: Float = 0
    @Option(help: "Penalise tokens already present (1: off).") var repetitionPenalty: Float = 1
    @Option(help: "Random seed for sampling.") var seed: UInt64 = 0

    func generationConfig(eos: [Int]) -> GenerationConfig {
        GenerationConfig(maxNewTokens: maxNewTokens, doSample: temperature > 0, temperature: temperature > 0 ? temperature : 1,
                         topK: topK, topP: topP, minP: minP, repetitionPenalty: repetitionPenalty, seed: seed,
                         eosTokenIds: eos)
    }
}

/// A loaded model with its tokenizer and chat template, ready to answer.
struct ChatSession {
    let model: CausalLM
    let tokenizer: Tokenizer
    let template: ChatTemplate?
    let eosTokenIds: [Int]

    init(_ options: ModelOptions) throws {
        // GGUF weights stay in their blocks for inference, unless adapters must be merged into float weights.
        var model = try CausalLM.load(path: options.model, options: LoadOptions(keepQuantized: options.adapter.isEmpty))
        for folder in options.adapter {
            // Merging each adapter into the base sums their updates, which is what several adapters
            // active together compute.
            model = try LoRA.loadAdapter(from: folder, into: model).mergeAndUnload()
        }
        self.model = model
        tokenizer = try Tokenizer(path: options.model)
        template = try tokenizer.chatTemplate.map { try ChatTemplate.cached($0) }
        var eos = Set(model.config.eosTokenIds)
        if let id = tokenizer.eosTokenId { eos.insert(id) }
        let genConfig = URL(fileURLWithPath: options.model).appendingPathComponent("generation_config.json")
        if FileManager.default.fileExists(atPath: genConfig.path), let ids = try? GenerationConfig.load(contentsOf: genConfig).eosTokenIds {
            eos.formUnion(ids)
        }
        eosTokenIds = eos.sorted()
    }

    /// The prompt as the model was trained to see it: the chat template with the generation prompt.
    func prompt(messages: [(role: String, content: String)]) throws -> String {
        guard let template else {
            throw ValidationError("the model has no chat template (tokenizer_config.json chat_template, chat_template.jinja or GGUF tokenizer.chat_template); use --raw")
        }
        let values: [Value] = messages.map { m in
            var d = PyDict()
            d["role"] = .string(m.role)
            d["content"] = .string(m.content)
            return .dict(d)
        }
        var extra: [String: Value] = [:]
        if let b = tokenizer.bosToken { extra["bos_token"] = .string(b) }
        if let e = tokenizer.eosToken { extra["eos_token"] = .string(e) }
        return try template.apply(messages: values, addGenerationPrompt: true, extra: extra).text
    }

    /// Generates from `prompt`, streaming text to `emit`; returns the new token ids and the elapsed seconds.
    func generate(prompt: String, config: GenerationConfig, emit: ((String) -> Void)?) throws -> (tokens: [Int], promptTokens: Int, seconds: Double) {
        let ids = tokenizer.encode(prompt, addSpecialTokens: false).ids
        var stream = StreamingDecoder(tokenizer: tokenizer, skipSpecialTokens: true)
        let generator = Generator(model: model) { tokenizer.decode($0) }
        let start = Date()
        let result = try generator.generate(promptIds: ids, config: config) { token in
            if let emit, !eosTokenIds.contains(token), let piece = stream.step(token) { emit(piece) }
        }
        if let emit { emit(stream.finish()) }
        return (result.tokens, ids.count, Date().timeIntervalSince(start))
    }
}

/// `swifttune generate`: one answer to one prompt.
struct Generate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Generate text from a prompt (through the model's chat template unless --raw).")

    @OptionGroup var options: ModelOptions
    @Option(help: "The prompt (the user message).") var prompt: String
    @Option(help: "A system message.") var system: String?
    @Flag(help: "Feed the prompt as is, without the chat template.") var raw = false
    @Flag(help: "Print {\"text\", \"tokens\", \"prompt_tokens\", \"tokens_per_second\"} instead of streaming text.") var json = false

    func run() throws {
        let session = try ChatSession(options)
        var messages: [(role: String, content: String)] = []
        if let system { messages.append(("system", system)) }
        messages.append(("user", prompt))
        let text = raw ? prompt : try session.prompt(messages: messages)
        let config = options.generationConfig(eos: session.eosTokenIds)
        if json {
            let r = try session.generate(prompt: text, config: config, emit: nil)
            let answerIds = r.tokens.filter { !session.eosTokenIds.contains($0) }
            let out: [String: Any] = [
                "text": session.tokenizer.decode(answerIds, skipSpecialTokens: true),
                "tokens": r.tokens, "prompt_tokens": r.promptTokens,
                "tokens_per_second": r.seconds > 0 ? Double(r.tokens.count) / r.seconds : 0,
            ]
            let data = try JSONSerialization.data(withJSONObject: out, options: [.sortedKeys])
            print(String(decoding: data, as: UTF8.self))
        } else {
            _ = try session.generate(prompt: text, config: config) { print($0, terminator: ""); fflush(stdout) }
            print()
        }
    }
}

/// `swifttune chat`: an interactive conversation with streaming answers.
struct Chat: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Chat with a model in the terminal (/reset clears the history, /exit quits).")

    @OptionGroup var options: ModelOptions
    @Option(help: "A system message.") var system: String?

    func run() throws {
        let session = try ChatSession(options)
        let config = options.generationConfig(eos: session.eosTokenIds)
        var history: [(role: String, content: String)] = system.map { [("system", $0)] } ?? []
        let interactive = isatty(STDIN_FILENO) != 0
        if interactive { print("Chatting with \(options.model). /reset clears the history, /exit quits.") }
        while true {
            if interactive { print("> ", terminator: ""); fflush(stdout) }
            guard let line = readLine() else { break }
            let input = line.trimmingCharacters(in: .whitespaces)
            if input.isEmpty { continue }
            if input == "/exit" || input == "/quit" { break }
            if input == "/reset" {
                history = system.map { [("system", $0)] } ?? []
                print("(history cleared)")
                continue
            }
            history.append(("user", input))
            var answer = ""
            _ = try session.generate(prompt: try session.prompt(messages: history), config: config) { piece in
                answer += piece
                print(piece, terminator: "")
                fflush(stdout)
            }
            print()
            history.append(("assistant", answer))
        }
    }
}
