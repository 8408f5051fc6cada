/*
 * {{ f.name }}(x) = {{ f.func }}(x), from {{ f.table }}[].
 * x is clamped to [{{ f.lo }}, {{ f.hi }}] (outside, the function is flat) by
 * conditional moves, not branches: a layer that calls this stays one basic
 * block, which keeps gcc's frame small.
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

	d = d < 0 ? 0 : d;
	d = d > {{ f.range }} ? {{ f.range }} : d;
{%- if f.interp %}
	k = d >> {{ f.step_shift }};
	return {{ f.table }}[k] + lf_rescale(d & {{ f.frac_mask }}, {{ f.delta }}[k], {{ f.step_shift }});
{%- else %}
	return {{ f.table }}[d];
{%- endif %}
}
