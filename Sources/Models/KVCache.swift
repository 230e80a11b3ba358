import Tensors

/// Keys and values of past tokens, per layer, so a decode step attends to the prefix without
/// recomputing it. Buffers are allocated once for `capacity` tokens ([B, capacity, Hkv, D] each)
/// and filled in place; `length` tokens are valid.
public final class KVCache {
    public let batch: Int, capacity: Int
    /// Tokens stored so far (the next token's cache slot).
    public private(set) var length = 0
    var keys: [Tensor], values: [Tensor]

    /// A cache for `config`'s layers holding up to `capacity` tokens per row.
    public init(config: ModelConfig, batch: Int, capacity: Int) {
        self.batch = batch
        self.capacity = capacity
        let shape = [batch, capacity, config.numKeyValueHeads, config.headDim]
        keys = (0..<config.numHiddenLayers).map { _ in Tensor.zeros(shape) }
        values = (0..<config.numHiddenLayers).map { _ in Tensor.zeros(shape) }
    }

    /// Stores this step's k and v [B, T, Hkv, D] for `layer` at slots `length..<length+T` and returns
    /// all keys and values so far [B, length+T, Hkv, D] (views into the buffers).
    func append(layer: Int, k: Tensor, v: Tensor) -> (k: Tensor, v: Tensor) {
        let t = k.shape[1]
        withNoGrad {
            keys[layer].narrow(1, start: length, length: t).copy(from: k)
            values[layer].narrow(1, start: length, length: t).copy(from: v)
        }
        return (keys[layer].narrow(1, start: 0, length: length + t), values[layer].narrow(1, start: 0, length: length + t))
    }

    /// Marks `count` more tokens as stored (called once per forward, after every layer appended).
    func advance(by count: Int) { length += count }

    /// Forgets everything (the buffers are reused).
    public func reset() { length = 0 }

    /// Keeps only the first `count` tokens (e.g. to reuse a shared prompt prefix).
    public func truncate(to count: Int) { length = Swift.min(Swift.max(0, count), length) }
}
