import Tensors

/// LoRA dropout draws from one `RandomGenerator` per layer, seeded from the layer's module path, so
/// layers that read the same input (q, k, v) draw different masks and a checkpoint can save and restore
/// each stream (HF saves torch's RNG states in `rng_state.pth` for the same reason).
enum DropoutSeed {
    /// A seed per module path (FNV-1a).
    static func seed(path: String) -> UInt64 {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        for b in path.utf8 { h = (h ^ UInt64(b)) &* 0x100_0000_01B3 }
        return h
    }
}
