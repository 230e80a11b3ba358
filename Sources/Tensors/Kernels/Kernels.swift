/// Fused, pointer-level numeric kernels (attention, norms, RoPE, softmax, cross-entropy, SwiGLU,
/// dtype conversion). Buffers are contiguous row-major; outputs are overwritten unless a function
/// says it accumulates. The `Tensors` autograd ops wrap these. See `Kernels/README.md`.
public enum Kernels {}
