// Quantised-weight × float32-vector kernels (see include/CQuantKernels.h). The Swift package builds
// for baseline x86-64 (SSE2: no FMA, no byte-to-int widening, 4 lanes), where these loops run several
// times slower; so each kernel has AVX-512 and AVX2 variants chosen once at run time, plus portable C.
#include "CQuantKernels.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
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
#endif
    const char *cap = getenv("SWIFTTUNE_QUANT_ISA");
    if (cap && cap[0] >= '0' && cap[0] <= '2' && cap[0] - '0' < isa) isa = cap[0] - '0';
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
    if (stq_isa() == 2) {
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
    case 2: gemv_avx512(type, (const uint8_t *)w, row_bytes, n, rows, x, xsum, y); return 0;
    case 1: gemv_avx2(type, (const uint8_t *)w, row_bytes, n, rows, x, xsum, y); return 0;
#endif
    default: gemv_generic(type, (const uint8_t *)w, row_bytes, n, rows, x, xsum, y); return 0;
    }
}
