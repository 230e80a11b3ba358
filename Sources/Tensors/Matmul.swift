import CBLAS
import CGEMM
import Foundation

// Matrix products through our AVX-512 sgemm (CGEMM) or OpenBLAS. Transposed views are passed as CblasTrans (no copy).
// float16/bfloat16 operands (frozen weights) are converted to float32 one tile at a time (≈1 MB),
// so a bf16 weight is never copied whole.

/// A strided matrix view inside some tensor storage.
struct MatOperand {
    var base: UnsafeMutableRawPointer   // element (0, 0)
    var dtype: DType
    var rows: Int, cols: Int
    var rs: Int, cs: Int                // element strides

    /// (transpose flag, leading dimension) when sgemm can read it in place.
    var blasLayout: (CBLAS_TRANSPOSE, Int)? {
        guard dtype == .float32 else { return nil }
        if cs == 1 && (rs >= Swift.max(1, cols) || rows == 1) { return (CblasNoTrans, Swift.max(rs, cols, 1)) }
        if rs == 1 && (cs >= Swift.max(1, rows) || cols == 1) { return (CblasTrans, Swift.max(cs, rows, 1)) }
        return nil
    }
}

/// Converts row `r` of `m` (cols elements) to contiguous floats at `dst`.
private func loadRow(_ m: MatOperand, _ r: Int, _ dst: UnsafeMutablePointer<Float>) {
    convertRow(m.base, m.dtype, r * m.rs, m.cs, UnsafeMutableRawPointer(dst), .float32, 0, m.cols)
}

/// Target size of a converted tile, in floats (4 MiB): large enough that each sgemm call has wide panels
/// (e.g. 512 columns of a 2048-wide weight), small next to any weight worth tiling.
let tileFloats = 1 << 20

/// C[M×N] (row stride ldc) = A[M×K] · B[K×N] + beta·C.
func gemm(_ a: MatOperand, _ b: MatOperand, _ c: UnsafeMutablePointer<Float>, ldc: Int, beta: Float = 0) {
    let m = a.rows, k = a.cols, n = b.cols
    if m == 0 || n == 0 { return }
    if k == 0 {
        for i in 0..<m { for j in 0..<n { c[i * ldc + j] = beta == 0 ? 0 : beta * c[i * ldc + j] } }
        return
    }
    guard let (ta, lda) = a.blasLayout else {
        // Convert A in row tiles [mb, K].
        let mb = Swift.max(1, Swift.min(m, tileFloats / k))
        let buf = UnsafeMutablePointer<Float>.allocate(capacity: mb * k)
        defer { buf.deallocate() }
        var r0 = 0
        while r0 < m {
            let rows = Swift.min(mb, m - r0)
            for r in 0..<rows { loadRow(a, r0 + r, buf + r * k) }
            let tile = MatOperand(base: UnsafeMutableRawPointer(buf), dtype: .float32, rows: rows, cols: k, rs: k, cs: 1)
            gemm(tile, b, c + r0 * ldc, ldc: ldc, beta: beta)
            r0 += rows
        }
        return
    }
    guard let (tb, ldb) = b.blasLayout else {
        if b.cs == 1 && b.rs != 1 {
            // B's rows are contiguous (e.g. the [N, K] weight itself in the backward dX = dY·W): convert
            // row tiles of B in bulk and accumulate C += A[:, k0..<k1] · B[k0..<k1, :].
            let kb = Swift.max(1, Swift.min(k, tileFloats / n))
            let buf = UnsafeMutablePointer<Float>.allocate(capacity: kb * n)
            defer { buf.deallocate() }
            var k0 = 0
            while k0 < k {
                let rows = Swift.min(kb, k - k0)
                for r in 0..<rows { loadRow(b, k0 + r, buf + r * n) }
                sgemm(ta, CblasNoTrans, m: m, n: n, k: rows, a.base.assumingMemoryBound(to: Float.self) + k0 * a.cs, lda,
                      buf, n, beta: k0 == 0 ? beta : 1, c, ldc)
                k0 += rows
            }
            return
        }
        // Convert B in column tiles, stored as Bᵀ rows [nb, K] (contiguous along K when B is a
        // transposed [N, K] weight, the Linear case).
        let nb = Swift.max(1, Swift.min(n, tileFloats / k))
        let buf = UnsafeMutablePointer<Float>.allocate(capacity: nb * k)
        defer { buf.deallocate() }
        let bt = MatOperand(base: b.base, dtype: b.dtype, rows: n, cols: k, rs: b.cs, cs: b.rs)
        var c0 = 0
        while c0 < n {
            let cols = Swift.min(nb, n - c0)
            for j in 0..<cols { loadRow(bt, c0 + j, buf + j * k) }
            sgemm(ta, CblasTrans, m: m, n: cols, k: k, a.base.assumingMemoryBound(to: Float.self), lda, buf, k,
                  beta: beta, c + c0, ldc)
            c0 += cols
        }
        return
    }
    sgemm(ta, tb, m: m, n: n, k: k, a.base.assumingMemoryBound(to: Float.self), lda,
          b.base.assumingMemoryBound(to: Float.self), ldb, beta: beta, c, ldc)
}

/// Row-major C[m×n] = alpha·op(A)·op(B) + beta·C through our AVX-512 kernel (`OwnGEMM`) or OpenBLAS,
/// parallelised by `GEMMSplit`.
func sgemm(_ ta: CBLAS_TRANSPOSE, _ tb: CBLAS_TRANSPOSE, m: Int, n: Int, k: Int, alpha: Float = 1,
           _ pa: UnsafePointer<Float>, _ lda: Int, _ pb: UnsafePointer<Float>, _ ldb: Int,
           beta: Float, _ c: UnsafeMutablePointer<Float>, _ ldc: Int) {
    let own = OwnGEMM.handles(m: m, n: n, k: k)
    let transA: Int32 = ta == CblasNoTrans ? 0 : 1, transB: Int32 = tb == CblasNoTrans ? 0 : 1
    // One block of C: rows lo..<lo+rows (all columns) or columns lo..<lo+cols (all rows).
    func block(rows: Range<Int>, cols: Range<Int>) {
        let aOff = ta == CblasNoTrans ? rows.lowerBound * lda : rows.lowerBound
        let bOff = tb == CblasNoTrans ? cols.lowerBound : cols.lowerBound * ldb
        let cp = c + rows.lowerBound * ldc + cols.lowerBound
        if own, stg_sgemm(transA, transB, Int32(rows.count), Int32(cols.count), Int32(k), alpha, pa + aOff, lda,
                          pb + bOff, ldb, beta, cp, ldc) == 0 { return }
        cblas_sgemm(CblasRowMajor, ta, tb, Int32(rows.count), Int32(cols.count), Int32(k), alpha, pa + aOff, Int32(lda),
                    pb + bOff, Int32(ldb), beta, cp, Int32(ldc))
    }
    let parts = GEMMSplit.parts(m: m, n: n, k: k)
    if parts <= 1 {
        // Small products run on the calling thread: waking OpenBLAS's pool would leave its threads spinning.
        if own || !GEMMSplit.enabled { block(rows: 0..<m, cols: 0..<n) } else { Kernels.withSingleThreadedBLAS { block(rows: 0..<m, cols: 0..<n) } }
        return
    }
    // Split C into `parts` blocks, one single-threaded product each on the engine's own workers. Each block
    // packs the operand it shares with the others again. Our kernel packs only B (A goes an 8-row strip at a
    // time), so it splits columns (in whole 48-wide panels) whenever there are enough of them. OpenBLAS packs both:
    // split the dimension whose shared operand is smaller, rows of C (sharing B, K×N) when N < M, else
    // columns, in 16-wide panels (the halves of SmolLM2's 576-wide products come out equal).
    let panel = Int(stg_sgemm_panel_width())
    let splitRows = own ? n < parts * panel : n < m
    let align = own && !splitRows ? panel : 16
    let total = splitRows ? m : n
    let step = ((total + parts - 1) / parts + align - 1) / align * align
    let run = {
        Parallel.forEach((total + step - 1) / step) { p in
            let span = p * step..<Swift.min((p + 1) * step, total)
            if splitRows { block(rows: span, cols: 0..<n) } else { block(rows: 0..<m, cols: span) }
        }
    }
    if own { run() } else { Kernels.withSingleThreadedBLAS(run) }
}

/// Our AVX-512 sgemm (CGEMM) for the engine's products on CPUs that have AVX-512; OpenBLAS otherwise.
/// `SWIFTTUNE_GEMM=openblas` keeps everything on OpenBLAS (for measuring and testing the fallback).
public enum OwnGEMM {
    /// Whether products go through our kernel (the CPU has AVX-512 and the environment does not opt out).
    public static var enabled: Bool = stg_sgemm_available() != 0
        && ProcessInfo.processInfo.environment["SWIFTTUNE_GEMM"]?.lowercased() != "openblas"

    /// The kernel's name for `swifttune env`.
    public static var name: String { enabled ? "SwiftTune AVX-512 (8×48 tiles)" : "OpenBLAS" }

    /// Products narrower than one 48-column panel (LoRA's rank-r factors) or shorter than one 8-row strip
    /// would run mostly padding; OpenBLAS takes them, and all products when `SWIFTTUNE_GEMM_SPLIT=0` hands
    /// threading to OpenBLAS.
    static func handles(m: Int, n: Int, k: Int) -> Bool {
        enabled && GEMMSplit.enabled && m >= 8 && n >= Int(stg_sgemm_panel_width()) && k > 0
    }
}

/// How the engine parallelises one large sgemm. OpenBLAS's own threads busy-wait (sched_yield) between
/// calls and then compete with the engine's workers for the same cores during the non-GEMM kernels; splitting
/// C into blocks run single-threaded on the engine's workers keeps one set of threads.
enum GEMMSplit {
    /// `SWIFTTUNE_GEMM_SPLIT=0` leaves threading to OpenBLAS.
    static let enabled: Bool = ProcessInfo.processInfo.environment["SWIFTTUNE_GEMM_SPLIT"] != "0"

    /// Blocks to cut an m×n×k product into (1 = one call as is).
    static func parts(m: Int, n: Int, k: Int) -> Int {
        guard enabled, Parallel.workers > 1, openblas_get_num_threads() > 1 else { return 1 }
        // Below ~4 MFLOP a dispatch costs more than it saves; each block keeps at least 64 rows/columns.
        guard m * n * k >= 1 << 21 else { return 1 }
        return Swift.min(Parallel.workers, Swift.max(m, n) / 64)
    }
}

extension Tensor {
    /// The matrix at batch element offset `off` (elements) of a [..., R, C] tensor.
    fileprivate func matOperand(elementOffset off: Int) -> MatOperand {
        MatOperand(base: storage.base + (offset + off) * dtype.byteSize, dtype: dtype,
                   rows: shape[rank - 2], cols: shape[rank - 1], rs: strides[rank - 2], cs: strides[rank - 1])
    }

    /// Matrix product with torch's `matmul` semantics: 1-D operands are promoted and the extra dim
    /// removed; leading (batch) dims broadcast. Any float dtype; result float32 [..., M, N].
    public func matmul(_ other: Tensor) -> Tensor {
        if rank == 1 { return unsqueeze(0).matmul(other).squeeze(-2) }
        if other.rank == 1 { return matmul(other.unsqueeze(1)).squeeze(-1) }
        precondition(dtype.isFloatingPoint && other.dtype.isFloatingPoint, "matmul: needs floating-point tensors, got \(dtype) and \(other.dtype)")
        let m = shape[rank - 2], k = shape[rank - 1], k2 = other.shape[other.rank - 2], n = other.shape[other.rank - 1]
        precondition(k == k2, "matmul: inner dims differ: \(shape) · \(other.shape)")
        let aBatch = Array(shape.dropLast(2)), bBatch = Array(other.shape.dropLast(2))
        let batch = broadcastShapes(aBatch, bBatch, op: "matmul (batch dims)")
        let out = Tensor(uninitialized: batch + [m, n])
        let nb = batch.reduce(1, *)
        // A [B..., M, K] times a shared 2-D B with uniformly strided rows: one big GEMM over all rows.
        let aRows = Tensor.uniformRowStride(self)
        if other.rank == 2, let rs = aRows {
            let a2 = MatOperand(base: rawPointer, dtype: dtype, rows: nb * m, cols: k, rs: rs, cs: strides[rank - 1])
            gemm(a2, other.matOperand(elementOffset: 0), out.floatPointer, ldc: n)
        } else {
            let aS = Tensor(storage: storage, dtype: dtype, shape: aBatch, strides: Array(strides.dropLast(2)), offset: 0)
                .broadcastStrides(to: batch)
            let bS = Tensor(storage: other.storage, dtype: other.dtype, shape: bBatch, strides: Array(other.strides.dropLast(2)), offset: 0)
                .broadcastStrides(to: batch)
            var idx = [Int](repeating: 0, count: batch.count)
            for bi in 0..<nb {
                var ao = 0, bo = 0, r = bi
                for d in stride(from: batch.count - 1, through: 0, by: -1) {
                    idx[d] = r % batch[d]; r /= batch[d]
                    ao += idx[d] * aS[d]; bo += idx[d] * bS[d]
                }
                gemm(matOperand(elementOffset: ao), other.matOperand(elementOffset: bo), out.floatPointer + bi * m * n, ldc: n)
            }
        }
        let a = self, b = other
        let ra = _requiresGrad, rb = other._requiresGrad
        return Tensor.record("matmul", out, [self, other]) { g in
            let ga: Tensor? = ra ? g.matmul(b.mT).sumTo(a.shape) : nil
            var gb: Tensor? = nil
            if rb {
                if b.rank == 2 && b.strides == [1, k] && n > 1 {
                    // b is Wᵀ of a contiguous [N, K] weight (the Linear case): produce dW = Gᵀ·A directly in
                    // W's layout and hand back its transposed view, so the permute's backward yields a
                    // contiguous [N, K] gradient (no strided transpose copy per step).
                    gb = g.reshape([-1, n]).mT.matmul(a.reshape([-1, k])).mT
                } else if b.rank == 2 {
                    // Fold all batch rows: Aᵀ[K, B·M] · G[B·M, N].
                    gb = a.reshape([-1, k]).mT.matmul(g.reshape([-1, n]))
                } else {
                    gb = a.mT.matmul(g).sumTo(b.shape)
                }
            }
            return [ga, gb]
        }
    }

    /// Row stride if the rows of a [..., M, K] tensor are evenly spaced in memory (so the batch can be
    /// folded into M), else nil.
    fileprivate static func uniformRowStride(_ t: Tensor) -> Int? {
        let r = t.rank
        let rs = t.strides[r - 2]
        var expect = rs * t.shape[r - 2]
        for d in stride(from: r - 3, through: 0, by: -1) where t.shape[d] != 1 {
            if t.strides[d] != expect { return nil }
            expect *= t.shape[d]
        }
        // The row stride must also be usable by sgemm (unit column stride) or it gets tiled anyway.
        return rs
    }
}

/// `x · weightᵀ + bias` with a torch `nn.Linear` weight of shape [out, in] (any float dtype; frozen
/// half-precision weights are converted tile by tile).
public func linear(_ x: Tensor, weight: Tensor, bias: Tensor? = nil) -> Tensor {
    let y = x.matmul(weight.mT)
    if let bias { return y + bias }
    return y
}
