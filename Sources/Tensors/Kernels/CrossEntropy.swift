import Foundation

extension Kernels {
    /// Cross-entropy over [rows, vocab] logits with Int32 targets (Hugging Face / torch `ignore_index`, usually -100).
    /// Writes losses[r] = lse(logits[r]) - logits[r, target[r]] (0 for ignored rows) and lse[r] (0 for ignored rows,
    /// which are not reduced at all); returns the sum of the losses and the number of non-ignored rows.
    /// A target outside 0..<vocab that is not `ignoreIndex` gives a NaN loss (never an out-of-bounds read);
    /// callers validate first with `firstInvalidTarget` to report a proper error.
    public static func crossEntropyForward(logits: UnsafePointer<Float>, targets: UnsafePointer<Int32>,
                                           losses: UnsafeMutablePointer<Float>, lse: UnsafeMutablePointer<Float>,
                                           rows: Int, vocab: Int, ignoreIndex: Int32) -> (sum: Double, count: Int) {
        guard rows > 0, vocab > 0 else { return (0, 0) }
        Parallel.forRanges(rows, grain: rowGrain(vocab, elements: 65536)) { r in
            for row in r {
                let t = targets[row]
                if t == ignoreIndex { losses[row] = 0; lse[row] = 0; continue }
                let xr = logits + row * vocab
                let z = logSumExp(xr, vocab)
                lse[row] = z
                losses[row] = (t >= 0 && Int(t) < vocab) ? z - xr[Int(t)] : .nan
            }
        }
        var sum = 0.0, count = 0
        for row in 0..<rows where targets[row] != ignoreIndex { sum += Double(losses[row]); count += 1 }
        return (sum, count)
    }

    /// dLogits[r, :] = (softmax(logits[r]) - onehot(target[r])) · gradScale, computed as exp(logits - lse);
    /// ignored rows (and invalid targets) get 0.
    public static func crossEntropyBackward(logits: UnsafePointer<Float>, targets: UnsafePointer<Int32>,
                                            lse: UnsafePointer<Float>, gradScale: Float,
                                            dLogits: UnsafeMutablePointer<Float>, rows: Int, vocab: Int,
                                            ignoreIndex: Int32) {
        guard rows > 0, vocab > 0 else { return }
        Parallel.forRanges(rows, grain: rowGrain(vocab, elements: 65536)) { r in
            for row in r {
                let t = targets[row]
                let dr = dLogits + row * vocab
                guard t != ignoreIndex, t >= 0, Int(t) < vocab else { dr.update(repeating: 0, count: vocab); continue }
                let xr = logits + row * vocab
                let z = V16(repeating: lse[row])
                var j = 0
                while j + 16 <= vocab { store(vexpNonPositive(load(xr + j) - z) * gradScale, dr + j); j += 16 }
                while j < vocab { dr[j] = sexp(xr[j] - lse[row]) * gradScale; j += 1 }
                dr[Int(t)] -= gradScale
            }
        }
    }

    /// The first row whose target is neither `ignoreIndex` nor in 0..<vocab, or nil when all are valid.
    public static func firstInvalidTarget(_ targets: UnsafePointer<Int32>, rows: Int, vocab: Int,
                                          ignoreIndex: Int32) -> Int? {
        for row in 0..<rows {
            let t = targets[row]
            if t != ignoreIndex && (t < 0 || Int(t) >= vocab) { return row }
        }
        return nil
    }
}
