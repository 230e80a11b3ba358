import Foundation

/// One entry of tokenizer.json's `added_tokens`.
public struct AddedToken: Sendable, Equatable {
    public var id: Int
    public var content: String
    public var singleWord: Bool
    public var lstrip: Bool
    public var rstrip: Bool
    public var normalized: Bool
    public var special: Bool

    public init(id: Int, content: String, singleWord: Bool = false, lstrip: Bool = false, rstrip: Bool = false,
                normalized: Bool = false, special: Bool = true) {
        self.id = id
        self.content = content
        self.singleWord = singleWord
        self.lstrip = lstrip
        self.rstrip = rstrip
        self.normalized = normalized
        self.special = special
    }
}

/// A trie over scalars finding added tokens leftmost-longest, like the Aho-Corasick matcher
/// (`MatchKind::LeftmostLongest`) of `tokenizers`.
struct TokenTrie: Sendable {
    private var children: [[UInt32: Int32]] = [[:]]
    private var terminal: [Int32] = [-1]   // index into the token list, or -1
    private var firstScalars = Set<UInt32>()
    /// `firstScalars` for the BMP as a bitmap (checked for every input scalar).
    private var firstBMP = [UInt64](repeating: 0, count: 1024)

    init(_ patterns: [[UInt32]]) {
        for (idx, p) in patterns.enumerated() where !p.isEmpty {
            var node = 0
            for v in p {
                if let c = children[node][v] {
                    node = Int(c)
                } else {
                    children.append([:]); terminal.append(-1)
                    children[node][v] = Int32(children.count - 1)
                    node = children.count - 1
                }
            }
            if terminal[node] < 0 { terminal[node] = Int32(idx) }
            firstScalars.insert(p[0])
            if p[0] < 0x10000 { firstBMP[Int(p[0] >> 6)] |= 1 << UInt64(p[0] & 63) }
        }
    }

    var isEmpty: Bool { firstScalars.isEmpty }

    /// Longest pattern starting at `i`: (pattern index, end).
    @inline(__always) func longestMatch(_ s: UnsafeBufferPointer<UInt32>, at i: Int) -> (Int, Int)? {
        let v = s[i]
        if v < 0x10000 {
            guard firstBMP.withUnsafeBufferPointer({ $0[Int(v >> 6)] }) & (1 << UInt64(v & 63)) != 0 else { return nil }
        } else {
            guard firstScalars.contains(v) else { return nil }
        }
        var node = 0
        var best: (Int, Int)? = nil
        var k = i
        while k < s.count, let c = children[node][s[k]] {
            node = Int(c)
            k += 1
            if terminal[node] >= 0 { best = (Int(terminal[node]), k) }
        }
        return best
    }
}

/// Splits text on added tokens (`AddedVocabulary` in `tokenizers`): tokens with `normalized: false`
/// are matched on the raw text, those with `normalized: true` on the normalized text (their content
/// normalized the same way).
struct AddedVocabulary: Sendable {
    let tokens: [AddedToken]
    let rawTrie: TokenTrie
    let rawTokens: [Int]          // index into `tokens` for each raw pattern
    let normalizedTrie: TokenTrie
    let normalizedTokens: [Int]
    /// Token string → id and id → token for added tokens.
    let byContent: [TokenKey: Int]
    let byId: [Int: AddedToken]

    init(tokens: [AddedToken], normalizer: Normalizer?) {
        self.tokens = tokens
        var rawP: [[UInt32]] = [], rawT: [Int] = []
        var normP: [[UInt32]] = [], normT: [Int] = []
        for (k, t) in tokens.enumerated() {
            if t.normalized {
                var ns = NormalizedString(stringToScalars(t.content)[...], base: 0)
                normalizer?.normalize(&ns)
                normP.append(ns.scalars); normT.append(k)
            } else {
                rawP.append(stringToScalars(t.content)); rawT.append(k)
            }
        }
        rawTrie = TokenTrie(rawP)
        rawTokens = rawT
        normalizedTrie = TokenTrie(normP)
        normalizedTokens = normT
        var bc: [TokenKey: Int] = [:]
        var bi: [Int: AddedToken] = [:]
        for t in tokens { bc[TokenKey(t.content)] = t.id; bi[t.id] = t }
        byContent = bc
        byId = bi
    }

    enum Segment {
        case text(lo: Int, hi: Int)
        case token(id: Int, lo: Int, hi: Int)
    }

    /// Splits `s` (a whole text or a piece of it) into text segments and added-token segments.
    func split(_ s: UnsafeBufferPointer<UInt32>, normalizedPass: Bool, splitSpecialTokens: Bool) -> [Segment] {
        let trie = normalizedPass ? normalizedTrie : rawTrie
        let map = normalizedPass ? normalizedTokens : rawTokens
        let n = s.count
        if trie.isEmpty || n == 0 { return n == 0 ? [] : [.text(lo: 0, hi: n)] }
        var out: [Segment] = []
        var startOffset = 0
        var i = 0
        while i < n {
            guard let (pidx, end) = trie.longestMatch(s, at: i) else { i += 1; continue }
            let tok = tokens[map[pidx]]
            var start = i
            var stop = end
            // Like aho-corasick's find_iter, a skipped match still consumes its text.
            if splitSpecialTokens && tok.special { i = end; continue }
            if tok.singleWord {
                let startSpace = start == 0 || !AddedVocabulary.isWordChar(s[start - 1])
                let stopSpace = stop == n || !AddedVocabulary.isWordChar(s[stop])
                if !startSpace || !stopSpace { i = end; continue }
            }
            if tok.lstrip {
                var k = start
                while k > 0, CharClass.of(s[k - 1]) & CharClass.space != 0 { k -= 1 }
                start = max(k, startOffset)
            }
            if tok.rstrip {
                while stop < n, CharClass.of(s[stop]) & CharClass.space != 0 { stop += 1 }
            }
            if startOffset < start { out.append(.text(lo: startOffset, hi: start)) }
            out.append(.token(id: tok.id, lo: start, hi: stop))
            startOffset = stop
            i = stop
        }
        if startOffset < n { out.append(.text(lo: startOffset, hi: n)) }
        return out
    }

    /// `\w` as the single_word check of `tokenizers` sees it (alphanumeric or `_`).
    static func isWordChar(_ v: UInt32) -> Bool {
        v == 0x5F || CharClass.of(v) & (CharClass.alpha | CharClass.number) != 0
    }
}
