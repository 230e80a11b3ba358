import Foundation

/// How examples are packed into rows of `max_length` tokens.
public enum PackingStrategy: String, Codable, Sendable, CaseIterable {
    /// TRL "bfd": best-fit-decreasing bins, sequences kept whole (longer ones truncated), no cross-contamination:
    /// rows carry `seqLengths`, the collator restarts `position_ids` per sequence (padding-free).
    case bfd
    /// TRL "bfd_split": like bfd, but sequences longer than max_length are split into pieces instead of truncated.
    case bfdSplit = "bfd_split"
    /// TRL "wrapped": concatenate and cut every max_length tokens, the last row keeps the remainder.
    case wrapped
    /// The book's `ConstantLengthDataset`: concatenate with an EOS after every example, cut into max_length
    /// chunks, drop the incomplete tail. Sequences attend across boundaries (no position restart).
    case constantLength = "constant_length"
}

/// Packing algorithms over tokenized examples.
public enum Packing {
    /// TRL packs inside `Dataset.map(batched=True)` with the default batch of 1000 examples; packing never crosses
    /// those batch boundaries, and neither does ours, so rows match TRL's exactly.
    public static let trlMapBatchSize = 1000
    /// Largest pack length accepted (the bin search allocates O(max_seq_length) memory).
    public static let maxSeqLength = 1 << 24

    public static func pack(_ examples: [TokenizedExample], seqLength: Int, strategy: PackingStrategy,
                            eosTokenId: Int32?) throws -> [TokenizedExample] {
        guard seqLength > 0, seqLength <= maxSeqLength else {
            throw DatasetError.invalidConfig("max_seq_length must be in 1...\(maxSeqLength) for packing, got \(seqLength)")
        }
        switch strategy {
        case .constantLength:
            guard let eos = eosTokenId else {
                throw DatasetError.invalidConfig("constant_length packing separates examples with EOS, but the tokenizer has no eos_token; set one")
            }
            return constantLength(examples, seqLength: seqLength, separator: eos)
        case .bfd, .bfdSplit, .wrapped:
            var out: [TokenizedExample] = []
            var start = 0
            while start < examples.count {
                let batch = Array(examples[start..<min(start + trlMapBatchSize, examples.count)])
                out += strategy == .wrapped ? wrapped(batch, seqLength: seqLength) : bestFitDecreasing(batch, seqLength: seqLength, split: strategy == .bfdSplit)
                start += trlMapBatchSize
            }
            return out
        }
    }

    /// TRL `_pack_bfd`: drop empty sequences, truncate (or split) to `seqLength`, sort by length descending
    /// (stable), put each into the bin with the least room that fits it (FIFO among equal room), else a new bin.
    public static func bestFitDecreasing(_ examples: [TokenizedExample], seqLength: Int, split: Bool = false) -> [TokenizedExample] {
        var seqs: [TokenizedExample] = []
        for e in examples where !e.inputIds.isEmpty {
            if e.inputIds.count <= seqLength { seqs.append(e); continue }
            if !split {
                seqs.append(TokenizedExample(inputIds: Array(e.inputIds.prefix(seqLength)), labels: Array(e.labels.prefix(seqLength))))
            } else {
                var s = 0
                while s < e.inputIds.count {
                    let end = min(s + seqLength, e.inputIds.count)
                    seqs.append(TokenizedExample(inputIds: Array(e.inputIds[s..<end]), labels: Array(e.labels[s..<end])))
                    s = end
                }
            }
        }
        let order = seqs.indices.sorted { a, b in
            let la = seqs[a].inputIds.count, lb = seqs[b].inputIds.count
            return la != lb ? la > lb : a < b
        }
        var tree = MaxSegmentTree(maxValue: seqLength)
        tree.add(seqLength)
        var binsBySpace: [[Int]] = Array(repeating: [], count: seqLength + 1)   // FIFO queues of bin indices
        var queueHead = Array(repeating: 0, count: seqLength + 1)
        var bins: [[Int]] = []
        for idx in order {
            let length = seqs[idx].inputIds.count
            var space = tree.search(length)
            let bin: Int
            if space < seqLength {
                bin = binsBySpace[space][queueHead[space]]
                queueHead[space] += 1
                if queueHead[space] == binsBySpace[space].count { tree.remove(space) }
            } else {
                bin = bins.count
                bins.append([])
            }
            bins[bin].append(idx)
            space -= length
            binsBySpace[space].append(bin)
            if space > 0 { tree.add(space) }
        }
        return bins.map { ids in
            var input: [Int32] = [], labels: [Int32] = [], lengths: [Int] = []
            for i in ids { input += seqs[i].inputIds; labels += seqs[i].labels; lengths.append(seqs[i].inputIds.count) }
            return TokenizedExample(inputIds: input, labels: labels, seqLengths: lengths)
        }
    }

    /// TRL `_pack_wrapped`: flatten and cut every `seqLength` tokens; the last row keeps what is left.
    public static func wrapped(_ examples: [TokenizedExample], seqLength: Int) -> [TokenizedExample] {
        let ids = examples.flatMap(\.inputIds), labels = examples.flatMap(\.labels)
        return stride(from: 0, to: ids.count, by: seqLength).map { s in
            let e = min(s + seqLength, ids.count)
            return TokenizedExample(inputIds: Array(ids[s..<e]), labels: Array(labels[s..<e]))
        }
    }

    /// The book's `ConstantLengthDataset` (append EOS to each example, concatenate, fixed chunks, tail dropped).
    public static func constantLength(_ examples: [TokenizedExample], seqLength: Int, separator: Int32) -> [TokenizedExample] {
        var ids: [Int32] = [], labels: [Int32] = []
        for e in examples { ids += e.inputIds; ids.append(separator); labels += e.labels; labels.append(separator) }
        return stride(from: 0, to: ids.count - seqLength + 1, by: seqLength).map { s in
            TokenizedExample(inputIds: Array(ids[s..<s + seqLength]), labels: Array(labels[s..<s + seqLength]))
        }
    }
}

/// Max segment tree over values 1...maxValue (TRL's `_SegmentTree`): `search(v)` returns the smallest stored value
/// ≥ v, found as the leftmost leaf whose value is ≥ v.
struct MaxSegmentTree {
    let maxValue: Int
    let size: Int
    var tree: [Int]

    init(maxValue: Int) {
        self.maxValue = maxValue
        var s = 1
        while s < maxValue { s <<= 1 }
        size = s
        tree = Array(repeating: 0, count: 2 * s)
    }

    mutating func set(_ value: Int, _ stored: Int) {
        var i = size + value - 1
        tree[i] = stored
        while i > 1 {
            i >>= 1
            tree[i] = max(tree[2 * i], tree[2 * i + 1])
        }
    }

    mutating func add(_ v: Int) { set(v, v) }
    mutating func remove(_ v: Int) { set(v, 0) }

    func search(_ v: Int) -> Int {
        var i = 1
        while i < size { i = tree[2 * i] >= v ? 2 * i : 2 * i + 1 }
        return tree[i]
    }
}
