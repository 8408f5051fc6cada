{% block decls -%}
/* {{ c.title }}: weight[j][i], row j computes output j. */
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
	for (j = 0; j < {{ l.out_len }}; j++) {
		{{ l.acc_type }} acc = {{ l.bias }};

		for (i = 0; i < {{ l.in_len }}; i++)
			acc += {{ l.x }} * {{ l.w }};
		{{ l.dst }} = {{ l.value }};
	}
{% endblock %}
