import Foundation

/// `Precompiled` (SentencePiece charsmap) normalizer: not implemented yet; loading reports it clearly.
struct PrecompiledNormalizer: Normalizer {
    init(_ o: JSONObject) throws {
        throw TokenizerError.unsupported(file: o.file, field: o.sub("type"), type: "Precompiled")
    }
    func normalize(_ s: inout NormalizedString) {}
}

/// `Unigram` model: not implemented yet; loading reports it clearly.
struct UnigramModel {
    init(_ m: JSONObject) throws {
        throw TokenizerError.unsupported(file: m.file, field: m.sub("type"), type: "Unigram")
    }
}
