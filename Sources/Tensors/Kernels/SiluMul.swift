extension Kernels {
    /// SwiGLU gate: out = silu(gate) · up = gate · sigmoid(gate) · up, elementwise over `count` values.
    public static func siluMulForward(gate: UnsafePointer<Float>, up: UnsafePointer<Float>,
                                      out: UnsafeMutablePointer<Float>, count: Int) {
        guard count > 0 else { return }
        Parallel.forRanges(count, grain: 32768) { r in
            var i = r.lowerBound
            while i + 16 <= r.upperBound {
                let g = load(gate + i)
                store(g / (1 + vexp(-g)) * load(up + i), out + i); i += 16
            }
            while i < r.upperBound { let g = gate[i]; out[i] = g / (1 + sexp(-g)) * up[i]; i += 1 }
        }
    }

    /// With s = sigmoid(gate): dGate = dOut · up · s · (1 + gate · (1 - s)), dUp = dOut · gate · s.
    public static func siluMulBackward(gate: UnsafePointer<Float>, up: UnsafePointer<Float>, dOut: UnsafePointer<Float>,
                                       dGate: UnsafeMutablePointer<Float>, dUp: UnsafeMutablePointer<Float>, count: Int) {
        guard count > 0 else { return }
        Parallel.forRanges(count, grain: 32768) { r in
            var i = r.lowerBound
            while i + 16 <= r.upperBound {
                let g = load(gate + i), u = load(up + i), d = load(dOut + i)
                let s = 1 / (1 + vexp(-g))
                let gs = g * s
                store(d * u * (s + gs * (1 - s)), dGate + i)
                store(d * gs, dUp + i)
                i += 16
            }
            while i < r.upperBound {
                let g = gate[i], u = up[i], d = dOut[i]
                let s = 1 / (1 + sexp(-g))
                let gs = g * s
                dGate[i] = d * u * (s + gs * (1 - s)); dUp[i] = d * gs
                i += 1
            }
        }
    }
}
