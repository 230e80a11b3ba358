import ArgumentParser
import Foundation
import Tensors

/// `swifttune demo`: the engine end to end on the yoda data — a character-level MLP language model
/// (Bengio et al. 2003) trained with autograd and AdamW on "sentence => translation" lines, then asked to
/// continue test sentences. It stands in for the LoRA fine-tuning demo until the model stack lands.
struct Demo: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train a small character-level language model on the yoda data with the tensor engine.")

    @Option(help: "Training data (JSONL with `sentence` and `translation`).")
    var data = "Examples/yoda/train.jsonl"
    @Option(help: "Held-out data for the test loss and samples.")
    var test = "Examples/yoda/test.jsonl"
    @Option(help: "Optimizer steps.") var steps = 2000
    @Option(help: "Windows per batch.") var batchSize = 128
    @Option(help: "Characters of context.") var context = 24
    @Option(help: "Learning rate (AdamW).") var learningRate: Float = 2e-3
    @Option(help: "Random seed.") var seed: UInt64 = 42

    func run() throws {
        let trainText = try Self.corpus(data)
        let testText = try Self.corpus(test)
        let chars = Array(Set(trainText + testText)).sorted()
        let index = Dictionary(uniqueKeysWithValues: chars.enumerated().map { ($1, $0) })
        let vocab = chars.count
        let trainIds = trainText.map { index[$0]! }
        let testIds = testText.map { index[$0]! }
        print("data: \(trainIds.count) training characters, \(testIds.count) test characters, vocabulary \(vocab)")

        let rng = RandomGenerator(seed: seed)
        let model = CharMLP(vocab: vocab, context: context, embed: 32, hidden: 512, rng: rng)
        let optimizer = AdamW(parameters: model.parameters, learningRate: learningRate, weightDecay: 0.01)
        print("model: \(model.parameterCount) parameters; \(steps) steps of \(batchSize) windows")

        let start = Date()
        var window: [Float] = []
        for step in 1...steps {
            let (x, y) = Self.batch(trainIds, size: batchSize, context: context, rng: rng)
            let loss = try crossEntropy(logits: try model(x), targets: y)
            loss.backward()
            // Linear decay to 10% keeps the last steps from bouncing around.
            optimizer.learningRate = learningRate * (1 - 0.9 * Float(step) / Float(steps))
            optimizer.step()
            window.append(loss.item())
            if step % 250 == 0 || step == 1 {
                let avg = window.reduce(0, +) / Float(window.count)
                window.removeAll()
                let rate = Double(step * batchSize * context) / Date().timeIntervalSince(start)
                print(String(format: "step %5d  train loss %.4f  (%.0f tokens/s)", step, avg, rate))
            }
        }
        let elapsed = Date().timeIntervalSince(start)
        let testLoss = try withNoGrad { try Self.evaluate(model, testIds, context: context) }
        print(String(format: "trained in %.1f s; test loss %.4f nats/char (uniform would be %.2f)", elapsed, testLoss, Foundation.log(Float(vocab))))

        print("\nsamples (greedy continuation of test sentences):")
        let tests = try Self.rows(test).prefix(5)
        for row in tests {
            let prompt = row.sentence + " => "
            let out = try withNoGrad { try Self.complete(model, prompt: prompt, index: index, chars: chars, context: context) }
            print("  \(row.sentence)\n    model:    \(out)\n    expected: \(row.translation)")
        }
    }

    struct Row: Decodable { let sentence: String; let translation: String }

    static func rows(_ path: String) throws -> [Row] {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw ValidationError("cannot read \(path): run from the repository root or pass --data/--test")
        }
        return try text.split(separator: "\n").enumerated().map { (i, line) in
            do { return try JSONDecoder().decode(Row.self, from: Data(line.utf8)) } catch {
                throw ValidationError("\(path):\(i + 1): expected a JSON object with `sentence` and `translation` (\(error))")
            }
        }
    }

    static func corpus(_ path: String) throws -> [Character] {
        Array(try rows(path).map { "\($0.sentence) => \($0.translation)\n" }.joined())
    }

    static func batch(_ ids: [Int], size: Int, context: Int, rng: RandomGenerator) -> (Tensor, Tensor) {
        var x = [Int](), y = [Int]()
        x.reserveCapacity(size * context)
        for _ in 0..<size {
            let start = Int(rng.next() % UInt64(ids.count - context - 1))
            x.append(contentsOf: ids[start..<start + context])
            y.append(ids[start + context])
        }
        return (Tensor(x, shape: [size, context]), Tensor(y, shape: [size]))
    }

    static func evaluate(_ model: CharMLP, _ ids: [Int], context: Int) throws -> Float {
        var total: Float = 0, batches = 0
        var start = 0
        while start + context + 256 < ids.count {
            var x = [Int](), y = [Int]()
            for s in start..<start + 256 { x.append(contentsOf: ids[s..<s + context]); y.append(ids[s + context]) }
            total += try crossEntropy(logits: try model(Tensor(x, shape: [256, context])), targets: Tensor(y, shape: [256])).item()
            batches += 1
            start += 256
        }
        return total / Float(max(batches, 1))
    }

    static func complete(_ model: CharMLP, prompt: String, index: [Character: Int], chars: [Character], context: Int) throws -> String {
        var ids = Array(repeating: index["\n"] ?? 0, count: context) + prompt.compactMap { index[$0] }
        var out = ""
        for _ in 0..<120 {
            let logits = try model(Tensor(Array(ids.suffix(context)), shape: [1, context]))
            let next = logits.argmax(dim: -1).toIntArray()[0]
            if chars[next] == "\n" { break }
            out.append(chars[next])
            ids.append(next)
        }
        return out
    }
}

/// embedding → concat over the context → Linear → tanh → Linear.
final class CharMLP {
    let embedding: Tensor, w1: Tensor, b1: Tensor, w2: Tensor, b2: Tensor
    let context: Int, embed: Int

    init(vocab: Int, context: Int, embed: Int, hidden: Int, rng: RandomGenerator) {
        self.context = context
        self.embed = embed
        embedding = Tensor.normal([vocab, embed], std: 1, generator: rng).requiringGrad()
        w1 = Tensor.kaimingUniform([hidden, context * embed], generator: rng).requiringGrad()
        b1 = Tensor.zeros([hidden]).requiringGrad()
        w2 = (Tensor.kaimingUniform([vocab, hidden], generator: rng) * 0.1).detach().requiringGrad()
        b2 = Tensor.zeros([vocab]).requiringGrad()
    }

    var parameters: [Tensor] { [embedding, w1, b1, w2, b2] }
    var parameterCount: Int { parameters.reduce(0) { $0 + $1.count } }

    func callAsFunction(_ x: Tensor) throws -> Tensor {
        let e = try Tensors.embedding(x, weight: embedding).reshape([x.shape[0], context * embed])
        let h = linear(e, weight: w1, bias: b1).tanh()
        return linear(h, weight: w2, bias: b2)
    }
}

/// AdamW (torch.optim.AdamW semantics: decoupled weight decay, bias-corrected moments).
final class AdamW {
    let parameters: [Tensor]
    var learningRate: Float
    let beta1: Float = 0.9, beta2: Float = 0.999, eps: Float = 1e-8, weightDecay: Float
    private var m: [[Float]], v: [[Float]]
    private var t = 0

    init(parameters: [Tensor], learningRate: Float, weightDecay: Float) {
        self.parameters = parameters
        self.learningRate = learningRate
        self.weightDecay = weightDecay
        m = parameters.map { [Float](repeating: 0, count: $0.count) }
        v = m
    }

    func step() {
        t += 1
        let c1 = 1 - Foundation.pow(beta1, Float(t)), c2 = 1 - Foundation.pow(beta2, Float(t))
        for (i, p) in parameters.enumerated() {
            guard let g = p.grad?.toFloatArray() else { continue }
            var w = p.toFloatArray()
            for j in 0..<w.count {
                m[i][j] = beta1 * m[i][j] + (1 - beta1) * g[j]
                v[i][j] = beta2 * v[i][j] + (1 - beta2) * g[j] * g[j]
                w[j] -= learningRate * weightDecay * w[j]
                w[j] -= learningRate * (m[i][j] / c1) / ((v[i][j] / c2).squareRoot() + eps)
            }
            withNoGrad { p.copy(from: Tensor(w, shape: p.shape)) }
            p.zeroGrad()
        }
    }
}
