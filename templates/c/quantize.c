{% block decls -%}
/*
 * {{ c.title }}
 * in[i] / LF_INPUT_SCALE is the real input. It is clamped to the declared
 * domain [in_lo[i], in_hi[i]] (input units) before it is scaled, so nothing
 * outside the proven ranges reaches the arithmetic below.
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
{%- if let Some(f) = l.in_place %}
{%- for line in f.checks %}
	{{ line }};
{%- endfor %}
	/*
	 * The layers read in[] through {{ f.pointer }}: inside the domain the
	 * quantization is the identity. An input outside it: they read the
	 * clamped copy instead (rare, so a loop).
	 */
	if (flags) {
		for (i = 0; i < {{ l.len }}; i++)
			{{ l.dst }}[i] = {{ f.clamped }};
		{{ f.pointer }} = {{ l.dst }};
	}
	/* gcc would keep the loaded inputs live (spilled) for the layers */
	OPTIMIZER_HIDE_VAR({{ f.pointer }});
{%- elif l.unrolled.is_empty() %}
	for (i = 0; i < {{ l.len }}; i++)
		{{ l.dst }}[i] = {{ l.value }};
{%- else %}
{%- for line in l.unrolled %}
	{{ line }};
{%- endfor %}
{%- endif %}
	/*
	 * The drift flag is complete here: without this gcc may defer the
	 * OR to the return and keep every comparison live until then
	 * (spilled: 232 bytes more frame on Aurora).
	 */
	OPTIMIZER_HIDE_VAR(flags);
{% endblock %}
