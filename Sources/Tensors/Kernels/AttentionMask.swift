/// The shape of an attention call. Layouts: q/out [batch, seqLen, qHeads, headDim],
/// k/v [batch, seqLen, kvHeads, headDim] (grouped-query attention when kvHeads < qHeads).
public struct AttentionShape: Sendable {
    public var batch: Int, seqLen: Int, qHeads: Int, kvHeads: Int, headDim: Int
    public init(batch: Int, seqLen: Int, qHeads: Int, kvHeads: Int, headDim: Int) {
        self.batch = batch; self.seqLen = seqLen; self.qHeads = qHeads; self.kvHeads = kvHeads; self.headDim = headDim
    }
}

/// Tile sizes of the attention kernels. Exposed (internal) so tests can force many small tiles
/// and exercise the block logic on tiny fixtures.
struct AttentionTiles {
    var queryBlock: Int
    var keyBlock: Int

    /// OpenBLAS hands a GEMM to its thread pool once m·n·k exceeds 65536·4; each tile GEMM must stay
    /// below that since the tiles already run in parallel on all cores.
    static func defaults(headDim: Int) -> AttentionTiles {
        var bq = 64, bk = 64
        while bq * bk * headDim > 262_144 && bk > 8 { bk /= 2 }
        while bq * bk * headDim > 262_144 && bq > 8 { bq /= 2 }
        return AttentionTiles(queryBlock: bq, keyBlock: bk)
    }
}

/// Which keys a query may attend to: causal order, same packed segment, key not padding.
struct AttentionMask {
    let seqLen: Int
    let causal: Bool
    let segmentIds: UnsafePointer<Int32>?
    let keyMask: UnsafePointer<UInt8>?

    enum BlockKind { case skip, full, partial }

    @inline(__always) func allowed(_ b: Int, _ i: Int, _ j: Int) -> Bool {
        if causal && j > i { return false }
        if let s = segmentIds, s[b * seqLen + i] != s[b * seqLen + j] { return false }
        if let m = keyMask, m[b * seqLen + j] == 0 { return false }
        return true
    }

    /// Classifies the tile queries q0..<q0+qn × keys k0..<k0+kn: no allowed pair (skip), all pairs allowed
    /// (full), or mixed (partial, needs the per-element mask).
    func classify(_ b: Int, q0: Int, qn: Int, k0: Int, kn: Int) -> BlockKind {
        var full = true
        if causal {
            if k0 > q0 + qn - 1 { return .skip }
            if k0 + kn - 1 > q0 { full = false }
        }
        if let s = segmentIds {
            let base = s + b * seqLen
            var qlo = Int32.max, qhi = Int32.min, klo = Int32.max, khi = Int32.min
            for i in q0..<(q0 + qn) { qlo = min(qlo, base[i]); qhi = max(qhi, base[i]) }
            for j in k0..<(k0 + kn) { klo = min(klo, base[j]); khi = max(khi, base[j]) }
            if khi < qlo || klo > qhi { return .skip }
            if !(qlo == qhi && klo == khi && qlo == klo) { full = false }
        }
        if let m = keyMask {
            let base = m + b * seqLen
            var ones = 0
            for j in k0..<(k0 + kn) where base[j] != 0 { ones += 1 }
            if ones == 0 { return .skip }
            if ones != kn { full = false }
        }
        return full ? .full : .partial
    }

    /// Sets disallowed scores of a tile (row stride `ld`) to -inf.
    func apply(_ s: UnsafeMutablePointer<Float>, ld: Int, _ b: Int, q0: Int, qn: Int, k0: Int, kn: Int) {
        for i in 0..<qn {
            let row = s + i * ld
            for j in 0..<kn where !allowed(b, q0 + i, k0 + j) { row[j] = -.infinity }
        }
    }
}

extension Kernels {
    /// Splits items with estimated `costs` over `workers` lists, largest first onto the least-loaded
    /// worker (LPT), so causal tiles of very different cost still balance across the cores.
    static func balance(costs: [Int], workers: Int) -> [[Int]] {
        let order = costs.indices.sorted { costs[$0] > costs[$1] }
        var lists = [[Int]](repeating: [], count: workers)
        var load = [Int](repeating: 0, count: workers)
        for item in order where costs[item] > 0 {
            var w = 0
            for c in 1..<workers where load[c] < load[w] { w = c }
            lists[w].append(item); load[w] += costs[item]
        }
        return lists
    }
}
