import Foundation

// Shape and stride manipulation. Views share storage with their source; gradients flow back through
// the inverse view.

extension Tensor {
    /// A tensor with the same elements in a new shape (one dim may be -1). A view when the data is
    /// contiguous, otherwise a copy (torch's `reshape`).
    public func reshape(_ newShape: [Int]) -> Tensor {
        let target = inferShape(newShape, "reshape")
        if target == shape { return self }
        let src = isContiguous ? self : contiguous()
        let out = Tensor(storage: src.storage, dtype: dtype, shape: target,
                         strides: Tensor.contiguousStrides(target), offset: src.offset)
        let orig = shape
        return Tensor.record("reshape", out, [self]) { g in [g.reshape(orig)] }
    }

    /// Like `reshape`, but requires contiguous data (torch's `view`); never copies.
    public func view(_ newShape: [Int]) -> Tensor {
        precondition(isContiguous, "view(\(newShape)): tensor with shape \(shape) strides \(strides) is not contiguous; use reshape or contiguous()")
        return reshape(newShape)
    }

    /// Flattens dims `start...end` into one.
    public func flatten(from start: Int = 0, to end: Int = -1) -> Tensor {
        if rank == 0 { return reshape([1]) }
        let s = dim(start, "flatten"), e = dim(end, "flatten")
        let merged = shape[s...e].reduce(1, *)
        return reshape(Array(shape[..<s]) + [merged] + Array(shape[(e + 1)...]))
    }

    func inferShape(_ newShape: [Int], _ op: String) -> [Int] {
        var target = newShape
        let unknown = newShape.indices.filter { newShape[$0] == -1 }
        precondition(unknown.count <= 1, "\(op): at most one -1 allowed in \(newShape)")
        let known = newShape.filter { $0 != -1 }
        precondition(known.allSatisfy { $0 >= 0 }, "\(op): negative size in \(newShape)")
        let prod = known.reduce(1, *)
        if let u = unknown.first {
            precondition(prod > 0 && count % prod == 0, "\(op): cannot infer -1 in \(newShape) for \(count) elements (shape \(shape))")
            target[u] = count / prod
        } else {
            precondition(prod == count, "\(op): shape \(newShape) has \(prod) elements, tensor has \(count) (shape \(shape))")
        }
        return target
    }

    /// Reorders dimensions (a view): result dim i is input dim `order[i]`.
    public func permute(_ order: [Int]) -> Tensor {
        precondition(order.count == rank, "permute(\(order)): need \(rank) dims for shape \(shape)")
        let o = order.map { dim($0, "permute") }
        precondition(Set(o).count == rank, "permute(\(order)): not a permutation")
        let out = Tensor(storage: storage, dtype: dtype, shape: o.map { shape[$0] }, strides: o.map { strides[$0] }, offset: offset)
        var inverse = [Int](repeating: 0, count: rank)
        for (i, d) in o.enumerated() { inverse[d] = i }
        return Tensor.record("permute", out, [self]) { g in [g.permute(inverse)] }
    }

    /// Swaps two dimensions (a view).
    public func transpose(_ d0: Int, _ d1: Int) -> Tensor {
        var order = Array(0..<rank)
        order.swapAt(dim(d0, "transpose"), dim(d1, "transpose"))
        return permute(order)
    }

    /// Transpose of the last two dims (`.mT`); for 2-D tensors this is the matrix transpose.
    public var mT: Tensor { transpose(-2, -1) }

    /// Elements `start ..< start+length` along `dim` (a view).
    public func narrow(_ d: Int, start: Int, length: Int) -> Tensor {
        let a = dim(d, "narrow")
        precondition(start >= 0 && length >= 0 && start + length <= shape[a],
                     "narrow(dim \(d), start \(start), length \(length)): out of range for size \(shape[a]) (shape \(shape))")
        var s = shape; s[a] = length
        let out = Tensor(storage: storage, dtype: dtype, shape: s, strides: strides, offset: offset + start * strides[a])
        let orig = shape
        return Tensor.record("narrow", out, [self]) { g in
            let full = Tensor(zeros: orig)
            let region = full.narrow(a, start: start, length: length)
            region.copy(from: g)
            return [full]
        }
    }

    /// Elements `start ..< end` with `step` along `dim` (a view; negative start/end count from the end).
    public func slice(_ d: Int, _ start: Int = 0, _ end: Int? = nil, step: Int = 1) -> Tensor {
        let a = dim(d, "slice")
        precondition(step >= 1, "slice: step must be >= 1, got \(step)")
        let n = shape[a]
        var s0 = start < 0 ? start + n : start
        var e0 = end.map { $0 < 0 ? $0 + n : $0 } ?? n
        s0 = Swift.min(Swift.max(s0, 0), n); e0 = Swift.min(Swift.max(e0, s0), n)
        if step == 1 { return narrow(a, start: s0, length: e0 - s0) }
        let len = (e0 - s0 + step - 1) / step
        var shp = shape; shp[a] = len
        var st = strides; st[a] *= step
        let out = Tensor(storage: storage, dtype: dtype, shape: shp, strides: st, offset: offset + s0 * strides[a])
        let orig = shape
        return Tensor.record("slice", out, [self]) { g in
            let full = Tensor(zeros: orig)
            let region = Tensor(storage: full.storage, dtype: .float32, shape: shp, strides: {
                var fs = Tensor.contiguousStrides(orig); fs[a] *= step; return fs }(),
                offset: s0 * Tensor.contiguousStrides(orig)[a])
            region.copy(from: g)
            return [full]
        }
    }

    /// Broadcasts size-1 dims (and new leading dims) to `newShape` without copying; -1 keeps a size.
    public func expand(_ newShape: [Int]) -> Tensor {
        precondition(newShape.count >= rank, "expand(\(newShape)): fewer dims than shape \(shape)")
        let lead = newShape.count - rank
        var target = newShape
        for i in 0..<rank where newShape[lead + i] == -1 { target[lead + i] = shape[i] }
        let out = Tensor(storage: storage, dtype: dtype, shape: target, strides: broadcastStrides(to: target), offset: offset)
        let orig = shape
        return Tensor.record("expand", out, [self]) { g in [g.sumTo(orig)] }
    }

    /// Removes size-1 dims (all, or just `dim`).
    public func squeeze(_ d: Int? = nil) -> Tensor {
        if let d {
            let a = dim(d, "squeeze")
            if shape[a] != 1 { return self }
            var s = shape; s.remove(at: a)
            return viewKeepingStrides(s, dropping: a)
        }
        return reshape(shape.filter { $0 != 1 })
    }

    /// Inserts a size-1 dim at `dim` (which may equal `rank`, or be negative like torch).
    public func unsqueeze(_ d: Int) -> Tensor {
        let a = d < 0 ? d + rank + 1 : d
        precondition(a >= 0 && a <= rank, "unsqueeze(\(d)): out of range for shape \(shape)")
        var s = shape; s.insert(1, at: a)
        var st = strides; st.insert(a < rank ? strides[a] * shape[a] : 1, at: a)
        let out = Tensor(storage: storage, dtype: dtype, shape: s, strides: st, offset: offset)
        let orig = shape
        return Tensor.record("unsqueeze", out, [self]) { g in [g.reshape(orig)] }
    }

    private func viewKeepingStrides(_ s: [Int], dropping a: Int) -> Tensor {
        var st = strides; st.remove(at: a)
        let out = Tensor(storage: storage, dtype: dtype, shape: s, strides: st, offset: offset)
        let orig = shape
        return Tensor.record("squeeze", out, [self]) { g in [g.reshape(orig)] }
    }

    /// Self if already contiguous, else a contiguous copy with the same dtype.
    public func contiguous() -> Tensor {
        if isContiguous { return self }
        let out = Tensor(uninitialized: shape, dtype: dtype)
        stridedCopy(from: self, to: out)
        return Tensor.record("contiguous", out, [self]) { g in [g] }
    }

    /// A contiguous copy in `dtype` (torch semantics: float16 overflow → ±inf, underflow → ±0 with
    /// subnormals kept, round-to-nearest-even; bfloat16 round-to-nearest-even; float → int truncates).
    /// Returns self when the dtype already matches. Gradients flow between floating dtypes (as float32).
    public func to(_ newType: DType) -> Tensor {
        if newType == dtype { return self }
        let out = Tensor(uninitialized: shape, dtype: newType)
        stridedCopy(from: self, to: out)
        guard newType.isFloatingPoint else { return out }
        return Tensor.record("to", out, [self]) { g in [g] }
    }

    /// Sums `self` (a gradient) down to `target` shape, undoing broadcasting.
    func sumTo(_ target: [Int]) -> Tensor {
        if shape == target { return self }
        let lead = rank - target.count
        precondition(lead >= 0, "internal: sumTo \(shape) -> \(target)")
        var dims: [Int] = Array(0..<lead)
        for i in 0..<target.count where target[i] == 1 && shape[lead + i] != 1 { dims.append(lead + i) }
        let s = dims.isEmpty ? self : sum(dims: dims, keepDim: true)
        return s.reshape(target)
    }
}
