#ifndef CGEMM_H
#define CGEMM_H

/// Single-threaded row-major sgemm with AVX-512: C[m×n] = alpha·op(A)·op(B) + beta·C, op(X) = X or Xᵀ
/// as `trans_a`/`trans_b` say (0/1), leading dimensions as in cblas_sgemm (CblasRowMajor). With beta = 0
/// C is written without being read (BLAS semantics: NaNs in C do not survive).
/// Returns 0 when done, -1 when it did nothing: no AVX-512 on this CPU (or not x86-64), or k = 0.
/// The caller then uses a BLAS.
int stg_sgemm(int trans_a, int trans_b, int m, int n, int k, float alpha, const float *a, long lda,
              const float *b, long ldb, float beta, float *c, long ldc);

/// 1 when stg_sgemm runs on this CPU.
int stg_sgemm_available(void);

/// Columns of C per micro-tile: blocks of C that are split between threads should be whole multiples.
int stg_sgemm_panel_width(void);

#endif
