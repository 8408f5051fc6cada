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
{{ "" }}
{%- if let Some(inner) = l.inner %}
		for (i = 0; i < {{ inner.blocked_len }}; i += {{ inner.unroll }}) {
{%- for t in inner.block %}
			acc += {{ t }};
{%- endfor %}
		}
{%- endif %}
{%- for t in l.rest %}
		acc += {{ t }};
{%- endfor %}
		{{ l.dst }} = {{ l.value }};
	}
{% endblock %}
