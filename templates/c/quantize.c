{% block decls -%}
/*
 * {{ c.title }}
 * in[i] / LF_INPUT_SCALE is the real input. It is clamped to the declared
 * domain [in_lo[i], in_hi[i]] (input units) before it is scaled, so nothing
 * outside the proven ranges reaches the arithmetic below.
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
{%- if l.unrolled.is_empty() %}
	for (i = 0; i < {{ l.len }}; i++)
		{{ l.dst }}[i] = {{ l.value }};
{%- else %}
{%- for line in l.unrolled %}
	{{ line }};
{%- endfor %}
{%- endif %}
	/*
	 * The drift flag is complete here: without this gcc may defer the
	 * OR to the return and keep every comparison live until then
	 * (spilled: 232 bytes more frame on Aurora).
	 */
	OPTIMIZER_HIDE_VAR(flags);
{% endblock %}
