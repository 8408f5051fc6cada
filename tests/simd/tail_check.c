/*
 * Userspace check of the AVX2 tail helpers against the scalar ones
 * (tests/simd.rs pastes the module's own helpers above this). Prints the
 * number of comparisons per class; exits 1 at the first difference.
 */
static u64 lcg = 0x9e3779b97f4a7c15ull;

static u64 next(void)
{
	lcg = lcg * 6364136223846793005ull + 1442695040888963407ull;
	return lcg ^ (lcg >> 29);
}

static int fits(s64 x, s64 mul, unsigned int shift)
{
	__int128 p = (__int128)x * mul + ((__int128)1 << (shift - 1));

	return p >= -((__int128)1 << 63) && p < ((__int128)1 << 63);
}

static unsigned long n_rescale, n_ties, n_neg_ties, n_clamp, n_loads;
static unsigned long n_gathers, n_small, n_small_neg_ties;

static LF_AVX2 int check4(const s64 *x, s64 mul, unsigned int shift)
{
	s64 got[4];
	int l;

	lf_st4(got, lf_rescale4(lf_ld4_s64(x), lf_set4(mul), shift));
	for (l = 0; l < 4; l++) {
		s64 want = lf_rescale(x[l], mul, shift);

		if (got[l] != want) {
			printf("lf_rescale4(%lld, %lld, %u) = %lld, lf_rescale: %lld\n",
			       x[l], mul, shift, got[l], want);
			return 1;
		}
	}
	n_rescale += 4;
	return 0;
}

/* x, filtered to where x * mul + 2^(shift - 1) is in s64, 4 at a time. */
static s64 pend[4];
static int npend;

static LF_AVX2 int put(s64 x, s64 mul, unsigned int shift)
{
	if (!fits(x, mul, shift))
		return 0;
	pend[npend++] = x;
	if (npend < 4)
		return 0;
	npend = 0;
	return check4(pend, mul, shift);
}

static LF_AVX2 int edges(s64 mul, unsigned int shift)
{
	int k, d;

	for (k = 0; k < 63; k++) {
		for (d = -2; d <= 2; d++) {
			s64 p = ((s64)1 << k) + d;

			if (put(p, mul, shift) || put(-p, mul, shift))
				return 1;
		}
	}
	/* s32 boundaries of the low half and of the high half */
	for (d = -2; d <= 2; d++) {
		if (put(0xffffffffll + d, mul, shift) || put(-0xffffffffll + d, mul, shift) ||
		    put(0x7fffffffll + d, mul, shift) || put(-0x80000000ll + d, mul, shift))
			return 1;
	}
	return 0;
}

/* Exact halves: x * mul = (2q + 1) * 2^(shift - 1), mul = 1 or 3. */
static LF_AVX2 int ties(unsigned int shift)
{
	s64 q, m;

	for (m = 1; m <= 3; m += 2) {
		for (q = -600; q < 600; q++) {
			__int128 t = (__int128)(2 * q + 1) << (shift - 1);
			s64 x;

			if (t % m || t / m >= ((__int128)1 << 62) || t / m < -((__int128)1 << 62))
				continue;
			x = (s64)(t / m);
			if (!fits(x, m, shift))
				continue;
			if (put(x, m, shift))
				return 1;
			if (x < 0)
				n_neg_ties++;
			else
				n_ties++;
		}
	}
	return 0;
}

static LF_AVX2 int clamps(void)
{
	static const s64 lims[][2] = {
		{ 0, 32767 }, { -32768, 32767 }, { -128, 127 }, { 5, 5 }, { -1, 0 },
	};
	s64 x[4], got[4];
	int i, l, k;

	for (k = 0; k < 5; k++) {
		for (i = 0; i < 400; i++) {
			for (l = 0; l < 4; l++)
				x[l] = (s64)next() >> (next() % 64);
			lf_st4(got, lf_clamp4(lf_ld4_s64(x), lims[k][0], lims[k][1]));
			for (l = 0; l < 4; l++) {
				if (got[l] != lf_clamp(x[l], lims[k][0], lims[k][1])) {
					printf("lf_clamp4(%lld) = %lld\n", x[l], got[l]);
					return 1;
				}
			}
			n_clamp += 4;
		}
	}
	return 0;
}

/* The table loads sign-extend every value of s8 and s16, and s32 edges. */
static LF_AVX2 int loads(void)
{
	static s8 b[260];
	static s16 h[260];
	static s32 w[260];
	s64 got[4];
	int i, l;

	for (i = 0; i < 260; i++) {
		b[i] = (s8)(i - 128);
		h[i] = (s16)((i - 130) * 252);
		w[i] = (s32)(i < 4 ? (i & 1 ? 0x7fffffff : -0x7fffffff - 1) : (s32)next());
	}
	for (i = 0; i < 256; i++) {
		lf_st4(got, lf_ld4_s8(&b[i]));
		for (l = 0; l < 4; l++)
			if (got[l] != b[i + l])
				return printf("lf_ld4_s8 at %d\n", i + l), 1;
		lf_st4(got, lf_ld4_s16(&h[i]));
		for (l = 0; l < 4; l++)
			if (got[l] != h[i + l])
				return printf("lf_ld4_s16 at %d\n", i + l), 1;
		lf_st4(got, lf_ld4_s32(&w[i]));
		for (l = 0; l < 4; l++)
			if (got[l] != w[i + l])
				return printf("lf_ld4_s32 at %d\n", i + l), 1;
		n_loads += 4;
	}
	return 0;
}

/* lf_rescale4s (table steps: signed, small) and the table gathers. */
static LF_AVX2 int tables(void)
{
	static s16 h[261];
	static s32 w[260];
	s64 x[4], mul[4], got[4];
	unsigned int shift;
	int i, l;

	for (i = 0; i < 260; i++) {
		h[i] = (s16)((i - 130) * 252);
		w[i] = (s32)next();
	}
	for (i = 0; i < 257; i++) {
		lf_v4di k = { i, i + 1, i + 2, 259 - i / 2 };

		lf_st4(got, lf_gather4_s16(h, k));
		for (l = 0; l < 4; l++)
			if (got[l] != h[k[l]])
				return printf("lf_gather4_s16 at %lld\n", k[l]), 1;
		lf_st4(got, lf_gather4_s32(w, k));
		for (l = 0; l < 4; l++)
			if (got[l] != w[k[l]])
				return printf("lf_gather4_s32 at %lld\n", k[l]), 1;
		n_gathers += 8;
	}
	for (shift = 1; shift <= 30; shift++) {
		for (i = 0; i < 20000; i++) {
			for (l = 0; l < 4; l++) {
				x[l] = (s64)(next() & (((u64)1 << shift) - 1));
				mul[l] = (s64)(s32)next() >> (next() % 32);
			}
			if (i < 4)
				x[i] = ((s64)1 << (shift - 1)) + i - 2;
			lf_st4(got, lf_rescale4s(lf_ld4_s64(x), lf_ld4_s64(mul), shift));
			for (l = 0; l < 4; l++) {
				if (got[l] != lf_rescale(x[l], mul[l], shift)) {
					printf("lf_rescale4s(%lld, %lld, %u) = %lld\n", x[l], mul[l],
					       shift, got[l]);
					return 1;
				}
				if ((x[l] * mul[l]) % ((s64)1 << shift) == -((s64)1 << (shift - 1)))
					n_small_neg_ties++;
			}
			n_small += 4;
		}
	}
	return 0;
}

static unsigned long n_rescale8, n_ties8, n_clamp8, n_loads8;

/* lf_rescale8() of x[0..7] by mul[0..7], where each result fits s32. */
static LF_AVX2 int check8(const s32 *x, const s32 *mul, unsigned int shift)
{
	s64 got[8];
	int l;

	lf_st8(got, lf_rescale8(lf_ld8_s32(x), lf_ld8_s32(mul), shift));
	for (l = 0; l < 8; l++) {
		s64 want = lf_rescale(x[l], mul[l], shift);

		if (got[l] != want) {
			printf("lf_rescale8(%d, %d, %u) = %lld, lf_rescale: %lld\n",
			       x[l], mul[l], shift, got[l], want);
			return 1;
		}
		if ((s64)x[l] * mul[l] % ((s64)1 << shift) == ((s64)1 << (shift - 1)) ||
		    (s64)x[l] * mul[l] % ((s64)1 << shift) == -((s64)1 << (shift - 1)))
			n_ties8++;
	}
	n_rescale8 += 8;
	return 0;
}

/* Whether lf_rescale(x, mul, shift) fits s32 (what tail_s32 proves). */
static int fits8(s32 x, s32 mul, unsigned int shift)
{
	s64 r = lf_rescale(x, mul, shift);

	return r >= -0x80000000ll && r <= 0x7fffffffll;
}

/*
 * Random s32 lanes (some at 2^k +/- 2 and the s32 ends), multipliers in
 * [0, 2^31) of every size, exact halves, shifts 1..32: every lane whose
 * result fits s32, 8 at a time.
 */
static LF_AVX2 int lanes8(void)
{
	s32 x[8], mul[8];
	unsigned int shift;
	int i, l, k;

	for (shift = 1; shift <= 32; shift++) {
		for (i = 0; i < 40000; i++) {
			for (l = 0; l < 8; ) {
				s32 m = (s32)((next() & 0x7fffffff) >> (next() % 31));
				s32 v = (s32)next() >> (next() % 32);

				k = next() % 8;
				if (k == 0)
					v = (s32)(((s64)1 << (next() % 31)) + (s64)(next() % 5) - 2);
				else if (k == 1)
					v = next() & 1 ? 0x7fffffff - (s32)(next() % 3) :
							 -0x7fffffff - 1 + (s32)(next() % 3);
				else if (k == 2 && shift > 1 && shift < 32)
					/* an exact half: v * 1 = (2q + 1) * 2^(shift - 1) */
					m = 1, v = (s32)((s64)((s32)next() >> shift | 1) << (shift - 1));
				if (next() & 1)
					v = -v;
				if (!fits8(v, m, shift))
					continue;
				x[l] = v;
				mul[l++] = m;
			}
			if (check8(x, mul, shift))
				return 1;
		}
	}
	return 0;
}

/* lf_clamp8(), lf_ld8_*(), lf_hadd8() against their scalar meaning. */
static LF_AVX2 int misc8(void)
{
	static const s32 lims[][2] = {
		{ 0, 32767 }, { -32768, 32767 }, { -128, 127 }, { 5, 5 }, { -1, 0 },
	};
	static s8 b[264];
	static s16 h[264];
	static s32 w[264], x[8];
	lf_v8si a[8];
	s64 got[8];
	int i, l, k;

	for (k = 0; k < 5; k++) {
		for (i = 0; i < 400; i++) {
			for (l = 0; l < 8; l++)
				x[l] = (s32)next() >> (next() % 32);
			lf_st8(got, lf_clamp8(lf_ld8_s32(x), lims[k][0], lims[k][1]));
			for (l = 0; l < 8; l++)
				if (got[l] != lf_clamp(x[l], lims[k][0], lims[k][1]))
					return printf("lf_clamp8(%d) = %lld\n", x[l], got[l]), 1;
			n_clamp8 += 8;
		}
	}
	for (i = 0; i < 264; i++) {
		b[i] = (s8)(i - 128);
		h[i] = (s16)((i - 130) * 252);
		w[i] = (s32)next();
	}
	for (i = 0; i < 256; i++) {
		lf_st8(got, lf_ld8_s8(&b[i]));
		for (l = 0; l < 8; l++)
			if (got[l] != b[i + l])
				return printf("lf_ld8_s8 at %d\n", i + l), 1;
		lf_st8(got, lf_ld8_s16(&h[i]));
		for (l = 0; l < 8; l++)
			if (got[l] != h[i + l])
				return printf("lf_ld8_s16 at %d\n", i + l), 1;
		lf_st8(got, lf_ld8_s32(&w[i]));
		for (l = 0; l < 8; l++)
			if (got[l] != w[i + l])
				return printf("lf_ld8_s32 at %d\n", i + l), 1;
		n_loads8 += 8;
	}
	/* lf_narrow16(): s16 values (and the s16 ends) in s64, in order */
	for (i = 0; i < 1000; i++) {
		static s64 v[16];
		static s16 xs[16];

		for (l = 0; l < 16; l++)
			v[l] = i < 2 ? (l & 1) == i ? 32767 : -32768 : (s16)next();
		lf_narrow16(xs, v);
		for (l = 0; l < 16; l++)
			if (xs[l] != v[l])
				return printf("lf_narrow16 lane %d\n", l), 1;
		n_loads8 += 16;
	}
	/* lane r of lf_hadd8() = the sum of the 8 lanes of row r (small lanes) */
	for (i = 0; i < 1000; i++) {
		s64 want[8] = { 0 };

		for (k = 0; k < 8; k++) {
			for (l = 0; l < 8; l++) {
				a[k][l] = (s32)next() >> 4;
				want[k] += a[k][l];
			}
		}
		lf_st8(got, lf_hadd8(a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7]));
		for (k = 0; k < 8; k++)
			if (got[k] != want[k])
				return printf("lf_hadd8 row %d\n", k), 1;
	}
	return 0;
}

int main(void)
{
	static const s64 muls[] = { 0, 1, 2, 3, 77, 12345, 1 << 20, 1073741823, 2147483647 };
	unsigned int shift;
	int m, i;

	for (shift = 1; shift <= 62; shift++) {
		for (m = 0; m < 9; m++)
			if (edges(muls[m], shift))
				return 1;
		if (ties(shift))
			return 1;
	}
	for (i = 0; i < 1000000; i++) {
		s64 mul = (s64)(next() & 0x7fffffff) >> (next() % 31);
		unsigned int sh = 1 + next() % 62;
		s64 x = (s64)next() >> (next() % 64);

		npend = 0;
		if (put(x, mul, sh) || put(x ^ 1, mul, sh) || put(-x, mul, sh) || put(x >> 1, mul, sh))
			return 1;
	}
	if (clamps() || loads() || tables() || lanes8() || misc8())
		return 1;
	printf("rescale: %lu\nties: %lu\nnegative ties: %lu\nclamp: %lu\nloads: %lu\n",
	       n_rescale, n_ties, n_neg_ties, n_clamp, n_loads);
	printf("gathers: %lu\nsmall: %lu\nsmall negative ties: %lu\n", n_gathers, n_small,
	       n_small_neg_ties);
	printf("rescale8: %lu\nties8: %lu\nclamp8: %lu\nloads8: %lu\n", n_rescale8, n_ties8,
	       n_clamp8, n_loads8);
	return 0;
}
