import Foundation

/// Tokens produced by a model for one piece: ids with `[lo, hi)` ranges into the piece's scalars.
struct TokenSink {
    var ids: [UInt32] = []
    var los: [Int32] = []
    var his: [Int32] = []
    /// Token strings that differ from the vocabulary entry of the id, by token index (Unigram's
    /// unknown pieces keep their text).
    var strings: [Int: String] = [:]
    @inline(__always) mutating func add(_ id: UInt32, _ lo: Int, _ hi: Int) {
        ids.append(id); los.append(Int32(lo)); his.append(Int32(hi))
    }
}

/// Per-call scratch memory for the models, so that concurrent encodes share nothing mutable.
struct ModelScratch {
    var symIds: [UInt32] = []
    var symLo: [Int32] = []
    var symHi: [Int32] = []
    var prev: [Int32] = []
    var next: [Int32] = []
    var heap: [UInt64] = []
    var cache: [[UInt32]: [UInt32]] = [:]
}

/// A `model` of tokenizer.json.
protocol TokenizerModel: Sendable {
    /// Tokenizes the scalars `s` (one pre-token) into `sink`, ranges relative to `s`.
    func tokenize(_ s: UnsafeBufferPointer<UInt32>, into sink: inout TokenSink, scratch: inout ModelScratch)
    func tokenToId(_ token: String) -> Int?
    func idToToken(_ id: Int) -> String?
    /// Highest id + 1.
    var vocabSize: Int { get }
    /// All (token, id) pairs of the model's vocabulary.
    var vocabulary: [String: Int] { get }
}

/// Open-addressing hash map from a pair of token ids to a merge (rank, new id). Faster than Dictionary in the BPE hot loop.
struct MergeTable: Sendable {
    /// Interleaved `key, value` slots (one cache line holds both); key `UInt64.max` marks an empty slot.
    private var slots: [UInt64]
    private let mask: Int
    private(set) var count = 0

    init(capacity: Int) {
        var size = 16
        while size < capacity * 2 { size <<= 1 }
        slots = [UInt64](repeating: UInt64.max, count: size * 2)
        mask = size - 1
    }

    @inline(__always) private static func hash(_ k: UInt64) -> Int {
        var h = k &* 0x9E37_79B9_7F4A_7C15
        h ^= h >> 29
        return Int(truncatingIfNeeded: h)
    }

    /// Inserts unless the pair is already present (the first occurrence in the file wins).
    mutating func insertIfAbsent(_ a: UInt32, _ b: UInt32, rank: UInt32, newId: UInt32) {
        let k = UInt64(a) << 32 | UInt64(b)
        var i = MergeTable.hash(k) & mask
        while slots[2 * i] != UInt64.max {
            if slots[2 * i] == k { return }
            i = (i + 1) & mask
        }
        slots[2 * i] = k
        slots[2 * i + 1] = UInt64(rank) << 32 | UInt64(newId)
        count += 1
    }

    /// `rank << 32 | newId`, or nil.
    @inline(__always) func get(_ a: UInt32, _ b: UInt32) -> UInt64? {
        let k = UInt64(a) << 32 | UInt64(b)
        return slots.withUnsafeBufferPointer { sp in
            var i = MergeTable.hash(k) & mask
            while true {
                let x = sp[2 * i]
                if x == k { return sp[2 * i + 1] }
                if x == UInt64.max { return nil }
                i = (i + 1) & mask
            }
        }
    }
}

/// Byte-pair encoding (`"type": "BPE"`), as in `tokenizers`: merges by rank, lowest first and leftmost
/// on ties; `byte_fallback`, `ignore_merges`, `continuing_subword_prefix`, `end_of_word_suffix`, unk fusing.
/// `dropout` is ignored: inference is deterministic.
struct BPEModel: TokenizerModel {
    let vocab: [TokenKey: UInt32]
    let idToTokenTable: [String?]
    let merges: MergeTable
    let unkId: UInt32?
    let fuseUnk: Bool
    let byteFallback: Bool
    let ignoreMerges: Bool
    let continuingSubwordPrefix: String?
    let endOfWordSuffix: String?
    /// Single-scalar tokens by scalar, for the BMP (-1: not in vocab); only used without prefix/suffix.
    let smallChar: [Int32]
    let byteFallbackIds: [Int32]

    init(vocab: [TokenKey: UInt32], merges: [(String, String)], unkToken: String?, fuseUnk: Bool, byteFallback: Bool,
         ignoreMerges: Bool, continuingSubwordPrefix: String?, endOfWordSuffix: String?, file: String) throws {
        self.vocab = vocab
        let maxId = vocab.values.max().map { Int($0) } ?? -1
        var table = [String?](repeating: nil, count: maxId + 1)
        for (t, i) in vocab { table[Int(i)] = t.string }
        idToTokenTable = table
        let prefixLen = continuingSubwordPrefix.map { $0.unicodeScalars.count } ?? 0
        var mt = MergeTable(capacity: merges.count)
        for (rank, (a, b)) in merges.enumerated() {
            guard let ia = vocab[TokenKey(a)] else {
                throw TokenizerError.unknownToken(file: file, field: "model.merges[\(rank)]", token: a)
            }
            guard let ib = vocab[TokenKey(b)] else {
                throw TokenizerError.unknownToken(file: file, field: "model.merges[\(rank)]", token: b)
            }
            let merged = prefixLen == 0 ? a + b : a + String(String.UnicodeScalarView(b.unicodeScalars.dropFirst(prefixLen)))
            guard let inew = vocab[TokenKey(merged)] else {
                throw TokenizerError.unknownToken(file: file, field: "model.merges[\(rank)] (merged)", token: merged)
            }
            mt.insertIfAbsent(ia, ib, rank: UInt32(rank), newId: inew)
        }
        self.merges = mt
        if let u = unkToken {
            guard let id = vocab[TokenKey(u)] else { throw TokenizerError.unknownToken(file: file, field: "model.unk_token", token: u) }
            unkId = id
        } else {
            unkId = nil
        }
        self.fuseUnk = fuseUnk
        self.byteFallback = byteFallback
        self.ignoreMerges = ignoreMerges
        self.continuingSubwordPrefix = (continuingSubwordPrefix?.isEmpty ?? true) ? nil : continuingSubwordPrefix
        self.endOfWordSuffix = (endOfWordSuffix?.isEmpty ?? true) ? nil : endOfWordSuffix
        var sc = [Int32](repeating: -1, count: 0x10000)
        for (t, id) in vocab {
            var it = t.string.unicodeScalars.makeIterator()
            if let u = it.next(), it.next() == nil, u.value < 0x10000 { sc[Int(u.value)] = Int32(id) }
        }
        smallChar = sc
        var bf = [Int32](repeating: -1, count: 256)
        for b in 0..<256 {
            if let id = vocab[TokenKey(String(format: "<0x%02X>", b))] { bf[b] = Int32(id) }
        }
        byteFallbackIds = bf
    }

    var vocabSize: Int { idToTokenTable.count }
    var vocabulary: [String: Int] { Dictionary(vocab.map { ($0.key.string, Int($0.value)) }, uniquingKeysWith: { a, _ in a }) }
    func tokenToId(_ token: String) -> Int? { vocab[TokenKey(token)].map(Int.init) }
    func idToToken(_ id: Int) -> String? { id >= 0 && id < idToTokenTable.count ? idToTokenTable[id] : nil }

    /// Vocabulary id of the `k`-th scalar of a word of `n` scalars (prefix/suffix applied), or nil.
    @inline(__always) private func symbolId(_ s: UnsafeBufferPointer<UInt32>, _ k: Int) -> UInt32? {
        let v = s[k]
        if continuingSubwordPrefix == nil && endOfWordSuffix == nil {
            if v < 0x10000 {
                let id = smallChar.withUnsafeBufferPointer { $0[Int(v)] }
                return id >= 0 ? UInt32(id) : nil
            }
            return vocab[TokenKey(scalarsToString(CollectionOfOne(v)))]
        }
        return vocab[TokenKey(symbolString(v, first: k == 0, last: k == s.count - 1))]
    }

    private func symbolString(_ v: UInt32, first: Bool, last: Bool) -> String {
        var str = scalarsToString(CollectionOfOne(v))
        if !first, let p = continuingSubwordPrefix { str = p + str }
        if last, let suf = endOfWordSuffix { str += suf }
        return str
    }

    func tokenize(_ s: UnsafeBufferPointer<UInt32>, into sink: inout TokenSink, scratch: inout ModelScratch) {
        let n = s.count
        if n == 0 { return }
        if n == 1, let id = symbolId(s, 0) {
            sink.add(id, 0, 1)
            return
        }
        if ignoreMerges, let id = vocab[TokenKey(scalarsToString(s))] {
            sink.add(id, 0, n)
            return
        }
        // Initial symbols: one per scalar, with byte fallback and unk fusing. As in `tokenizers`,
        // symbol positions are the running sum of symbol lengths, so a dropped character (unknown,
        // no unk token) shifts the offsets of what follows.
        scratch.symIds.removeAll(keepingCapacity: true)
        scratch.symLo.removeAll(keepingCapacity: true)
        scratch.symHi.removeAll(keepingCapacity: true)
        var unk: (lo: Int, hi: Int)? = nil
        var pos = 0
        @inline(__always) func flushUnk(_ sc: inout ModelScratch) {
            if let u = unk, let uid = unkId {
                sc.symIds.append(uid); sc.symLo.append(Int32(u.lo)); sc.symHi.append(Int32(u.hi))
            }
            unk = nil
        }
        for k in 0..<n {
            if let id = symbolId(s, k) {
                flushUnk(&scratch)
                scratch.symIds.append(id); scratch.symLo.append(Int32(pos)); scratch.symHi.append(Int32(pos + 1))
                pos += 1
                continue
            }
            if byteFallback {
                let str = continuingSubwordPrefix == nil && endOfWordSuffix == nil
                    ? scalarsToString(CollectionOfOne(s[k])) : symbolString(s[k], first: k == 0, last: k == n - 1)
                var ids: [UInt32] = []
                var ok = true
                for b in str.utf8 {
                    let id = byteFallbackIds[Int(b)]
                    if id < 0 { ok = false; break }
                    ids.append(UInt32(id))
                }
                if ok {
                    flushUnk(&scratch)
                    for id in ids { scratch.symIds.append(id); scratch.symLo.append(Int32(pos)); scratch.symHi.append(Int32(pos + 1)) }
                    pos += 1
                    continue
                }
            }
            if unkId != nil {
                if let u = unk, fuseUnk {
                    unk = (u.lo, pos + 1)
                } else {
                    flushUnk(&scratch)
                    unk = (pos, pos + 1)
                }
                pos += 1
            }
            // Without an unk token an unknown character is dropped, as in `tokenizers`.
        }
        flushUnk(&scratch)
        mergeAll(&scratch)
        // Emit the surviving symbols in order.
        var i: Int32 = 0
        let m = scratch.symIds.count
        if m == 0 { return }
        while i >= 0 && Int(i) < m {
            let k = Int(i)
            sink.add(scratch.symIds[k], Int(scratch.symLo[k]), Int(scratch.symHi[k]))
            i = scratch.next[k]
        }
    }

    /// Applies merges to the symbols in `scratch` (a linked list over arrays plus a min-heap of
    /// `rank << 32 | position`), exactly like `Word::merge_all` in `tokenizers`: the lowest rank first,
    /// the leftmost on ties, stale heap entries skipped.
    private func mergeAll(_ sc: inout ModelScratch) {
        let m = sc.symIds.count
        sc.prev.removeAll(keepingCapacity: true)
        sc.next.removeAll(keepingCapacity: true)
        for k in 0..<m {
            sc.prev.append(Int32(k - 1))
            sc.next.append(k + 1 < m ? Int32(k + 1) : -1)
        }
        if m < 2 { return }
        sc.heap.removeAll(keepingCapacity: true)
        let merges = self.merges
        sc.symIds.withUnsafeMutableBufferPointer { ids in
        sc.symHi.withUnsafeMutableBufferPointer { his in
        sc.prev.withUnsafeMutableBufferPointer { prev in
        sc.next.withUnsafeMutableBufferPointer { next in
            for k in 0..<(m - 1) {
                if let v = merges.get(ids[k], ids[k + 1]) { heapPush(&sc.heap, (v >> 32) << 32 | UInt64(k)) }
            }
            while let top = heapPop(&sc.heap) {
                let rank = top >> 32
                let pos = Int(top & 0xFFFF_FFFF)
                if his[pos] < 0 { continue }  // removed
                let nx = next[pos]
                if nx < 0 { continue }
                let right = Int(nx)
                guard let v = merges.get(ids[pos], ids[right]), v >> 32 == rank else { continue }
                ids[pos] = UInt32(truncatingIfNeeded: v)
                his[pos] = his[right]
                his[right] = -1
                let rn = next[right]
                next[pos] = rn
                if rn >= 0 { prev[Int(rn)] = Int32(pos) }
                let pv = prev[pos]
                if pv >= 0, let w = merges.get(ids[Int(pv)], ids[pos]) { heapPush(&sc.heap, (w >> 32) << 32 | UInt64(pv)) }
                if rn >= 0, let w = merges.get(ids[pos], ids[Int(rn)]) { heapPush(&sc.heap, (w >> 32) << 32 | UInt64(pos)) }
            }
        }
        }
        }
        }
    }
}

@inline(__always) func heapPush(_ h: inout [UInt64], _ v: UInt64) {
    h.append(v)
    h.withUnsafeMutableBufferPointer { b in
        var i = b.count - 1
        while i > 0 {
            let p = (i - 1) >> 1
            if b[p] <= v { break }
            b[i] = b[p]
            i = p
        }
        b[i] = v
    }
}

@inline(__always) func heapPop(_ h: inout [UInt64]) -> UInt64? {
    guard let last = h.popLast() else { return nil }
    if h.isEmpty { return last }
    return h.withUnsafeMutableBufferPointer { b -> UInt64 in
        let top = b[0]
        let n = b.count
        var i = 0
        while true {
            let l = 2 * i + 1
            if l >= n { break }
            var c = l
            if l + 1 < n && b[l + 1] < b[l] { c = l + 1 }
            if last <= b[c] { break }
            b[i] = b[c]
            i = c
        }
        b[i] = last
        return top
    }
}
