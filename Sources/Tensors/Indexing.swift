import Foundation

// Creation, selection and joining ops.

extension Tensor {
    // MARK: - Creation

    /// Zeros of `shape`.
    public static func zeros(_ shape: [Int], dtype: DType = .float32) -> Tensor { Tensor(zeros: shape, dtype: dtype) }
    /// Ones of `shape`.
    public static func ones(_ shape: [Int], dtype: DType = .float32) -> Tensor { full(shape, 1, dtype: dtype) }
    /// `shape` filled with `value` (converted to `dtype`).
    public static func full(_ shape: [Int], _ value: Float, dtype: DType = .float32) -> Tensor {
        let t = Tensor(uninitialized: shape, dtype: .float32)
        let p = t.floatPointer
        Parallel.forRanges(t.count, grain: 1 << 16) { r in for i in r { p[i] = value } }
        return dtype == .float32 ? t : t.to(dtype)
    }
    /// Zeros with the shape of `t`.
    public static func zeros(like t: Tensor) -> Tensor { Tensor(zeros: t.shape) }
    /// `start, start+step, … < end` (torch.arange); int64 by default.
    public static func arange(_ start: Int = 0, _ end: Int, step: Int = 1, dtype: DType = .int64) -> Tensor {
        precondition(step != 0, "arange: step must be nonzero")
        let n = Swift.max(0, (end - start + (step > 0 ? step - 1 : step + 1)) / step)
        return Tensor((0..<n).map { start + $0 * step }, shape: [n], dtype: dtype)
    }

    // MARK: - Selection

    /// Rows of `weight` ([num_embeddings, dim], any float dtype) picked by integer `indices` of any shape:
    /// result [indices.shape..., dim] float32. Throws if an index is outside 0..<num_embeddings.
    /// Gradients scatter-add into `weight.grad`.
    public static func embedding(_ weight: Tensor, _ indices: Tensor) throws -> Tensor {
        precondition(weight.rank == 2, "embedding: weight must be [num_embeddings, dim], got \(weight.shape)")
        precondition(!indices.dtype.isFloatingPoint, "embedding: indices must be an integer tensor, got \(indices.dtype)")
        let v = weight.shape[0], d = weight.shape[1]
        let ids = indices.toIntArray()
        for (i, id) in ids.enumerated() where id < 0 || id >= v {
            throw TensorError.indexOutOfRange("embedding: index \(id) at position \(i) of indices \(indices.shape) is outside 0..<\(v) (num_embeddings); check the token ids against the vocabulary size")
        }
        let out = Tensor(uninitialized: indices.shape + [d])
        let po = out.floatPointer
        let wb = weight.storage.base, wdt = weight.dtype
        let rs = weight.strides[0], cs = weight.strides[1], wo = weight.offset
        Parallel.forRanges(ids.count, grain: Swift.max(1, 8192 / Swift.max(d, 1))) { r in
            for i in r { convertRow(wb, wdt, wo + ids[i] * rs, cs, UnsafeMutableRawPointer(po), .float32, i * d, d) }
        }
        return record("embedding", out, [weight]) { g in
            let gw = Tensor(zeros: [v, d])
            let gg = g.contiguousF32()
            let pw = gw.floatPointer, pg = gg.floatPointer
            // Sequential over tokens: repeated ids accumulate into the same row.
            for (i, id) in ids.enumerated() {
                let dst = pw + id * d, src = pg + i * d
                for j in 0..<d { dst[j] += src[j] }
            }
            return [withExtendedLifetime(gg) { gw }]
        }
    }

    /// Entries along `dim` picked by the 1-D integer `index` (torch.index_select). Throws on an index
    /// outside the dimension.
    public func indexSelect(dim d: Int, index: Tensor) throws -> Tensor {
        precondition(index.rank == 1, "indexSelect: index must be 1-D, got \(index.shape)")
        let a = dim(d, "indexSelect")
        let moved = transpose(0, a).contiguous()
        let rest = Array(moved.shape.dropFirst())
        let rows = moved.reshape([moved.shape[0], rest.reduce(1, *)])
        let picked: Tensor
        do { picked = try Tensor.embedding(rows, index) } catch TensorError.indexOutOfRange(let m) {
            throw TensorError.indexOutOfRange("indexSelect(dim: \(d)) on shape \(shape): " + m.replacingOccurrences(of: "embedding: ", with: ""))
        }
        return picked.reshape([index.count] + rest).transpose(0, a)
    }

    /// torch.gather: `out[i][j][k] = self[i][index[i][j][k]][k]` for dim 1 (and likewise for other
    /// dims); `index` has this tensor's rank, result has `index`'s shape. Throws on an out-of-range index.
    public func gather(dim d: Int, index: Tensor) throws -> Tensor {
        let a = dim(d, "gather")
        precondition(index.rank == rank, "gather: index rank \(index.rank) != input rank \(rank)")
        for i in 0..<rank where i != a {
            precondition(index.shape[i] <= shape[i], "gather: index shape \(index.shape) exceeds input \(shape) at dim \(i)")
        }
        let ids = index.toIntArray()
        let x = contiguousF32()
        let xs = Tensor.contiguousStrides(shape)
        let oshape = index.shape
        let os = Tensor.contiguousStrides(oshape)
        var srcOffsets = [Int](repeating: 0, count: ids.count)
        for j in 0..<ids.count {
            var rem = j, off = 0
            for k in 0..<rank {
                let c = rem / os[k]; rem %= os[k]
                off += (k == a ? ids[j] : c) * xs[k]
            }
            guard ids[j] >= 0 && ids[j] < shape[a] else {
                throw TensorError.indexOutOfRange("gather(dim: \(d)): index \(ids[j]) at flat position \(j) is outside 0..<\(shape[a]) (input shape \(shape))")
            }
            srcOffsets[j] = off
        }
        let out = Tensor(uninitialized: oshape)
        let po = out.floatPointer, px = x.floatPointer
        withExtendedLifetime(x) { for j in 0..<ids.count { po[j] = px[srcOffsets[j]] } }
        let orig = shape
        return Tensor.record("gather", out, [self]) { g in
            let gx = Tensor(zeros: orig)
            let gg = g.contiguousF32()
            let pgx = gx.floatPointer, pg = gg.floatPointer
            for j in 0..<srcOffsets.count { pgx[srcOffsets[j]] += pg[j] }
            return [withExtendedLifetime(gg) { gx }]
        }
    }

    /// Elements of `a` where `condition` is nonzero, else of `b` (all three broadcast). NaN/inf safe.
    public static func `where`(_ condition: Tensor, _ a: Tensor, _ b: Tensor) -> Tensor {
        let shape = broadcastShapes(broadcastShapes(condition.shape, a.shape, op: "where"), b.shape, op: "where")
        let mask = condition.expand(shape).detach().to(.bool).contiguous()
        let mb = mask.storage.base.assumingMemoryBound(to: UInt8.self) + mask.offset
        let af = a.asF32(), bf = b.asF32()
        let out = Tensor(uninitialized: shape)
        if out.count == 0 { return out }
        let layout = StridedLayout(shape: shape, strides: [Tensor.contiguousStrides(shape),
                                                          af.broadcastStrides(to: shape), bf.broadcastStrides(to: shape)])
        let po = out.floatPointer, pa = af.floatPointer, pb = bf.floatPointer
        let sa = layout.innerStrides[1], sb = layout.innerStrides[2]
        withExtendedLifetime((af, bf, mask)) {
            layout.parallelRows { oo, ao, bo, n in
                for i in 0..<n { po[oo + i] = mb[oo + i] != 0 ? pa[ao + i * sa] : pb[bo + i * sb] }
            }
        }
        let sa0 = a.shape, sb0 = b.shape
        return record("where", out, [a, b]) { g in
            let zero = Tensor(scalar: 0)
            return [Tensor.where(mask, g, zero).sumTo(sa0), Tensor.where(mask, zero, g).sumTo(sb0)]
        }
    }

    /// `value` where `mask` is nonzero (mask broadcast to this shape), else self.
    public func maskedFill(_ mask: Tensor, _ value: Float) -> Tensor {
        let m = shape == mask.shape ? mask : mask.expand(broadcastShapes(shape, mask.shape, op: "maskedFill"))
        return Tensor.where(m, Tensor(scalar: value), self)
    }

    // MARK: - Joining and splitting

    /// Joins tensors along `dim` (other dims must match). Result float32 unless all share one dtype.
    public static func concat(_ tensors: [Tensor], dim d: Int = 0) -> Tensor {
        precondition(!tensors.isEmpty, "concat: no tensors")
        let first = tensors[0]
        let a = first.dim(d, "concat")
        var shape = first.shape
        shape[a] = 0
        for t in tensors {
            precondition(t.rank == first.rank && (0..<t.rank).allSatisfy { $0 == a || t.shape[$0] == first.shape[$0] },
                         "concat(dim: \(d)): shape \(t.shape) does not match \(first.shape) outside dim \(d)")
            shape[a] += t.shape[a]
        }
        let dtype = tensors.allSatisfy { $0.dtype == first.dtype } ? first.dtype : .float32
        let out = Tensor(zeros: shape, dtype: dtype)
        var start = 0
        var ranges: [(Int, Int)] = []
        for t in tensors {
            let len = t.shape[a]
            let dst = Tensor(storage: out.storage, dtype: dtype, shape: t.shape, strides: out.strides,
                             offset: start * out.strides[a])
            assign(t, into: dst)
            ranges.append((start, len)); start += len
        }
        return record("concat", out, tensors) { g in
            ranges.map { g.narrow(a, start: $0.0, length: $0.1) }
        }
    }

    /// Stacks equally shaped tensors along a new dim.
    public static func stack(_ tensors: [Tensor], dim d: Int = 0) -> Tensor {
        precondition(!tensors.isEmpty, "stack: no tensors")
        return concat(tensors.map { $0.unsqueeze(d) }, dim: d)
    }

    /// Splits along `dim` into pieces of the given sizes (views).
    public func split(_ sizes: [Int], dim d: Int = 0) -> [Tensor] {
        let a = dim(d, "split")
        precondition(sizes.reduce(0, +) == shape[a] && sizes.allSatisfy { $0 >= 0 },
                     "split(\(sizes), dim: \(d)): sizes must sum to \(shape[a]) (shape \(shape))")
        var start = 0
        return sizes.map { s in defer { start += s }; return narrow(a, start: start, length: s) }
    }

    /// Splits along `dim` into pieces of `size` (the last may be smaller), like torch.split(int).
    public func split(size: Int, dim d: Int = 0) -> [Tensor] {
        precondition(size > 0, "split(size:): size must be positive")
        let n = shape[dim(d, "split")]
        var sizes: [Int] = []
        var left = n
        while left > 0 { sizes.append(Swift.min(size, left)); left -= size }
        return split(sizes, dim: d)
    }

    /// `chunks` nearly equal pieces along `dim` (torch.chunk).
    public func chunk(_ chunks: Int, dim d: Int = 0) -> [Tensor] {
        precondition(chunks > 0, "chunk: chunks must be positive")
        let n = shape[dim(d, "chunk")]
        return split(size: Swift.max(1, (n + chunks - 1) / chunks), dim: d)
    }

    /// Writes `src` (same shape, any dtype) into the strided view `dst` of a fresh tensor.
    static func assign(_ src: Tensor, into dst: Tensor) {
        if src.count == 0 { return }
        let layout = StridedLayout(shape: src.shape, strides: [src.strides, dst.strides])
        let sb = src.rawPointer, db = dst.rawPointer
        let ss = layout.innerStrides[0], ds = layout.innerStrides[1]
        layout.parallelRows { so, dOff, _, n in
            if ds == 1 || n == 1 { convertRow(sb, src.dtype, so, ss, db, dst.dtype, dOff, n) }
            else { for i in 0..<n { convertRow(sb, src.dtype, so + i * ss, 1, db, dst.dtype, dOff + i * ds, 1) } }
        }
    }
}

/// Embedding lookup (torch.nn.functional.embedding): `weight[indices]`.
public func embedding(_ indices: Tensor, weight: Tensor) throws -> Tensor { try Tensor.embedding(weight, indices) }
