/*
 * {{ f.name }}_avx2() - y[j] = {{ f.name }}(y[j]) for j < n (a multiple of 4), in
 * AVX2 lanes: the same integer arithmetic, 4 entries gathered at a time.
 * Call only between kernel_fpu_begin() and kernel_fpu_end().
 */
static LF_AVX2 void {{ f.name }}_avx2(s64 *y, int n)
{
	lf_v4di d;
{%- if f.interp %}
	lf_v4di k, f;
{%- endif %}
	int j;

	for (j = 0; j < n; j += 4) {
		d = lf_ld4_s64(&y[j]) - lf_set4({{ f.lo }});
{%- if f.clamp_lo || f.clamp_hi %}
		/* both sides: the side lfc did not clamp above is proven */
		d = lf_clamp4(d, 0, {{ f.range }});
{%- endif %}
{%- if f.interp %}
		k = (lf_v4di)((lf_v4du)d >> {{ f.step_shift }});
		/* the step's share: delta[k] * fraction / 2^step_shift */
		f = lf_rescale4s(d & lf_set4({{ f.frac_mask }}), {{ delta_at }},
				 {{ f.step_shift }});
		lf_st4(&y[j], {{ table_at }} + f);
{%- else %}
		lf_st4(&y[j], {{ table_at }});
{%- endif %}
	}
}
