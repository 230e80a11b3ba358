import Foundation

/// # Tensors: SwiftTune's CPU tensor engine with reverse-mode autograd
///
/// `Tensor` is a reference type (like `torch.Tensor`): a view (`shape`, `strides`, `offset`, all in
/// elements) over a ref-counted `TensorStorage`. Views (`reshape` of contiguous data, `transpose`,
/// `permute`, `narrow`, `expand`, `squeeze`, `unsqueeze`) share storage; everything else allocates.
///
/// **Dtypes.** Storage may be float32, float16, bfloat16, int8, uint8, int32, int64 or bool. All floating
/// math is computed in float32 and *returns float32*; float16/bfloat16 are storage formats converted on
/// the fly (a matmul against a bf16 weight converts tiles of it, never the whole tensor). Use `to(_:)` to
/// store a result in another dtype. Index tensors (targets, ids, positions) are any integer dtype.
///
/// **Autograd.** Set `requiresGrad = true` on leaf tensors (parameters). Ops on tensors that require grad
/// record a node on a tape; `loss.backward()` walks it in reverse, accumulates into each leaf's `grad`, and
/// frees every node's saved tensors as soon as that node has run (pass `retainGraph: true` to keep them).
/// `withNoGrad { }` disables recording (inference, optimizer updates); `detach()` cuts a tensor from the graph.
///
/// **Threads.** Elementwise, reduction and fused kernels split work with `Parallel.forRanges`; a large GEMM is
/// cut into blocks of the output, each a single-threaded OpenBLAS call on the same workers
/// (`SWIFTTUNE_GEMM_SPLIT=0` hands threading back to OpenBLAS). `SWIFTTUNE_THREADS` sets the worker count.
///
/// **Errors.** Shape mistakes in model code are programmer errors and stop with a message naming the op,
/// the shapes found and the shapes expected (like Swift's array bounds checks). Problems in *data* (an
/// index or token id out of range, a borrowed buffer too small) throw `TensorError` instead.
///
/// **Ops at a glance** (every float op is differentiable unless noted):
/// - create: `Tensor(_:shape:)` ([Float], [Int] + dtype, [Bool]), `Tensor(scalar:)`, `Tensor(zeros:dtype:)`,
///   `Tensor(borrowing:byteCount:dtype:shape:owner:)`, `.zeros/.ones/.full/.arange`, `.uniform/.normal/.randn/
///   .kaimingUniform/.dropoutMask` with a `RandomGenerator(seed:)`
/// - views: `reshape`, `view`, `flatten`, `permute`, `transpose`, `mT`, `narrow`, `slice`, `expand`, `squeeze`,
///   `unsqueeze`, `contiguous`, `to(_:)`, `split`, `chunk`; joins `Tensor.concat`, `Tensor.stack`
/// - math: `+ - * /` (tensor or Float, broadcasting), prefix `-`, `exp log sqrt rsqrt pow tanh sigmoid silu gelu
///   relu abs maximum clamp`; comparisons `eq ne lt le gt ge` (bool, no grad)
/// - reductions: `sum`, `mean`, `variance`, `max(dim:)` (values, indices), `max()`, `argmax`
/// - linear algebra: `matmul` (batched, broadcasting, transposed views, f16/bf16 in tiles), `linear(_:weight:bias:)`
/// - selection: `embedding`, `indexSelect`, `gather`, `Tensor.where`, `maskedFill`
/// - NN (fused kernels): `softmax`, `logSoftmax`, `crossEntropy`, `rmsNorm`, `layerNorm`, `siluMul`,
///   `RopeTables` + `rope`/`applyRotaryEmbedding`, `scaledDotProductAttention`, `dropout`
/// - autograd: `requiresGrad`, `requiringGrad()`, `grad`, `backward(gradient:retainGraph:)`, `zeroGrad()`,
///   `detach()`, `withNoGrad { }`; optimizer helpers `addInPlace`, `mulInPlace`, `scaleInPlace`, `fill`, `copy(from:)`
/// - readback: `toFloatArray()`, `toIntArray()`, `item()`, `withContiguousFloats { }`
///
/// Example (one SGD step of a linear classifier):
/// ```swift
/// let w = Tensor.randn([4, 3], generator: RandomGenerator(seed: 0)).requiringGrad()
/// let logits = x.matmul(w)                                   // x: [N, 4]
/// let loss = try crossEntropy(logits: logits, targets: y)     // y: [N] int64, -100 = ignore
/// loss.backward()
/// withNoGrad { w.addInPlace(w.grad!, alpha: -0.1) }; w.zeroGrad()
/// ```
public final class Tensor: CustomStringConvertible {
    /// The bytes this tensor views. (Settable only inside the module, so that autograd can test it for
    /// unique ownership with `isKnownUniquelyReferenced`; it is never reassigned.)
    public internal(set) var storage: TensorStorage
    /// Element type of the storage.
    public let dtype: DType
    /// Size of each dimension.
    public let shape: [Int]
    /// Elements to step in storage per index step of each dimension (0 for broadcast dimensions).
    public let strides: [Int]
    /// Element offset of index (0, 0, …) in storage.
    public let offset: Int

    /// Whether gradients flow to/through this tensor. Set it on leaves (parameters); op results get it
    /// from their inputs.
    public var requiresGrad: Bool {
        get { _requiresGrad }
        set {
            precondition(gradFn == nil || newValue, "requiresGrad can only be cleared on leaf tensors; use detach()")
            precondition(!newValue || dtype.isFloatingPoint, "requiresGrad needs a floating-point tensor, got \(dtype)")
            _requiresGrad = newValue
        }
    }
    var _requiresGrad = false
    /// Gradient accumulated by `backward()` (float32, same shape as this tensor); leaves only.
    public var grad: Tensor?
    /// The tape node that produced this tensor (nil for leaves).
    var gradFn: GradNode?

    /// A leaf is a tensor not produced by a recorded op.
    public var isLeaf: Bool { gradFn == nil }

    init(storage: TensorStorage, dtype: DType, shape: [Int], strides: [Int], offset: Int) {
        self.storage = storage
        self.dtype = dtype
        self.shape = shape
        self.strides = strides
        self.offset = offset
    }

    /// A new contiguous tensor of zeros.
    public convenience init(zeros shape: [Int], dtype: DType = .float32) {
        let n = Tensor.checkedCount(shape)
        self.init(storage: TensorStorage(zeroedByteCount: n * dtype.byteSize), dtype: dtype,
                  shape: shape, strides: Tensor.contiguousStrides(shape), offset: 0)
    }

    /// A new contiguous tensor whose contents are overwritten by the caller.
    convenience init(uninitialized shape: [Int], dtype: DType = .float32) {
        let n = Tensor.checkedCount(shape)
        self.init(storage: TensorStorage(uninitializedByteCount: n * dtype.byteSize), dtype: dtype,
                  shape: shape, strides: Tensor.contiguousStrides(shape), offset: 0)
    }

    /// A float32 tensor holding `values` (row-major) with `shape` (default: 1-D).
    public convenience init(_ values: [Float], shape: [Int]? = nil) {
        let shp = shape ?? [values.count]
        precondition(Tensor.checkedCount(shp) == values.count,
                     "Tensor(_:shape:): \(values.count) values do not fill shape \(shp)")
        self.init(uninitialized: shp, dtype: .float32)
        values.withUnsafeBufferPointer { src in
            if let b = src.baseAddress { floatPointer.update(from: b, count: values.count) }
        }
    }

    /// An integer (or bool) tensor holding `values` with `shape` (default: 1-D); dtype defaults to int64
    /// like torch's `tensor([1, 2])`. Values are truncated to the dtype's width.
    public convenience init(_ values: [Int], shape: [Int]? = nil, dtype: DType = .int64) {
        let shp = shape ?? [values.count]
        precondition(Tensor.checkedCount(shp) == values.count,
                     "Tensor(_:shape:dtype:): \(values.count) values do not fill shape \(shp)")
        self.init(uninitialized: shp, dtype: dtype)
        let p = storage.base
        for (i, v) in values.enumerated() {
            switch dtype {
            case .int64: p.storeBytes(of: Int64(v), toByteOffset: i * 8, as: Int64.self)
            case .int32: p.storeBytes(of: Int32(truncatingIfNeeded: v), toByteOffset: i * 4, as: Int32.self)
            case .int8: p.storeBytes(of: Int8(truncatingIfNeeded: v), toByteOffset: i, as: Int8.self)
            case .uint8: p.storeBytes(of: UInt8(truncatingIfNeeded: v), toByteOffset: i, as: UInt8.self)
            case .bool: p.storeBytes(of: UInt8(v != 0 ? 1 : 0), toByteOffset: i, as: UInt8.self)
            case .float32: p.storeBytes(of: Float(v), toByteOffset: i * 4, as: Float.self)
            case .float16: p.storeBytes(of: Float16(Float(v)), toByteOffset: i * 2, as: Float16.self)
            case .bfloat16: p.storeBytes(of: BFloat16(Float(v)).bitPattern, toByteOffset: i * 2, as: UInt16.self)
            }
        }
    }

    /// A bool tensor (stored as one byte per element, 0 or 1).
    public convenience init(_ values: [Bool], shape: [Int]? = nil) {
        self.init(values.map { $0 ? 1 : 0 }, shape: shape, dtype: .bool)
    }

    /// A 0-dimensional float32 tensor.
    public convenience init(scalar: Float) { self.init([scalar], shape: []) }

    /// Wraps `count(shape) * dtype.byteSize` bytes at `pointer` without copying (e.g. a tensor inside an
    /// mmap'd safetensors file). `owner` is retained while any view exists. Throws if `byteCount` (the
    /// bytes available at `pointer`) is too small or the shape is invalid. A pointer not aligned to the
    /// element size is copied into owned memory instead (check `storage.owner != nil` for zero-copy).
    /// Borrowed tensors are read-only to the engine (in-place ops refuse them).
    public convenience init(borrowing pointer: UnsafeRawPointer, byteCount: Int, dtype: DType, shape: [Int],
                            owner: AnyObject) throws {
        guard let n = Tensor.count(shape) else {
            throw TensorError.invalidShape("shape \(shape) has a negative dimension or overflows")
        }
        let (need, overflow) = n.multipliedReportingOverflow(by: dtype.byteSize)
        guard !overflow, need <= byteCount else {
            throw TensorError.invalidShape("shape \(shape) of \(dtype) needs \(n) × \(dtype.byteSize) bytes, only \(byteCount) available")
        }
        let st: TensorStorage
        if Int(bitPattern: pointer) % dtype.byteSize == 0 {
            st = TensorStorage(borrowing: UnsafeMutableRawPointer(mutating: pointer), byteCount: need, owner: owner)
        } else {
            // Misaligned element data (possible in a file whose header length is not a multiple of the
            // element size): typed loads would be undefined behaviour, so take an aligned copy instead.
            st = TensorStorage(uninitializedByteCount: need)
            st.base.copyMemory(from: pointer, byteCount: need)
        }
        self.init(storage: st, dtype: dtype, shape: shape, strides: Tensor.contiguousStrides(shape), offset: 0)
    }

    /// A new owned tensor holding a copy of `bytes` (row-major, little-endian `dtype` elements). Throws if
    /// the byte count does not match the shape.
    public convenience init(copying bytes: UnsafeRawBufferPointer, dtype: DType, shape: [Int]) throws {
        guard let n = Tensor.count(shape) else {
            throw TensorError.invalidShape("shape \(shape) has a negative dimension or overflows")
        }
        let (need, overflow) = n.multipliedReportingOverflow(by: dtype.byteSize)
        guard !overflow, need == bytes.count else {
            throw TensorError.invalidShape("shape \(shape) of \(dtype) needs \(n) × \(dtype.byteSize) bytes, got \(bytes.count)")
        }
        self.init(uninitialized: shape, dtype: dtype)
        if need > 0, let src = bytes.baseAddress { storage.base.copyMemory(from: src, byteCount: need) }
    }

    /// Calls `body` with this tensor's elements as contiguous row-major bytes in its own dtype (the tensor's
    /// memory when already contiguous, otherwise a temporary copy). For writers (safetensors) and hashing.
    public func withUnsafeRawBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        let t = isContiguous ? self : contiguous().detach()
        return try withExtendedLifetime(t) { try body(UnsafeRawBufferPointer(start: t.rawPointer, count: t.count * dtype.byteSize)) }
    }

    // MARK: - Shape helpers

    /// Number of elements.
    public var count: Int { shape.reduce(1, *) }
    /// Number of dimensions.
    public var rank: Int { shape.count }

    /// Element count of `shape`, or nil if a dimension is negative or the product overflows.
    public static func count(_ shape: [Int]) -> Int? {
        var n = 1
        for d in shape {
            if d < 0 { return nil }
            let (m, o) = n.multipliedReportingOverflow(by: d)
            if o { return nil }
            n = m
        }
        return n
    }

    static func checkedCount(_ shape: [Int]) -> Int {
        guard let n = count(shape) else { preconditionFailure("invalid shape \(shape)") }
        return n
    }

    static func contiguousStrides(_ shape: [Int]) -> [Int] {
        var s = [Int](repeating: 1, count: shape.count)
        var acc = 1
        for i in stride(from: shape.count - 1, through: 0, by: -1) { s[i] = acc; acc *= Swift.max(shape[i], 1) }
        return s
    }

    /// True when elements are laid out row-major with no gaps (size-1 dims may have any stride).
    public var isContiguous: Bool {
        var acc = 1
        for i in stride(from: shape.count - 1, through: 0, by: -1) where shape[i] != 1 {
            if strides[i] != acc { return false }
            acc *= shape[i]
        }
        return true
    }

    /// Normalises a possibly negative dimension index.
    func dim(_ d: Int, _ op: String) -> Int {
        let r = d < 0 ? d + rank : d
        precondition(r >= 0 && r < Swift.max(rank, 1), "\(op): dimension \(d) out of range for shape \(shape)")
        return r
    }

    // MARK: - Raw access

    /// Pointer to element 0 of this view, as float32. Only valid for float32 tensors.
    var floatPointer: UnsafeMutablePointer<Float> {
        (storage.base + offset * 4).assumingMemoryBound(to: Float.self)
    }
    var rawPointer: UnsafeMutableRawPointer { storage.base + offset * dtype.byteSize }

    /// Calls `body` with a pointer to contiguous float32 data (this tensor's own memory when it already
    /// is contiguous float32, otherwise a converted copy).
    public func withContiguousFloats<R>(_ body: (UnsafePointer<Float>) throws -> R) rethrows -> R {
        let t = contiguousF32()
        return try withExtendedLifetime(t) { try body(UnsafePointer(t.floatPointer)) }
    }

    /// Self if contiguous float32, else a contiguous float32 copy (no autograd).
    func contiguousF32() -> Tensor {
        if dtype == .float32 && isContiguous { return self }
        let out = Tensor(uninitialized: shape, dtype: .float32)
        stridedCopy(from: self, to: out)
        return out
    }

    /// Self if float32 (any strides), else a float32 copy.
    func asF32() -> Tensor { dtype == .float32 ? self : contiguousF32() }

    /// The elements as float32, row-major.
    public func toFloatArray() -> [Float] {
        let t = contiguousF32()
        return withExtendedLifetime(t) { Array(UnsafeBufferPointer(start: t.floatPointer, count: count)) }
    }

    /// The elements as Int, row-major (floats are truncated toward zero).
    public func toIntArray() -> [Int] {
        var out = [Int](repeating: 0, count: count)
        var i = 0
        forEachOffset { off in out[i] = readInt(atElement: off); i += 1 }
        return out
    }

    /// The only element of a one-element tensor, as Float.
    public func item() -> Float {
        precondition(count == 1, "item(): tensor has \(count) elements (shape \(shape)), expected 1")
        return toFloatArray()[0]
    }

    /// Reads element at storage element index `e` as Int.
    @inline(__always) func readInt(atElement e: Int) -> Int {
        let b = storage.base
        switch dtype {
        case .int64: return Int(b.load(fromByteOffset: e * 8, as: Int64.self))
        case .int32: return Int(b.load(fromByteOffset: e * 4, as: Int32.self))
        case .int8: return Int(b.load(fromByteOffset: e, as: Int8.self))
        case .uint8, .bool: return Int(b.load(fromByteOffset: e, as: UInt8.self))
        case .float32: let f = b.load(fromByteOffset: e * 4, as: Float.self); return f.isFinite ? Int(f) : 0
        case .float16: let f = Float(b.load(fromByteOffset: e * 2, as: Float16.self)); return f.isFinite ? Int(f) : 0
        case .bfloat16: let f = BFloat16(bitPattern: b.load(fromByteOffset: e * 2, as: UInt16.self)).float; return f.isFinite ? Int(f) : 0
        }
    }

    /// Calls `body` with the storage element index of every element, row-major.
    func forEachOffset(_ body: (Int) -> Void) {
        let n = count
        if n == 0 { return }
        if rank == 0 { body(offset); return }
        var idx = [Int](repeating: 0, count: rank)
        var off = offset
        for _ in 0..<n {
            body(off)
            var d = rank - 1
            while d >= 0 {
                idx[d] += 1; off += strides[d]
                if idx[d] < shape[d] { break }
                off -= strides[d] * shape[d]; idx[d] = 0; d -= 1
            }
        }
    }

    public var description: String {
        let vals = count <= 64 ? (dtype.isFloatingPoint ? "\(toFloatArray())" : "\(toIntArray())") : "…"
        return "Tensor(\(dtype), shape: \(shape), \(vals)\(requiresGrad ? ", requiresGrad" : ""))"
    }
}
