import Foundation

/// Walks the rows (all dims but the innermost) of up to three equally shaped strided operands,
/// keeping each operand's element offset. Dims that are laid out back to back in every operand are
/// merged first, so contiguous data is one long row.
struct StridedLayout {
    /// Outer dims (without the innermost), and the innermost length / strides.
    var outer: [Int]
    var outerStrides: [[Int]]
    var inner: Int
    var innerStrides: [Int]
    var rows: Int

    init(shape: [Int], strides: [[Int]]) {
        // Drop size-1 dims, then merge dims i, i+1 when stride[i] == stride[i+1] * shape[i+1] for all operands.
        var dims: [Int] = []
        var st: [[Int]] = strides.map { _ in [] }
        for (i, d) in shape.enumerated() where d != 1 {
            if let last = dims.last, strides.indices.allSatisfy({ st[$0].last! == strides[$0][i] * d }) {
                dims[dims.count - 1] = last * d
                for k in strides.indices { st[k][st[k].count - 1] = strides[k][i] }
            } else {
                dims.append(d)
                for k in strides.indices { st[k].append(strides[k][i]) }
            }
        }
        if dims.isEmpty { dims = [1]; st = strides.map { _ in [0] } }
        inner = dims.removeLast()
        innerStrides = st.indices.map { st[$0].removeLast() }
        outer = dims
        outerStrides = st
        rows = dims.reduce(1, *)
    }

    /// Calls `body(o0, o1, o2)` with the starting offsets (relative) of each row in `range`.
    @inline(__always)
    func forRows(_ range: Range<Int>, _ body: (Int, Int, Int) -> Void) {
        if range.isEmpty { return }
        let nd = outer.count
        let k = outerStrides.count
        var idx = [Int](repeating: 0, count: nd)
        var o = [0, 0, 0]
        var r = range.lowerBound
        for d in stride(from: nd - 1, through: 0, by: -1) {
            idx[d] = r % outer[d]; r /= outer[d]
            for j in 0..<k { o[j] += idx[d] * outerStrides[j][d] }
        }
        var o0 = o[0], o1 = k > 1 ? o[1] : 0, o2 = k > 2 ? o[2] : 0
        let s0 = outerStrides[0], s1 = k > 1 ? outerStrides[1] : [], s2 = k > 2 ? outerStrides[2] : []
        for _ in range {
            body(o0, o1, o2)
            var d = nd - 1
            while d >= 0 {
                idx[d] += 1
                o0 += s0[d]; if k > 1 { o1 += s1[d] }; if k > 2 { o2 += s2[d] }
                if idx[d] < outer[d] { break }
                let n = outer[d]
                o0 -= s0[d] * n; if k > 1 { o1 -= s1[d] * n }; if k > 2 { o2 -= s2[d] * n }
                idx[d] = 0; d -= 1
            }
        }
    }

    /// Parallel walk: `body(o0, o1, o2, n)` gets a run of `n` innermost elements starting at those offsets.
    /// Many rows are split over the cores by rows; a few long rows (a contiguous tensor coalesces into
    /// one) are cut into pieces so every core still gets work.
    func parallelRows(_ body: (Int, Int, Int, Int) -> Void) {
        let workers = Parallel.workers
        if rows >= 2 * workers || rows * inner < 65536 || workers == 1 {
            let grain = Swift.max(1, 32768 / Swift.max(inner, 1))
            Parallel.forRanges(rows, grain: grain) { r in forRows(r) { a, b, c in body(a, b, c, inner) } }
            return
        }
        let i0 = innerStrides[0], i1 = innerStrides.count > 1 ? innerStrides[1] : 0
        let i2 = innerStrides.count > 2 ? innerStrides[2] : 0
        let pieces = Swift.max(1, Swift.min((inner + 16383) / 16384, (2 * workers + rows - 1) / rows))
        let chunk = ((inner + pieces - 1) / pieces + 15) / 16 * 16
        let perRow = (inner + chunk - 1) / chunk
        Parallel.forRanges(rows * perRow, grain: 1) { r in
            for job in r {
                let row = job / perRow, lo = (job % perRow) * chunk, hi = Swift.min(inner, lo + chunk)
                forRows(row ..< row + 1) { a, b, c in body(a + lo * i0, b + lo * i1, c + lo * i2, hi - lo) }
            }
        }
    }
}

/// Copies `src` (any strides, any dtype) into the contiguous tensor `dst` (same shape), converting dtype.
func stridedCopy(from src: Tensor, to dst: Tensor) {
    precondition(src.shape == dst.shape && dst.isContiguous)
    if src.count == 0 { return }
    let layout = StridedLayout(shape: src.shape, strides: [src.strides, Tensor.contiguousStrides(src.shape)])
    let sb = src.rawPointer, db = dst.rawPointer
    let sd = src.dtype, dd = dst.dtype
    let ss = layout.innerStrides[0]
    // A transpose (the source's unit stride is on the dim above the innermost): copy in cache blocks.
    if sd == dd, ss != 1, let last = layout.outerStrides[0].last, last == 1, layout.outer.count >= 1,
       sd.byteSize == 4 || sd.byteSize == 2 {
        if sd.byteSize == 4 { blockedTranspose(UInt32.self, layout, sb, db) } else { blockedTranspose(UInt16.self, layout, sb, db) }
        return
    }
    layout.parallelRows { so, dOff, _, n in
        convertRow(sb, sd, so, ss, db, dd, dOff, n)
    }
}

/// Converts `n` elements starting at element `so` (stride `ss`) of `src` into contiguous `dst` at element `dOff`.
@inline(__always)
func convertRow(_ src: UnsafeMutableRawPointer, _ sd: DType, _ so: Int, _ ss: Int,
                _ dst: UnsafeMutableRawPointer, _ dd: DType, _ dOff: Int, _ n: Int) {
    if sd == dd {
        let es = sd.byteSize
        if ss == 1 { memcpy(dst + dOff * es, src + so * es, n * es); return }
        switch es {
        case 4:
            let s = src.assumingMemoryBound(to: UInt32.self) + so, d = dst.assumingMemoryBound(to: UInt32.self) + dOff
            for i in 0..<n { d[i] = s[i * ss] }
        case 2:
            let s = src.assumingMemoryBound(to: UInt16.self) + so, d = dst.assumingMemoryBound(to: UInt16.self) + dOff
            for i in 0..<n { d[i] = s[i * ss] }
        case 8:
            let s = src.assumingMemoryBound(to: UInt64.self) + so, d = dst.assumingMemoryBound(to: UInt64.self) + dOff
            for i in 0..<n { d[i] = s[i * ss] }
        default:
            let s = src.assumingMemoryBound(to: UInt8.self) + so, d = dst.assumingMemoryBound(to: UInt8.self) + dOff
            for i in 0..<n { d[i] = s[i * ss] }
        }
        return
    }
    if dd == .float32 {
        let d = dst.assumingMemoryBound(to: Float.self) + dOff
        switch sd {
        case .float16:
            let s = src.assumingMemoryBound(to: Float16.self) + so
            if ss == 1 { Kernels.convert(UnsafePointer(s), to: d, count: n) } else { for i in 0..<n { d[i] = Float(s[i * ss]) } }
        case .bfloat16:
            let s = src.assumingMemoryBound(to: BFloat16.self) + so
            if ss == 1 { Kernels.convert(UnsafePointer(s), to: d, count: n) } else { for i in 0..<n { d[i] = s[i * ss].float } }
        case .int64: let s = src.assumingMemoryBound(to: Int64.self) + so; for i in 0..<n { d[i] = Float(s[i * ss]) }
        case .int32: let s = src.assumingMemoryBound(to: Int32.self) + so; for i in 0..<n { d[i] = Float(s[i * ss]) }
        case .int8: let s = src.assumingMemoryBound(to: Int8.self) + so; for i in 0..<n { d[i] = Float(s[i * ss]) }
        case .uint8, .bool: let s = src.assumingMemoryBound(to: UInt8.self) + so; for i in 0..<n { d[i] = Float(s[i * ss]) }
        case .float32: break
        }
        return
    }
    if sd == .float32 && (dd == .float16 || dd == .bfloat16) {
        let s = src.assumingMemoryBound(to: Float.self) + so
        if ss == 1 {
            if dd == .float16 { Kernels.convert(UnsafePointer(s), to: dst.assumingMemoryBound(to: Float16.self) + dOff, count: n) }
            else { Kernels.convert(UnsafePointer(s), to: dst.assumingMemoryBound(to: BFloat16.self) + dOff, count: n) }
            return
        }
        // Strided source: gather into a small contiguous buffer, then convert in bulk.
        var tmp = [Float](repeating: 0, count: n)
        for i in 0..<n { tmp[i] = s[i * ss] }
        tmp.withUnsafeBufferPointer { tb in
            if dd == .float16 { Kernels.convert(tb.baseAddress!, to: dst.assumingMemoryBound(to: Float16.self) + dOff, count: n) }
            else { Kernels.convert(tb.baseAddress!, to: dst.assumingMemoryBound(to: BFloat16.self) + dOff, count: n) }
        }
        return
    }
    // Remaining combinations (int <-> int, float -> int, half <-> half): element by element through Double,
    // with torch's truncation toward zero for float -> int.
    for i in 0..<n {
        let v: Double
        let e = so + i * ss
        switch sd {
        case .float32: v = Double(src.load(fromByteOffset: e * 4, as: Float.self))
        case .float16: v = Double(Float(src.load(fromByteOffset: e * 2, as: Float16.self)))
        case .bfloat16: v = Double(BFloat16(bitPattern: src.load(fromByteOffset: e * 2, as: UInt16.self)).float)
        case .int64: v = Double(src.load(fromByteOffset: e * 8, as: Int64.self))
        case .int32: v = Double(src.load(fromByteOffset: e * 4, as: Int32.self))
        case .int8: v = Double(src.load(fromByteOffset: e, as: Int8.self))
        case .uint8, .bool: v = Double(src.load(fromByteOffset: e, as: UInt8.self))
        }
        let o = dOff + i
        // Int64(exactly:) would trap on NaN/inf; clamp those to 0 like a saturating cast.
        let iv: Int64 = v.isFinite ? Int64(max(min(v.rounded(.towardZero), 9.2e18), -9.2e18)) : 0
        switch dd {
        case .float32: dst.storeBytes(of: Float(v), toByteOffset: o * 4, as: Float.self)
        case .float16: dst.storeBytes(of: Float16(Float(v)), toByteOffset: o * 2, as: Float16.self)
        case .bfloat16: dst.storeBytes(of: BFloat16(Float(v)).bitPattern, toByteOffset: o * 2, as: UInt16.self)
        case .int64: dst.storeBytes(of: iv, toByteOffset: o * 8, as: Int64.self)
        case .int32: dst.storeBytes(of: Int32(truncatingIfNeeded: iv), toByteOffset: o * 4, as: Int32.self)
        case .int8: dst.storeBytes(of: Int8(truncatingIfNeeded: iv), toByteOffset: o, as: Int8.self)
        case .uint8: dst.storeBytes(of: UInt8(truncatingIfNeeded: iv), toByteOffset: o, as: UInt8.self)
        case .bool: dst.storeBytes(of: UInt8(v != 0 ? 1 : 0), toByteOffset: o, as: UInt8.self)
        }
    }
}

/// Copies planes where dst[r, c] = src[r + c·ss] (src unit stride along r), 32×32 tiles at a time so both
/// sides stay in cache. `layout` walks (src, dst) with the plane's rows as its last outer dim.
private func blockedTranspose<T>(_: T.Type, _ layout: StridedLayout, _ sb: UnsafeMutableRawPointer, _ db: UnsafeMutableRawPointer) {
    let rowsPerPlane = layout.outer[layout.outer.count - 1]
    let planes = layout.rows / rowsPerPlane
    let cols = layout.inner, ss = layout.innerStrides[0]
    let s = sb.assumingMemoryBound(to: T.self), d = db.assumingMemoryBound(to: T.self)
    let bs = 32
    let rBlocks = (rowsPerPlane + bs - 1) / bs
    Parallel.forRanges(planes * rBlocks, grain: Swift.max(1, 65536 / Swift.max(bs * cols, 1))) { range in
        for job in range {
            let plane = job / rBlocks, rb = job % rBlocks
            var so = 0, dOff = 0
            layout.forRows(plane * rowsPerPlane ..< plane * rowsPerPlane + 1) { a, b, _ in so = a; dOff = b }
            let r0 = rb * bs, r1 = Swift.min(rowsPerPlane, r0 + bs)
            var c0 = 0
            while c0 < cols {
                let c1 = Swift.min(cols, c0 + bs)
                for r in r0..<r1 {
                    let dst = d + dOff + r * cols, src = s + so + r
                    for c in c0..<c1 { dst[c] = src[c * ss] }
                }
                c0 = c1
            }
        }
    }
}
