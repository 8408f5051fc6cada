{% block decls -%}
{% if !c.decls.is_empty() -%}
/* {{ c.title }}: multipliers and constant blocks. */
{{ c.decls }}
{%- endif %}
{%- endblock %}
{% block body %}
	/*
	 * {{ c.title }}
	 *	{{ c.doc }}
{%- for n in c.notes %}
	 * {{ n }}
{%- endfor %}
	 */
{%- for p in l.pieces %}
{%- if let Some(len) = p.len %}
	for (i = 0; i < {{ len }}; i++)
		{{ p.dst }} = {{ p.value }};
{%- else %}
	{{ p.dst }} = {{ p.value }};
{%- endif %}
{%- endfor %}
{% endblock %}
