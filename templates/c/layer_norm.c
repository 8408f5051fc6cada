{% block decls -%}
/* {{ c.title }} */
{{ c.decls }}
{%- endblock %}
{% block body %}
	/*
	 * {{ c.title }}
	 *	{{ c.doc }}
{%- for n in c.notes %}
	 * {{ n }}
{%- endfor %}
{%- if l.denom == "squares" %}
	 * Per group of n: sum = sum x, c = n * x - sum = n * (x - mean),
	 * T = sum c^2 + eps = n^3 * (var + epsilon) / s_x^2, and
	 * r = 2^45 / sqrt(T / 4^k) from lf_layer_norm_rsqrt: no division.
	 * |c| <= sqrt((n - 1) / n * T), so |(x - mean) / sqrt(var + epsilon)|
	 * <= sqrt(n - 1).
{%- else if l.denom == "abs_sum" %}
	 * Per group of n: c = n * (x - zp), T = (sum |c|)^2 + eps, and
	 * r = 2^45 / sqrt(T / 4^k) from lf_layer_norm_rsqrt, so c / sqrt(T)
	 * is x / sum |x| (L1) with no division; |c| <= sqrt(T).
{%- else %}
	 * Per group of n: c = n * (x - zp), T = (max |c|)^2 + eps, and
	 * r = 2^45 / sqrt(T / 4^k) from lf_layer_norm_rsqrt, so c / sqrt(T)
	 * is x / max |x| (MAX, x proven >= 0) with no division; |c| <= sqrt(T).
{%- endif %}
	 */
	for (g = 0; g < {{ l.groups }}; g++) {
		const s64 *x = &{{ l.src }}[g * {{ l.axis }}];
		const s64 n = {{ l.axis }};
		s64 sum = 0, ss = 0, r;
		int k;

		{{ l.sum }}
		for (i = 0; i < n; i++) {
			s64 c = {{ l.centred }};
{% if l.denom == "squares" %}
			ss += c * c;
{%- else if l.denom == "abs_sum" %}
			ss += c < 0 ? -c : c;
{%- else %}
			if (c < 0)
				c = -c;
			if (c > ss)
				ss = c;
{%- endif %}
		}
{%- if l.denom != "squares" %}
		ss *= ss;
{%- endif %}
		r = lf_layer_norm_rsqrt(ss + {{ l.eps }}, &k);
{%- if l.per_group %}
		{
			int sh = {{ l.inv_shift }} + k;
			s64 v = sh > 62 ? 0 : lf_rescale(r, {{ l.inv_mul }}, sh);

			{{ l.dst }}[g] = {{ l.value }};
		}
{%- else %}
		for (i = 0; i < n; i++) {
			s64 z = lf_rescale({{ l.centred }}, r, LF_LAYER_NORM_Z_SHIFT + k);

			{{ l.dst }}[g * n + i] = {{ l.value }};
		}
{%- endif %}
	}
{% endblock %}
