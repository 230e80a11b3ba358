import Foundation

extension Kernels {
    /// RoPE tables in Hugging Face's layout: freqs[t, i] = Float(pos[t]) · invFreq[i] (f32), emb = cat(freqs, freqs),
    /// cos/sin: [tokens, headDim]. headDim must be even.
    public static func ropeTables(positionIds: UnsafePointer<Int32>, invFreq: UnsafePointer<Float>, tokens: Int,
                                  headDim: Int, cos: UnsafeMutablePointer<Float>, sin: UnsafeMutablePointer<Float>) {
        let half = headDim / 2
        guard tokens > 0, half > 0 else { return }
        Parallel.forRanges(tokens, grain: rowGrain(headDim, elements: 2048)) { r in
            for t in r {
                let p = Float(positionIds[t])
                let c = cos + t * headDim, s = sin + t * headDim
                for i in 0..<half {
                    let f = p * invFreq[i]
                    let cv = Foundation.cos(f), sv = Foundation.sin(f)
                    c[i] = cv; c[i + half] = cv
                    s[i] = sv; s[i + half] = sv
                }
            }
        }
    }

    /// y = x·cos + rotate_half(x)·sin with rotate_half(x) = cat(-x[D/2:], x[:D/2]); x, y: [tokens, heads, D],
    /// cos/sin: [tokens, D]. x and y may alias.
    public static func ropeForward(x: UnsafePointer<Float>, cos: UnsafePointer<Float>, sin: UnsafePointer<Float>,
                                   y: UnsafeMutablePointer<Float>, tokens: Int, heads: Int, headDim: Int) {
        rope(x, cos, sin, y, tokens, heads, headDim, sign: 1)
    }

    /// The adjoint of `ropeForward` (rotation by the negative angle):
    /// dx[:h] = dy[:h]·cos[:h] + dy[h:]·sin[h:], dx[h:] = dy[h:]·cos[h:] - dy[:h]·sin[:h]. dy and dx may alias.
    public static func ropeBackward(dy: UnsafePointer<Float>, cos: UnsafePointer<Float>, sin: UnsafePointer<Float>,
                                    dx: UnsafeMutablePointer<Float>, tokens: Int, heads: Int, headDim: Int) {
        rope(dy, cos, sin, dx, tokens, heads, headDim, sign: -1)
    }

    /// Forward (sign = 1): a' = a·c₁ - b·s₁, b' = b·c₂ + a·s₂ for halves a, b and table halves 1, 2.
    /// Backward (sign = -1): a' = a·c₁ + b·s₂, b' = b·c₂ - a·s₁.
    private static func rope(_ x: UnsafePointer<Float>, _ cos: UnsafePointer<Float>, _ sin: UnsafePointer<Float>,
                             _ y: UnsafeMutablePointer<Float>, _ tokens: Int, _ heads: Int, _ D: Int, sign: Float) {
        let half = D / 2
        guard tokens > 0, heads > 0, half > 0 else { return }
        let fwd = sign > 0
        Parallel.forRanges(tokens, grain: rowGrain(heads * D)) { r in
            for t in r {
                let c1 = cos + t * D, c2 = c1 + half
                let s1 = sin + t * D, s2 = s1 + half
                // Sines for the a-update and b-update differ between forward and backward.
                let sa = fwd ? s1 : s2, sb = fwd ? s2 : s1
                for h in 0..<heads {
                    let a = x + (t * heads + h) * D, b = a + half
                    let ya = y + (t * heads + h) * D, yb = ya + half
                    var i = 0
                    while i + 16 <= half {
                        let av = load(a + i), bv = load(b + i)
                        let na = av * load(c1 + i) - sign * bv * load(sa + i)
                        let nb = bv * load(c2 + i) + sign * av * load(sb + i)
                        store(na, ya + i); store(nb, yb + i); i += 16
                    }
                    while i < half {
                        let av = a[i], bv = b[i]
                        ya[i] = av * c1[i] - sign * bv * sa[i]
                        yb[i] = bv * c2[i] + sign * av * sb[i]
                        i += 1
                    }
                }
            }
        }
    }
}
