import Foundation

/// `WordPiece` (BERT): greedy longest-match-first, `##` on word-internal pieces; a word that cannot
/// be covered, or is longer than `max_input_chars_per_word`, becomes the unk token.
struct WordPieceModel: TokenizerModel {
    let vocab: [TokenKey: UInt32]
    let idToTokenTable: [String?]
    let unkId: UInt32
    let prefix: String
    let maxInputCharsPerWord: Int

    init(vocab: [TokenKey: UInt32], unkToken: String, prefix: String, maxInputCharsPerWord: Int, file: String) throws {
        self.vocab = vocab
        let maxId = vocab.values.max().map { Int($0) } ?? -1
        var table = [String?](repeating: nil, count: maxId + 1)
        for (t, i) in vocab { table[Int(i)] = t.string }
        idToTokenTable = table
        guard let u = vocab[TokenKey(unkToken)] else { throw TokenizerError.unknownToken(file: file, field: "model.unk_token", token: unkToken) }
        unkId = u
        self.prefix = prefix
        self.maxInputCharsPerWord = maxInputCharsPerWord
    }

    var vocabSize: Int { idToTokenTable.count }
    var vocabulary: [String: Int] { Dictionary(vocab.map { ($0.key.string, Int($0.value)) }, uniquingKeysWith: { a, _ in a }) }
    func tokenToId(_ token: String) -> Int? { vocab[TokenKey(token)].map(Int.init) }
    func idToToken(_ id: Int) -> String? { id >= 0 && id < idToTokenTable.count ? idToTokenTable[id] : nil }

    func tokenize(_ s: UnsafeBufferPointer<UInt32>, into sink: inout TokenSink, scratch: inout ModelScratch) {
        let n = s.count
        if n == 0 { return }
        if n > maxInputCharsPerWord { sink.add(unkId, 0, n); return }
        var found: [(UInt32, Int, Int)] = []
        var start = 0
        while start < n {
            var end = n
            var hit: UInt32? = nil
            while start < end {
                var sub = scalarsToString(s[start..<end])
                if start > 0 { sub = prefix + sub }
                if let id = vocab[TokenKey(sub)] { hit = id; break }
                end -= 1
            }
            guard let id = hit else { sink.add(unkId, 0, n); return }
            found.append((id, start, end))
            start = end
        }
        for (id, lo, hi) in found { sink.add(id, lo, hi) }
    }
}
