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
	for (i = 0; i < {{ l.len }}; i++) {
		s64 a = {{ l.a }};
		s64 b = {{ l.b }};

		{{ l.dst }}[i] = {{ l.value }};
	}
{% endblock %}
