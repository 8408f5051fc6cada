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
