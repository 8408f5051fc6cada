{% block decls -%}
/*
 * {{ c.title }}: {{ l.func }} on [{{ l.lo_value }}, {{ l.hi_value }}],
 * {{ l.entries }} entries{% if l.interp %} every 2^{{ l.step_shift_value }} inputs, linear in between{% endif %};
 * largest error against the exact quantized {{ l.func }}: {{ l.max_error }} (real units).
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
	 */
	for (i = 0; i < {{ l.len }}; i++) {
		s64 d = lf_clamp({{ l.src }}[i], {{ l.lo }}, {{ l.hi }}) - {{ l.lo }};
{%- if l.interp %}
		s64 k = d >> {{ l.step_shift }};

		{{ l.dst }}[i] = lf_lerp({{ l.table }}[k], {{ l.table }}[k + 1], d & {{ l.frac_mask }}, {{ l.step_shift }});
{%- else %}

		{{ l.dst }}[i] = {{ l.table }}[d];
{%- endif %}
	}
{% endblock %}
