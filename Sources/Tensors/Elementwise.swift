import Foundation

// Elementwise math with NumPy/torch broadcasting. Inputs of any float dtype are read as float32;
// results are new contiguous float32 tensors. Each op is a static function type so the inner loops
// are specialised (and vectorised) per op.

protocol BinaryFloatOp { static func f(_ a: Float, _ b: Float) -> Float }
protocol UnaryFloatOp { static func f(_ x: Float) -> Float }

enum AddOp: BinaryFloatOp { @inline(__always) static func f(_ a: Float, _ b: Float) -> Float { a + b } }
enum SubOp: BinaryFloatOp { @inline(__always) static func f(_ a: Float, _ b: Float) -> Float { a - b } }
enum MulOp: BinaryFloatOp { @inline(__always) static func f(_ a: Float, _ b: Float) -> Float { a * b } }
enum DivOp: BinaryFloatOp { @inline(__always) static func f(_ a: Float, _ b: Float) -> Float { a / b } }
enum MaxOp: BinaryFloatOp { @inline(__always) static func f(_ a: Float, _ b: Float) -> Float { a.isNaN || a > b ? a : b } }
// Gradient helpers: (saved, upstream) -> input gradient.
enum ExpGradOp: BinaryFloatOp { @inline(__always) static func f(_ y: Float, _ g: Float) -> Float { y * g } }
enum TanhGradOp: BinaryFloatOp { @inline(__always) static func f(_ y: Float, _ g: Float) -> Float { (1 - y * y) * g } }
enum SigmoidGradOp: BinaryFloatOp { @inline(__always) static func f(_ y: Float, _ g: Float) -> Float { y * (1 - y) * g } }
enum SqrtGradOp: BinaryFloatOp { @inline(__always) static func f(_ y: Float, _ g: Float) -> Float { g / (2 * y) } }
enum RsqrtGradOp: BinaryFloatOp { @inline(__always) static func f(_ y: Float, _ g: Float) -> Float { -0.5 * g * y * y * y } }
enum ReluGradOp: BinaryFloatOp { @inline(__always) static func f(_ x: Float, _ g: Float) -> Float { x > 0 ? g : 0 } }
enum SiluGradOp: BinaryFloatOp {
    @inline(__always) static func f(_ x: Float, _ g: Float) -> Float {
        let s = 1 / (1 + Foundation.exp(-x)); return g * s * (1 + x * (1 - s))
    }
}
enum GeluGradOp: BinaryFloatOp {
    @inline(__always) static func f(_ x: Float, _ g: Float) -> Float {
        let cdf = 0.5 * (1 + Foundation.erf(x * 0.70710678118654752))
        let pdf = Foundation.exp(-0.5 * x * x) * 0.39894228040143268
        return g * (cdf + x * pdf)
    }
}
enum GeluTanhGradOp: BinaryFloatOp {
    @inline(__always) static func f(_ x: Float, _ g: Float) -> Float {
        let k: Float = 0.79788456080286536, c: Float = 0.044715
        let inner = k * (x + c * x * x * x)
        let t = Foundation.tanh(inner)
        let dInner = k * (1 + 3 * c * x * x)
        return g * (0.5 * (1 + t) + 0.5 * x * (1 - t * t) * dInner)
    }
}

enum NegOp: UnaryFloatOp { @inline(__always) static func f(_ x: Float) -> Float { -x } }
enum ExpOp: UnaryFloatOp { @inline(__always) static func f(_ x: Float) -> Float { Foundation.exp(x) } }
enum LogOp: UnaryFloatOp { @inline(__always) static func f(_ x: Float) -> Float { Foundation.log(x) } }
enum SqrtOp: UnaryFloatOp { @inline(__always) static func f(_ x: Float) -> Float { x.squareRoot() } }
enum RsqrtOp: UnaryFloatOp { @inline(__always) static func f(_ x: Float) -> Float { 1 / x.squareRoot() } }
enum TanhOp: UnaryFloatOp { @inline(__always) static func f(_ x: Float) -> Float { Foundation.tanh(x) } }
enum SigmoidOp: UnaryFloatOp { @inline(__always) static func f(_ x: Float) -> Float { 1 / (1 + Foundation.exp(-x)) } }
enum SiluOp: UnaryFloatOp { @inline(__always) static func f(_ x: Float) -> Float { x / (1 + Foundation.exp(-x)) } }
enum ReluOp: UnaryFloatOp { @inline(__always) static func f(_ x: Float) -> Float { x > 0 ? x : 0 } }
enum AbsOp: UnaryFloatOp { @inline(__always) static func f(_ x: Float) -> Float { Swift.abs(x) } }
enum GeluOp: UnaryFloatOp {
    @inline(__always) static func f(_ x: Float) -> Float { 0.5 * x * (1 + Foundation.erf(x * 0.70710678118654752)) }
}
enum GeluTanhOp: UnaryFloatOp {
    @inline(__always) static func f(_ x: Float) -> Float {
        0.5 * x * (1 + Foundation.tanh(0.79788456080286536 * (x + 0.044715 * x * x * x)))
    }
}

/// Result shape of broadcasting `a` with `b` (torch rules: align right, sizes equal or 1).
public func broadcastShapes(_ a: [Int], _ b: [Int], op: String = "broadcast") -> [Int] {
    let n = max(a.count, b.count)
    var out = [Int](repeating: 1, count: n)
    for i in 0..<n {
        let da = i < n - a.count ? 1 : a[i - (n - a.count)]
        let db = i < n - b.count ? 1 : b[i - (n - b.count)]
        precondition(da == db || da == 1 || db == 1, "\(op): shapes \(a) and \(b) are not broadcastable (dim \(i): \(da) vs \(db))")
        out[i] = da == 1 ? db : da
    }
    return out
}

extension Tensor {
    /// Strides that read this tensor broadcast to `target` (0 for expanded dims).
    func broadcastStrides(to target: [Int]) -> [Int] {
        let lead = target.count - rank
        precondition(lead >= 0, "cannot broadcast shape \(shape) to \(target)")
        var s = [Int](repeating: 0, count: target.count)
        for i in 0..<rank {
            precondition(shape[i] == target[lead + i] || shape[i] == 1, "cannot broadcast shape \(shape) to \(target)")
            s[lead + i] = shape[i] == 1 ? 0 : strides[i]
        }
        return s
    }
}

func binaryKernel<Op: BinaryFloatOp>(_: Op.Type, _ a0: Tensor, _ b0: Tensor, _ name: String) -> Tensor {
    let a = a0.asF32(), b = b0.asF32()
    let shape = a.shape == b.shape ? a.shape : broadcastShapes(a.shape, b.shape, op: name)
    let out = Tensor(uninitialized: shape)
    if out.count == 0 { return out }
    let layout = StridedLayout(shape: shape, strides: [Tensor.contiguousStrides(shape),
                                                      a.broadcastStrides(to: shape), b.broadcastStrides(to: shape)])
    let po = out.floatPointer, pa = a.floatPointer, pb = b.floatPointer
    let sa = layout.innerStrides[1], sb = layout.innerStrides[2]
    withExtendedLifetime((a, b)) {
        layout.parallelRows { oo, ao, bo, n in
            let o = po + oo, x = pa + ao, y = pb + bo
            if sa == 1 && sb == 1 {
                for i in 0..<n { o[i] = Op.f(x[i], y[i]) }
            } else if sa == 1 && sb == 0 {
                let yv = y[0]; for i in 0..<n { o[i] = Op.f(x[i], yv) }
            } else if sa == 0 && sb == 1 {
                let xv = x[0]; for i in 0..<n { o[i] = Op.f(xv, y[i]) }
            } else {
                for i in 0..<n { o[i] = Op.f(x[i * sa], y[i * sb]) }
            }
        }
    }
    return out
}

/// Ops with a 16-lane form (the exp-based activations, using the kernels' ~1 ulp `vexp`).
protocol VectorUnaryOp: UnaryFloatOp { static func v(_ x: SIMD16<Float>) -> SIMD16<Float> }
extension SiluOp: VectorUnaryOp {
    @inline(__always) static func v(_ x: SIMD16<Float>) -> SIMD16<Float> { x / (1 + Kernels.vexp(-x)) }
}
extension SigmoidOp: VectorUnaryOp {
    @inline(__always) static func v(_ x: SIMD16<Float>) -> SIMD16<Float> { 1 / (1 + Kernels.vexp(-x)) }
}

/// `unaryKernel` with a SIMD16 main loop over unit-stride rows (tails use the same vector form).
func vectorUnaryKernel<Op: VectorUnaryOp>(_: Op.Type, _ x0: Tensor) -> Tensor {
    let x = x0.asF32()
    let out = Tensor(uninitialized: x.shape)
    if out.count == 0 { return out }
    let layout = StridedLayout(shape: x.shape, strides: [Tensor.contiguousStrides(x.shape), x.strides])
    let po = out.floatPointer, px = x.floatPointer
    let sx = layout.innerStrides[1]
    withExtendedLifetime(x) {
        layout.parallelRows { oo, xo, _, n in
            let o = po + oo, s = px + xo
            if sx == 1 {
                var i = 0
                while i + 16 <= n {
                    let v = UnsafeRawPointer(s + i).loadUnaligned(as: SIMD16<Float>.self)
                    UnsafeMutableRawPointer(o + i).storeBytes(of: Op.v(v), as: SIMD16<Float>.self)
                    i += 16
                }
                if i < n {
                    var v = SIMD16<Float>(repeating: 0)
                    for j in 0..<(n - i) { v[j] = s[i + j] }
                    let r = Op.v(v)
                    for j in 0..<(n - i) { o[i + j] = r[j] }
                }
            } else {
                for i in 0..<n { o[i] = Op.v(SIMD16<Float>(repeating: s[i * sx]))[0] }
            }
        }
    }
    return out
}

func unaryKernel<Op: UnaryFloatOp>(_: Op.Type, _ x0: Tensor) -> Tensor {
    let x = x0.asF32()
    let out = Tensor(uninitialized: x.shape)
    if out.count == 0 { return out }
    let layout = StridedLayout(shape: x.shape, strides: [Tensor.contiguousStrides(x.shape), x.strides])
    let po = out.floatPointer, px = x.floatPointer
    let sx = layout.innerStrides[1]
    withExtendedLifetime(x) {
        layout.parallelRows { oo, xo, _, n in
            let o = po + oo, s = px + xo
            if sx == 1 { for i in 0..<n { o[i] = Op.f(s[i]) } } else { for i in 0..<n { o[i] = Op.f(s[i * sx]) } }
        }
    }
    return out
}

extension Tensor {
    // MARK: - Differentiable binary ops

    public static func + (a: Tensor, b: Tensor) -> Tensor {
        let out = binaryKernel(AddOp.self, a, b, "+")
        let sa = a.shape, sb = b.shape
        return record("add", out, [a, b]) { g in [g.sumTo(sa), g.sumTo(sb)] }
    }
    public static func - (a: Tensor, b: Tensor) -> Tensor {
        let out = binaryKernel(SubOp.self, a, b, "-")
        let sa = a.shape, sb = b.shape
        return record("sub", out, [a, b]) { g in [g.sumTo(sa), (-g).sumTo(sb)] }
    }
    public static func * (a: Tensor, b: Tensor) -> Tensor {
        let out = binaryKernel(MulOp.self, a, b, "*")
        let sa = a.shape, sb = b.shape
        let ra = a._requiresGrad, rb = b._requiresGrad
        // Save only what the other side's gradient needs.
        let savedA = rb ? a : nil, savedB = ra ? b : nil
        return record("mul", out, [a, b]) { g in
            [savedB.map { (g * $0).sumTo(sa) }, savedA.map { (g * $0).sumTo(sb) }]
        }
    }
    public static func / (a: Tensor, b: Tensor) -> Tensor {
        let out = binaryKernel(DivOp.self, a, b, "/")
        let sa = a.shape, sb = b.shape
        let rb = b._requiresGrad
        let outSaved = rb ? out.detach() : nil   // detached: the closure must not retain its own node
        return record("div", out, [a, b]) { g in
            [(g / b).sumTo(sa), outSaved.map { (-(g * $0) / b).sumTo(sb) }]
        }
    }
    public static prefix func - (x: Tensor) -> Tensor {
        let out = unaryKernel(NegOp.self, x)
        return record("neg", out, [x]) { g in [-g] }
    }

    public static func + (a: Tensor, b: Float) -> Tensor { a + Tensor(scalar: b) }
    public static func + (a: Float, b: Tensor) -> Tensor { Tensor(scalar: a) + b }
    public static func - (a: Tensor, b: Float) -> Tensor { a - Tensor(scalar: b) }
    public static func - (a: Float, b: Tensor) -> Tensor { Tensor(scalar: a) - b }
    public static func * (a: Tensor, b: Float) -> Tensor { a * Tensor(scalar: b) }
    public static func * (a: Float, b: Tensor) -> Tensor { Tensor(scalar: a) * b }
    public static func / (a: Tensor, b: Float) -> Tensor { a / Tensor(scalar: b) }
    public static func / (a: Float, b: Tensor) -> Tensor { Tensor(scalar: a) / b }

    /// Elementwise maximum (no gradient through the comparison's loser; ties go to `self`).
    public func maximum(_ other: Tensor) -> Tensor {
        let out = binaryKernel(MaxOp.self, self, other, "maximum")
        let sa = shape, sb = other.shape
        let a = self
        return Tensor.record("maximum", out, [self, other]) { g in
            let maskA = binaryKernel(GreaterEqualMaskOp.self, a, other, "maximum")
            return [(g * maskA).sumTo(sa), (g * (1 - maskA)).sumTo(sb)]
        }
    }

    // MARK: - Differentiable unary ops

    public func exp() -> Tensor {
        let y = unaryKernel(ExpOp.self, self)
        let ys = y.detach()  // no y → node → closure → y cycle if backward never runs
        return Tensor.record("exp", y, [self]) { g in [binaryKernel(ExpGradOp.self, ys, g, "exp")] }
    }
    public func log() -> Tensor {
        let y = unaryKernel(LogOp.self, self)
        let x = self
        return Tensor.record("log", y, [self]) { g in [g / x] }
    }
    public func sqrt() -> Tensor { recordingOutputGrad("sqrt", unaryKernel(SqrtOp.self, self), SqrtGradOp.self) }
    public func rsqrt() -> Tensor { recordingOutputGrad("rsqrt", unaryKernel(RsqrtOp.self, self), RsqrtGradOp.self) }
    public func tanh() -> Tensor { recordingOutputGrad("tanh", unaryKernel(TanhOp.self, self), TanhGradOp.self) }
    public func sigmoid() -> Tensor { recordingOutputGrad("sigmoid", vectorUnaryKernel(SigmoidOp.self, self), SigmoidGradOp.self) }
    public func relu() -> Tensor { recordingInputGrad("relu", unaryKernel(ReluOp.self, self), ReluGradOp.self) }
    public func silu() -> Tensor { recordingInputGrad("silu", vectorUnaryKernel(SiluOp.self, self), SiluGradOp.self) }
    /// GELU; `approximate: "none"` (exact, erf) or `"tanh"` (torch's `approximate='tanh'`, HF `gelu_pytorch_tanh`).
    public func gelu(approximate: String = "none") -> Tensor {
        precondition(approximate == "none" || approximate == "tanh", "gelu(approximate:) must be \"none\" or \"tanh\", got \(approximate)")
        if approximate == "tanh" { return recordingInputGrad("gelu_tanh", unaryKernel(GeluTanhOp.self, self), GeluTanhGradOp.self) }
        return recordingInputGrad("gelu", unaryKernel(GeluOp.self, self), GeluGradOp.self)
    }

    /// Records `y = f(self)` whose derivative is a function of the output: dx = Grad(y, g).
    private func recordingOutputGrad<Grad: BinaryFloatOp>(_ name: String, _ y: Tensor, _: Grad.Type) -> Tensor {
        let ys = y.detach()  // no y → node → closure → y cycle if backward never runs
        return Tensor.record(name, y, [self]) { g in [binaryKernel(Grad.self, ys, g, name)] }
    }

    /// Records `y = f(self)` whose derivative is a function of the input: dx = Grad(x, g).
    private func recordingInputGrad<Grad: BinaryFloatOp>(_ name: String, _ y: Tensor, _: Grad.Type) -> Tensor {
        let x = self
        return Tensor.record(name, y, [self]) { g in [binaryKernel(Grad.self, x, g, name)] }
    }
    /// `self ** exponent` elementwise.
    public func pow(_ exponent: Float) -> Tensor {
        let x = self.asF32()
        let out = Tensor(uninitialized: shape)
        let layout = StridedLayout(shape: shape, strides: [Tensor.contiguousStrides(shape), x.strides])
        let po = out.floatPointer, px = x.floatPointer, sx = layout.innerStrides[1]
        withExtendedLifetime(x) {
            layout.parallelRows { oo, xo, _, n in
                for i in 0..<n { po[oo + i] = Foundation.pow(px[xo + i * sx], exponent) }
            }
        }
        let src = self
        return Tensor.record("pow", out, [self]) { g in [g * exponent * src.pow(exponent - 1)] }
    }
    /// Absolute value (gradient sign(x), 0 at 0).
    public func abs() -> Tensor {
        let y = unaryKernel(AbsOp.self, self)
        let x = self
        return Tensor.record("abs", y, [self]) { g in
            [g * (binaryKernel(GreaterEqualMaskOp.self, x, Tensor(scalar: 0), "abs") * 2 - 1) * binaryKernel(NotEqualMaskOp.self, x, Tensor(scalar: 0), "abs")]
        }
    }

    // MARK: - In-place updates (optimizer steps; not recorded)

    /// `self += alpha * other` (other broadcast to self's shape). Not allowed on a tensor that requires grad
    /// while recording: wrap optimizer updates in `withNoGrad`.
    public func addInPlace(_ other: Tensor, alpha: Float = 1) {
        checkInPlace("addInPlace")
        let o = other.asF32()
        let layout = StridedLayout(shape: shape, strides: [strides, o.broadcastStrides(to: shape)])
        let ps = floatPointer, po = o.floatPointer
        let ss = layout.innerStrides[0], so = layout.innerStrides[1]
        withExtendedLifetime(o) {
            layout.parallelRows { a, b, _, n in
                if ss == 1 && so == 1 { for i in 0..<n { ps[a + i] += alpha * po[b + i] } }
                else { for i in 0..<n { ps[a + i * ss] += alpha * po[b + i * so] } }
            }
        }
    }
    /// `self *= other` (broadcast), in place.
    public func mulInPlace(_ other: Tensor) {
        checkInPlace("mulInPlace")
        let o = other.asF32()
        let layout = StridedLayout(shape: shape, strides: [strides, o.broadcastStrides(to: shape)])
        let ps = floatPointer, po = o.floatPointer
        let ss = layout.innerStrides[0], so = layout.innerStrides[1]
        withExtendedLifetime(o) {
            layout.parallelRows { a, b, _, n in for i in 0..<n { ps[a + i * ss] *= po[b + i * so] } }
        }
    }
    /// `self *= s`, in place.
    public func scaleInPlace(_ s: Float) { mulInPlace(Tensor(scalar: s)) }
    /// Sets every element to `value`, in place.
    public func fill(_ value: Float) {
        checkInPlace("fill")
        let layout = StridedLayout(shape: shape, strides: [strides])
        let ps = floatPointer, ss = layout.innerStrides[0]
        layout.parallelRows { a, _, _, n in for i in 0..<n { ps[a + i * ss] = value } }
    }
    /// Copies `other` (broadcast, any dtype) into this float32 tensor, in place.
    public func copy(from other: Tensor) {
        checkInPlace("copy(from:)")
        let o = other.asF32()
        let layout = StridedLayout(shape: shape, strides: [strides, o.broadcastStrides(to: shape)])
        let ps = floatPointer, po = o.floatPointer
        let ss = layout.innerStrides[0], so = layout.innerStrides[1]
        withExtendedLifetime(o) {
            layout.parallelRows { a, b, _, n in for i in 0..<n { ps[a + i * ss] = po[b + i * so] } }
        }
    }

    func checkInPlace(_ op: String) {
        precondition(dtype == .float32, "\(op): in-place ops need a float32 tensor, got \(dtype)")
        precondition(!(GradMode.isEnabled && _requiresGrad), "\(op): tensor requires grad; do in-place updates inside withNoGrad { }")
        precondition(storage.owner == nil, "\(op): tensor borrows external (possibly read-only, mmap'd) memory; copy it with contiguous() or to(.float32) first")
    }

    /// Internal `self += g` for gradient accumulation (same shape).
    func addInPlaceRaw(_ g: Tensor) {
        let o = g.asF32()
        let layout = StridedLayout(shape: shape, strides: [strides, o.strides])
        let ps = floatPointer, po = o.floatPointer
        let ss = layout.innerStrides[0], so = layout.innerStrides[1]
        withExtendedLifetime(o) {
            layout.parallelRows { a, b, _, n in for i in 0..<n { ps[a + i * ss] += po[b + i * so] } }
        }
    }
}

enum EqMaskOp: BinaryFloatOp { @inline(__always) static func f(_ a: Float, _ b: Float) -> Float { a == b ? 1 : 0 } }
enum LessMaskOp: BinaryFloatOp { @inline(__always) static func f(_ a: Float, _ b: Float) -> Float { a < b ? 1 : 0 } }
enum GreaterMaskOp: BinaryFloatOp { @inline(__always) static func f(_ a: Float, _ b: Float) -> Float { a > b ? 1 : 0 } }
enum LessEqualMaskOp: BinaryFloatOp { @inline(__always) static func f(_ a: Float, _ b: Float) -> Float { a <= b ? 1 : 0 } }

extension Tensor {
    // MARK: - Comparisons (bool results, not differentiable). Integer tensors compare exactly up to 2^24.

    private func compare<Op: BinaryFloatOp>(_ op: Op.Type, _ other: Tensor, _ name: String) -> Tensor {
        withNoGrad { binaryKernel(op, self.detach(), other.detach(), name).to(.bool) }
    }
    /// Elementwise `==` (broadcast), bool tensor.
    public func eq(_ other: Tensor) -> Tensor { compare(EqMaskOp.self, other, "eq") }
    public func eq(_ v: Float) -> Tensor { eq(Tensor(scalar: v)) }
    /// Elementwise `!=`.
    public func ne(_ other: Tensor) -> Tensor { compare(NotEqualMaskOp.self, other, "ne") }
    public func ne(_ v: Float) -> Tensor { ne(Tensor(scalar: v)) }
    /// Elementwise `<`.
    public func lt(_ other: Tensor) -> Tensor { compare(LessMaskOp.self, other, "lt") }
    public func lt(_ v: Float) -> Tensor { lt(Tensor(scalar: v)) }
    /// Elementwise `<=`.
    public func le(_ other: Tensor) -> Tensor { compare(LessEqualMaskOp.self, other, "le") }
    public func le(_ v: Float) -> Tensor { le(Tensor(scalar: v)) }
    /// Elementwise `>`.
    public func gt(_ other: Tensor) -> Tensor { compare(GreaterMaskOp.self, other, "gt") }
    public func gt(_ v: Float) -> Tensor { gt(Tensor(scalar: v)) }
    /// Elementwise `>=`.
    public func ge(_ other: Tensor) -> Tensor { compare(GreaterEqualMaskOp.self, other, "ge") }
    public func ge(_ v: Float) -> Tensor { ge(Tensor(scalar: v)) }

    /// Clamps into [min, max] (either bound optional); the gradient flows where the input was inside.
    public func clamp(min lo: Float? = nil, max hi: Float? = nil) -> Tensor {
        var out = self
        if let lo { out = out.maximum(Tensor(scalar: lo)) }
        if let hi { out = -((-out).maximum(Tensor(scalar: -hi))) }
        return out
    }
}

enum GreaterEqualMaskOp: BinaryFloatOp { @inline(__always) static func f(_ a: Float, _ b: Float) -> Float { a >= b ? 1 : 0 } }
enum NotEqualMaskOp: BinaryFloatOp { @inline(__always) static func f(_ a: Float, _ b: Float) -> Float { a != b ? 1 : 0 } }

/// Free-function spellings that read like the math in model code.
public func silu(_ x: Tensor) -> Tensor { x.silu() }
public func relu(_ x: Tensor) -> Tensor { x.relu() }
public func gelu(_ x: Tensor, approximate: String = "none") -> Tensor { x.gelu(approximate: approximate) }
public func sigmoid(_ x: Tensor) -> Tensor { x.sigmoid() }
public func tanh(_ x: Tensor) -> Tensor { x.tanh() }
public func exp(_ x: Tensor) -> Tensor { x.exp() }
public func log(_ x: Tensor) -> Tensor { x.log() }
public func sqrt(_ x: Tensor) -> Tensor { x.sqrt() }
public func rsqrt(_ x: Tensor) -> Tensor { x.rsqrt() }
