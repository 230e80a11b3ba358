/// Quantized block formats: bitsandbytes NF4/FP4/int8 and GGML blocks.
public enum Quantization {}
