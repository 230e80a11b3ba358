// Quantised-weight × float32-vector kernels (see include/CQuantKernels.h). The Swift package builds
// for baseline x86-64 (SSE2: no FMA, no byte-to-int widening, 4 lanes), where these loops run several
// times slower; so each kernel has AVX-512 and AVX2 variants chosen once at run time, plus portable C.
#include "CQuantKernels.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define STQ_X86 1
#endif

// IEEE half → float, exact (normals, subnormals, inf/nan).
static inline float stq_half(const uint8_t *p) {
    uint16_t h; memcpy(&h, p, 2);
    uint32_t sign = (uint32_t)(h & 0x8000) << 16, exp = (h >> 10) & 0x1F, man = h & 0x3FF, bits;
    if (exp == 0) {
        if (man == 0) bits = sign;
        else { // subnormal: man · 2^-24, exact in float
            float f = (float)man * 5.9604644775390625e-8f;
            memcpy(&bits, &f, 4); bits |= sign;
        }
    } else if (exp == 31) bits = sign | 0x7F800000u | (man << 13);
    else bits = sign | ((exp + 112) << 23) | (man << 13);
    float f; memcpy(&f, &bits, 4); return f;
}

// MARK: portable C

static void gemv_generic(int type, const uint8_t *w, size_t row_bytes, int n, int rows,
                         const float *x, const float *xsum, float *y) {
    int nb = n / 32;
    for (int r = 0; r < rows; r++) {
        const uint8_t *row = w + (size_t)r * row_bytes;
        float acc = 0;
        for (int b = 0; b < nb; b++) {
            const float *xb = x + b * 32;
            float s = 0;
            switch (type) {
            case 8: { const uint8_t *p = row + b * 34; const int8_t *q = (const int8_t *)(p + 2);
                for (int j = 0; j < 32; j++) s += (float)q[j] * xb[j];
                acc += stq_half(p) * s; break; }
            case 2: { const uint8_t *p = row + b * 18, *q = p + 2;
                for (int j = 0; j < 16; j++) s += (float)((q[j] & 15) - 8) * xb[j] + (float)((q[j] >> 4) - 8) * xb[j + 16];
                acc += stq_half(p) * s; break; }
            case 3: { const uint8_t *p = row + b * 20, *q = p + 4;
                for (int j = 0; j < 16; j++) s += (float)(q[j] & 15) * xb[j] + (float)(q[j] >> 4) * xb[j + 16];
                acc += stq_half(p) * s + stq_half(p + 2) * xsum[b]; break; }
            case 6: { const uint8_t *p = row + b * 22, *q = p + 6; uint32_t qh; memcpy(&qh, p + 2, 4);
                for (int j = 0; j < 16; j++) {
                    int lo = (q[j] & 15) | (((qh >> j) & 1) << 4), hi = (q[j] >> 4) | (((qh >> (j + 16)) & 1) << 4);
                    s += (float)(lo - 16) * xb[j] + (float)(hi - 16) * xb[j + 16];
                }
                acc += stq_half(p) * s; break; }
            case 7: { const uint8_t *p = row + b * 24, *q = p + 8; uint32_t qh; memcpy(&qh, p + 4, 4);
                for (int j = 0; j < 16; j++) {
                    int lo = (q[j] & 15) | (((qh >> j) & 1) << 4), hi = (q[j] >> 4) | (((qh >> (j + 16)) & 1) << 4);
                    s += (float)lo * xb[j] + (float)hi * xb[j + 16];
                }
                acc += stq_half(p) * s + stq_half(p + 2) * xsum[b]; break; }
            }
        }
        y[r] = acc;
    }
}

// Bit-exact dequantisation needs each product rounded before the sum.
#pragma STDC FP_CONTRACT OFF

static void dequant_generic(int type, const uint8_t *w, size_t row_bytes, int n, int rows, float *out) {
    int nb = n / 32;
    for (int r = 0; r < rows; r++) {
        const uint8_t *row = w + (size_t)r * row_bytes;
        for (int b = 0; b < nb; b++) {
            float *o = out + (size_t)r * n + b * 32;
            switch (type) {
            case 8: { const uint8_t *p = row + b * 34; const int8_t *q = (const int8_t *)(p + 2); float d = stq_half(p);
                for (int j = 0; j < 32; j++) o[j] = (float)q[j] * d; break; }
            case 2: { const uint8_t *p = row + b * 18, *q = p + 2; float d = stq_half(p);
                for (int j = 0; j < 16; j++) { o[j] = d * (float)((q[j] & 15) - 8); o[j + 16] = d * (float)((q[j] >> 4) - 8); } break; }
            case 3: { const uint8_t *p = row + b * 20, *q = p + 4; float d = stq_half(p), m = stq_half(p + 2);
                for (int j = 0; j < 16; j++) { float a = d * (float)(q[j] & 15), c = d * (float)(q[j] >> 4); o[j] = a + m; o[j + 16] = c + m; } break; }
            default: {
                int q51 = type == 7;
                const uint8_t *p = row + b * (q51 ? 24 : 22), *q = p + (q51 ? 8 : 6);
                float d = stq_half(p), m = q51 ? stq_half(p + 2) : 0;
                uint32_t qh; memcpy(&qh, p + (q51 ? 4 : 2), 4);
                for (int j = 0; j < 16; j++) {
                    int lo = (q[j] & 15) | (((qh >> j) & 1) << 4), hi = (q[j] >> 4) | (((qh >> (j + 16)) & 1) << 4);
                    if (q51) { float a = d * (float)lo, c = d * (float)hi; o[j] = a + m; o[j + 16] = c + m; }
                    else { o[j] = d * (float)(lo - 16); o[j + 16] = d * (float)(hi - 16); }
                }
                break; }
            }
        }
    }
}

#ifdef STQ_X86
// MARK: AVX-512 (F, BW)

#define AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,fma,f16c")))
#define AVX2 __attribute__((target("avx2,fma,f16c")))

AVX512 static inline float half512(const uint8_t *p) { uint16_t h; memcpy(&h, p, 2); return _cvtsh_ss(h); }

// One block of one row as two 16-lane float vectors (values 0..15 and 16..31) and its scale d; for
// Q4_1/Q5_1 the `m·Σx` term goes to *macc. `type` is a constant wherever this is inlined.
AVX512 static inline __attribute__((always_inline))
void block512(const int type, const uint8_t *row, int b, const float *xsum, __m512 *lo, __m512 *hi, float *d, float *macc) {
    const __m512i low4 = _mm512_set1_epi32(15);
    switch (type) {
    case 8: { const uint8_t *p = row + b * 34; *d = half512(p);
        *lo = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)(p + 2))));
        *hi = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)(p + 18))));
        break; }
    case 2: { const uint8_t *p = row + b * 18; *d = half512(p);
        __m512i q = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(p + 2)));
        const __m512i eight = _mm512_set1_epi32(8);
        *lo = _mm512_cvtepi32_ps(_mm512_sub_epi32(_mm512_and_si512(q, low4), eight));
        *hi = _mm512_cvtepi32_ps(_mm512_sub_epi32(_mm512_srli_epi32(q, 4), eight));
        break; }
    case 3: { const uint8_t *p = row + b * 20; *d = half512(p);
        *macc += half512(p + 2) * xsum[b];
        __m512i q = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(p + 4)));
        *lo = _mm512_cvtepi32_ps(_mm512_and_si512(q, low4));
        *hi = _mm512_cvtepi32_ps(_mm512_srli_epi32(q, 4));
        break; }
    default: { // Q5_0 / Q5_1: fifth bits from qh, lane j <- bit j (values 0..15) and bit j+16 (16..31)
        const int q51 = type == 7;
        const uint8_t *p = row + b * (q51 ? 24 : 22); *d = half512(p);
        uint32_t qh; memcpy(&qh, p + (q51 ? 4 : 2), 4);
        if (q51) *macc += half512(p + 2) * xsum[b];
        __m512i q = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(p + (q51 ? 8 : 6))));
        __m512i l = _mm512_or_si512(_mm512_and_si512(q, low4), _mm512_maskz_set1_epi32((__mmask16)(qh & 0xFFFF), 16));
        __m512i h = _mm512_or_si512(_mm512_srli_epi32(q, 4), _mm512_maskz_set1_epi32((__mmask16)(qh >> 16), 16));
        if (!q51) { const __m512i sixteen = _mm512_set1_epi32(16); l = _mm512_sub_epi32(l, sixteen); h = _mm512_sub_epi32(h, sixteen); }
        *lo = _mm512_cvtepi32_ps(l); *hi = _mm512_cvtepi32_ps(h);
        break; }
    }
}

// R rows at a time (R and type constant after inlining) share the loads of x; one accumulator each.
AVX512 static inline __attribute__((always_inline))
void rows512(const int type, const int R, const uint8_t *w, size_t row_bytes, int nb, const float *x, const float *xsum, float *y) {
    __m512 acc[4]; float macc[4];
    for (int i = 0; i < R; i++) { acc[i] = _mm512_setzero_ps(); macc[i] = 0; }
    for (int b = 0; b < nb; b++) {
        __m512 x0 = _mm512_loadu_ps(x + b * 32), x1 = _mm512_loadu_ps(x + b * 32 + 16);
        for (int i = 0; i < R; i++) {
            __m512 lo, hi; float d;
            block512(type, w + (size_t)i * row_bytes, b, xsum, &lo, &hi, &d, &macc[i]);
            acc[i] = _mm512_fmadd_ps(_mm512_set1_ps(d), _mm512_fmadd_ps(hi, x1, _mm512_mul_ps(lo, x0)), acc[i]);
        }
    }
    for (int i = 0; i < R; i++) y[i] = _mm512_reduce_add_ps(acc[i]) + macc[i];
}

#define GEMV512(T, NAME) \
AVX512 static void NAME(const uint8_t *w, size_t row_bytes, int n, int rows, const float *x, const float *xsum, float *y) { \
    int r = 0, nb = n / 32; \
    for (; r + 4 <= rows; r += 4) rows512(T, 4, w + (size_t)r * row_bytes, row_bytes, nb, x, xsum, y + r); \
    for (; r < rows; r++) rows512(T, 1, w + (size_t)r * row_bytes, row_bytes, nb, x, xsum, y + r); \
}
GEMV512(2, gemv512_q4_0)
GEMV512(3, gemv512_q4_1)
GEMV512(6, gemv512_q5_0)
GEMV512(7, gemv512_q5_1)
GEMV512(8, gemv512_q8_0)

AVX512 static void gemv_avx512(int type, const uint8_t *w, size_t row_bytes, int n, int rows,
                               const float *x, const float *xsum, float *y) {
    switch (type) {
    case 2: gemv512_q4_0(w, row_bytes, n, rows, x, xsum, y); break;
    case 3: gemv512_q4_1(w, row_bytes, n, rows, x, xsum, y); break;
    case 6: gemv512_q5_0(w, row_bytes, n, rows, x, xsum, y); break;
    case 7: gemv512_q5_1(w, row_bytes, n, rows, x, xsum, y); break;
    default: gemv512_q8_0(w, row_bytes, n, rows, x, xsum, y); break;
    }
}

// Dequantisation: block512 gives the integer values (already offset for Q4_0/Q5_0) as floats; the
// scale multiplies and the min adds as separate, rounded operations, as in gguf-py.
AVX512 static inline __attribute__((always_inline))
void dequant512_t(const int type, const uint8_t *w, size_t row_bytes, int n, int rows, float *out) {
    int nb = n / 32;
    for (int r = 0; r < rows; r++) {
        const uint8_t *row = w + (size_t)r * row_bytes;
        for (int b = 0; b < nb; b++) {
            __m512 lo, hi; float d, unused = 0;
            block512(type, row, b, NULL, &lo, &hi, &d, &unused);
            __m512 dv = _mm512_set1_ps(d);
            lo = _mm512_mul_ps(lo, dv); hi = _mm512_mul_ps(hi, dv);
            if (type == 3 || type == 7) {
                const uint8_t *p = row + b * (type == 3 ? 20 : 24);
                __m512 mv = _mm512_set1_ps(half512(p + 2));
                lo = _mm512_add_ps(lo, mv); hi = _mm512_add_ps(hi, mv);
            }
            float *o = out + (size_t)r * n + b * 32;
            _mm512_storeu_ps(o, lo); _mm512_storeu_ps(o + 16, hi);
        }
    }
}

#define DEQ512(T, NAME) \
AVX512 static void NAME(const uint8_t *w, size_t row_bytes, int n, int rows, float *out) { dequant512_t(T, w, row_bytes, n, rows, out); }
DEQ512(2, deq512_q4_0)
DEQ512(3, deq512_q4_1)
DEQ512(6, deq512_q5_0)
DEQ512(7, deq512_q5_1)
DEQ512(8, deq512_q8_0)

// MARK: AVX2 (eight lanes: each 16-value half of a block in two steps)

AVX2 static inline float half256(const uint8_t *p) { uint16_t h; memcpy(&h, p, 2); return _cvtsh_ss(h); }

AVX2 static inline float hsum256(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

AVX2 static void gemv_avx2(int type, const uint8_t *w, size_t row_bytes, int n, int rows,
                           const float *x, const float *xsum, float *y) {
    int nb = n / 32;
    const __m256i low4 = _mm256_set1_epi32(15);
    for (int r = 0; r < rows; r++) {
        const uint8_t *row = w + (size_t)r * row_bytes;
        __m256 acc = _mm256_setzero_ps();
        float macc = 0;
        for (int b = 0; b < nb; b++) {
            const float *xb = x + b * 32;
            __m256 v[4]; float d;
            switch (type) {
            case 8: { const uint8_t *p = row + b * 34; d = half256(p);
                for (int k = 0; k < 4; k++)
                    v[k] = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(p + 2 + 8 * k))));
                break; }
            case 2: case 3: {
                int q41 = type == 3;
                const uint8_t *p = row + b * (q41 ? 20 : 18); d = half256(p);
                if (q41) macc += half256(p + 2) * xsum[b];
                const __m256i off = _mm256_set1_epi32(q41 ? 0 : 8);
                for (int k = 0; k < 2; k++) {
                    __m256i q = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(p + (q41 ? 4 : 2) + 8 * k)));
                    v[k] = _mm256_cvtepi32_ps(_mm256_sub_epi32(_mm256_and_si256(q, low4), off));
                    v[k + 2] = _mm256_cvtepi32_ps(_mm256_sub_epi32(_mm256_srli_epi32(q, 4), off));
                }
                break; }
            default: {
                int q51 = type == 7;
                const uint8_t *p = row + b * (q51 ? 24 : 22); d = half256(p);
                uint32_t qh; memcpy(&qh, p + (q51 ? 4 : 2), 4);
                if (q51) macc += half256(p + 2) * xsum[b];
                const __m256i off = _mm256_set1_epi32(q51 ? 0 : 16);
                const __m256i bit = _mm256_setr_epi32(1, 2, 4, 8, 16, 32, 64, 128);
                for (int k = 0; k < 2; k++) {
                    __m256i q = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(p + (q51 ? 8 : 6) + 8 * k)));
                    __m256i h0 = _mm256_set1_epi32((int)((qh >> (8 * k)) & 0xFF));
                    __m256i h1 = _mm256_set1_epi32((int)((qh >> (16 + 8 * k)) & 0xFF));
                    h0 = _mm256_slli_epi32(_mm256_min_epu32(_mm256_and_si256(h0, bit), _mm256_set1_epi32(1)), 4);
                    h1 = _mm256_slli_epi32(_mm256_min_epu32(_mm256_and_si256(h1, bit), _mm256_set1_epi32(1)), 4);
                    v[k] = _mm256_cvtepi32_ps(_mm256_sub_epi32(_mm256_or_si256(_mm256_and_si256(q, low4), h0), off));
                    v[k + 2] = _mm256_cvtepi32_ps(_mm256_sub_epi32(_mm256_or_si256(_mm256_srli_epi32(q, 4), h1), off));
                }
                break; }
            }
            __m256 s = _mm256_mul_ps(v[0], _mm256_loadu_ps(xb));
            s = _mm256_fmadd_ps(v[1], _mm256_loadu_ps(xb + 8), s);
            s = _mm256_fmadd_ps(v[2], _mm256_loadu_ps(xb + 16), s);
            s = _mm256_fmadd_ps(v[3], _mm256_loadu_ps(xb + 24), s);
            acc = _mm256_fmadd_ps(_mm256_set1_ps(d), s, acc);
        }
        y[r] = hsum256(acc) + macc;
    }
}
#endif


// MARK: AVX-512 VNNI on repacked weights
//
// Layout (stq_pack_rows): rows in groups of 16 (the last padded with zero rows); per group and
// 32-column block, the codes u (0..15 for Q4_0/Q4_1, 0..255 for the others, see stq_pack_rows) with
// dword lane r holding 4 columns of row r, so one VPDPBUSD multiplies 16 rows × 4 columns by a
// broadcast dword of x: nibble types in 4 chunks of 64 bytes (byte i of lane r = u[8k+i] | u[8k+4+i]<<4),
// byte types in 8 chunks (byte i = u[4k+i]); then the block's 16 scales d and 16 offsets m as float16
// (exact: GGUF stores them so, and −8d, −16d, −128d stay exact). As many bytes per weight as the GGUF
// blocks: decode streams every weight once per token, so memory traffic sets its speed.
// Every type becomes w = d·u + m (Q4_0: m = −8d, Q5_0: −16d, Q8_0: u = q+128, m = −128d).
//
// x goes in as four int8 parts (stq_prepare_x) so that x = 2^e·(p1 + p2·2^-6 + p3·2^-13 + p4·2^-20)
// to within 2^-27 of the block's largest |x|, below float32's own resolution of that value: the integer
// dot products are exact, so the result matches a float32 dot product to float32 rounding — unlike
// llama.cpp's single int8 part. (Three parts, 2^-20, moved SmolLM2's logits by ~2e-4 against
// transformers': visible, since Σu·x with unsigned codes cancels against m·Σx.)

#define VNNI __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni,fma,f16c")))

int stq_isa(void);

// float → IEEE half, round to nearest even. The packer only gives it halves times powers of two and
// checks that they come back unchanged.
static uint16_t stq_to_half(float f) {
    uint32_t x; memcpy(&x, &f, 4);
    uint32_t sign = (x >> 16) & 0x8000, e = (x >> 23) & 0xFF, man = x & 0x7FFFFF;
    if (e == 0xFF) return (uint16_t)(sign | 0x7C00 | (man ? 0x200 : 0));
    int exp = (int)e - 127 + 15;
    if (exp >= 31) return (uint16_t)(sign | 0x7C00);
    if (exp <= 0) {                                   // half subnormal (or zero)
        if (exp < -10) return (uint16_t)sign;
        man |= 0x800000;
        int shift = 14 - exp;
        uint32_t h = man >> shift, rem = man & ((1u << shift) - 1), half = 1u << (shift - 1);
        if (rem > half || (rem == half && (h & 1))) h++;
        return (uint16_t)(sign | h);
    }
    uint32_t h = ((uint32_t)exp << 10) | (man >> 13), rem = man & 0x1FFF;
    if (rem > 0x1000 || (rem == 0x1000 && (h & 1))) h++;
    return (uint16_t)(sign | h);
}

static int stq_code_bytes(int type) { return (type == 2 || type == 3) ? 256 : 512; }

size_t stq_packed_bytes(int type, int n, int rows) {
    size_t groups = ((size_t)rows + 15) / 16, nb = (size_t)n / 32;
    return groups * nb * (size_t)(stq_code_bytes(type) + 64);
}

int stq_pack_rows(int type, const void *w, size_t row_bytes, int n, int rows, void *packed) {
    if (!stq_has_kernel(type)) return -1;
    const int nb = n / 32, cb = stq_code_bytes(type), groups = (rows + 15) / 16;
    const size_t blockStride = (size_t)cb + 64;
    uint8_t *out = (uint8_t *)packed;
    memset(out, 0, stq_packed_bytes(type, n, rows));
    for (int g = 0; g < groups; g++) {
        for (int b = 0; b < nb; b++) {
            uint8_t *codes = out + ((size_t)g * nb + b) * blockStride;
            uint16_t *dv = (uint16_t *)(codes + cb), *mv = dv + 16;
            for (int r = 0; r < 16 && g * 16 + r < rows; r++) {
                const uint8_t *row = (const uint8_t *)w + (size_t)(g * 16 + r) * row_bytes;
                uint8_t u[32]; uint16_t dh, mh; float d, m;
                switch (type) {
                case 2: { const uint8_t *p = row + b * 18; d = stq_half(p); m = -8 * d;
                    for (int j = 0; j < 16; j++) { u[j] = p[2 + j] & 15; u[j + 16] = p[2 + j] >> 4; } break; }
                case 3: { const uint8_t *p = row + b * 20; d = stq_half(p); m = stq_half(p + 2);
                    for (int j = 0; j < 16; j++) { u[j] = p[4 + j] & 15; u[j + 16] = p[4 + j] >> 4; } break; }
                case 8: { const uint8_t *p = row + b * 34; d = stq_half(p); m = -128 * d;
                    for (int j = 0; j < 32; j++) u[j] = (uint8_t)((int)(int8_t)p[2 + j] + 128); break; }
                default: { const int q51 = type == 7;
                    const uint8_t *p = row + b * (q51 ? 24 : 22), *q = p + (q51 ? 8 : 6);
                    uint32_t qh; memcpy(&qh, p + (q51 ? 4 : 2), 4);
                    d = stq_half(p); m = q51 ? stq_half(p + 2) : -16 * d;
                    for (int j = 0; j < 16; j++) {
                        u[j] = (uint8_t)((q[j] & 15) | (((qh >> j) & 1) << 4));
                        u[j + 16] = (uint8_t)((q[j] >> 4) | (((qh >> (j + 16)) & 1) << 4));
                    }
                    break; }
                }
                dh = stq_to_half(d); mh = stq_to_half(m);
                if (stq_half((const uint8_t *)&dh) != d || stq_half((const uint8_t *)&mh) != m) {
                    if (d == d && m == m) return -1;       // −8d etc. not a half: no packed form
                }
                dv[r] = dh; mv[r] = mh;
                if (cb == 256) {
                    for (int k = 0; k < 4; k++) for (int i = 0; i < 4; i++)
                        codes[k * 64 + r * 4 + i] = (uint8_t)(u[8 * k + i] | (u[8 * k + 4 + i] << 4));
                } else {
                    for (int k = 0; k < 8; k++) for (int i = 0; i < 4; i++) codes[k * 64 + r * 4 + i] = u[4 * k + i];
                }
            }
        }
    }
    return 0;
}

int stq_unpack_rows(int type, const void *packed, int n, int row0, int rows, void *w, size_t row_bytes) {
    if (!stq_has_kernel(type)) return -1;
    const int nb = n / 32, cb = stq_code_bytes(type);
    const size_t blockStride = (size_t)cb + 64;
    for (int i = 0; i < rows; i++) {
        const int g = (row0 + i) / 16, r = (row0 + i) % 16;
        uint8_t *row = (uint8_t *)w + (size_t)i * row_bytes;
        for (int b = 0; b < nb; b++) {
            const uint8_t *codes = (const uint8_t *)packed + ((size_t)g * nb + b) * blockStride;
            const uint8_t *dv = codes + cb + 2 * r, *mv = codes + cb + 32 + 2 * r;
            uint8_t u[32];
            if (cb == 256) {
                for (int k = 0; k < 4; k++) for (int j = 0; j < 4; j++) {
                    uint8_t v = codes[k * 64 + r * 4 + j];
                    u[8 * k + j] = v & 15; u[8 * k + 4 + j] = v >> 4;
                }
            } else {
                for (int k = 0; k < 8; k++) for (int j = 0; j < 4; j++) u[4 * k + j] = codes[k * 64 + r * 4 + j];
            }
            switch (type) {
            case 2: { uint8_t *p = row + b * 18; memcpy(p, dv, 2);
                for (int j = 0; j < 16; j++) p[2 + j] = (uint8_t)(u[j] | (u[j + 16] << 4)); break; }
            case 3: { uint8_t *p = row + b * 20; memcpy(p, dv, 2); memcpy(p + 2, mv, 2);
                for (int j = 0; j < 16; j++) p[4 + j] = (uint8_t)(u[j] | (u[j + 16] << 4)); break; }
            case 8: { uint8_t *p = row + b * 34; memcpy(p, dv, 2);
                for (int j = 0; j < 32; j++) p[2 + j] = (uint8_t)(int8_t)((int)u[j] - 128); break; }
            default: { const int q51 = type == 7;
                uint8_t *p = row + b * (q51 ? 24 : 22), *q = p + (q51 ? 8 : 6);
                uint32_t qh = 0;
                for (int j = 0; j < 16; j++) {
                    q[j] = (uint8_t)((u[j] & 15) | ((u[j + 16] & 15) << 4));
                    qh |= (uint32_t)(u[j] >> 4) << j; qh |= (uint32_t)(u[j + 16] >> 4) << (j + 16);
                }
                memcpy(p, dv, 2); if (q51) memcpy(p + 2, mv, 2);
                memcpy(p + (q51 ? 4 : 2), &qh, 4);
                break; }
            }
        }
    }
    return 0;
}

// Values of rows row0..<row0+rows straight from the repacked copy, as gguf-py computes them from the
// blocks: d·(u − o) for Q4_0/Q5_0/Q8_0 (o = 8, 16, 128: exact integers) and d·u + m for Q4_1/Q5_1 (a
// product, then a sum: FP_CONTRACT is off in this file). Same bits as stq_dequant_rows on the blocks.
#define DEQ_PACKED_BODY \
    const int nb = n / 32, cb = stq_code_bytes(type); \
    const size_t blockStride = (size_t)cb + 64; \
    const int off = type == 2 ? 8 : type == 6 ? 16 : type == 8 ? 128 : 0, affine = type == 3 || type == 7; \
    for (int i = 0; i < rows; i++) { \
        const int g = (row0 + i) / 16, r = (row0 + i) % 16; \
        float *o = out + (size_t)i * n; \
        for (int b = 0; b < nb; b++) { \
            const uint8_t *codes = (const uint8_t *)packed + ((size_t)g * nb + b) * blockStride; \
            const float d = stq_half(codes + cb + 2 * r), m = stq_half(codes + cb + 32 + 2 * r); \
            uint8_t u[32]; \
            if (cb == 256) { \
                for (int k = 0; k < 4; k++) for (int j = 0; j < 4; j++) { \
                    uint8_t v = codes[k * 64 + r * 4 + j]; u[8 * k + j] = v & 15; u[8 * k + 4 + j] = v >> 4; \
                } \
            } else { \
                for (int k = 0; k < 8; k++) for (int j = 0; j < 4; j++) u[4 * k + j] = codes[k * 64 + r * 4 + j]; \
            } \
            float *ob = o + b * 32; \
            if (affine) { for (int j = 0; j < 32; j++) { float p = d * (float)u[j]; ob[j] = p + m; } } \
            else { for (int j = 0; j < 32; j++) ob[j] = d * (float)((int)u[j] - off); } \
        } \
    }

#ifdef STQ_X86
AVX512 static void deq_packed512(int type, const void *packed, int n, int row0, int rows, float *out) { DEQ_PACKED_BODY }
#endif
static void deq_packed_generic(int type, const void *packed, int n, int row0, int rows, float *out) { DEQ_PACKED_BODY }

int stq_dequant_packed(int type, const void *packed, int n, int row0, int rows, float *out) {
    if (!stq_has_kernel(type)) return -1;
#ifdef STQ_X86
    if (stq_isa() >= 2) { deq_packed512(type, packed, n, row0, rows, out); return 0; }
#endif
    deq_packed_generic(type, packed, n, row0, rows, out);
    return 0;
}

int stq_cpu_vnni(void) {
#ifdef STQ_X86
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl")
        && __builtin_cpu_supports("avx512vnni") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c");
#else
    return 0;
#endif
}

int stq_has_vnni(void) { return stq_isa() >= 3; }

#ifdef STQ_X86
VNNI static int prepare512(const float *x, int n, int8_t *parts, float *scale) {
    const int nb = n / 32;
    int8_t *p1 = parts, *p2 = parts + n, *p3 = parts + 2 * n, *p4 = parts + 3 * n;
    const __m512 lim = _mm512_set1_ps(127), c6 = _mm512_set1_ps(64), c7 = _mm512_set1_ps(128);
    for (int b = 0; b < nb; b++) {
        __m512 a[2] = { _mm512_loadu_ps(x + 32 * b), _mm512_loadu_ps(x + 32 * b + 16) };
        float mx = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(a[0]), _mm512_abs_ps(a[1])));
        if (!(mx <= 3.4028234663852886e38f)) return -1;            // inf or nan: the caller falls back
        if (mx == 0) {
            scale[b] = 0;
            memset(p1 + 32 * b, 0, 32); memset(p2 + 32 * b, 0, 32); memset(p3 + 32 * b, 0, 32); memset(p4 + 32 * b, 0, 32);
            continue;
        }
        int e = ilogbf(mx) - 6;                                       // |x|·2^-e < 128
        scale[b] = ldexpf(1, e);
        __m512 ne = _mm512_set1_ps((float)-e);
        for (int h = 0; h < 2; h++) {
            __m512 t = _mm512_scalef_ps(a[h], ne);                    // exact
            __m512 q1 = _mm512_max_ps(_mm512_min_ps(_mm512_roundscale_ps(t, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC), lim), -lim);
            __m512 r1 = _mm512_mul_ps(_mm512_sub_ps(t, q1), c6);      // |·| ≤ 64, exact
            __m512 q2 = _mm512_roundscale_ps(r1, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
            __m512 r2 = _mm512_mul_ps(_mm512_sub_ps(r1, q2), c7);     // |·| ≤ 64, exact
            __m512 q3 = _mm512_roundscale_ps(r2, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
            __m512 r3 = _mm512_mul_ps(_mm512_sub_ps(r2, q3), c7);     // |·| ≤ 64, exact
            __m512 q4 = _mm512_roundscale_ps(r3, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
            _mm_storeu_si128((__m128i *)(p1 + 32 * b + 16 * h), _mm512_cvtepi32_epi8(_mm512_cvtps_epi32(q1)));
            _mm_storeu_si128((__m128i *)(p2 + 32 * b + 16 * h), _mm512_cvtepi32_epi8(_mm512_cvtps_epi32(q2)));
            _mm_storeu_si128((__m128i *)(p3 + 32 * b + 16 * h), _mm512_cvtepi32_epi8(_mm512_cvtps_epi32(q3)));
            _mm_storeu_si128((__m128i *)(p4 + 32 * b + 16 * h), _mm512_cvtepi32_epi8(_mm512_cvtps_epi32(q4)));
        }
    }
    return 0;
}

static inline int32_t stq_dword(const int8_t *p) { int32_t v; memcpy(&v, p, 4); return v; }

// Adds codes a (columns o..o+3 of x) and b (columns o+4..o+7) times each of x's four parts.
VNNI static inline __attribute__((always_inline))
void dp_parts(__m512i s[8], __m512i a, __m512i b, const int8_t *const p[4], int o) {
    for (int i = 0; i < 4; i++) {
        s[2 * i] = _mm512_dpbusd_epi32(s[2 * i], a, _mm512_set1_epi32(stq_dword(p[i] + o)));
        s[2 * i + 1] = _mm512_dpbusd_epi32(s[2 * i + 1], b, _mm512_set1_epi32(stq_dword(p[i] + o + 4)));
    }
}

// One group of 16 rows: y16[r] = Σ_b d[r]·2^e_b·(S1 + S2·2^-6 + S3·2^-13 + S4·2^-20) + m[r]·xsum_b.
VNNI static inline __attribute__((always_inline))
void group512(const int nibble, const uint8_t *g, int nb, const int8_t *parts, int n, const float *scale,
              const float *xsum, float *y16) {
    const int8_t *p[4] = { parts, parts + n, parts + 2 * n, parts + 3 * n };
    const int cb = nibble ? 256 : 512;
    const size_t stride = (size_t)cb + 64;
    const __m512i low4 = _mm512_set1_epi8(15);
    const __m512 k6 = _mm512_set1_ps(1.0f / 64), k13 = _mm512_set1_ps(1.0f / 8192), k20 = _mm512_set1_ps(1.0f / 1048576);
    __m512 acc = _mm512_setzero_ps(), macc = _mm512_setzero_ps();
    for (int b = 0; b < nb; b++) {
        const uint8_t *codes = g + (size_t)b * stride;
        const uint8_t *dv = codes + cb, *mv = dv + 32;
        // The block four ahead (codes and scales), while this one computes.
        for (size_t off = 0; off < stride; off += 64) _mm_prefetch((const char *)(codes + 4 * stride + off), _MM_HINT_T0);
        // s[2i], s[2i+1]: part i's products with the two code vectors (two chains per part for latency).
        __m512i s[8];
        for (int i = 0; i < 8; i++) s[i] = _mm512_setzero_si512();
        const int c0 = 32 * b;
        if (nibble) {
            for (int k = 0; k < 4; k++) {       // chunk k: columns 8k..8k+3 in the low nibbles, 8k+4..8k+7 high
                __m512i c = _mm512_loadu_si512((const void *)(codes + 64 * k));
                dp_parts(s, _mm512_and_si512(c, low4), _mm512_and_si512(_mm512_srli_epi16(c, 4), low4), p, c0 + 8 * k);
            }
        } else {
            for (int k = 0; k < 8; k += 2)      // chunks k, k+1: columns 4k..4k+3 and 4k+4..4k+7
                dp_parts(s, _mm512_loadu_si512((const void *)(codes + 64 * k)),
                         _mm512_loadu_si512((const void *)(codes + 64 * k + 64)), p, c0 + 4 * k);
        }
        __m512 f = _mm512_cvtepi32_ps(_mm512_add_epi32(s[0], s[1]));
        f = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_add_epi32(s[2], s[3])), k6, f);
        f = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_add_epi32(s[4], s[5])), k13, f);
        f = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_add_epi32(s[6], s[7])), k20, f);
        __m512 dvf = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)dv));
        __m512 mvf = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)mv));
        acc = _mm512_fmadd_ps(dvf, _mm512_mul_ps(f, _mm512_set1_ps(scale[b])), acc);
        macc = _mm512_fmadd_ps(mvf, _mm512_set1_ps(xsum[b]), macc);
    }
    _mm512_storeu_ps(y16, _mm512_add_ps(acc, macc));
}

VNNI static void groups_nib(const uint8_t *packed, int nb, int g0, int g1, const int8_t *parts, int n,
                            const float *scale, const float *xsum, float *y) {
    const size_t gs = (size_t)nb * (256 + 64);
    for (int g = g0; g < g1; g++) group512(1, packed + g * gs, nb, parts, n, scale, xsum, y + 16 * (g - g0));
}

VNNI static void groups_byte(const uint8_t *packed, int nb, int g0, int g1, const int8_t *parts, int n,
                             const float *scale, const float *xsum, float *y) {
    const size_t gs = (size_t)nb * (512 + 64);
    for (int g = g0; g < g1; g++) group512(0, packed + g * gs, nb, parts, n, scale, xsum, y + 16 * (g - g0));
}
#endif

int stq_prepare_x(const float *x, int n, int8_t *parts, float *scale) {
#ifdef STQ_X86
    if (stq_has_vnni()) return prepare512(x, n, parts, scale);
#endif
    (void)x; (void)n; (void)parts; (void)scale;
    return -1;
}

int stq_gemv_packed(int type, const void *packed, int n, int g0, int g1, const int8_t *parts,
                    const float *scale, const float *xsum, float *y) {
#ifdef STQ_X86
    if (!stq_has_kernel(type) || !stq_has_vnni()) return -1;
    if (stq_code_bytes(type) == 256) groups_nib((const uint8_t *)packed, n / 32, g0, g1, parts, n, scale, xsum, y);
    else groups_byte((const uint8_t *)packed, n / 32, g0, g1, parts, n, scale, xsum, y);
    return 0;
#else
    (void)type; (void)packed; (void)n; (void)g0; (void)g1; (void)parts; (void)scale; (void)xsum; (void)y;
    return -1;
#endif
}

// MARK: one-query attention (decode)

static void attend_generic(const float *q, const float *k, const float *v, int s, int stride, int d, float scale,
                           const unsigned char *keep, float *scores, float *out) {
    float m = -INFINITY;
    for (int j = 0; j < s; j++) {
        float sc = -3.4028234663852886e38f;
        if (!keep || keep[j]) { float t = 0; for (int e = 0; e < d; e++) t += q[e] * k[(size_t)j * stride + e]; sc = t * scale; }
        scores[j] = sc; if (sc > m) m = sc;
    }
    float sum = 0;
    for (int j = 0; j < s; j++) { scores[j] = expf(scores[j] - m); sum += scores[j]; }
    float inv = 1 / sum;
    for (int e = 0; e < d; e++) out[e] = 0;
    for (int j = 0; j < s; j++) { float p = scores[j] * inv; for (int e = 0; e < d; e++) out[e] += p * v[(size_t)j * stride + e]; }
}

#ifdef STQ_X86
AVX512 static void attend512(const float *q, const float *k, const float *v, int s, int stride, int d, float scale,
                             const unsigned char *keep, float *scores, float *out) {
    // d is a multiple of 16 and at most 256 here.
    const int nv = d / 16;
    __m512 qv[16];
    for (int i = 0; i < nv; i++) qv[i] = _mm512_loadu_ps(q + 16 * i);
    float m = -INFINITY;
    for (int j = 0; j < s; j++) {
        float sc = -3.4028234663852886e38f;
        if (!keep || keep[j]) {
            const float *kj = k + (size_t)j * stride;
            __m512 acc = _mm512_mul_ps(qv[0], _mm512_loadu_ps(kj));
            for (int i = 1; i < nv; i++) acc = _mm512_fmadd_ps(qv[i], _mm512_loadu_ps(kj + 16 * i), acc);
            sc = _mm512_reduce_add_ps(acc) * scale;
        }
        scores[j] = sc; if (sc > m) m = sc;
    }
    float sum = 0;
    for (int j = 0; j < s; j++) { scores[j] = expf(scores[j] - m); sum += scores[j]; }
    float inv = 1 / sum;
    __m512 o[16];
    for (int i = 0; i < nv; i++) o[i] = _mm512_setzero_ps();
    for (int j = 0; j < s; j++) {
        __m512 p = _mm512_set1_ps(scores[j] * inv);
        const float *vj = v + (size_t)j * stride;
        for (int i = 0; i < nv; i++) o[i] = _mm512_fmadd_ps(p, _mm512_loadu_ps(vj + 16 * i), o[i]);
    }
    for (int i = 0; i < nv; i++) _mm512_storeu_ps(out + 16 * i, o[i]);
}
#endif

void stq_attend_one(const float *q, const float *k, const float *v, int s, int stride, int d, float scale,
                    const unsigned char *keep, float *scores, float *out) {
#ifdef STQ_X86
    if (stq_isa() >= 2 && d % 16 == 0 && d <= 256) { attend512(q, k, v, s, stride, d, scale, keep, scores, out); return; }
#endif
    attend_generic(q, k, v, s, stride, d, scale, keep, scores, out);
}

// MARK: dispatch

static int stq_isa_cached = -1;

int stq_isa(void) {
    int isa = stq_isa_cached;
    if (isa >= 0) return isa;
    isa = 0;
#ifdef STQ_X86
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c")) isa = 1;
    if (isa == 1 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl")) isa = 2;
    if (isa == 2 && stq_cpu_vnni()) isa = 3;
#endif
    const char *cap = getenv("SWIFTTUNE_QUANT_ISA");
    if (cap && cap[0] >= '0' && cap[0] <= '3' && cap[0] - '0' < isa) isa = cap[0] - '0';
    stq_isa_cached = isa; // a benign race: every thread computes the same value
    return isa;
}

int stq_set_isa(int level) {
    stq_isa_cached = -1;
    int best = stq_isa();
    stq_isa_cached = level < best ? (level < 0 ? 0 : level) : best;
    return stq_isa_cached;
}

int stq_dequant_rows(int type, const void *w, size_t row_bytes, int n, int rows, float *out) {
    if (!stq_has_kernel(type)) return -1;
    const uint8_t *p = (const uint8_t *)w;
#ifdef STQ_X86
    if (stq_isa() >= 2) {
        switch (type) {
        case 2: deq512_q4_0(p, row_bytes, n, rows, out); return 0;
        case 3: deq512_q4_1(p, row_bytes, n, rows, out); return 0;
        case 6: deq512_q5_0(p, row_bytes, n, rows, out); return 0;
        case 7: deq512_q5_1(p, row_bytes, n, rows, out); return 0;
        default: deq512_q8_0(p, row_bytes, n, rows, out); return 0;
        }
    }
#endif
    dequant_generic(type, p, row_bytes, n, rows, out);
    return 0;
}

int stq_has_kernel(int type) { return type == 2 || type == 3 || type == 6 || type == 7 || type == 8; }

int stq_gemv_rows(int type, const void *w, size_t row_bytes, int n, int rows,
                  const float *x, const float *xsum, float *y) {
    if (!stq_has_kernel(type)) return -1;
    switch (stq_isa()) {
#ifdef STQ_X86
    case 3: case 2: gemv_avx512(type, (const uint8_t *)w, row_bytes, n, rows, x, xsum, y); return 0;
    case 1: gemv_avx2(type, (const uint8_t *)w, row_bytes, n, rows, x, xsum, y); return 0;
#endif
    default: gemv_generic(type, (const uint8_t *)w, row_bytes, n, rows, x, xsum, y); return 0;
    }
}
