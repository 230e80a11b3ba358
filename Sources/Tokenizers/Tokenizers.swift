/// Hugging Face tokenizer.json pipelines and GGUF-embedded tokenizers.
///
/// - `Tokenizer(path:)` loads a model folder or a tokenizer.json (with tokenizer_config.json,
///   special_tokens_map.json, chat_template.jinja when present); `Tokenizer(gguf:)` builds one from
///   `GGUFTokenizerMetadata`.
/// - `encode(_:pair:addSpecialTokens:)` → `Encoding` (ids, tokens, code-point offsets, masks),
///   `decode(_:skipSpecialTokens:)`, `StreamingDecoder` for generation, `tokenToId` / `idToToken`.
/// - The pipeline reproduces HF `tokenizers` 0.23: added tokens → normalizer → pre-tokenizer →
///   model (BPE, WordPiece, Unigram) → post-processor, and the decoder chain back.
public enum TokenizersModule {}
