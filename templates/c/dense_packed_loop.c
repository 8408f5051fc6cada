{% block decls -%}
/* {{ c.title }}: packed[j >> 1][i] holds weight[j][i] and weight[j + 1][i]. */
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
	for (j = 0; j < {{ l.out_len }}; j += 2) {
		pk0 = {{ l.bias }};
{{ "" }}
{%- if let Some(inner) = l.inner %}
		for (i = 0; i < {{ inner.blocked_len }}; i += {{ inner.unroll }}) {
{%- for t in inner.block %}
			pk0 += {{ t }};
{%- endfor %}
		}
{%- endif %}
{%- for t in l.rest %}
		pk0 += {{ t }};
{%- endfor %}
		acc = {{ l.lo }};
		{{ l.lo_ch.dst }} = {{ l.lo_ch.value }};
		acc = {{ l.hi }};
		{{ l.hi_ch.dst }} = {{ l.hi_ch.value }};
	}
{% endblock %}
