{% block decls -%}
/*
 * {{ c.title }}
 * To the output scale: out[i] / LF_OUTPUT_SCALE is the real output.
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
	for (i = 0; i < LF_OUTPUT_LEN; i++)
		out[i] = {{ l.value }};
{% endblock %}
