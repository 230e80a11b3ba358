import Tensors

/// Turns GGML blocks into floats, bit for bit as `gguf.quants.dequantize` (gguf-py) computes them.
///
/// Bit-exactness rests on doing each float operation in float32, in the reference's order:
/// scales are converted from f16 first, then e.g. `(d * sc) * q - (dmin * m)` for the K-quants and
/// `d * q + m` for Q4_1/Q5_1 (never fused into an FMA).
public enum GGMLDequantizer {
    /// Dequantises a whole tensor: `source` holds whole blocks, `destination` receives
    /// `source.count / typeSize * blockSize` floats. Runs in parallel over blocks.
    public static func dequantize(_ type: GGMLType, from source: UnsafeRawBufferPointer,
                                  into destination: UnsafeMutableBufferPointer<Float>) throws {
        guard type.canDequantize else { throw QuantizationError.unsupportedType(type, operation: "dequantisation") }
        guard source.count % type.typeSize == 0 else { throw QuantizationError.partialBlock(type: type, byteCount: source.count) }
        let blocks = source.count / type.typeSize
        let needed = blocks * type.blockSize
        guard destination.count >= needed else { throw QuantizationError.destinationTooSmall(needed: needed, available: destination.count) }
        guard blocks > 0, let src = source.baseAddress, let dst = destination.baseAddress else { return }
        // About 16 K values per task: below that a dispatch costs more than it saves.
        let grain = max(1, 16384 / type.blockSize)
        Parallel.forRanges(blocks, grain: grain) { range in
            dequantizeBlocks(type, source: src + range.lowerBound * type.typeSize, blocks: range.count,
                             destination: dst + range.lowerBound * type.blockSize)
        }
    }

    /// Dequantises a whole tensor into a new array.
    public static func dequantize(_ type: GGMLType, _ source: UnsafeRawBufferPointer) throws -> [Float] {
        guard type.canDequantize else { throw QuantizationError.unsupportedType(type, operation: "dequantisation") }
        guard source.count % type.typeSize == 0 else { throw QuantizationError.partialBlock(type: type, byteCount: source.count) }
        let count = source.count / type.typeSize * type.blockSize
        var error: Error?
        let out = [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
            do { try dequantize(type, from: source, into: buffer) } catch let e { error = e; buffer.initialize(repeating: 0) }
            initialized = count
        }
        if let error { throw error }
        return out
    }

    /// Dequantises rows `rows` of a 2-D tensor whose rows hold `rowLength` values each (GGML's `ne[0]`,
    /// a multiple of the block size), for tiles of a weight. `source` is the whole tensor's data;
    /// `destination` receives `rows.count * rowLength` floats, row after row.
    public static func dequantizeRows(_ type: GGMLType, from source: UnsafeRawBufferPointer, rowLength: Int,
                                      rows: Range<Int>, into destination: UnsafeMutableBufferPointer<Float>) throws {
        guard type.canDequantize else { throw QuantizationError.unsupportedType(type, operation: "dequantisation") }
        guard rowLength > 0, let rowBytes = type.byteCount(elements: rowLength) else {
            throw QuantizationError.partialBlockElements(type: type, elementCount: rowLength)
        }
        guard source.count % rowBytes == 0 else {
            throw QuantizationError.partialRow(type: type, byteCount: source.count, rowBytes: rowBytes)
        }
        let rowCount = source.count / rowBytes
        guard rows.lowerBound >= 0, rows.upperBound <= rowCount else { throw QuantizationError.rowsOutOfRange(rows: rows, rowCount: rowCount) }
        let needed = rows.count * rowLength
        guard destination.count >= needed else { throw QuantizationError.destinationTooSmall(needed: needed, available: destination.count) }
        guard !rows.isEmpty, let src = source.baseAddress, let dst = destination.baseAddress else { return }
        let slice = UnsafeRawBufferPointer(start: src + rows.lowerBound * rowBytes, count: rows.count * rowBytes)
        try dequantize(type, from: slice, into: UnsafeMutableBufferPointer(start: dst, count: needed))
    }

    /// The single-threaded kernel: `blocks` blocks from `source` to `blocks * blockSize` floats at
    /// `destination`. No checks: callers validate sizes (use it for tiles inside your own parallel loop).
    public static func dequantizeBlocks(_ type: GGMLType, source: UnsafeRawPointer, blocks: Int,
                                        destination: UnsafeMutablePointer<Float>) {
        switch type {
        case .f32: UnsafeMutableRawPointer(destination).copyMemory(from: source, byteCount: blocks * 4)
        case .f16: f16(source, blocks, destination)
        case .bf16: bf16(source, blocks, destination)
        case .q8_0: q8_0(source, blocks, destination)
        case .q4_0: q4_0(source, blocks, destination)
        case .q4_1: q4_1(source, blocks, destination)
        case .q5_0: q5_0(source, blocks, destination)
        case .q5_1: q5_1(source, blocks, destination)
        case .q2_K: q2_K(source, blocks, destination)
        case .q3_K: q3_K(source, blocks, destination)
        case .q4_K: q4_K(source, blocks, destination)
        case .q5_K: q5_K(source, blocks, destination)
        case .q6_K: q6_K(source, blocks, destination)
        default: destination.initialize(repeating: .nan, count: blocks * type.blockSize)
        }
    }

    // MARK: kernels (layouts as in ggml-common.h; arithmetic as in gguf-py's quants.py)

    @inline(__always) static func half(_ p: UnsafeRawPointer, _ offset: Int) -> Float {
        Half.toFloat(p.loadUnaligned(fromByteOffset: offset, as: UInt16.self))
    }

    static func f16(_ src: UnsafeRawPointer, _ n: Int, _ dst: UnsafeMutablePointer<Float>) {
        let table = Half.table
        for i in 0..<n { dst[i] = table[Int(src.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))] }
    }

    static func bf16(_ src: UnsafeRawPointer, _ n: Int, _ dst: UnsafeMutablePointer<Float>) {
        for i in 0..<n { dst[i] = Float(bitPattern: UInt32(src.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)) << 16) }
    }

    // block_q8_0 { f16 d; i8 qs[32] }: x * d
    static func q8_0(_ src: UnsafeRawPointer, _ n: Int, _ dst: UnsafeMutablePointer<Float>) {
        for b in 0..<n {
            let p = src + b * 34
            let d = half(p, 0)
            let qs = (p + 2).assumingMemoryBound(to: Int8.self)
            let out = dst + b * 32
            for j in 0..<32 { out[j] = Float(qs[j]) * d }
        }
    }

    // block_q4_0 { f16 d; u8 qs[16] }: low nibbles are values 0..15, high nibbles 16..31; d * (q - 8)
    static func q4_0(_ src: UnsafeRawPointer, _ n: Int, _ dst: UnsafeMutablePointer<Float>) {
        for b in 0..<n {
            let p = src + b * 18
            let d = half(p, 0)
            let qs = (p + 2).assumingMemoryBound(to: UInt8.self)
            let out = dst + b * 32
            for j in 0..<16 {
                out[j] = d * Float(Int32(qs[j] & 0x0F) - 8)
                out[j + 16] = d * Float(Int32(qs[j] >> 4) - 8)
            }
        }
    }

    // block_q4_1 { f16 d; f16 m; u8 qs[16] }: d * q + m
    static func q4_1(_ src: UnsafeRawPointer, _ n: Int, _ dst: UnsafeMutablePointer<Float>) {
        for b in 0..<n {
            let p = src + b * 20
            let d = half(p, 0), m = half(p, 2)
            let qs = (p + 4).assumingMemoryBound(to: UInt8.self)
            let out = dst + b * 32
            for j in 0..<16 {
                out[j] = d * Float(qs[j] & 0x0F) + m
                out[j + 16] = d * Float(qs[j] >> 4) + m
            }
        }
    }

    /// The fifth bits of a Q5 block: lane j holds bit (j + first) of qh, moved to bit 4. Uniform vector
    /// ops only: each byte of qh is broadcast to 8 lanes and masked with that lane's bit; then for
    /// x ∈ {0, 2ᵏ} (k < 8), (0 − x) has its top bit set exactly when x ≠ 0.
    @inline(__always) static func fifthBits(_ qh: UInt32, _ first: UInt32) -> SIMD16<UInt8> {
        let b0 = UInt64((qh >> first) & 0xFF) &* 0x0101_0101_0101_0101
        let b1 = UInt64((qh >> (first + 8)) & 0xFF) &* 0x0101_0101_0101_0101
        let v = unsafeBitCast(SIMD2<UInt64>(b0, b1), to: SIMD16<UInt8>.self)
        let laneBit = unsafeBitCast(SIMD2<UInt64>(0x8040_2010_0804_0201, 0x8040_2010_0804_0201), to: SIMD16<UInt8>.self)
        return ((SIMD16<UInt8>(repeating: 0) &- (v & laneBit)) &>> 7) &<< 4
    }

    // block_q5_0 { f16 d; u8 qh[4]; u8 qs[16] }: bit j of qh is the fifth bit of value j; d * (q - 16)
    static func q5_0(_ src: UnsafeRawPointer, _ n: Int, _ dst: UnsafeMutablePointer<Float>) {
        for b in 0..<n {
            let p = src + b * 22
            let d = half(p, 0)
            let qh = p.loadUnaligned(fromByteOffset: 2, as: UInt32.self).littleEndian
            let qs = load16((p + 6).assumingMemoryBound(to: UInt8.self))
            let out = dst + b * 32
            store16(d * floats((qs & 0x0F) | fifthBits(qh, 0), minus: 16), out)
            store16(d * floats((qs &>> 4) | fifthBits(qh, 16), minus: 16), out + 16)
        }
    }

    // block_q5_1 { f16 d; f16 m; u8 qh[4]; u8 qs[16] }: d * q + m
    static func q5_1(_ src: UnsafeRawPointer, _ n: Int, _ dst: UnsafeMutablePointer<Float>) {
        for b in 0..<n {
            let p = src + b * 24
            let d = half(p, 0), m = half(p, 2)
            let qh = p.loadUnaligned(fromByteOffset: 4, as: UInt32.self).littleEndian
            let qs = load16((p + 8).assumingMemoryBound(to: UInt8.self))
            let out = dst + b * 32
            store16(d * floats((qs & 0x0F) | fifthBits(qh, 0), minus: 0) + m, out)
            store16(d * floats((qs &>> 4) | fifthBits(qh, 16), minus: 0) + m, out + 16)
        }
    }

    // block_q2_K { u8 scales[16]; u8 qs[64]; f16 d; f16 dmin }: (d * sc) * q - (dmin * m), 16 sub-blocks of 16
    static func q2_K(_ src: UnsafeRawPointer, _ n: Int, _ dst: UnsafeMutablePointer<Float>) {
        for b in 0..<n {
            let p = src + b * 84
            let scales = p.assumingMemoryBound(to: UInt8.self)
            let qs = scales + 16
            let d = half(p, 80), dmin = half(p, 82)
            let out = dst + b * 256
            for g in 0..<2 {
                for s in 0..<4 {
                    let shift = UInt8(2 * s)
                    for half16 in 0..<2 {
                        let e0 = g * 128 + s * 32 + half16 * 16
                        let sc = scales[e0 / 16]
                        let dl = d * Float(sc & 0x0F), ml = dmin * Float(sc >> 4)
                        let q = (load16(qs + g * 32 + half16 * 16) &>> shift) & 3
                        store16(dl * floats(q, minus: 0) - ml, out + e0)
                    }
                }
            }
        }
    }

    // block_q3_K { u8 hmask[32]; u8 qs[64]; u8 scales[12]; f16 d }: (d * (sc - 32)) * (q2 - 4·!hbit)
    static func q3_K(_ src: UnsafeRawPointer, _ n: Int, _ dst: UnsafeMutablePointer<Float>) {
        var dl = [Float](repeating: 0, count: 16)
        dl.withUnsafeMutableBufferPointer { dl in
            for b in 0..<n {
                let p = src + b * 110
                let hmask = p.assumingMemoryBound(to: UInt8.self)
                let qs = hmask + 32
                let sc = hmask + 96
                let d = half(p, 108)
                for j in 0..<16 {
                    let low = j < 8 ? sc[j] & 0x0F : (sc[j - 8] >> 4) & 0x0F
                    let high = (sc[8 + j % 4] >> UInt8(2 * (j / 4))) & 3
                    dl[j] = d * Float(Int32(low | high << 4) - 32)
                }
                let out = dst + b * 256
                for g in 0..<2 {
                    for s in 0..<4 {
                        let shift = UInt8(2 * s)
                        let i = g * 4 + s  // hmask bit: element / 32
                        for half16 in 0..<2 {
                            let e0 = g * 128 + s * 32 + half16 * 16
                            let scale = dl[e0 / 16]
                            // q2 - 4·(1 - hbit) = (q2 | hbit << 2) - 4, since q2 < 4.
                            let q2 = (load16(qs + g * 32 + half16 * 16) &>> shift) & 3
                            let hbit = (load16(hmask + half16 * 16) &>> UInt8(i)) & 1
                            store16(scale * floats(q2 | (hbit &<< 2), minus: 4), out + e0)
                        }
                    }
                }
            }
        }
    }

    /// The 6-bit scales and mins of Q4_K/Q5_K (`get_scale_min_k4`).
    @inline(__always)
    static func scaleMinK4(_ s: UnsafePointer<UInt8>, _ k: Int) -> (UInt8, UInt8) {
        if k < 4 { return (s[k] & 0x3F, s[k + 4] & 0x3F) }
        return ((s[k + 4] & 0x0F) | ((s[k - 4] >> 2) & 0x30), (s[k + 4] >> 4) | ((s[k] >> 2) & 0x30))
    }

    // block_q4_K { f16 d; f16 dmin; u8 scales[12]; u8 qs[128] }: (d * sc) * q - (dmin * m), 8 sub-blocks of 32
    static func q4_K(_ src: UnsafeRawPointer, _ n: Int, _ dst: UnsafeMutablePointer<Float>) {
        for b in 0..<n {
            let p = src + b * 144
            let d = half(p, 0), dmin = half(p, 2)
            let scales = (p + 4).assumingMemoryBound(to: UInt8.self)
            let qs = scales + 12
            let out = dst + b * 256
            for g in 0..<4 {
                for s in 0..<2 {
                    let sub = g * 2 + s
                    let (sc, m) = scaleMinK4(scales, sub)
                    let dd = d * Float(sc), dm = dmin * Float(m)
                    let shift = UInt8(4 * s)
                    let q = qs + g * 32
                    let o = out + sub * 32
                    for j in 0..<32 { o[j] = dd * Float((q[j] >> shift) & 0x0F) - dm }
                }
            }
        }
    }

    // block_q5_K { f16 d; f16 dmin; u8 scales[12]; u8 qh[32]; u8 qs[128] }
    static func q5_K(_ src: UnsafeRawPointer, _ n: Int, _ dst: UnsafeMutablePointer<Float>) {
        for b in 0..<n {
            let p = src + b * 176
            let d = half(p, 0), dmin = half(p, 2)
            let scales = (p + 4).assumingMemoryBound(to: UInt8.self)
            let qh = scales + 12
            let qs = qh + 32
            let out = dst + b * 256
            for g in 0..<4 {
                for s in 0..<2 {
                    let sub = g * 2 + s
                    let (sc, m) = scaleMinK4(scales, sub)
                    let dd = d * Float(sc), dm = dmin * Float(m)
                    let shift = UInt8(4 * s)
                    let hshift = UInt8(sub)
                    let q = qs + g * 32
                    let o = out + sub * 32
                    for half16 in 0..<2 {
                        let lo = (load16(q + half16 * 16) &>> shift) & 0x0F
                        let hi = ((load16(qh + half16 * 16) &>> hshift) & 1) &<< 4
                        store16(dd * floats(lo | hi, minus: 0) - dm, o + half16 * 16)
                    }
                }
            }
        }
    }

    @inline(__always) static func load16(_ p: UnsafePointer<UInt8>) -> SIMD16<UInt8> {
        UnsafeRawPointer(p).loadUnaligned(as: SIMD16<UInt8>.self)
    }

    /// Small unsigned integers (< 2²³) to Float, minus `offset`, exactly: the bits 0x4B000000 | q are the
    /// float 2²³ + q, so subtracting 2²³ + offset leaves q − offset with no rounding. Swift's generic
    /// SIMD int → float initialiser is not inlined here, which left the kernels scalar.
    @inline(__always) static func floats(_ q: SIMD16<UInt8>, minus offset: Float) -> SIMD16<Float> {
        // Lane by lane (the stdlib's generic widening initialiser is not inlined); LLVM turns this into unpacks.
        var bits = SIMD16<UInt32>(repeating: 0x4B00_0000)
        for i in 0..<16 { bits[i] |= UInt32(q[i]) }
        return unsafeBitCast(bits, to: SIMD16<Float>.self) - (8_388_608 + offset)
    }

    @inline(__always) static func store16(_ v: SIMD16<Float>, _ p: UnsafeMutablePointer<Float>) {
        UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD16<Float>.self)
    }

    // block_q6_K { u8 ql[128]; u8 qh[64]; i8 scales[16]; f16 d }: (d * sc) * (q - 32), 16 sub-blocks of 16
    static func q6_K(_ src: UnsafeRawPointer, _ n: Int, _ dst: UnsafeMutablePointer<Float>) {
        for b in 0..<n {
            let p = src + b * 210
            let ql = p.assumingMemoryBound(to: UInt8.self)
            let qh = ql + 128
            let scales = (p + 192).assumingMemoryBound(to: Int8.self)
            let d = half(p, 208)
            let out = dst + b * 256
            for g in 0..<2 {
                for s in 0..<4 {
                    // Values g*128 + s*32 ..< +32: low nibbles of ql[g*64 + (s%2)*32 + j] (s<2: low, else high),
                    // two high bits from qh[g*32 + j] at bit 2s.
                    let lshift = UInt8(4 * (s / 2))
                    let l = ql + g * 64 + (s % 2) * 32
                    let hshift = UInt8(2 * s)
                    let h = qh + g * 32
                    for half16 in 0..<2 {
                        let e0 = g * 128 + s * 32 + half16 * 16
                        let scale = d * Float(scales[e0 / 16])
                        let lo = (load16(l + half16 * 16) &>> lshift) & 0x0F
                        let hi = ((load16(h + half16 * 16) &>> hshift) & 3) &<< 4
                        store16(floats(lo | hi, minus: 32) * scale, out + e0)
                    }
                }
            }
        }
    }
}
