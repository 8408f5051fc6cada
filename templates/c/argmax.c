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
		{{ l.dst }}[g] = 0;
		for (i = 1; i < {{ l.axis }}; i++)
			if ({{ l.src }}[g * {{ l.axis }} + i] >
			    {{ l.src }}[g * {{ l.axis }} + {{ l.dst }}[g]])
				{{ l.dst }}[g] = i;
	}
{% endblock %}
