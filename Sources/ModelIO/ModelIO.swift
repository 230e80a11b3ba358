/// Reading and writing model files: safetensors (single files and sharded folders) and GGUF,
/// with zero-copy views into memory-mapped files, plus a human-readable inspection report.
public enum ModelIO {}
