/*
{%- if f.folded %}
 * {{ f.name }}(x) = {{ f.func }}(x), from {{ f.base }}[] and {{ f.delta }}[].
{%- else %}
 * {{ f.name }}(x) = {{ f.func }}(x), from {{ f.table }}[].
{%- endif %}
{%- if f.clamp_lo || f.clamp_hi %}
 * x is clamped to [{{ f.lo }}, {{ f.hi }}] (outside, the function is flat) by
 * conditional moves, not branches: a layer that calls this stays one basic
 * block, which keeps gcc's frame small.
{%- else %}
 * x is proven within [{{ f.lo }}, {{ f.hi }}] by lfc's validator: no clamp.
{%- endif %}
{%- if f.folded %}
 * Entries are 2^{{ f.step_shift }} inputs apart; in between, the function is
 * linear: table[k] + delta[k] * f / 2^s, rounded half up, with s =
 * {{ f.step_shift }}, f = d - k * 2^s the fraction of the step and
 * delta[k] = table[k + 1] - table[k]. The table is folded into the step's
 * base, base[k] = table[k] * 2^s + 2^(s - 1) - delta[k] * k * 2^s, so one
 * multiply-add and one shift give the same integer (lfc proved every
 * intermediate inside s64).
{%- elif f.interp %}
 * Entries are 2^{{ f.step_shift }} inputs apart; in between, the function is
 * linear: table[k] + delta[k] * (fraction of the step), rounded half up, with
 * {{ f.delta }}[k] = {{ f.table }}[k + 1] - {{ f.table }}[k].
{%- endif %}
 */
static inline s64 {{ f.name }}(s64 x)
{
	s64 d = x - {{ f.lo }};
{%- if f.interp %}
	s64 k;
{%- endif %}

{%- if f.clamp_lo %}
	d = d < 0 ? 0 : d;
{%- endif %}
{%- if f.clamp_hi %}
	d = d > {{ f.range }} ? {{ f.range }} : d;
{%- endif %}
{%- if f.folded %}
	k = d >> {{ f.step_shift }};
{%- if f.wrap_return %}
	return ({{ f.base }}[k] + {{ f.delta }}[k] * d) >>
	       {{ f.step_shift }};
{%- else %}
	return ({{ f.base }}[k] + {{ f.delta }}[k] * d) >> {{ f.step_shift }};
{%- endif %}
{%- elif f.interp %}
	k = d >> {{ f.step_shift }};
	return {{ f.table }}[k] + lf_rescale(d & {{ f.frac_mask }}, {{ f.delta }}[k], {{ f.step_shift }});
{%- else %}
	return {{ f.table }}[d];
{%- endif %}
}
