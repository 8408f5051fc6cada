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
{%- if let Some(into) = l.fused_into %}
	/* ... computed by {{ into }} above, as {{ l.fn_name }}() of its outputs. */
{%- else %}
	for (i = 0; i < {{ l.len }}; i++)
		{{ l.dst }}[i] = {{ l.fn_name }}({{ l.src }}[i]);
{%- endif %}
{% endblock %}
