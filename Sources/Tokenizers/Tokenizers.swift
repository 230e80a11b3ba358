/// Hugging Face tokenizer.json pipelines and GGUF-embedded tokenizers.
public enum TokenizersModule {}
