{% block decls -%}
/* {{ c.title }}: per-element multipliers, offsets and limits. */
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
		s64 v = {{ l.v }};
{% if let Some(neg) = l.neg %}
		if (v >= 0)
			v = {{ l.pos }};
		else
			v = {{ neg }};
{%- else %}
		v = {{ l.pos }};
{%- endif %}
		{{ l.dst }}[i] = {{ l.value }};
	}
{% endblock %}
