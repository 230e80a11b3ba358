import Foundation

/// The book's chapter 4 / chapter -1 checks on the tokenizer and the data set-up. Each returns diagnostics whose
/// messages name the cause and the fix; nothing here prints.
public enum DataValidation {
    /// `tokenizer.model_max_length` values above this are the "1e30" placeholders HF writes when unknown.
    static let implausibleMaxLength = 1_000_000_000

    /// Picks the PAD id the collators use, with the book's rule: PAD must exist and must not be EOS (EOS as PAD
    /// teaches a model that never stops once pads are masked, and makes generation treat EOS as padding).
    /// Order: `configPadToken` (TRL `pad_token`) → the tokenizer's PAD if it is not EOS → UNK if it is not EOS →
    /// EOS as a last resort (what TRL does), with a warning.
    public static func resolvePadToken(encoder: TextEncoding, configPadToken: String? = nil) throws -> (id: Int32?, diagnostics: [DataDiagnostic]) {
        var diags: [DataDiagnostic] = []
        let eos = encoder.eosToken
        if let p = configPadToken {
            guard let id = encoder.tokenToId(p) else {
                throw DatasetError.invalidConfig("pad_token '\(p)' is not in the tokenizer's vocabulary; name an existing token (e.g. the UNK token '\(encoder.unkToken ?? "<unk>")') or add a dedicated pad token to the tokenizer")
            }
            if p == eos {
                diags.append(DataDiagnostic(.warning, .padEqualsEOS, "pad_token '\(p)' is the EOS token: the model can learn that EOS is padding and never stop, and generation will treat EOS as padding. Set pad_token to the UNK token or a dedicated pad token."))
            }
            return (id, diags)
        }
        let pad = encoder.padToken
        let unkUsable = encoder.unkToken.flatMap { u in u != eos ? encoder.tokenToId(u).map { (u, $0) } : nil }
        if let p = pad, p != eos, let id = encoder.tokenToId(p) { return (id, diags) }
        let cause = pad == nil
            ? "the tokenizer has no pad token"
            : "the tokenizer's pad token '\(pad!)' is its EOS token (a model trained with EOS as PAD may never learn to stop, and generation treats EOS as padding)"
        let code: DataDiagnostic.Code = pad == nil ? .missingPadToken : .padEqualsEOS
        if let (u, id) = unkUsable {
            diags.append(DataDiagnostic(.warning, code, "\(cause); fixed: padding with the UNK token '\(u)' (id \(id)), as the book does. To choose another, set pad_token in the config (a dedicated pad token is best); save the tokenizer with this pad token so generation agrees."))
            return (id, diags)
        }
        if let e = eos, let id = encoder.tokenToId(e) {
            diags.append(DataDiagnostic(.warning, code, "\(cause), and there is no UNK token distinct from EOS: padding with EOS '\(e)' (id \(id)) as TRL does. Pads get label -100 by position, so EOS is still trained, but add a dedicated pad token to the tokenizer (and set pad_token) before generation."))
            return (id, diags)
        }
        diags.append(DataDiagnostic(.error, .missingPadToken, "the tokenizer has neither a pad token nor an EOS token; padded batches are impossible. Add a pad token to the tokenizer, set pad_token in the config, or use padding-free packing (packing: true, packing_strategy: bfd)."))
        return (nil, diags)
    }

    /// `max_seq_length` must fit the model's `max_position_embeddings` (the tokenizer's `model_max_length` is
    /// often a meaningless 1e30 — the book's OPT example — so the model config is the reliable bound).
    public static func checkMaxLength(_ maxLength: Int?, maxPositionEmbeddings: Int?, tokenizerMaxLength: Int?) -> [DataDiagnostic] {
        guard let m = maxLength else { return [] }
        var out: [DataDiagnostic] = []
        if m <= 0 { out.append(DataDiagnostic(.error, .maxLengthAboveModel, "max_seq_length must be positive, got \(m).")) }
        if let p = maxPositionEmbeddings, m > p {
            out.append(DataDiagnostic(.error, .maxLengthAboveModel, "max_seq_length \(m) is above the model's max_position_embeddings \(p): positions past \(p) have no trained embedding (or RoPE extrapolates badly). Set max_seq_length to at most \(p)."))
        } else if maxPositionEmbeddings == nil, let t = tokenizerMaxLength, t < implausibleMaxLength, m > t {
            out.append(DataDiagnostic(.warning, .maxLengthAboveModel, "max_seq_length \(m) is above the tokenizer's model_max_length \(t). Set max_seq_length to at most \(t), or check the model's max_position_embeddings."))
        }
        return out
    }

    /// Right padding is what TRL uses for training and is harmless there (pads sit after the text, masked and
    /// ignored by the loss), but the same setting breaks batched generation: the model would continue after pads.
    /// The book: pack, or pad on the left.
    public static func checkPaddingSide(_ side: PaddingSide, packing: Bool, paddingFree: Bool) -> [DataDiagnostic] {
        guard side == .right, !packing, !paddingFree else { return [] }
        return [DataDiagnostic(.info, .rightPadding, "padding_side is right: fine for training (TRL's default), but a tokenizer saved with right padding breaks batched generation — prompts must be left-padded so the answer follows the text, not pads. Use padding_side: left (the book's choice), or packing.")]
    }

    /// Examples whose every label is -100 (they add nothing but cost compute) and empty examples.
    public static func checkExamples(_ examples: [TokenizedExample], sourceRows: [Int]? = nil, dataset: Dataset? = nil) -> [DataDiagnostic] {
        var empty: [String] = [], masked: [String] = []
        for (k, e) in examples.enumerated() {
            let ref = sourceRows.flatMap { k < $0.count ? dataset?.origin(of: $0[k]) : nil } ?? "example \(k)"
            if e.inputIds.isEmpty { empty.append(ref) } else if !e.labels.contains(where: { $0 != ignoreIndex }) { masked.append(ref) }
        }
        var out: [DataDiagnostic] = []
        if !empty.isEmpty { out.append(DataDiagnostic(.warning, .emptyExample, "\(empty.count) empty example(s) (\(describeRows(empty))). Remove empty rows from the dataset.")) }
        if !masked.isEmpty {
            out.append(DataDiagnostic(.warning, .allMaskedExample, "\(masked.count) example(s) have every label -100 (\(describeRows(masked))): no loss is taken on them. The completion is missing or cut off by max_seq_length, or the response template was not found."))
        }
        return out
    }
}
