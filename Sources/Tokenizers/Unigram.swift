import Foundation

/// `Unigram` (SentencePiece unigram LM, e.g. T5): the segmentation with the highest total piece
/// score (Viterbi), unknown characters scored `min_score - 10` and fused, optional byte fallback.
struct UnigramModel: TokenizerModel {
    let pieces: [String]
    let scores: [Double]
    let vocab: [TokenKey: UInt32]
    let unkId: UInt32?
    let byteFallback: Bool
    let minScore: Double
    /// Trie over the scalars of every piece: children per node, piece id at terminal nodes (-1 otherwise).
    private let children: [[UInt32: Int32]]
    private let terminal: [Int32]
    private let byteIds: [Int32]

    init(_ m: JSONFields) throws {
        let raw = try m.array("vocab")
        var pieces: [String] = [], scores: [Double] = []
        pieces.reserveCapacity(raw.count)
        for (k, item) in raw.enumerated() {
            guard let a = item.arrayValue, a.count == 2, let t = a[0].stringValue, let sc = a[1].doubleValue else {
                throw TokenizerError.invalidField(file: m.file, field: "\(m.sub("vocab"))[\(k)]", expected: "[\"piece\", score]")
            }
            pieces.append(t); scores.append(sc)
        }
        guard !pieces.isEmpty else { throw TokenizerError.invalidField(file: m.file, field: m.sub("vocab"), expected: "a non-empty list") }
        self.pieces = pieces
        self.scores = scores
        var v: [TokenKey: UInt32] = [:]
        for (i, t) in pieces.enumerated() { v[TokenKey(t)] = UInt32(i) }
        vocab = v
        if let u = try m.optionalInt("unk_id") {
            guard u >= 0 && u < pieces.count else {
                throw TokenizerError.invalidField(file: m.file, field: m.sub("unk_id"), expected: "an id below \(pieces.count)")
            }
            unkId = UInt32(u)
        } else {
            unkId = nil
        }
        byteFallback = try m.bool("byte_fallback", default: false)
        minScore = scores.min() ?? 0
        var ch: [[UInt32: Int32]] = [[:]]
        var term: [Int32] = [-1]
        for (id, p) in pieces.enumerated() {
            var node = 0
            for u in p.unicodeScalars {
                if let c = ch[node][u.value] { node = Int(c) } else {
                    ch.append([:]); term.append(-1)
                    ch[node][u.value] = Int32(ch.count - 1)
                    node = ch.count - 1
                }
            }
            if node != 0 && term[node] < 0 { term[node] = Int32(id) }
        }
        children = ch
        terminal = term
        var bi = [Int32](repeating: -1, count: 256)
        for b in 0..<256 { if let id = v[TokenKey(String(format: "<0x%02X>", b))] { bi[b] = Int32(id) } }
        byteIds = bi
    }

    var vocabSize: Int { pieces.count }
    var vocabulary: [String: Int] { Dictionary(pieces.enumerated().map { ($1, $0) }, uniquingKeysWith: { a, _ in a }) }
    func tokenToId(_ token: String) -> Int? { vocab[TokenKey(token)].map(Int.init) }
    func idToToken(_ id: Int) -> String? { id >= 0 && id < pieces.count ? pieces[id] : nil }

    func tokenize(_ s: UnsafeBufferPointer<UInt32>, into sink: inout TokenSink, scratch: inout ModelScratch) {
        let n = s.count
        if n == 0 { return }
        let unkScore = minScore - 10
        // best[i]: best path ending at i (score, start, id); start -1 = unreached.
        var bestScore = [Double](repeating: 0, count: n + 1)
        var bestStart = [Int](repeating: -1, count: n + 1)
        var bestId = [Int32](repeating: -1, count: n + 1)
        for start in 0..<n {
            if start > 0 && bestStart[start] < 0 { continue }
            let base = bestScore[start]
            var hasSingle = false
            var node = 0
            var k = start
            while k < n, let c = children[node][s[k]] {
                node = Int(c)
                k += 1
                let id = terminal[node]
                if id >= 0 {
                    let cand = base + scores[Int(id)]
                    if bestStart[k] < 0 || cand > bestScore[k] { bestScore[k] = cand; bestStart[k] = start; bestId[k] = id }
                    if k == start + 1 { hasSingle = true }
                }
            }
            if !hasSingle {
                let cand = base + unkScore
                if bestStart[start + 1] < 0 || cand > bestScore[start + 1] {
                    bestScore[start + 1] = cand; bestStart[start + 1] = start; bestId[start + 1] = unkId.map { Int32($0) } ?? -2
                }
            }
        }
        // Walk back; consecutive unknown pieces are fused.
        var segs: [(lo: Int, hi: Int, id: Int32)] = []
        var end = n
        while end > 0 {
            let st = bestStart[end]
            if st < 0 { break }
            let id = bestId[end]
            let isUnk = id == -2 || (unkId != nil && id == Int32(unkId!))
            if isUnk, let last = segs.last, last.id == id, last.lo == end {
                segs[segs.count - 1].lo = st
            } else {
                segs.append((st, end, id))
            }
            end = st
        }
        segs.reverse()
        for seg in segs {
            let isUnk = seg.id == -2 || (unkId != nil && seg.id == Int32(unkId!))
            if !isUnk {
                sink.add(UInt32(seg.id), seg.lo, seg.hi)
                continue
            }
            let text = scalarsToString(s[seg.lo..<seg.hi])
            if byteFallback {
                let ids = text.utf8.map { byteIds[Int($0)] }
                if !ids.contains(where: { $0 < 0 }) {
                    for id in ids { sink.add(UInt32(id), seg.lo, seg.hi) }
                    continue
                }
            }
            guard let u = unkId else { continue }
            sink.strings[sink.ids.count] = text
            sink.add(u, seg.lo, seg.hi)
        }
    }
}

/// `Precompiled`: SentencePiece's compiled normalization rules (a Darts double-array trie over UTF-8
/// plus a pool of replacement strings), applied per grapheme cluster, as `tokenizers` does.
struct PrecompiledNormalizer: Normalizer {
    private let trie: [UInt32]
    private let pool: [UInt8]

    init(_ o: JSONFields) throws {
        let b64 = try o.string("precompiled_charsmap")
        guard let data = Data(base64Encoded: b64), data.count >= 4 else {
            throw TokenizerError.invalidField(file: o.file, field: o.sub("precompiled_charsmap"), expected: "base64 of a SentencePiece charsmap")
        }
        let bytes = [UInt8](data)
        let trieSize = Int(UInt32(bytes[0]) | UInt32(bytes[1]) << 8 | UInt32(bytes[2]) << 16 | UInt32(bytes[3]) << 24)
        guard trieSize % 4 == 0, 4 + trieSize <= bytes.count else {
            throw TokenizerError.invalidField(file: o.file, field: o.sub("precompiled_charsmap"), expected: "a trie size within the blob")
        }
        var t = [UInt32](repeating: 0, count: trieSize / 4)
        for i in 0..<t.count {
            let p = 4 + i * 4
            t[i] = UInt32(bytes[p]) | UInt32(bytes[p + 1]) << 8 | UInt32(bytes[p + 2]) << 16 | UInt32(bytes[p + 3]) << 24
        }
        trie = t
        pool = Array(bytes[(4 + trieSize)...])
    }

    /// Replacement for the shortest entry that is a prefix of `key` (the first Darts result).
    private func transform(_ key: [UInt8]) -> [UInt8]? {
        guard !trie.isEmpty else { return nil }
        @inline(__always) func offset(_ u: UInt32) -> Int { Int((u >> 10) << ((u & (1 << 9)) >> 6)) }
        var pos = 0
        var unit = trie[0]
        pos ^= offset(unit)
        for c in key {
            pos ^= Int(c)
            guard pos >= 0, pos < trie.count else { return nil }
            unit = trie[pos]
            if unit & ((1 << 31) | 0xFF) != UInt32(c) { return nil }
            pos ^= offset(unit)
            guard pos >= 0, pos < trie.count else { return nil }
            if (unit >> 8) & 1 == 1 {
                let value = Int(trie[pos] & 0x7FFF_FFFF)
                guard value < pool.count else { return nil }
                var end = value
                while end < pool.count, pool[end] != 0 { end += 1 }
                return Array(pool[value..<end])
            }
        }
        return nil
    }

    func normalize(_ s: inout NormalizedString) {
        if s.isEmpty { return }
        // Build `(scalar, change)` transformations exactly as `tokenizers` does, then align them
        // the way `NormalizedString::transform` consumes the original: change 0 takes the next
        // original scalar's span, +1 repeats the previous span, -k also skips k originals. A removal
        // with nothing before it is not recorded (so later spans shift, as in the reference).
        var trans: [(UInt32, Int)] = []
        trans.reserveCapacity(s.count)
        var modified = false
        func replace(_ oldCount: Int, _ new: [UInt32]) {
            modified = true
            for v in new { trans.append((v, 0)) }
            let diff = new.count - oldCount
            if diff > 0 {
                for i in (trans.count - diff)..<trans.count { trans[i].1 = 1 }
            } else if diff < 0, !trans.isEmpty {
                trans[trans.count - 1].1 += diff
            }
        }
        var pos = 0
        for ch in s.string {
            let n = ch.unicodeScalars.count
            let range = pos..<(pos + n)
            pos += n
            let utf8 = Array(String(ch).utf8)
            if utf8.count < 6, let rep = transform(utf8) {
                replace(n, stringToScalars(String(decoding: rep, as: UTF8.self)))
                continue
            }
            for k in range {
                let one = Array(scalarsToString(CollectionOfOne(s.scalars[k])).utf8)
                if let rep = transform(one) {
                    replace(1, stringToScalars(String(decoding: rep, as: UTF8.self)))
                } else {
                    trans.append((s.scalars[k], 0))
                }
            }
        }
        guard modified else { return }
        var out = NormalizedString()
        out.reserve(trans.count)
        var offset = 0
        let last = s.spans[s.count - 1]
        for (v, change) in trans {
            if change > 0 {
                out.append(v, offset > 0 ? s.spans[min(offset, s.count) - 1] : Span(start: 0, end: 0))
            } else {
                out.append(v, offset < s.count ? s.spans[offset] : last)
                offset += 1 - change
            }
        }
        s = out
    }
}
