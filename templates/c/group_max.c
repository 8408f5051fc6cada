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
	 */
	for (g = 0; g < {{ l.len }}; g++) {
		{{ l.dst }}[g] = {{ l.src }}[g * {{ l.axis }}];
		for (i = 1; i < {{ l.axis }}; i++)
			if ({{ l.src }}[g * {{ l.axis }} + i] > {{ l.dst }}[g])
				{{ l.dst }}[g] = {{ l.src }}[g * {{ l.axis }} + i];
	}
{% endblock %}
