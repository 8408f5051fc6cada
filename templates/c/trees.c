{% block decls -%}
/* {{ c.title }}: node table (feature, threshold, yes, no), leaves, base */
{{ c.decls }}
{%- endblock %}
{% block body %}
	/*
	 * {{ c.title }}
	 *	{{ c.doc }}
{%- for n in c.notes %}
	 * {{ n }}
{%- endfor %}
	 * Walk: go to yes[j] when x[feature[j]] <= threshold[j], else no[j];
	 * a child at or past {{ l.branches }} is a leaf. Leaves add to y at
	 * 2^-TREE_ACC_SHIFT of its step; one rounding at the end.
	 */
	for (i = 0; i < {{ l.targets }}; i++)
		{{ l.dst }}[i] = {{ l.base }}[i];
	for (g = 0; g < {{ l.trees }}; g++) {
		j = {{ l.roots }}[g];
		while (j < {{ l.branches }})
			j = {{ l.src }}[{{ l.feature }}[j]] <= {{ l.threshold }}[j] ?
			    {{ l.yes }}[j] : {{ l.no }}[j];
		j -= {{ l.branches }};
		for (i = 0; i < {{ l.targets }}; i++)
			{{ l.dst }}[i] += {{ l.leaf }}[j * {{ l.targets }} + i];
	}
	for (i = 0; i < {{ l.targets }}; i++)
		{{ l.dst }}[i] = {{ l.value }};
{% endblock %}
