// Small SIMD building blocks shared by the kernels: unaligned loads/stores, a vectorised exp, row
// reductions. SIMD16<Float> is used throughout so the code maps onto one AVX-512 register when the
// compiler targets it, and onto four SSE registers otherwise.

typealias V16 = SIMD16<Float>
typealias U16 = SIMD16<UInt32>

extension Kernels {
    @_transparent static func load(_ p: UnsafePointer<Float>) -> V16 {
        UnsafeRawPointer(p).loadUnaligned(as: V16.self)
    }

    @_transparent static func load(_ p: UnsafeMutablePointer<Float>) -> V16 {
        UnsafeRawPointer(p).loadUnaligned(as: V16.self)
    }

    @_transparent static func store(_ v: V16, _ p: UnsafeMutablePointer<Float>) {
        UnsafeMutableRawPointer(p).storeBytes(of: v, as: V16.self)
    }

    /// Loads `n < 16` floats, padding the remaining lanes with `fill`.
    @_transparent static func loadPartial(_ p: UnsafePointer<Float>, _ n: Int, fill: Float) -> V16 {
        var v = V16(repeating: fill)
        for i in 0..<n { v[i] = p[i] }
        return v
    }

    @_transparent static func storePartial(_ v: V16, _ p: UnsafeMutablePointer<Float>, _ n: Int) {
        for i in 0..<n { p[i] = v[i] }
    }

    // The standard library's pointwiseMin/Max lower to a lane-by-lane loop through memory (very slow);
    // a compare + select stays in vector registers.
    @_transparent static func vmin(_ a: V16, _ b: V16) -> V16 { a.replacing(with: b, where: b .< a) }
    @_transparent static func vmax(_ a: V16, _ b: V16) -> V16 { a.replacing(with: b, where: a .< b) }

    /// e^x per lane, about 1 ulp (Cody–Waite range reduction to [-ln2/2, ln2/2], degree-7 polynomial).
    /// Lanes below -87.3 (including -inf) give exactly 0, so masked scores (-inf) vanish; lanes above
    /// 88.7 saturate near Float.greatestFiniteMagnitude instead of overflowing.
    @_transparent static func vexp(_ x: V16) -> V16 {
        vexpCore(x, clampHigh: true)
    }

    /// e^x for x <= 0 (shifted scores, log-probabilities): the same as `vexp` without the upper clamp.
    @_transparent static func vexpNonPositive(_ x: V16) -> V16 {
        vexpCore(x, clampHigh: false)
    }

    @_transparent static func vexpCore(_ x: V16, clampHigh: Bool) -> V16 {
        let lo = V16(repeating: -87.3)
        let xc = clampHigh ? vmax(vmin(x, V16(repeating: 88.7)), lo) : vmax(x, lo)
        // Rounding by adding 1.5·2^23 leaves n in the low mantissa bits of t (round-to-nearest-even).
        let magic = V16(repeating: 12582912.0)
        let t = xc * 1.44269504088896341 + magic
        let n = t - magic
        var r = xc - n * 0.693359375
        r = r - n * -2.12194440e-4
        var p = V16(repeating: 1.9875691500e-4)
        p = p * r + 1.3981999507e-3
        p = p * r + 8.3334519073e-3
        p = p * r + 4.1665795894e-2
        p = p * r + 1.6666665459e-1
        p = p * r + 5.0000001201e-1
        p = p * (r * r) + r + 1
        let tb = unsafeBitCast(t, to: U16.self)
        let scaleBits = (tb &- 0x4B40_0000 &+ 127) &<< 23
        var res = p * unsafeBitCast(scaleBits, to: V16.self)
        res.replace(with: 0, where: x .< lo)
        return res
    }

    /// Scalar e^x with the same semantics as `vexp` (used for tails so a row is computed one way).
    @_transparent static func sexp(_ x: Float) -> Float {
        vexp(V16(repeating: x))[0]
    }

    // Horizontal reductions through the halves (the standard library's sum()/max() go lane by lane).
    @_transparent static func hsum(_ v: V16) -> Float {
        let a = v.lowHalf + v.highHalf
        let b = a.lowHalf + a.highHalf
        return (b[0] + b[2]) + (b[1] + b[3])
    }

    @_transparent static func hmax(_ v: V16) -> Float {
        let a = v.lowHalf.replacing(with: v.highHalf, where: v.lowHalf .< v.highHalf)
        let b = a.lowHalf.replacing(with: a.highHalf, where: a.lowHalf .< a.highHalf)
        return max(max(b[0], b[1]), max(b[2], b[3]))
    }

    /// Maximum of `p[0..<n]` (-inf when n == 0).
    @_transparent static func rowMax(_ p: UnsafePointer<Float>, _ n: Int) -> Float {
        var acc = V16(repeating: -.infinity)
        var j = 0
        while j + 16 <= n { acc = vmax(acc, load(p + j)); j += 16 }
        if j < n { acc = vmax(acc, loadPartial(p + j, n - j, fill: -.infinity)) }
        return hmax(acc)
    }

    /// Sum of `p[0..<n]`.
    @_transparent static func rowSum(_ p: UnsafePointer<Float>, _ n: Int) -> Float {
        var acc = V16()
        var j = 0
        while j + 16 <= n { acc += load(p + j); j += 16 }
        if j < n { acc += loadPartial(p + j, n - j, fill: 0) }
        return hsum(acc)
    }

    /// Dot product of `a[0..<n]` and `b[0..<n]`.
    @_transparent static func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) -> Float {
        var acc = V16()
        var j = 0
        while j + 16 <= n { acc += load(a + j) * load(b + j); j += 16 }
        if j < n { acc += loadPartial(a + j, n - j, fill: 0) * loadPartial(b + j, n - j, fill: 0) }
        return hsum(acc)
    }

    /// In place p[j] = exp(p[j] - shift); returns the sum of the results.
    @_transparent static func expShiftSum(_ p: UnsafeMutablePointer<Float>, _ n: Int, _ shift: Float) -> Float {
        var acc = V16()
        let s = V16(repeating: shift)
        var j = 0
        while j + 16 <= n {
            let e = vexpNonPositive(load(p + j) - s)
            store(e, p + j); acc += e; j += 16
        }
        if j < n {
            let e = vexpNonPositive(loadPartial(p + j, n - j, fill: -.infinity) - s)
            storePartial(e, p + j, n - j); acc += e
        }
        return hsum(acc)
    }

    /// In place p[j] *= a.
    @_transparent static func scaleRow(_ p: UnsafeMutablePointer<Float>, _ n: Int, _ a: Float) {
        var j = 0
        while j + 16 <= n { store(load(p + j) * a, p + j); j += 16 }
        while j < n { p[j] *= a; j += 1 }
    }

    /// A row count per parallel chunk such that each chunk touches about `elements` floats.
    @_transparent static func rowGrain(_ dim: Int, elements: Int = 32768) -> Int {
        max(1, elements / max(dim, 1))
    }
}
