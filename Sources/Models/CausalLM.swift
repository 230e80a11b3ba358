import Tensors

/// SwiGLU feed-forward: `down(silu(gate(x)) * up(x))`. Phi-3 stores gate and up as one
/// `gate_up_proj` whose output halves are [gate, up].
public final class MLP: Module {
    public let gateProj: Linear?, upProj: Linear?
    public let gateUpProj: Linear?
    public let downProj: Linear

    public init(_ c: ModelConfig) {
        if c.fusedProjections {
            gateUpProj = Linear(c.hiddenSize, 2 * c.intermediateSize, bias: c.mlpBias)
            gateProj = nil; upProj = nil
        } else {
            gateProj = Linear(c.hiddenSize, c.intermediateSize, bias: c.mlpBias)
            upProj = Linear(c.hiddenSize, c.intermediateSize, bias: c.mlpBias)
            gateUpProj = nil
        }
        downProj = Linear(c.intermediateSize, c.hiddenSize, bias: c.mlpBias)
    }

    public override var children: [(String, Module)] {
        if let gateUpProj { return [("gate_up_proj", gateUpProj), ("down_proj", downProj)] }
        return [("gate_proj", gateProj!), ("up_proj", upProj!), ("down_proj", downProj)]
    }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        if let gateUpProj {
            let gu = gateUpProj(x).chunk(2, dim: -1)
            return downProj(Ops.siluMul(gu[0], gu[1]))
        }
        if let gu = Linear.fusedQuantizedForward([gateProj!, upProj!], x) { return downProj(Ops.siluMul(gu[0], gu[1])) }
        return downProj(Ops.siluMul(gateProj!(x), upProj!(x)))
    }
}

/// Pre-norm transformer block: `h = x + attn(norm(x)); out = h + mlp(norm(h))`.
public final class DecoderLayer: Module {
    public let selfAttn: Attention
    public let mlp: MLP
    public let inputLayernorm: RMSNorm, postAttentionLayernorm: RMSNorm

    public init(_ c: ModelConfig) {
        selfAttn = Attention(c)
        mlp = MLP(c)
        inputLayernorm = RMSNorm(c.hiddenSize, eps: c.rmsNormEps)
        postAttentionLayernorm = RMSNorm(c.hiddenSize, eps: c.rmsNormEps)
    }

    public override var children: [(String, Module)] {
        [("self_attn", selfAttn), ("mlp", mlp), ("input_layernorm", inputLayernorm),
         ("post_attention_layernorm", postAttentionLayernorm)]
    }

    func callAsFunction(_ x: Tensor, _ a: AttentionInputs, layer: Int) -> Tensor {
        let h = x + selfAttn(inputLayernorm(x), a, layer: layer)
        return h + mlp(postAttentionLayernorm(h))
    }
}

/// The decoder stack without the output head (HF `LlamaModel`, the `model.` prefix).
public final class DecoderModel: Module {
    public let embedTokens: Embedding
    public let layers: [DecoderLayer]
    public let norm: RMSNorm

    public init(_ c: ModelConfig) {
        embedTokens = Embedding(c.vocabSize, c.hiddenSize, paddingIdx: c.padTokenId)
        layers = (0..<c.numHiddenLayers).map { _ in DecoderLayer(c) }
        norm = RMSNorm(c.hiddenSize, eps: c.rmsNormEps)
    }

    public override var children: [(String, Module)] {
        [("embed_tokens", embedTokens)] + layers.enumerated().map { ("layers.\($0.offset)", $0.element) } + [("norm", norm)]
    }
}

/// A Llama-family causal language model (llama, mistral, qwen2, phi3): decoder stack plus the
/// output head `lm_head`, tied to `model.embed_tokens` when `tie_word_embeddings` is set (then it
/// has no parameter of its own, as in transformers' `named_parameters()`).
public final class CausalLM: Module {
    public let config: ModelConfig
    public let model: DecoderModel
    /// The untied output head; nil when tied to the embeddings.
    public let lmHead: Linear?
    public let rotary: RotaryEmbedding
    /// Which attention computation forward passes use.
    public var attentionImplementation: AttentionImplementation = .sdpa
    /// Whether a one-token, one-sequence step with a cache takes `DecodeStep` (same logits, fewer
    /// fixed costs); off only to compare the two paths.
    public var fastDecode = true

    /// A model with zero-initialised weights (load them with `load(path:)` or `loadWeights`).
    public init(config: ModelConfig) {
        self.config = config
        model = DecoderModel(config)
        lmHead = config.tieWordEmbeddings ? nil : Linear(config.hiddenSize, config.vocabSize)
        rotary = RotaryEmbedding(config: config)
    }

    public override var children: [(String, Module)] {
        if let lmHead { return [("model", model), ("lm_head", lmHead)] }
        return [("model", model)]
    }

    /// Logits [B, T, vocab] for `inputIds` [B, T] (integer tensor).
    /// - `attentionMask` [B, past+T] (1 = token, 0 = padding), HF convention: with a cache it covers
    ///   the cached tokens too.
    /// - `positionIds` [B, T]; default `past..<past+T` for every row. Without an attention mask, a
    ///   row whose positions restart at 0 holds packed sequences that never attend to each other.
    /// - `cache`: keys/values of earlier tokens; this pass appends its own.
    /// - `lastOnly`: compute logits at the last position only ([B, 1, vocab]; generation).
    public func forward(inputIds: Tensor, attentionMask: Tensor? = nil, positionIds: Tensor? = nil,
                        cache: KVCache? = nil, lastOnly: Bool = false) throws -> Tensor {
        if fastDecode, let cache, inputIds.shape == [1, 1], !isGradEnabled, !inputIds.dtype.isFloatingPoint,
           cache.batch == 1, cache.length < cache.capacity, let step = DecodeStep.plan(self) {
            let past = cache.length
            let keyMask = attentionMask?.toIntArray()
            let position = positionIds?.toIntArray().first ?? past
            if (keyMask == nil || keyMask!.count == past + 1), (positionIds == nil || positionIds!.count == 1), position >= 0 {
                let x = try model.embedTokens(inputIds)
                return step.run(embedding: x, position: position, cache: cache, keyMask: keyMask,
                                invFreq: rotary.invFreq(maxPosition: position))
            }
        }
        let h = try hiddenStates(inputIds: inputIds, attentionMask: attentionMask, positionIds: positionIds,
                                 cache: cache, lastOnly: lastOnly)
        if let lmHead { return lmHead(h) }
        if let q = model.embedTokens.quantizedWeight { return QuantizedOps.linear(h, q, bias: nil) }
        return Ops.linear(h, weight: model.embedTokens.weight.value, bias: nil)
    }

    /// The final-normed hidden states [B, T, hidden] (or [B, 1, hidden] with `lastOnly`) that the output
    /// head turns into logits; arguments as `forward`.
    func hiddenStates(inputIds: Tensor, attentionMask: Tensor?, positionIds: Tensor?,
                      cache: KVCache?, lastOnly: Bool) throws -> Tensor {
        guard inputIds.rank == 2, !inputIds.dtype.isFloatingPoint else {
            throw ModelError.invalidInput("input_ids must be an integer tensor [batch, length], got \(inputIds.dtype) \(inputIds.shape)")
        }
        let b = inputIds.shape[0], t = inputIds.shape[1]
        let past = cache?.length ?? 0
        if let cache {
            guard cache.batch == b, past + t <= cache.capacity else {
                throw ModelError.invalidInput("KV cache holds batch \(cache.batch), \(cache.length)/\(cache.capacity) tokens; cannot add [\(b), \(t)]")
            }
        }
        let keyMask = try attentionMask.map { m -> [Int] in
            guard m.shape == [b, past + t] else {
                throw ModelError.invalidInput("attention_mask must be [\(b), \(past + t)] (batch, cached + new tokens), got \(m.shape)")
            }
            return m.toIntArray()
        }
        let positions: [Int]
        if let positionIds {
            guard positionIds.shape == [b, t] || positionIds.shape == [1, t] else {
                throw ModelError.invalidInput("position_ids must be [\(b), \(t)] like input_ids, got \(positionIds.shape)")
            }
            let p = positionIds.toIntArray()
            positions = positionIds.shape[0] == b ? p : (0..<b).flatMap { _ in p }
            guard positions.allSatisfy({ $0 >= 0 }) else { throw ModelError.invalidInput("position_ids must be >= 0") }
        } else {
            positions = (0..<b).flatMap { _ in past..<(past + t) }
        }
        // Packed rows: a new sequence starts wherever the position falls back to 0.
        var segments: [Int]? = nil
        if attentionMask == nil, positionIds != nil, past == 0 {
            var seg = [Int](repeating: 0, count: b * t)
            for bi in 0..<b {
                var id = 0
                for i in 0..<t { if i > 0 && positions[bi * t + i] == 0 { id += 1 }; seg[bi * t + i] = id }
            }
            segments = seg
        }
        let fused = attentionImplementation == .sdpa && past == 0
        let inputs = AttentionInputs(
            batch: b, length: t, pastLength: past, rope: rotary.tables(positions: positions, batch: b, length: t),
            mask: fused ? nil : additiveMask(batch: b, length: t, past: past, keyMask: keyMask, segments: segments),
            keyMask: attentionMask, packedPositions: segments == nil ? nil : Tensor(positions, shape: [b, t]),
            blindRows: fused ? keyMask.flatMap { BlindRows(keyMask: $0, batch: b, length: t) } : nil,
            cache: cache)
        var h = try model.embedTokens(inputIds)
        for (i, layer) in model.layers.enumerated() { h = layer(h, inputs, layer: i) }
        cache?.advance(by: t)
        if lastOnly { h = h.narrow(1, start: t - 1, length: 1) }
        return model.norm(h)
    }

    /// HF's causal-LM loss of `logits` [B, T, V] against `labels` [B, T]: position t predicts
    /// label t+1 (labels are shifted here), −100 is ignored. The mean over counted tokens, or, given
    /// `numItemsInBatch` (gradient accumulation), the sum divided by it.
    public func loss(logits: Tensor, labels: Tensor, numItemsInBatch: Int? = nil) throws -> Tensor {
        let (sum, count) = try lossSum(logits: logits, labels: labels)
        return sum / Float(numItemsInBatch ?? count)
    }

    /// The summed causal-LM loss and the number of tokens it counts (for accumulating over batches).
    public func lossSum(logits: Tensor, labels: Tensor) throws -> (sum: Tensor, count: Int) {
        guard logits.rank == 3, labels.shape == Array(logits.shape.prefix(2)) else {
            throw ModelError.invalidInput("labels \(labels.shape) must be [batch, length] of logits \(logits.shape)")
        }
        let b = labels.shape[0], t = labels.shape[1], v = logits.shape[2]
        let l = labels.toIntArray()
        var shifted = [Int](repeating: -100, count: b * t)
        for bi in 0..<b { for i in 0..<(t - 1) { shifted[bi * t + i] = l[bi * t + i + 1] } }
        return try Ops.crossEntropySum(logits: logits.reshape([b * t, v]), targets: shifted)
    }

    /// The summed causal-LM loss of a batch and the number of label tokens it counts, as
    /// `lossSum(logits: forward(...), labels:)` but without the full logits: the output head and the
    /// cross-entropy run only at positions whose shifted label is not −100 (a completion-only batch
    /// masks most positions), fused so that the [B·T, vocab] logits and their gradient never exist at
    /// once (`linearCrossEntropySum`). Same loss and gradients as the two-step path, to float rounding.
    public func lossSum(inputIds: Tensor, labels: Tensor, attentionMask: Tensor? = nil,
                        positionIds: Tensor? = nil) throws -> (sum: Tensor, count: Int) {
        guard labels.shape == inputIds.shape else {
            throw ModelError.invalidInput("labels \(labels.shape) must be [batch, length] like input_ids \(inputIds.shape)")
        }
        let h = try hiddenStates(inputIds: inputIds, attentionMask: attentionMask, positionIds: positionIds, cache: nil, lastOnly: false)
        let b = labels.shape[0], t = labels.shape[1], vocab = config.vocabSize
        let l = labels.toIntArray()
        var shifted = [Int32](repeating: -100, count: b * t)
        for bi in 0..<b {
            for i in 0..<max(0, t - 1) {
                let v = l[bi * t + i + 1]
                guard v == -100 || (v >= 0 && v < vocab) else {
                    throw ModelError.invalidInput("labels: label \(v) at row \(bi), position \(i + 1) is outside 0..<\(vocab) (vocab) and is not -100")
                }
                shifted[bi * t + i] = Int32(v)
            }
        }
        let head = lmHead?.weight.value ?? model.embedTokens.weight.value
        let plainHead = lmHead.map { $0.adapters.isEmpty && $0.bias == nil } ?? true
        if plainHead, let fused = linearCrossEntropySum(hidden: h, weight: head, targets: shifted) { return fused }
        let logits = lmHead.map { $0(h) } ?? Ops.linear(h, weight: head, bias: nil)
        return try Ops.crossEntropySum(logits: logits.reshape([b * t, logits.shape[2]]), targets: shifted.map(Int.init))
    }

    /// Forward plus loss in one call: `loss(logits: forward(...), labels:)`.
    public func loss(inputIds: Tensor, labels: Tensor, attentionMask: Tensor? = nil, positionIds: Tensor? = nil,
                     numItemsInBatch: Int? = nil) throws -> Tensor {
        let logits = try forward(inputIds: inputIds, attentionMask: attentionMask, positionIds: positionIds)
        return try loss(logits: logits, labels: labels, numItemsInBatch: numItemsInBatch)
    }
}
