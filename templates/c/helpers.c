{%- if h.clamp %}
/* x limited to [lo, hi] (lo <= hi): a saturation or a fused Relu/Clip. */
static inline s64 lf_clamp(s64 x, s64 lo, s64 hi)
{
	return x < lo ? lo : (x > hi ? hi : x);
}
{% endif %}
{%- if h.clamp_flag %}
/*
 * x limited to [lo, hi] (lo <= hi), noting @flag in *flags when it was
 * outside: the input domain (LF_INFER_DRIFT) or the output guardrail
 * (LF_INFER_GUARD). The clamp's own comparisons, OR-ed without a branch
 * (branches here made gcc spill the unrolled layers: a 7.6 KiB frame).
 */
static inline s64 lf_clamp_flag(s64 x, s64 lo, s64 hi, unsigned int *flags,
				unsigned int flag)
{
	*flags |= ((x < lo) | (x > hi)) * flag;
	return x < lo ? lo : (x > hi ? hi : x);
}
{% endif %}
{%- if h.rescale %}
/*
 * x * mul / 2^shift, rounded half up, once: 2^(shift - 1) is added before
 * the arithmetic shift (>> of a negative s64 propagates the sign with gcc
 * and clang on every architecture the kernel supports). 1 <= shift <= 62.
 * The validator proved x * mul + 2^(shift - 1) within s64 for every x that
 * reaches each call, so nothing here can overflow.
 */
static inline s64 lf_rescale(s64 x, s64 mul, unsigned int shift)
{
	return (x * mul + ((s64)1 << (shift - 1))) >> shift;
}
{% endif %}
{%- if h.rescale_even %}
/*
 * x * mul / 2^shift, rounded half to even (onnxruntime's requantization,
 * where a model's multiplier makes exact halves reachable). With
 * y = x * mul and q = y >> shift (floor), adding 2^(shift - 1) - 1 + (q & 1)
 * before the shift carries an exact half into q + 1 only when q is odd;
 * every other y rounds to the nearest as in lf_rescale. The bias is at
 * most 2^(shift - 1), so the validator's bound for lf_rescale holds.
 */
static inline s64 lf_rescale_even(s64 x, s64 mul, unsigned int shift)
{
	s64 y = x * mul;
	s64 bias = ((s64)1 << (shift - 1)) - 1 + ((y >> shift) & 1);

	return (y + bias) >> shift;
}
{% endif %}
{%- if h.rescale_odd %}
/*
 * x * mul / 2^shift, an exact half rounded to the odd neighbour: with an
 * odd zero point added after it, the stored integer is rounded half to
 * even (onnxruntime adds the zero point before rounding there). The bias
 * 2^(shift - 1) - (q & 1) is at most lf_rescale's.
 */
static inline s64 lf_rescale_odd(s64 x, s64 mul, unsigned int shift)
{
	s64 y = x * mul;
	s64 bias = ((s64)1 << (shift - 1)) - ((y >> shift) & 1);

	return (y + bias) >> shift;
}
{% endif %}
{%- if h.rescale_sum %}
/*
 * (x * mx + y * my) / 2^shift with one rounding, half up: the sum of two
 * rescaled operands (Add, Sub) without the error of rounding each. The
 * validator proved the sum plus 2^(shift - 1) within s64.
 */
static inline s64 lf_rescale_sum(s64 x, s64 mx, s64 y, s64 my,
				 unsigned int shift)
{
	return (x * mx + y * my + ((s64)1 << (shift - 1))) >> shift;
}
{% endif %}
{%- if h.fixmul %}
/* A per-channel fixed-point multiplier: mul / 2^shift. */
struct lf_fixmul {
	s64 mul;
	u32 shift;
};
{% endif %}
{%- if let Some(sm) = h.softmax %}
/*
 * Softmax normalisation without division. The sum s of a group's exp values
 * is first shifted left into [LF_SOFTMAX_NORM_MIN, 2 * LF_SOFTMAX_NORM_MIN),
 * so y = s / 2^{{ sm.norm_shift }} is in [0.5, 1); then r ~= 1 / y in Q{{ sm.recip_frac }} from the
 * linear seed r0 = 48/17 - 32/17 * y (error <= 1/17) and Newton steps
 * r = r * (2 - y * r), each squaring the error (1/17, 3.5e-3, 1.2e-5,
 * 1.5e-10): {{ sm.newton_steps }} steps reach Q{{ sm.recip_frac }}'s resolution. With s < 2^{{ sm.norm_shift }} and
 * r < 2^{{ sm.norm_shift }}, every product is below 2^62.
 */
#define LF_SOFTMAX_NORM_MIN	((s64)1 << {{ sm.norm_bits }})
#define LF_SOFTMAX_RECIP_FRAC	{{ sm.recip_frac }}
#define LF_SOFTMAX_SEED_C1	{{ sm.seed_c1 }}	/* round(48/17 * 2^{{ sm.recip_frac }}) */
#define LF_SOFTMAX_SEED_C2	{{ sm.seed_c2 }}	/* round(32/17 * 2^{{ sm.recip_frac }}) */
#define LF_SOFTMAX_NEWTON_STEPS	{{ sm.newton_steps }}
/* e * r / 2^LF_SOFTMAX_Q is e / s before the normalising shift. */
#define LF_SOFTMAX_Q		{{ sm.q }}

static inline s64 lf_softmax_recip(s64 s)
{
	s64 r = LF_SOFTMAX_SEED_C1 - ((LF_SOFTMAX_SEED_C2 * s) >> {{ sm.norm_shift }});
	int n;

	for (n = 0; n < LF_SOFTMAX_NEWTON_STEPS; n++) {
		s64 yr = (s * r) >> {{ sm.norm_shift }};	/* y * r, Q{{ sm.recip_frac }} */

		r = (r * (((s64)2 << LF_SOFTMAX_RECIP_FRAC) - yr)) >> LF_SOFTMAX_RECIP_FRAC;
	}
	return r;
}
{% endif %}
{%- if let Some(ln) = h.layer_norm %}
/*
 * Layer normalisation's reciprocal square root without division. T >= 0
 * (read as 1 when 0: then every centred value is 0) is shifted by 2k bits
 * into t in [2^{{ ln.t_min_bits }}, 2^{{ ln.frac }}), y = t / 2^{{ ln.frac }} in [0.25, 1); r ~= 1 / sqrt(y) in
 * Q{{ ln.frac }} from the minimax linear seed r0 = 2.132773 - 1.218727 * y (relative
 * error <= 0.086) and Newton steps r = r * (3 - y * r^2) / 2, each taking
 * the error e to 1.5 e^2 + 0.5 e^3 (0.086, 1.1e-2, 2.0e-4, 5.7e-8, 5e-15):
 * {{ ln.newton_steps }} steps reach Q{{ ln.frac }}. With r <= 2^31 + 2^8 every product is below 2^63.
 * Then 1 / sqrt(T) = r * 2^(-45 - k). The caller proved T < 2^62 (k <= 16).
 */
#define LF_LAYER_NORM_T_MIN	((s64)1 << {{ ln.t_min_bits }})
#define LF_LAYER_NORM_SEED_C1	{{ ln.seed_c1 }}	/* round(2.132773 * 2^{{ ln.frac }}) */
#define LF_LAYER_NORM_SEED_C2	{{ ln.seed_c2 }}	/* round(1.218727 * 2^{{ ln.frac }}) */
#define LF_LAYER_NORM_NEWTON_STEPS	{{ ln.newton_steps }}
/* z = c * r / 2^(LF_LAYER_NORM_Z_SHIFT + k) is c / sqrt(T) in Q{{ ln.z_frac }}. */
#define LF_LAYER_NORM_Z_SHIFT	{{ ln.z_shift }}

static inline s64 lf_layer_norm_rsqrt(s64 t, int *k)
{
	s64 r;
	int n;

	*k = 0;
	if (t < 1)
		t = 1;
	while (t >= 4 * LF_LAYER_NORM_T_MIN) {
		t >>= 2;
		(*k)++;
	}
	while (t < LF_LAYER_NORM_T_MIN) {
		t <<= 2;
		(*k)--;
	}
	r = LF_LAYER_NORM_SEED_C1 - ((LF_LAYER_NORM_SEED_C2 * t) >> {{ ln.frac }});
	for (n = 0; n < LF_LAYER_NORM_NEWTON_STEPS; n++) {
		s64 r2 = (r * r) >> {{ ln.frac }};		/* r^2, Q{{ ln.frac }} */
		s64 yr2 = (t * r2) >> {{ ln.frac }};	/* y * r^2, Q{{ ln.frac }} */

		r = (r * (((s64)3 << {{ ln.frac }}) - yr2)) >> {{ ln.frac1 }};
	}
	return r;
}
{% endif %}
