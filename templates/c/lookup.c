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
	for (i = 0; i < {{ l.len }}; i++)
		{{ l.dst }}[i] = {{ l.table }}[{{ l.src }}[i]];
{% endblock %}
