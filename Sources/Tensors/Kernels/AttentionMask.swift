import CBLAS

/// The shape of an attention call. Layouts: q/out [batch, seqLen, qHeads, headDim],
/// k/v [batch, keyLen, kvHeads, headDim] (grouped-query attention when kvHeads < qHeads).
/// `keyLen` defaults to `seqLen`; a longer `keyLen` (a KV cache) makes the queries the last `seqLen`
/// positions: query i sits at absolute position i + keyLen - seqLen for the causal rule and segment lookup.
public struct AttentionShape: Sendable {
    public var batch: Int, seqLen: Int, qHeads: Int, kvHeads: Int, headDim: Int
    public var keyLen: Int
    public init(batch: Int, seqLen: Int, qHeads: Int, kvHeads: Int, headDim: Int, keyLen: Int? = nil) {
        self.batch = batch; self.seqLen = seqLen; self.qHeads = qHeads; self.kvHeads = kvHeads; self.headDim = headDim
        self.keyLen = keyLen ?? seqLen
    }

    /// What is wrong with the shape, or nil when the kernels can run it. Callers check this and throw; the
    /// kernels themselves fill their outputs with NaN for an invalid shape rather than read out of bounds.
    public var problem: String? {
        if batch < 0 || seqLen < 0 || headDim < 0 || keyLen < 0 { return "negative size in \(self)" }
        if keyLen < seqLen {
            return "keyLen (\(keyLen)) must be at least seqLen (\(seqLen)): queries are the last seqLen key positions"
        }
        if qHeads <= 0 || kvHeads <= 0 { return "attention needs at least one query and one key/value head, got \(self)" }
        if qHeads % kvHeads != 0 {
            return "qHeads (\(qHeads)) must be a multiple of kvHeads (\(kvHeads)) for grouped-query attention"
        }
        return nil
    }

    var isEmpty: Bool { batch == 0 || seqLen == 0 || headDim == 0 }
}

/// Tile sizes of the attention kernels. Exposed (internal) so tests can force many small tiles
/// and exercise the block logic on tiny fixtures.
struct AttentionTiles {
    var queryBlock: Int
    var keyBlock: Int

    /// 64 queries × 128 keys: the score tile (32 KB) and the tiles of Q, K, V stay in L2, and the GEMMs are
    /// large enough for OpenBLAS to run near its peak (measured against 64×64 and 64×256).
    static func defaults(headDim: Int) -> AttentionTiles {
        AttentionTiles(queryBlock: 64, keyBlock: 128)
    }
}

/// Which keys a query may attend to: causal order, same packed segment, key not padding. Query indices
/// are local (0..<seqLen); `queryOffset` = keyLen - seqLen turns them into key positions.
struct AttentionMask {
    let keyLen: Int
    let queryOffset: Int
    let causal: Bool
    let segmentIds: UnsafePointer<Int32>?
    let keyMask: UnsafePointer<UInt8>?

    /// How a tile must be masked. `partial` tiles carry which mask components are not uniform over the tile.
    enum BlockKind: Equatable { case skip, full, partial(causal: Bool, segments: Bool, keys: Bool) }

    init(shape: AttentionShape, causal: Bool, segmentIds: UnsafePointer<Int32>?, keyMask: UnsafePointer<UInt8>?) {
        keyLen = shape.keyLen; queryOffset = shape.keyLen - shape.seqLen
        self.causal = causal; self.segmentIds = segmentIds; self.keyMask = keyMask
    }

    @inline(__always) func allowed(_ b: Int, _ i: Int, _ j: Int) -> Bool {
        let ai = i + queryOffset
        if causal && j > ai { return false }
        if let s = segmentIds, s[b * keyLen + ai] != s[b * keyLen + j] { return false }
        if let m = keyMask, m[b * keyLen + j] == 0 { return false }
        return true
    }

    /// Classifies the tile queries q0..<q0+qn × keys k0..<k0+kn: no allowed pair (skip), all pairs allowed
    /// (full), or mixed (partial, needs the per-element mask).
    func classify(_ b: Int, q0 localQ0: Int, qn: Int, k0: Int, kn: Int) -> BlockKind {
        let q0 = localQ0 + queryOffset
        var pc = false, ps = false, pk = false
        if causal {
            if k0 > q0 + qn - 1 { return .skip }
            if k0 + kn - 1 > q0 { pc = true }
        }
        if let s = segmentIds {
            let base = s + b * keyLen
            var qlo = Int32.max, qhi = Int32.min, klo = Int32.max, khi = Int32.min
            for i in q0..<(q0 + qn) { qlo = min(qlo, base[i]); qhi = max(qhi, base[i]) }
            for j in k0..<(k0 + kn) { klo = min(klo, base[j]); khi = max(khi, base[j]) }
            if khi < qlo || klo > qhi { return .skip }
            if !(qlo == qhi && klo == khi && qlo == klo) { ps = true }
        }
        if let m = keyMask {
            let base = m + b * keyLen
            var ones = 0
            for j in k0..<(k0 + kn) where base[j] != 0 { ones += 1 }
            if ones == 0 { return .skip }
            if ones != kn { pk = true }
        }
        return pc || ps || pk ? .partial(causal: pc, segments: ps, keys: pk) : .full
    }

    /// Keys of the tile that any query of it may see: with a causal cut, keys past the last query are dropped
    /// from the GEMMs altogether (halves the work of diagonal tiles).
    @inline(__always) func usefulKeys(q0: Int, qn: Int, k0: Int, kn: Int, kind: BlockKind) -> Int {
        if case .partial(true, _, _) = kind { return min(kn, q0 + queryOffset + qn - k0) }
        return kn
    }

    /// Columns of row `i` (local query index) of a tile that need exponentials: a causal cut ends the row at
    /// the query's own position (rounded up to whole SIMD16 vectors, whose extra lanes `apply` set to -inf,
    /// since a partial vector costs more than the lanes it saves); the remaining columns are masked.
    @inline(__always) func rowEnd(_ i: Int, k0: Int, kn: Int, kind: BlockKind) -> Int {
        if case .partial(true, _, _) = kind { return min(kn, (max(0, i + queryOffset - k0 + 1) + 15) & ~15) }
        return kn
    }

    /// Query rows per GEMM group: tiles cut by the causal diagonal are split in groups of 32 rows so the
    /// upper groups skip the keys they cannot see (a 64×64 diagonal tile costs 3/4 instead of all of it).
    @inline(__always) func rowStep(qn: Int, kind: BlockKind) -> Int {
        if case .partial(true, _, _) = kind, qn > 32 { return 32 }
        return max(qn, 1)
    }

    /// Sets disallowed scores of a tile (row stride `ld`) to -inf; only the non-uniform components are checked.
    func apply(_ s: UnsafeMutablePointer<Float>, ld: Int, _ b: Int, q0 localQ0: Int, qn: Int, k0: Int, kn: Int,
               kind: BlockKind) {
        guard case let .partial(pc, ps, pk) = kind else { return }
        let q0 = localQ0 + queryOffset
        for i in 0..<qn {
            let row = s + i * ld
            // causal: keys after the query are cut as a range
            let end = pc ? max(0, min(kn, q0 + i - k0 + 1)) : kn
            if end < kn { (row + end).update(repeating: -.infinity, count: kn - end) }
            if ps, let seg = segmentIds {
                let base = seg + b * keyLen
                let si = base[q0 + i]
                for j in 0..<end where base[k0 + j] != si { row[j] = -.infinity }
            }
            if pk, let m = keyMask {
                let base = m + b * keyLen + k0
                for j in 0..<end where base[j] == 0 { row[j] = -.infinity }
            }
        }
    }
}

extension Kernels {
    /// Runs `body` with OpenBLAS limited to one thread: for work that already runs in parallel on every
    /// core (attention tiles, GEMM blocks, dequantised weight panels), where a GEMM that OpenBLAS split
    /// again would oversubscribe the cores (or serialise on its thread-pool lock). The previous setting is
    /// restored afterwards. Kernels never overlap other BLAS work.
    public static func withSingleThreadedBLAS<R>(_ body: () -> R) -> R {
        let saved = openblas_get_num_threads()
        if saved == 1 { return body() }
        openblas_set_num_threads(1)
        defer { openblas_set_num_threads(saved) }
        return body()
    }

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
