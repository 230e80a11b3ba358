import Quantization
import Tensors

/// Something that adds to (or rewrites) a `Linear`'s output, e.g. a LoRA adapter:
/// `forward(x, base: W·x + b)` returns the new output. Adapters run in order.
public protocol LinearAdapter: AnyObject {
    func forward(_ x: Tensor, base: Tensor) -> Tensor
}

/// `y = x · Wᵀ + b` (torch `nn.Linear`), weight [out, in], optional bias [out]. The weight may be
/// float32 or a frozen half-precision tensor (the engine's matmul converts it tile by tile).
/// `adapters` lets a later module (LoRA) attach to this layer without forking the model; an adapter
/// that is also a `Module` is listed among the children under its name, so its parameters get paths
/// like `q_proj.lora_A.default.weight`.
public final class Linear: Module {
    public let weight: Parameter
    public let bias: Parameter?
    public let inFeatures: Int, outFeatures: Int
    /// Adapters applied after the base projection, in order.
    public var adapters: [(name: String, adapter: LinearAdapter)] = []
    /// The frozen weight in a GGUF block format (`LoadOptions.keepQuantized`); when set, the layer
    /// computes with it and `weight.value` is a NaN placeholder of the same shape.
    public private(set) var quantizedWeight: QuantizedMatrix?

    public init(_ inFeatures: Int, _ outFeatures: Int, bias: Bool = false) {
        self.inFeatures = inFeatures
        self.outFeatures = outFeatures
        weight = Parameter(QuantizedOps.initialWeight([outFeatures, inFeatures]))
        self.bias = bias ? Parameter(Tensor.zeros([outFeatures])) : nil
    }

    public override var ownParameters: [(String, Parameter)] {
        var p = [("weight", weight)]
        if let bias { p.append(("bias", bias)) }
        return p
    }

    public override var children: [(String, Module)] {
        adapters.compactMap { a in (a.adapter as? Module).map { (a.name, $0) } }
    }

    /// Makes the layer compute with `w` (shape [outFeatures, inFeatures]) and frees its float weight.
    public func setQuantizedWeight(_ w: QuantizedMatrix) throws {
        guard w.rows == outFeatures, w.cols == inFeatures else {
            throw ModelError.invalidInput("quantised weight [\(w.rows), \(w.cols)] does not fit Linear(\(inFeatures), \(outFeatures))")
        }
        quantizedWeight = w
        weight.value = QuantizedOps.placeholder([outFeatures, inFeatures])
    }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        var y = quantizedWeight.map { QuantizedOps.linear(x, $0, bias: bias?.value) }
            ?? Ops.linear(x, weight: weight.value, bias: bias?.value)
        for a in adapters { y = a.adapter.forward(x, base: y) }
        return y
    }
}

/// Token embedding table [vocab, hidden] (torch `nn.Embedding`). As with torch's `padding_idx`
/// (HF passes `pad_token_id`), the padding row receives no gradient.
public final class Embedding: Module {
    public let weight: Parameter
    public let paddingIdx: Int?

    /// The frozen table in a GGUF block format (`LoadOptions.keepQuantized`); when set, lookups
    /// dequantise the rows they need and `weight.value` is a NaN placeholder of the same shape.
    public private(set) var quantizedWeight: QuantizedMatrix?

    public init(_ count: Int, _ dim: Int, paddingIdx: Int? = nil) {
        weight = Parameter(QuantizedOps.initialWeight([count, dim]))
        self.paddingIdx = paddingIdx
    }

    /// Makes lookups (and a tied output head) read `w` ([count, dim]) and frees the float table.
    public func setQuantizedWeight(_ w: QuantizedMatrix) throws {
        guard [w.rows, w.cols] == weight.value.shape else {
            throw ModelError.invalidInput("quantised table [\(w.rows), \(w.cols)] does not fit Embedding \(weight.value.shape)")
        }
        weight.value = QuantizedOps.placeholder([w.rows, w.cols])
        quantizedWeight = w
    }

    public override var ownParameters: [(String, Parameter)] { [("weight", weight)] }

    /// Rows for integer ids of any shape → [ids.shape..., dim]. Throws on an id outside the vocabulary.
    public func callAsFunction(_ ids: Tensor) throws -> Tensor {
        if let quantizedWeight { return try QuantizedOps.embedding(ids, quantizedWeight) }
        let out = try embedding(ids, weight: weight.value)
        guard let paddingIdx, out.requiresGrad else { return out }
        let isPad = ids.toIntArray().map { $0 == paddingIdx ? 1 : 0 }
        guard isPad.contains(1) else { return out }
        // Same values; the detached branch at padding positions stops their gradient.
        return Tensor.where(Tensor(isPad, shape: ids.shape + [1], dtype: .bool), out.detach(), out)
    }
}

/// HF `LlamaRMSNorm`: `weight * x / sqrt(mean(x²) + eps)`, computed in float32.
public final class RMSNorm: Module {
    public let weight: Parameter
    public let eps: Float

    public init(_ dim: Int, eps: Float) {
        weight = Parameter(Tensor.ones([dim]))
        self.eps = eps
    }

    public override var ownParameters: [(String, Parameter)] { [("weight", weight)] }

    public func callAsFunction(_ x: Tensor) -> Tensor { Ops.rmsNorm(x, weight: weight.value, eps: eps) }
}
