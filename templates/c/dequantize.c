{% block decls -%}
/*
 * {{ c.title }}
 * {{ l.scale_note }}
{%- if let Some(g) = l.guard_note %}
 * {{ g }}
{%- endif %}
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
	for (i = 0; i < {{ l.len }}; i++)
		{{ l.target }} = {{ l.value }};
{% endblock %}
