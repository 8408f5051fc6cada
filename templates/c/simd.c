
/*
 * AVX2 (--simd avx2). Vectors are GCC vector types; the builtins are the
 * ones <immintrin.h> wraps (a module build has no such header): vpmaddwd
 * (16 s16 products, neighbours added into 8 s32 lanes), vpmovsxdq (s32
 * lanes sign-extended to s64), vextracti128. Only LF_AVX2 functions use
 * vector registers, and they run only between lf_simd_begin() and
 * kernel_fpu_end(); the rest of the module is built without SSE/AVX.
 */
#define LF_AVX2	__attribute__((target("avx2")))

typedef s16 lf_v16hi __attribute__((vector_size(32)));
typedef s16 lf_v16hi_u __attribute__((vector_size(32), may_alias, aligned(2)));
typedef s32 lf_v8si __attribute__((vector_size(32)));
typedef s32 lf_v4si __attribute__((vector_size(16)));
typedef s64 lf_v4di __attribute__((vector_size(32)));
typedef s64 lf_v2di __attribute__((vector_size(16)));

/* 16 s16 from p (any alignment). */
static inline LF_AVX2 lf_v16hi lf_load16(const s16 *p)
{
	return *(const lf_v16hi_u *)p;
}

/* a[l] = w[2l] * x[2l] + w[2l + 1] * x[2l + 1], in s32 (vpmaddwd). */
static inline LF_AVX2 lf_v8si lf_madd(lf_v16hi x, const s16 *w)
{
	return __builtin_ia32_pmaddwd256(x, lf_load16(w));
}

/* The 8 s32 lanes of a, sign-extended and added pairwise into 4 s64. */
static inline LF_AVX2 lf_v4di lf_widen(lf_v8si a)
{
	lf_v4si lo = __builtin_ia32_si_si256(a);
	lf_v4si hi = (lf_v4si)__builtin_ia32_extract128i256((lf_v4di)a, 1);

	return __builtin_ia32_pmovsxdq256(lo) + __builtin_ia32_pmovsxdq256(hi);
}

/* The sum of the 4 s64 lanes of a. */
static inline LF_AVX2 s64 lf_hsum(lf_v4di a)
{
	lf_v2di s = __builtin_ia32_extract128i256(a, 0) +
		    __builtin_ia32_extract128i256(a, 1);

	return s[0] + s[1];
}

/*
 * Vector registers are usable in the kernel only inside
 * kernel_fpu_begin()/kernel_fpu_end(), and that only where
 * irq_fpu_usable() says so (process context, softirq; not a hard irq
 * that interrupted another user of the FPU). True: the caller is inside
 * kernel_fpu_begin() and must call kernel_fpu_end(). False: use the
 * scalar code.
 */
static bool lf_simd_begin(void)
{
	if (!boot_cpu_has(X86_FEATURE_AVX2) || !irq_fpu_usable())
		return false;
	kernel_fpu_begin();
	return true;
}
