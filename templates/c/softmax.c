{% block decls -%}
/*
 * {{ c.title }}: exp on [{{ l.lut.lo_value }}, {{ l.lut.hi_value }}] in Q{{ l.exp_frac }},
 * {{ l.lut.entries }} entries{% if l.lut.interp %} every 2^{{ l.lut.step_shift_value }} inputs, linear in between{% endif %};
 * largest error against the exact quantized exp: {{ l.lut.max_error }} (real units).
 */
{{ c.decls }}
{%- endblock %}
{% block body %}
	/*
	 * {{ c.title }}
	 *	{{ c.doc }}
{%- for n in c.notes %}
	 * {{ n }}
{%- endfor %}
	 * Per group: e = exp(x - max) from the table (Q{{ l.exp_frac }}, so e <= 2^{{ l.exp_frac }}),
	 * s = sum e shifted left by k into [2^30, 2^31), r = 2^61 / s by
	 * Newton's method, y = e * r / 2^(61 - k - out_frac): no division.
	 */
	for (g = 0; g < {{ l.len }}; g += {{ l.axis }}) {
		const s64 *x = &{{ l.src }}[g];
		s64 *y = &{{ l.dst }}[g];
		s64 m = x[0], s = 0, r;
		int k = 0;

		for (i = 1; i < {{ l.axis }}; i++)
			m = x[i] > m ? x[i] : m;
		for (i = 0; i < {{ l.axis }}; i++) {
			y[i] = {{ l.lut.fn_name }}(x[i] - m);
			s += y[i];
		}
		while (s < LF_SOFTMAX_NORM_MIN) {
			s <<= 1;
			k++;
		}
		r = lf_softmax_recip(s);
		for (i = 0; i < {{ l.axis }}; i++) {
			s64 p = {{ l.value }};

			y[i] = p < {{ l.qmax }} ? p : {{ l.qmax }};
		}
	}
{% endblock %}
