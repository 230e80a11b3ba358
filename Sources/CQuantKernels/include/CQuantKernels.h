#ifndef CQUANTKERNELS_H
#define CQUANTKERNELS_H
#include <stddef.h>
#include <stdint.h>

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

/// The instruction set the kernels picked at run time: 0 portable C, 1 AVX2+FMA+F16C, 2 AVX-512,
/// 3 AVX-512 with VNNI (repacked weights, stq_gemv_packed). Setting SWIFTTUNE_QUANT_ISA=0..3 caps it (for measuring and testing the fallbacks).
int stq_isa(void);

/// Caps the instruction set at `level` (0..3; a level above the CPU's is lowered to it) and returns
/// the one now in use: lets tests run every variant. Not meant to be called while kernels run.
int stq_set_isa(int level);

/// Repacked weights for the AVX-512 VNNI kernel (see kernels.c, "VNNI on repacked weights").
/// Bytes needed for `rows` rows of n values (n a multiple of 32).
size_t stq_packed_bytes(int type, int n, int rows);

/// Repacks `rows` rows (`row_bytes` apart) into `packed` (stq_packed_bytes bytes). -1 for a type
/// without a kernel, or when a block's offset (−8d, −16d, −128d) is not exactly a float16.
int stq_pack_rows(int type, const void *w, size_t row_bytes, int n, int rows, void *packed);

/// The GGUF blocks of rows row0..<row0+rows back from a repacked copy (`rows` rows of `row_bytes` into w).
/// Byte for byte the rows that were packed, except a NaN scale, whose payload the packer does not keep:
/// callers that drop the original compare the two first. -1 for a type without a kernel.
int stq_unpack_rows(int type, const void *packed, int n, int row0, int rows, void *w, size_t row_bytes);

/// Dequantises rows row0..<row0+rows (n values each, into out) straight from a repacked copy, bit for bit
/// as stq_dequant_rows on the blocks. -1 for a type without a kernel.
int stq_dequant_packed(int type, const void *packed, int n, int row0, int rows, float *out);

/// 1 when the CPU has what the VNNI kernel needs, whatever the cap.
int stq_cpu_vnni(void);

/// 1 when the VNNI kernel is in use (stq_isa() == 3).
int stq_has_vnni(void);

/// Splits x (n floats) into four int8 parts (`parts`: 4·n bytes) and a power-of-two scale per 32-block
/// (`scale`: n/32 floats). Returns -1 (and the caller uses stq_gemv_rows) when x holds inf or nan or
/// the CPU has no VNNI.
int stq_prepare_x(const float *x, int n, int8_t *parts, float *scale);

/// y[16·(g − g0) + r] for row groups g0..<g1 (16 rows each, padding rows included) of a packed
/// matrix, from stq_prepare_x's parts and scales and the block sums of x. -1 without VNNI.
int stq_gemv_packed(int type, const void *packed, int n, int g0, int g1, const int8_t *parts,
                    const float *scale, const float *xsum, float *y);

/// One query against s cached keys/values (a decode step's attention for one head): key/value j at
/// k + j·stride, v + j·stride (d floats each); `keep` (NULL: all) marks keys that may be attended to;
/// out[0..<d] = softmax(q·kⱼ·scale)·V. `scores` is scratch for s floats. AVX-512 where available (the
/// Swift package builds for baseline x86-64, where this loop runs four lanes wide).
void stq_attend_one(const float *q, const float *k, const float *v, int s, int stride, int d, float scale,
                    const unsigned char *keep, float *scores, float *out);

#endif
