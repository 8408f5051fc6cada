{% block decls -%}
/* {{ c.title }}: straight-line comparisons (thresholds, leaves: immediates) */
{{ c.decls }}
{%- endblock %}
{% block body %}
	/*
	 * {{ c.title }}
	 *	{{ c.doc }}
{%- for n in c.notes %}
	 * {{ n }}
{%- endfor %}
	 * Each tree is a nest of tests x[f] <= threshold (the yes side
	 * first). A leaf adds to y at 2^-TREE_ACC_SHIFT of its step; one
	 * rounding at the end.
	 */
{%- for b in l.base %}
	{{ b }}
{%- endfor %}
{%- for t in l.trees %}
	/* {{ t.title }} */
{%- for s in t.lines %}
	{{ s }}
{%- endfor %}
{%- endfor %}
	for (i = 0; i < {{ l.targets }}; i++)
		{{ l.dst }}[i] = {{ l.value }};
{% endblock %}
