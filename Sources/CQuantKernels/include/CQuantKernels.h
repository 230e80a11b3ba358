#ifndef CQUANTKERNELS_H
#define CQUANTKERNELS_H
#include <stddef.h>

/// Dot products of GGML-quantised weight rows with a float32 vector, from the block values exactly
/// as gguf-py's dequantize defines them (scales converted from f16 first), with f32 activations:
///   Q8_0: d·Σq·x            Q4_0: d·Σ(q−8)·x        Q5_0: d·Σ(q−16)·x
///   Q4_1: d·Σq·x + m·Σx     Q5_1: d·Σq·x + m·Σx     (Σx per 32-block, `xsum`, computed once per input row)
/// Only the summation order differs from dequantise-then-dot.
///
/// type: the GGML type id (2 Q4_0, 3 Q4_1, 6 Q5_0, 7 Q5_1, 8 Q8_0). w: the first of `rows` rows,
/// `row_bytes` apart; n: values per row (a multiple of 32); x: n floats; xsum: n/32 block sums of x
/// (read by Q4_1/Q5_1 only, may be NULL otherwise); y: receives `rows` floats.
/// Returns 0, or -1 for a type without a kernel.
int stq_gemv_rows(int type, const void *w, size_t row_bytes, int n, int rows,
                  const float *x, const float *xsum, float *y);

/// Dequantises `rows` rows (n values each, `row_bytes` apart) into out (rows·n floats), bit for bit
/// as gguf-py: `d·q + m` and `d·(q − 8)` rounded as a product then a sum (never fused). Same types
/// as stq_gemv_rows; returns -1 for others.
int stq_dequant_rows(int type, const void *w, size_t row_bytes, int n, int rows, float *out);

/// 1 when `type` has a kernel here.
int stq_has_kernel(int type);

/// The instruction set the kernels picked at run time: 0 portable C, 1 AVX2+FMA+F16C, 2 AVX-512.
/// Setting SWIFTTUNE_QUANT_ISA=0/1/2 caps it (for measuring and testing the fallbacks).
int stq_isa(void);

/// Caps the instruction set at `level` (0..2; a level above the CPU's is lowered to it) and returns
/// the one now in use: lets tests run every variant. Not meant to be called while kernels run.
int stq_set_isa(int level);

#endif
