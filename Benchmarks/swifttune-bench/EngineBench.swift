import Foundation
import Tensors

/// Engine benchmarks on SmolLM2-135M's shapes (hidden 576, 9 query / 3 KV heads, head_dim 64,
/// intermediate 1536, vocab 49,152) at (batch 8, seq 64) and (batch 1, seq 512). The PyTorch twin is
/// scripts/bench_torch.py: same shapes, same timing rule, same JSON lines.
enum EngineBench {
    static let hidden = 576, heads = 9, kvHeads = 3, headDim = 64, inter = 1536, vocab = 49152
    static let shapes = [(8, 64), (1, 512)]
    static let rng = RandomGenerator(seed: 0)

    /// `BENCH_CLOCK=cpu`: report the fastest call's process CPU time (all threads) instead of the mean wall
    /// time; with one thread (SWIFTTUNE_THREADS=1 OPENBLAS_NUM_THREADS=1, BENCH_THREADS=1 for the twin) it
    /// measures the work itself, which a loaded machine disturbs far less than wall time.
    static let cpuClock = ProcessInfo.processInfo.environment["BENCH_CLOCK"] == "cpu"
    /// BENCH_CLOCK=median: the median wall time of the calls instead of their mean (one slow call
    /// while another process runs does not move it).
    static let medianClock = ProcessInfo.processInfo.environment["BENCH_CLOCK"] == "median"

    static func cpuSeconds() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    /// Mean seconds per call: 2 warm-up calls, then at least 1 s and 3 calls (see `cpuClock`).
    static func time(_ body: () throws -> Void) rethrows -> Double {
        for _ in 0..<2 { try body() }
        var n = 0
        var fastestCPU = Double.infinity
        var calls: [Double] = []
        let start = DispatchTime.now().uptimeNanoseconds
        while true {
            let c0 = cpuClock ? cpuSeconds() : 0
            let w0 = DispatchTime.now().uptimeNanoseconds
            try body()
            if cpuClock { fastestCPU = min(fastestCPU, cpuSeconds() - c0) }
            calls.append(Double(DispatchTime.now().uptimeNanoseconds - w0) / 1e9)
            n += 1
            let dt = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            if dt >= 1.0 && n >= 3 {
                if cpuClock { return fastestCPU }
                if medianClock { return calls.sorted()[calls.count / 2] }
                return dt / Double(n)
            }
        }
    }

    static func emit(_ bench: String, _ shape: String, _ seconds: Double, flops: Double? = nil) {
        var line = "{\"impl\": \"swifttune\", \"bench\": \"\(bench)\", \"shape\": \"\(shape)\", \"ms\": \(String(format: "%.4f", seconds * 1e3))"
        if let flops { line += ", \"gflops\": \(String(format: "%.2f", flops / seconds / 1e9))" }
        print(line + "}")
        fflush(stdout)
    }

    static func randn(_ shape: [Int], grad: Bool = false) -> Tensor {
        let t = Tensor.randn(shape, generator: rng)
        return grad ? t.requiringGrad() : t
    }

    static func matmul() {
        for (m, k, n) in [(512, 576, 576), (512, 576, 192), (512, 576, 1536), (512, 1536, 576), (512, 576, vocab), (2048, 2048, 2048)] {
            let a = randn([m, k]), w = randn([n, k])
            let s = time { _ = withNoGrad { linear(a, weight: w) } }
            emit("matmul", "\(m)x\(k)x\(n)", s, flops: 2.0 * Double(m * n * k))
        }
    }

    static func attention() {
        for (b, t) in shapes {
            let q = randn([b, t, heads, headDim], grad: true)
            let k = randn([b, t, kvHeads, headDim], grad: true)
            let v = randn([b, t, kvHeads, headDim], grad: true)
            let g = randn([b, t, heads, headDim])
            let s = time {
                let o = scaledDotProductAttention(q: q, k: k, v: v, causal: true)
                o.backward(gradient: g)
                q.zeroGrad(); k.zeroGrad(); v.zeroGrad()
            }
            emit("attention_fwd_bwd", "b\(b)_t\(t)", s)
        }
    }

    static func crossEntropyBench() throws {
        for (b, t) in shapes {
            let logits = randn([b * t, vocab], grad: true)
            let targets = Tensor((0..<(b * t)).map { _ in Int(rng.next() % UInt64(vocab)) }, shape: [b * t])
            let s = try time {
                try crossEntropy(logits: logits, targets: targets).backward()
                logits.zeroGrad()
            }
            emit("cross_entropy_fwd_bwd", "b\(b)_t\(t)", s)
        }
    }

    /// One Llama decoder block from the engine's ops, forward and backward, every weight trainable
    /// (as transformers' LlamaDecoderLayer in the twin).
    static func block() {
        func weight(_ out: Int, _ inp: Int) -> Tensor {
            (Tensor.randn([out, inp], generator: rng) * (1 / Float(inp).squareRoot())).detach().requiringGrad()
        }
        let wq = weight(heads * headDim, hidden), wk = weight(kvHeads * headDim, hidden), wv = weight(kvHeads * headDim, hidden)
        let wo = weight(hidden, heads * headDim), wg = weight(inter, hidden), wu = weight(inter, hidden), wd = weight(hidden, inter)
        let n1 = Tensor.ones([hidden]).requiringGrad(), n2 = Tensor.ones([hidden]).requiringGrad()
        let params = [wq, wk, wv, wo, wg, wu, wd, n1, n2]
        for (b, t) in shapes {
            let x = randn([b, t, hidden], grad: true)
            let g = randn([b, t, hidden])
            let positions = Tensor((0..<(b * t)).map { $0 % t }, shape: [b, t])
            let s = time {
                let tables = RopeTables(positionIds: positions, headDim: headDim, theta: 100_000)
                let h = rmsNorm(x, weight: n1, eps: 1e-5)
                let q = linear(h, weight: wq).reshape([b, t, heads, headDim])
                let k = linear(h, weight: wk).reshape([b, t, kvHeads, headDim])
                let v = linear(h, weight: wv).reshape([b, t, kvHeads, headDim])
                let (qr, kr) = applyRotaryEmbedding(q: q, k: k, tables: tables)
                let a = scaledDotProductAttention(q: qr, k: kr, v: v, causal: true).reshape([b, t, heads * headDim])
                let x2 = x + linear(a, weight: wo)
                let h2 = rmsNorm(x2, weight: n2, eps: 1e-5)
                let out = x2 + linear(siluMul(linear(h2, weight: wg), linear(h2, weight: wu)), weight: wd)
                out.backward(gradient: g)
                for p in params { p.zeroGrad() }
                x.zeroGrad()
            }
            emit("decoder_block_fwd_bwd", "b\(b)_t\(t)", s)
        }
    }
}
