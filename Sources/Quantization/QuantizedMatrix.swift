import CQuantKernels
import Tensors

/// A weight matrix [rows, cols] kept in its GGML block format (one row = `cols / blockSize` blocks),
/// for inference without dequantising the model: `gemv` computes `y = W·x` straight from the blocks
/// with float32 activations, as gguf-py's dequantize defines the values (see CQuantKernels.h), so it
/// equals dequantise-then-dot up to summation order. Types with a kernel: Q4_0, Q4_1, Q5_0, Q5_1, Q8_0.
/// The bytes are owned (copied out of the file), 64-byte aligned.
public final class QuantizedMatrix: @unchecked Sendable {
    public let type: GGMLType
    public let rows: Int, cols: Int
    /// Bytes per row.
    public let rowBytes: Int
    let data: UnsafeMutableRawPointer
    /// The same rows repacked for the AVX-512 VNNI kernel (nil on CPUs without it).
    private(set) var packed: UnsafeMutableRawPointer?

    /// Whether `type` has a GEMV kernel (other types must be dequantised).
    public static func hasKernel(_ type: GGMLType) -> Bool { stq_has_kernel(Int32(type.rawValue)) != 0 }

    /// The instruction set the kernels use on this CPU: "avx512", "avx2" or "portable".
    public static var kernelISA: String { ["portable", "avx2", "avx512", "avx512-vnni"][Int(stq_isa())] }

    /// Caps the kernels' instruction set (0 portable, 1 AVX2, 2 AVX-512, 3 AVX-512 VNNI on repacked
    /// rows; lowered to what the CPU has)
    /// and returns the level in use. For tests and measurements; call it while no kernel runs.
    @discardableResult
    public static func setKernelISA(maxLevel: Int) -> Int { Int(stq_set_isa(Int32(maxLevel))) }

    /// Copies `rows * rowBytes` bytes of `type` blocks. `rowOrder[i]` (if given) is the source row
    /// that becomes row i (a permutation), e.g. to undo llama.cpp's Q/K row interleaving.
    public init(type: GGMLType, rows: Int, cols: Int, bytes: UnsafeRawBufferPointer, rowOrder: [Int]? = nil) throws {
        guard Self.hasKernel(type) else { throw QuantizationError.unsupportedType(type, operation: "quantised matrix-vector products") }
        guard rows >= 0, cols > 0, let rb = type.byteCount(elements: cols) else {
            throw QuantizationError.partialBlockElements(type: type, elementCount: cols)
        }
        let (total, overflow) = rows.multipliedReportingOverflow(by: rb)
        guard !overflow, bytes.count == total else { throw QuantizationError.partialRow(type: type, byteCount: bytes.count, rowBytes: rb) }
        if let rowOrder {
            guard rowOrder.count == rows, Set(rowOrder).count == rows, rowOrder.allSatisfy({ (0..<rows).contains($0) }) else {
                throw QuantizationError.rowsOutOfRange(rows: 0..<rowOrder.count, rowCount: rows)
            }
        }
        self.type = type; self.rows = rows; self.cols = cols; rowBytes = rb
        data = UnsafeMutableRawPointer.allocate(byteCount: Swift.max(total, 1), alignment: 64)
        packed = stq_cpu_vnni() != 0 && cols % 32 == 0 && rows > 0
            ? UnsafeMutableRawPointer.allocate(byteCount: stq_packed_bytes(Int32(type.rawValue), Int32(cols), Int32(rows)), alignment: 64)
            : nil
        guard let src = bytes.baseAddress else { return }
        if let rowOrder {
            for (i, from) in rowOrder.enumerated() { (data + i * rb).copyMemory(from: src + from * rb, byteCount: rb) }
        } else {
            data.copyMemory(from: src, byteCount: total)
        }
        if let packed {
            // Group-major layout: each range of 16-row groups packs on its own.
            let groups = (rows + 15) / 16, groupBytes = stq_packed_bytes(Int32(type.rawValue), Int32(cols), 16)
            let failed = UnsafeMutablePointer<Bool>.allocate(capacity: groups)
            defer { failed.deallocate() }
            failed.initialize(repeating: false, count: groups)
            Parallel.forRanges(groups, grain: Swift.max(1, 65536 / cols)) { r in
                let r0 = r.lowerBound * 16, n = Swift.min(rows, r.upperBound * 16) - r0
                failed[r.lowerBound] = stq_pack_rows(Int32(type.rawValue), data + r0 * rb, rb, Int32(cols), Int32(n),
                                                     packed + r.lowerBound * groupBytes) != 0
            }
            if (0..<groups).contains(where: { failed[$0] }) { packed.deallocate(); self.packed = nil }
        }
    }

    deinit { data.deallocate(); packed?.deallocate() }

    /// Bytes of the repacked copy the VNNI kernel reads (0 when there is none).
    public var packedByteCount: Int { packed == nil ? 0 : stq_packed_bytes(Int32(type.rawValue), Int32(cols), Int32(rows)) }

    /// Bytes held.
    public var byteCount: Int { rows * rowBytes }

    /// The raw blocks of row `i` (no bounds check; callers stay below `rows`).
    public func rowPointer(_ i: Int) -> UnsafeRawPointer { UnsafeRawPointer(data + i * rowBytes) }

    /// Dequantises rows `range` into `destination` (`range.count * cols` floats, row after row),
    /// bit for bit as `GGMLDequantizer`. Single-threaded: call it from your own parallel loop.
    public func dequantizeRows(_ range: Range<Int>, into destination: UnsafeMutablePointer<Float>) {
        guard !range.isEmpty else { return }
        _ = stq_dequant_rows(Int32(type.rawValue), rowPointer(range.lowerBound), rowBytes, Int32(cols), Int32(range.count), destination)
    }

    /// All values as float32 [rows * cols].
    public func dequantized() -> [Float] {
        [Float](unsafeUninitializedCapacity: rows * cols) { buf, n in
            if let base = buf.baseAddress {
                Parallel.forRanges(rows, grain: Swift.max(1, 16384 / cols)) { r in dequantizeRows(r, into: base + r.lowerBound * cols) }
            }
            n = rows * cols
        }
    }

    /// Per-32-block sums of x (`cols / 32` floats), read by the Q4_1/Q5_1 kernels' `m·Σx` term.
    @inline(__always)
    public static func blockSums(_ x: UnsafePointer<Float>, _ n: Int, into s: UnsafeMutablePointer<Float>) {
        for b in 0..<(n / 32) {
            let xb = UnsafeRawPointer(x + b * 32)
            let v = xb.loadUnaligned(as: SIMD16<Float>.self) + xb.loadUnaligned(fromByteOffset: 64, as: SIMD16<Float>.self)
            s[b] = v.sum()
        }
    }

    /// `y[r, j] = Σ_k W[j, k] · x[r, k]` (+ `bias[j]`) for `xRows` rows of x [xRows, cols], y
    /// [xRows, rows], the output rows split over the `Parallel` workers (`parallel: false` runs it on
    /// the calling thread, for callers that parallelise around it).
    public func gemv(x: UnsafePointer<Float>, xRows: Int, y: UnsafeMutablePointer<Float>, bias: UnsafePointer<Float>? = nil,
                     parallel: Bool = true) {
        let sums = UnsafeMutablePointer<Float>.allocate(capacity: Swift.max(1, xRows * cols / 32))
        defer { sums.deallocate() }
        for r in 0..<xRows { Self.blockSums(x + r * cols, cols, into: sums + r * (cols / 32)) }
        let body = { (range: Range<Int>) in self.gemvRows(range, x: x, xRows: xRows, sums: sums, y: y, bias: bias) }
        if parallel {
            // About 64 K multiply-adds per task at least: below that a dispatch costs more than it saves.
            Parallel.forRanges(rows, grain: Swift.max(8, 65536 / cols), body)
        } else {
            body(0..<rows)
        }
    }

    /// The kernel over output rows `range` (no threading); `sums` holds `blockSums` of every x row.
    public func gemvRows(_ range: Range<Int>, x: UnsafePointer<Float>, xRows: Int, sums: UnsafePointer<Float>,
                         y: UnsafeMutablePointer<Float>, bias: UnsafePointer<Float>?) {
        guard !range.isEmpty else { return }
        for r in 0..<xRows {
            if let packed, packedRows(range, packed, x: x + r * cols, sums: sums + r * (cols / 32), y: y + r * rows) {
                if let bias { for j in range { y[r * rows + j] += bias[j] } }
                continue
            }
            let yr = y + r * rows + range.lowerBound
            _ = stq_gemv_rows(Int32(type.rawValue), rowPointer(range.lowerBound), rowBytes, Int32(cols), Int32(range.count),
                              x + r * cols, sums + r * (cols / 32), yr)
            if let bias { for j in 0..<range.count { yr[j] += bias[range.lowerBound + j] } }
        }
    }

    /// Rows `range` of y (full rows of the output, y[j] for j in range) from the VNNI kernel; false
    /// (nothing written) when it is not in use or x holds inf/nan.
    private func packedRows(_ range: Range<Int>, _ packed: UnsafeMutableRawPointer, x: UnsafePointer<Float>,
                            sums: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>) -> Bool {
        guard stq_has_vnni() != 0 else { return false }
        let t = Int32(type.rawValue), n = Int32(cols)
        return withUnsafeTemporaryAllocation(of: Int8.self, capacity: 4 * cols) { parts in
            withUnsafeTemporaryAllocation(of: Float.self, capacity: cols / 32 + 16) { buf in
                let scale = buf.baseAddress!, tmp = scale + cols / 32
                guard stq_prepare_x(x, n, parts.baseAddress!, scale) == 0 else { return false }
                var g = range.lowerBound / 16
                let gEnd = (range.upperBound + 15) / 16
                while g < gEnd {
                    let lo = g * 16
                    if lo >= range.lowerBound && lo + 16 <= range.upperBound {
                        var e = g + 1
                        while (e + 1) * 16 <= range.upperBound { e += 1 }   // a run of whole groups, written in place
                        _ = stq_gemv_packed(t, packed, n, Int32(g), Int32(e), parts.baseAddress!, scale, sums, y + lo)
                        g = e
                    } else {                                                // a group the range cuts
                        _ = stq_gemv_packed(t, packed, n, Int32(g), Int32(g + 1), parts.baseAddress!, scale, sums, tmp)
                        for j in Swift.max(lo, range.lowerBound)..<Swift.min(lo + 16, range.upperBound) { y[j] = tmp[j - lo] }
                        g += 1
                    }
                }
                return true
            }
        }
    }
}
