/*
 * {{ f.name }}(x) = {{ f.func }}(x), from {{ f.table }}[].
{%- if f.clamp_lo || f.clamp_hi %}
 * x is clamped to [{{ f.lo }}, {{ f.hi }}] (outside, the function is flat) by
 * conditional moves, not branches: a layer that calls this stays one basic
 * block, which keeps gcc's frame small.
{%- else %}
 * x is proven within [{{ f.lo }}, {{ f.hi }}] by lfc's validator: no clamp.
{%- endif %}
{%- if f.interp %}
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
{%- if f.interp %}
	k = d >> {{ f.step_shift }};
	return {{ f.table }}[k] + lf_rescale(d & {{ f.frac_mask }}, {{ f.delta }}[k], {{ f.step_shift }});
{%- else %}
	return {{ f.table }}[d];
{%- endif %}
}
