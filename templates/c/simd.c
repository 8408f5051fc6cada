
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
typedef s16 lf_v16hi_u __attribute__((vector_size(32), may_alias)) __aligned(2);
typedef s32 lf_v8si __attribute__((vector_size(32)));
typedef s32 lf_v4si __attribute__((vector_size(16)));
typedef s64 lf_v4di __attribute__((vector_size(32)));
typedef s64 lf_v2di __attribute__((vector_size(16)));
typedef u32 lf_v8su __attribute__((vector_size(32)));
typedef u64 lf_v4du __attribute__((vector_size(32)));
typedef s64 lf_v4di_u __attribute__((vector_size(32), may_alias)) __aligned(8);

/* All lanes 0. */
static inline LF_AVX2 lf_v8si lf_zero8(void)
{
	lf_v8si z = { 0 };

	return z;
}

static inline LF_AVX2 lf_v4di lf_zero4(void)
{
	lf_v4di z = { 0 };

	return z;
}

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

/* a + p in s32 lanes, wrapping: the low 32 bits of sums (see lf_join()). */
static inline LF_AVX2 lf_v8si lf_add_wrap(lf_v8si a, lf_v8si p)
{
	return (lf_v8si)((lf_v8su)a + (lf_v8su)p);
}

/*
 * The exact sum of the pair sums r that went into each lane (4 s64 lanes,
 * two s32 lanes each), from a = sum r mod 2^32 (lf_add_wrap()) and h = sum
 * (r >> 16): sum r = 2^16 * h + l, where l = sum (r & 0xffff) is in
 * [0, 2^32) for at most 2^16 terms, so l = (a - 2^16 * h) mod 2^32.
 * |h| <= 2^15 per term: it cannot wrap either.
 */
static inline LF_AVX2 lf_v4di lf_join(lf_v8si a, lf_v8si h)
{
	lf_v8su l = (lf_v8su)a - ((lf_v8su)h << 16);
	lf_v4du hs = (lf_v4du)__builtin_ia32_pmovsxdq256(__builtin_ia32_si_si256(h)) +
		     (lf_v4du)__builtin_ia32_pmovsxdq256((lf_v4si)
			__builtin_ia32_extract128i256((lf_v4di)h, 1));
	lf_v4di ls = __builtin_ia32_pmovzxdq256(__builtin_ia32_si_si256((lf_v8si)l)) +
		     __builtin_ia32_pmovzxdq256((lf_v4si)
			__builtin_ia32_extract128i256((lf_v4di)l, 1));

	return (lf_v4di)(hs << 16) + ls;
}

/* The sum of the 4 s64 lanes of a. */
static inline LF_AVX2 s64 lf_hsum(lf_v4di a)
{
	lf_v2di s = __builtin_ia32_extract128i256(a, 0) +
		    __builtin_ia32_extract128i256(a, 1);

	return s[0] + s[1];
}

/* Lane r = the sum of the lanes of row r, a0..a7 (their s32 totals proven). */
static inline LF_AVX2 lf_v8si lf_hadd8(lf_v8si a0, lf_v8si a1, lf_v8si a2,
				       lf_v8si a3, lf_v8si a4, lf_v8si a5,
				       lf_v8si a6, lf_v8si a7)
{
	lf_v8si lo = __builtin_ia32_phaddd256(__builtin_ia32_phaddd256(a0, a1),
					      __builtin_ia32_phaddd256(a2, a3));
	lf_v8si hi = __builtin_ia32_phaddd256(__builtin_ia32_phaddd256(a4, a5),
					      __builtin_ia32_phaddd256(a6, a7));
	/* lo: rows 0-3 of lanes 0-3, then of lanes 4-7; hi: rows 4-7. */
	return (lf_v8si)__builtin_ia32_permti256((lf_v4di)lo, (lf_v4di)hi, 0x20) +
	       (lf_v8si)__builtin_ia32_permti256((lf_v4di)lo, (lf_v4di)hi, 0x31);
}

/* y[0..7] = the 8 s32 lanes of t, sign-extended to s64. */
static inline LF_AVX2 void lf_st8(s64 *y, lf_v8si t)
{
	*(lf_v4di_u *)y = __builtin_ia32_pmovsxdq256(__builtin_ia32_si_si256(t));
	*(lf_v4di_u *)(y + 4) = __builtin_ia32_pmovsxdq256((lf_v4si)
		__builtin_ia32_extract128i256((lf_v4di)t, 1));
}

/* y[0..7] = the lane sums of a0..a7 (their s32 totals proven), in s64. */
static inline LF_AVX2 void lf_sum8(s64 *y, lf_v8si a0, lf_v8si a1, lf_v8si a2,
				   lf_v8si a3, lf_v8si a4, lf_v8si a5,
				   lf_v8si a6, lf_v8si a7)
{
	lf_st8(y, lf_hadd8(a0, a1, a2, a3, a4, a5, a6, a7));
}

/* y[0..3] = the lane sums of a0..a3 (their s32 totals proven), in s64. */
static inline LF_AVX2 void lf_sum4(s64 *y, lf_v8si a0, lf_v8si a1, lf_v8si a2,
				   lf_v8si a3)
{
	lf_v8si h = __builtin_ia32_phaddd256(__builtin_ia32_phaddd256(a0, a1),
					     __builtin_ia32_phaddd256(a2, a3));
	lf_v4si t = __builtin_ia32_si_si256(h) +
		    (lf_v4si)__builtin_ia32_extract128i256((lf_v4di)h, 1);

	*(lf_v4di_u *)y = __builtin_ia32_pmovsxdq256(t);
}

/* y[0..3] = the sums of the s64 lanes of s0..s3. */
static inline LF_AVX2 void lf_sum4q(s64 *y, lf_v4di s0, lf_v4di s1, lf_v4di s2,
				    lf_v4di s3)
{
	/* [s0 lanes 0+1, s1 lanes 0+1 | s0 lanes 2+3, s1 lanes 2+3] */
	lf_v4di u01 = __builtin_ia32_punpcklqdq256(s0, s1) +
		      __builtin_ia32_punpckhqdq256(s0, s1);
	lf_v4di u23 = __builtin_ia32_punpcklqdq256(s2, s3) +
		      __builtin_ia32_punpckhqdq256(s2, s3);

	*(lf_v4di_u *)y = __builtin_ia32_permti256(u01, u23, 0x20) +
			  __builtin_ia32_permti256(u01, u23, 0x31);
}

/*
 * Four table entries j..j + 3 sign-extended to s64 lanes (vpmovsx*q),
 * from a table of any alignment.
 */
typedef u32 lf_u32_u __attribute__((may_alias)) __aligned(1);
typedef u64 lf_u64_u __attribute__((may_alias)) __aligned(1);
typedef char lf_v16qi __attribute__((vector_size(16)));
typedef s16 lf_v8hi __attribute__((vector_size(16)));
typedef s32 lf_v4si_u __attribute__((vector_size(16), may_alias)) __aligned(4);

static inline LF_AVX2 lf_v4di lf_ld4_s8(const s8 *p)
{
	lf_v4si t = { *(const lf_u32_u *)p };

	return __builtin_ia32_pmovsxbq256((lf_v16qi)t);
}

static inline LF_AVX2 lf_v4di lf_ld4_s16(const s16 *p)
{
	lf_v2di t = { *(const lf_u64_u *)p };

	return __builtin_ia32_pmovsxwq256((lf_v8hi)t);
}

static inline LF_AVX2 lf_v4di lf_ld4_s32(const s32 *p)
{
	return __builtin_ia32_pmovsxdq256(*(const lf_v4si_u *)p);
}

static inline LF_AVX2 lf_v4di lf_ld4_s64(const s64 *p)
{
	return *(const lf_v4di_u *)p;
}

/*
 * xs[0..3] = x[0..3], each proven within s16: the low halves of the four
 * s64 (vpermd), packed to s16 (vpackssdw: nothing saturates), one store.
 */
static inline LF_AVX2 void lf_narrow4(s16 *xs, const s64 *x)
{
	lf_v8si lows = { 0, 2, 4, 6, 0, 2, 4, 6 };
	lf_v8si v = __builtin_ia32_permvarsi256((lf_v8si)lf_ld4_s64(x), lows);

	*(lf_u64_u *)xs = ((lf_v4di)__builtin_ia32_packssdw256(v, v))[0];
}

/*
 * xs[0..15] = x[0..15], each proven within s16. vpackssdw of two s64
 * vectors keeps each value and its sign word (nothing saturates): as s32
 * lanes, [x0 x1 x4 x5 | x2 x3 x6 x7]; packing two of those gives the 16
 * values in s16, pairs in the order 0 2 4 6 1 3 5 7, which one vpermd
 * puts back (pair k from lane order[k]).
 */
static inline LF_AVX2 void lf_narrow16(s16 *xs, const s64 *x)
{
	lf_v8si order = { 0, 4, 1, 5, 2, 6, 3, 7 };
	lf_v8si lo = (lf_v8si)__builtin_ia32_packssdw256((lf_v8si)lf_ld4_s64(x),
							 (lf_v8si)lf_ld4_s64(x + 4));
	lf_v8si hi = (lf_v8si)__builtin_ia32_packssdw256((lf_v8si)lf_ld4_s64(x + 8),
							 (lf_v8si)lf_ld4_s64(x + 12));

	*(lf_v16hi_u *)xs = (lf_v16hi)
		__builtin_ia32_permvarsi256((lf_v8si)__builtin_ia32_packssdw256(lo, hi), order);
}

/* Every lane c. */
static inline LF_AVX2 lf_v4di lf_set4(s64 c)
{
	lf_v4di v = { c, c, c, c };

	return v;
}

/*
 * lf_rescale() of 4 lanes: (x * mul + 2^(shift - 1)) >> shift, rounded
 * half up. AVX2 has no 64 x 64-bit multiply: with x = 2^32 * xh + xl (xl
 * the unsigned low half), x * mul = 2^32 * (xh * mul) + xl * mul modulo
 * 2^64 (vpmuldq, vpmuludq), exact for 0 <= mul < 2^31 where the validator
 * proved x * mul + 2^(shift - 1) within s64, as for lf_rescale(). No
 * arithmetic 64-bit shift either: for v < 0, v >> s = ~(~v >>> s).
 */
static inline LF_AVX2 lf_v4di lf_rescale4(lf_v4di x, lf_v4di mul,
					  unsigned int shift)
{
	lf_v4di xh = (lf_v4di)((lf_v4du)x >> 32);
	lf_v4di v = (__builtin_ia32_pmuldq256((lf_v8si)xh, (lf_v8si)mul) << 32) +
		    (lf_v4di)__builtin_ia32_pmuludq256((lf_v8si)x, (lf_v8si)mul) +
		    lf_set4((s64)1 << (shift - 1));
	lf_v4di neg = lf_zero4() > v;

	return (lf_v4di)(((lf_v4du)(v ^ neg) >> shift) ^ (lf_v4du)neg);
}

/*
 * lf_rescale() of 4 lanes whose x and mul are both s32 (x >= 0): one
 * vpmuldq, exact; the shift as in lf_rescale4().
 */
static inline LF_AVX2 lf_v4di lf_rescale4s(lf_v4di x, lf_v4di mul,
					   unsigned int shift)
{
	lf_v4di v = __builtin_ia32_pmuldq256((lf_v8si)x, (lf_v8si)mul) +
		    lf_set4((s64)1 << (shift - 1));
	lf_v4di neg = lf_zero4() > v;

	return (lf_v4di)(((lf_v4du)(v ^ neg) >> shift) ^ (lf_v4du)neg);
}

/*
 * t[k[0..3]] sign-extended to s64 (vpgatherqd reads 32 bits at t + k:
 * an s16 table has one entry of padding after its last).
 */
static inline LF_AVX2 lf_v4di lf_gather4_s16(const s16 *t, lf_v4di k)
{
	lf_v4si z = { 0 }, all = { -1, -1, -1, -1 };
	lf_v4si g = __builtin_ia32_gatherdiv4si256(z, (const int *)t, k, all, 2);

	return __builtin_ia32_pmovsxdq256((g << 16) >> 16);
}

static inline LF_AVX2 lf_v4di lf_gather4_s32(const s32 *t, lf_v4di k)
{
	lf_v4si z = { 0 }, all = { -1, -1, -1, -1 };

	return __builtin_ia32_pmovsxdq256(__builtin_ia32_gatherdiv4si256(z, (const int *)t,
									  k, all, 4));
}

/* lf_clamp() of 4 lanes. */
static inline LF_AVX2 lf_v4di lf_clamp4(lf_v4di x, s64 lo, s64 hi)
{
	lf_v4di l = lf_set4(lo), h = lf_set4(hi);
	lf_v4di below = l > x, above = x > h;

	x = (x & ~below) | (l & below);
	return (x & ~above) | (h & above);
}

/* y[0..3] = v. */
static inline LF_AVX2 void lf_st4(s64 *y, lf_v4di v)
{
	*(lf_v4di_u *)y = v;
}

/* Every lane c. */
static inline LF_AVX2 lf_v8si lf_set8(s32 c)
{
	lf_v8si v = { c, c, c, c, c, c, c, c };

	return v;
}

/* Eight table entries j..j + 7 sign-extended to s32 lanes (vpmovsx*d). */
static inline LF_AVX2 lf_v8si lf_ld8_s8(const s8 *p)
{
	lf_v2di t = { *(const lf_u64_u *)p };

	return __builtin_ia32_pmovsxbd256((lf_v16qi)t);
}

typedef s16 lf_v8hi_u __attribute__((vector_size(16), may_alias)) __aligned(2);
typedef s32 lf_v8si_u __attribute__((vector_size(32), may_alias)) __aligned(4);

static inline LF_AVX2 lf_v8si lf_ld8_s16(const s16 *p)
{
	return __builtin_ia32_pmovsxwd256(*(const lf_v8hi_u *)p);
}

static inline LF_AVX2 lf_v8si lf_ld8_s32(const s32 *p)
{
	return *(const lf_v8si_u *)p;
}

/*
 * lf_rescale() of 8 s32 lanes, (x * mul + 2^(shift - 1)) >> shift rounded
 * half up, where the result is proven in s32 (valid::lanes::tail_s32) and
 * 0 <= mul < 2^31, 1 <= shift <= 32: vpmuldq multiplies the even lanes,
 * then the odd ones (moved down by 32 bits), into exact s64 products. Bits
 * 0..31 of v >> shift are bits shift..shift + 31 of v, the same for a
 * logical and an arithmetic shift (shift <= 32): the even results are
 * v >> shift, the odd ones v << (32 - shift) (bits 32..63), blended.
 */
static inline LF_AVX2 lf_v8si lf_rescale8(lf_v8si x, lf_v8si mul,
					  unsigned int shift)
{
	lf_v4di r = lf_set4((s64)1 << (shift - 1));
	lf_v4du even = (lf_v4du)(__builtin_ia32_pmuldq256(x, mul) + r);
	lf_v4du odd = (lf_v4du)(__builtin_ia32_pmuldq256((lf_v8si)((lf_v4du)x >> 32),
							 (lf_v8si)((lf_v4du)mul >> 32)) + r);

	return __builtin_ia32_pblendd256((lf_v8si)(even >> shift),
					 (lf_v8si)(odd << (32 - shift)), 0xaa);
}

/* lf_clamp() of 8 s32 lanes (vpmaxsd, vpminsd). */
static inline LF_AVX2 lf_v8si lf_clamp8(lf_v8si x, s32 lo, s32 hi)
{
	return __builtin_ia32_pminsd256(__builtin_ia32_pmaxsd256(x, lf_set8(lo)),
					lf_set8(hi));
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
