import CQuantKernels
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Tensors

/// A weight matrix [rows, cols] kept in its GGML block format (one row = `cols / blockSize` blocks),
/// for inference without dequantising the model: `gemv` computes `y = W·x` straight from the blocks
/// with float32 activations, as gguf-py's dequantize defines the values (see CQuantKernels.h), so it
/// equals dequantise-then-dot up to summation order. Types with a kernel: Q4_0, Q4_1, Q5_0, Q5_1, Q8_0.
/// The bytes are owned (copied out of the file), 64-byte aligned. On CPUs with AVX-512 VNNI the rows are
/// kept only in the kernel's repacked form (as many bytes as Q4_1 blocks; 36 per 32 values for the others),
/// from which the original blocks come back byte for byte when needed. That is checked at load; a matrix
/// that would not round-trip (a NaN scale) keeps its blocks and no repacked form.
public final class QuantizedMatrix: @unchecked Sendable {
    public let type: GGMLType
    public let rows: Int, cols: Int
    /// Bytes per row.
    public let rowBytes: Int
    /// The GGUF blocks, row after row; nil when `packed` holds them.
    private let data: UnsafeMutableRawPointer?
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
        let t = Int32(type.rawValue)
        var packed = stq_cpu_vnni() != 0 && cols % 32 == 0 && rows > 0 && bytes.baseAddress != nil
            ? UnsafeMutableRawPointer.allocate(byteCount: stq_packed_bytes(t, Int32(cols), Int32(rows)), alignment: 64)
            : nil
        if let target = packed, let src = bytes.baseAddress {
            // Pack straight from the source, a 16-row group at a time (gathered through rowOrder), and
            // unpack each group again: only if every group comes back byte for byte is the copy of the
            // blocks left out.
            let groups = (rows + 15) / 16, groupBytes = stq_packed_bytes(t, Int32(cols), 16)
            let failed = UnsafeMutablePointer<Bool>.allocate(capacity: groups)
            defer { failed.deallocate() }
            failed.initialize(repeating: false, count: groups)
            Parallel.forRanges(groups, grain: Swift.max(1, 65536 / cols)) { range in
                let gathered = UnsafeMutableRawPointer.allocate(byteCount: 16 * rb, alignment: 64)
                let back = UnsafeMutableRawPointer.allocate(byteCount: 16 * rb, alignment: 64)
                defer { gathered.deallocate(); back.deallocate() }
                for g in range {
                    let r0 = g * 16, n = Swift.min(16, rows - r0)
                    for i in 0..<n { (gathered + i * rb).copyMemory(from: src + (rowOrder?[r0 + i] ?? r0 + i) * rb, byteCount: rb) }
                    guard stq_pack_rows(t, gathered, rb, Int32(cols), Int32(n), target + g * groupBytes) == 0,
                          stq_unpack_rows(t, target, Int32(cols), Int32(r0), Int32(n), back, rb) == 0,
                          memcmp(gathered, back, n * rb) == 0 else { failed[g] = true; continue }
                }
            }
            if (0..<groups).contains(where: { failed[$0] }) { target.deallocate(); packed = nil }
        }
        self.packed = packed
        if packed != nil { data = nil; return }
        let copy = UnsafeMutableRawPointer.allocate(byteCount: Swift.max(total, 1), alignment: 64)
        data = copy
        guard let src = bytes.baseAddress else { return }
        if let rowOrder {
            for (i, from) in rowOrder.enumerated() { (copy + i * rb).copyMemory(from: src + from * rb, byteCount: rb) }
        } else {
            copy.copyMemory(from: src, byteCount: total)
        }
    }

    deinit { data?.deallocate(); packed?.deallocate() }

    /// Bytes of the repacked copy the VNNI kernel reads (0 when there is none).
    public var packedByteCount: Int { packed == nil ? 0 : stq_packed_bytes(Int32(type.rawValue), Int32(cols), Int32(rows)) }

    /// Bytes of the matrix in its GGUF blocks (rows × rowBytes).
    public var byteCount: Int { rows * rowBytes }

    /// Bytes held in memory: the blocks, or the repacked copy that replaces them.
    public var residentByteCount: Int { (data == nil ? 0 : byteCount) + packedByteCount }

    /// Whether the GGUF blocks are held as such (false: the repacked copy replaces them, and they are
    /// rebuilt from it on demand).
    public var keepsBlocks: Bool { data != nil }

    /// Copies the GGUF blocks of rows `range` to `destination` (`range.count * rowBytes` bytes).
    public func copyBlocks(_ range: Range<Int>, to destination: UnsafeMutableRawPointer) {
        guard !range.isEmpty else { return }
        if let data {
            destination.copyMemory(from: data + range.lowerBound * rowBytes, byteCount: range.count * rowBytes)
        } else if let packed {
            _ = stq_unpack_rows(Int32(type.rawValue), packed, Int32(cols), Int32(range.lowerBound), Int32(range.count), destination, rowBytes)
        }
    }

    /// Calls `body` with the blocks of rows `range` in pieces of at most 16 rows (rows, pointer):
    /// straight from the kept blocks, or rebuilt from the repacked copy into a small buffer.
    private func withBlocks(_ range: Range<Int>, _ body: (Range<Int>, UnsafeRawPointer) -> Void) {
        if let data { body(range, UnsafeRawPointer(data + range.lowerBound * rowBytes)); return }
        let buf = UnsafeMutableRawPointer.allocate(byteCount: 16 * rowBytes, alignment: 64)
        defer { buf.deallocate() }
        var lo = range.lowerBound
        while lo < range.upperBound {
            let hi = Swift.min(range.upperBound, (lo / 16 + 1) * 16)
            copyBlocks(lo..<hi, to: buf)
            body(lo..<hi, UnsafeRawPointer(buf))
            lo = hi
        }
    }

    /// Dequantises rows `range` into `destination` (`range.count * cols` floats, row after row),
    /// bit for bit as `GGMLDequantizer`. Single-threaded: call it from your own parallel loop.
    public func dequantizeRows(_ range: Range<Int>, into destination: UnsafeMutablePointer<Float>) {
        guard !range.isEmpty else { return }
        if data == nil, let packed {
            _ = stq_dequant_packed(Int32(type.rawValue), packed, Int32(cols), Int32(range.lowerBound), Int32(range.count), destination)
            return
        }
        withBlocks(range) { part, blocks in
            _ = stq_dequant_rows(Int32(type.rawValue), blocks, rowBytes, Int32(cols), Int32(part.count),
                                 destination + (part.lowerBound - range.lowerBound) * cols)
        }
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
            withBlocks(range) { part, blocks in
                _ = stq_gemv_rows(Int32(type.rawValue), blocks, rowBytes, Int32(cols), Int32(part.count),
                                  x + r * cols, sums + r * (cols / 32), yr + (part.lowerBound - range.lowerBound))
            }
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
