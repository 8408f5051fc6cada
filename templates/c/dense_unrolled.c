{% block decls -%}
/* {{ c.title }}: weights and biases are immediates below. */
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
{%- for ch in l.channels %}
	{{ l.acc }} = {{ ch.bias }};
{%- for t in ch.terms %}
	{{ l.acc }} {{ t.op }}= {{ t.expr }};
{%- endfor %}
	{{ ch.dst }} = {{ ch.value }};
{%- endfor %}
{% endblock %}
