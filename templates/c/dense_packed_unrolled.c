{% block decls -%}
/* {{ c.title }}: two channels per constant, weights and biases are immediates below. */
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
{%- for b in l.blocks %}
{%- for p in b.pairs %}
	{{ p.acc }} = {{ p.bias }};
{%- endfor %}
{%- for t in b.terms %}
	{{ t.acc }} += {{ t.expr }};
{%- endfor %}
{%- for p in b.pairs %}
	acc = {{ p.lo_read }};
	{{ p.lo.dst }} = {{ p.lo.value }};
	acc = {{ p.hi_read }};
	{{ p.hi.dst }} = {{ p.hi.value }};
{%- endfor %}
{%- endfor %}
{% endblock %}
