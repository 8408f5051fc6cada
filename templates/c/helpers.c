{%- if h.clamp %}
/* x limited to [lo, hi] (lo <= hi): a saturation or a fused Relu/Clip. */
static inline s64 lf_clamp(s64 x, s64 lo, s64 hi)
{
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
{%- if h.lerp %}
/*
 * Linear interpolation between table entries a and b that are 2^shift
 * inputs apart, f (0 <= f < 2^shift) inputs past a: a + (b - a) * f / 2^shift
 * rounded half up. |b - a| is at most the output range and f < 2^shift, so
 * the product stays far inside s64.
 */
static inline s64 lf_lerp(s64 a, s64 b, s64 f, unsigned int shift)
{
	return a + (((b - a) * f + ((s64)1 << (shift - 1))) >> shift);
}
{% endif %}
{%- if h.fixmul %}
/* A per-channel fixed-point multiplier: mul / 2^shift. */
struct lf_fixmul {
	s64 mul;
	u32 shift;
};
{% endif %}
