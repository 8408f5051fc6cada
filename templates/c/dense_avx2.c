{% block decls -%}
/*
 * {{ c.title }}: weight[j][i], row j computes output j; rows padded
 * with zeros to {{ l.in_pad_value }} inputs (whole 16-lane vectors).
 */
{{ c.decls }}
/*
{%- if l.finished %}
 * {{ l.func }}() - y[j] = row j's value before any table, in AVX2
 * @x: {{ l.in_len }} inputs, each in [{{ l.x_lo }}, {{ l.x_hi }}] (proven): they fit s16
 * @y: {{ l.out_len }} outputs (s64): the row sums, then finished in place
{%- else %}
 * {{ l.func }}() - y[j] = sum_i W[j][i] * x[i] for every row j, in AVX2
 * @x: {{ l.in_len }} inputs, each in [{{ l.x_lo }}, {{ l.x_hi }}] (proven): they fit s16
 * @y: {{ l.out_len }} sums (s64)
{%- endif %}
 *
 * Chunks of 16 inputs: vpmaddwd adds each two neighbouring products into
 * one of 8 s32 lanes.
{%- for n in l.block_note %}
 * {{ n }}
{%- endfor %}
 * {{ l.rows.len() }} rows at a time share each load of x.
 * Call only between kernel_fpu_begin() and kernel_fpu_end().
 */
static LF_AVX2 void {{ l.func }}(const s64 *x, s64 *y)
{
	s16 xs[{{ l.in_pad }}];
	lf_v16hi v;
{%- for r in l.rows %}
	lf_v8si {{ r.lanes }};
{%- endfor %}
{%- if l.split %}
	lf_v8si p;
{%- for r in l.rows %}
	lf_v8si {{ r.high }};
{%- endfor %}
{%- endif %}
{%- if !l.one_block %}
{%- for r in l.rows %}
	lf_v4di {{ r.sum }};
{%- endfor %}
{%- endif %}
{%- if l.tail.is_some() %}
	lf_v4di acc;
{%- endif %}
{%- if l.fused %}
	lf_v8si t;
{%- endif %}
	int {{ l.ints }};

{%- for off in l.narrow16 %}
	lf_narrow16(&xs[{{ off }}], &x[{{ off }}]);
{%- endfor %}
{%- if l.narrow_pairs %}
	for (i = 0; i < {{ l.narrow16_end }}; i += 32) {
		lf_narrow16(&xs[i], &x[i]);
		lf_narrow16(&xs[i + 16], &x[i + 16]);
	}
{%- else if l.narrow_loop %}
	for (i = 0; i < {{ l.narrow16_end }}; i += 16)
		lf_narrow16(&xs[i], &x[i]);
{%- endif %}
{%- for off in l.narrow4 %}
	lf_narrow4(&xs[{{ off }}], &x[{{ off }}]);
{%- endfor %}
	for (i = {{ l.narrow_rest }}; i < {{ l.in_len }}; i++)
		xs[i] = x[i];
{%- if l.padded %}
	for (; i < {{ l.in_pad }}; i++)
		xs[i] = 0;
{%- endif %}
	for (j = 0; j < {{ l.out_len }}; j += {{ l.rows.len() }}) {
{%- if l.one_block %}
{%- for r in l.rows %}
		{{ r.lanes }} = lf_zero8();
{%- endfor %}
{%- if l.unrolled.is_empty() %}
		for (k = 0; k < {{ l.chunks }}; k++) {
			v = lf_load16(&xs[16 * k]);
{%- for r in l.rows %}
			{{ r.lanes }} += lf_madd(v, &{{ r.weight }}[16 * k]);
{%- endfor %}
		}
{%- else %}
{%- for off in l.unrolled %}
		v = lf_load16(&xs[{{ off }}]);
{%- for r in l.rows %}
		{{ r.lanes }} += lf_madd(v, &{{ r.weight }}[{{ off }}]);
{%- endfor %}
{%- endfor %}
{%- endif %}
{%- for f in l.finish %}
		{{ f }}
{%- endfor %}
{%- else if l.split %}
{%- for r in l.rows %}
		{{ r.lanes }} = lf_zero8();
		{{ r.high }} = lf_zero8();
{%- endfor %}
		for (k = 0; k < {{ l.chunks }}; k++) {
			v = lf_load16(&xs[16 * k]);
{%- for r in l.rows %}
			p = lf_madd(v, &{{ r.weight }}[16 * k]);
			{{ r.lanes }} = lf_add_wrap({{ r.lanes }}, p);
			{{ r.high }} += p >> 16;
{%- endfor %}
		}
{%- for r in l.rows %}
		{{ r.sum }} = lf_join({{ r.lanes }}, {{ r.high }});
{%- endfor %}
{%- for f in l.finish %}
		{{ f }}
{%- endfor %}
{%- else %}
{%- for r in l.rows %}
		{{ r.sum }} = lf_zero4();
{%- endfor %}
		for (c = 0; c < {{ l.chunks }}; c += {{ l.block }}) {
{%- for r in l.rows %}
			{{ r.lanes }} = lf_zero8();
{%- endfor %}
			for (k = c; {{ l.block_cond }}; k++) {
				v = lf_load16(&xs[16 * k]);
{%- for r in l.rows %}
				{{ r.lanes }} += lf_madd(v, &{{ r.weight }}[16 * k]);
{%- endfor %}
			}
{%- for r in l.rows %}
			{{ r.sum }} += lf_widen({{ r.lanes }});
{%- endfor %}
		}
{%- for f in l.finish %}
		{{ f }}
{%- endfor %}
{%- endif %}
	}
{%- match l.tail %}
{%- when Some with (t) %}
	/* Every output, 4 at a time: the scalar code's value (lf_rescale4()). */
	for (j = 0; j < {{ l.out_len }}; j += 4) {
		acc = {{ t.acc }};
		lf_st4(&y[j], {{ t.value }});
	}
{%- when None %}
{%- endmatch %}
}
{%- endblock %}
{% block body %}
	/*
	 * {{ c.title }}
	 *	{{ c.doc }}
{%- for n in c.notes %}
	 * {{ n }}
{%- endfor %}
	 * AVX2 when the FPU is usable, else the scalar loop: the same sums.
	 */
	if (lf_simd) {
		{{ l.func }}({{ l.x }}, {{ l.y }});
{%- match l.lut_call %}
{%- when Some with (call) %}
		{{ call }}
{%- when None %}
{%- endmatch %}
{%- if !l.finished %}
		for (j = 0; j < {{ l.out_len }}; j++) {
			{{ l.acc_type }} acc = {{ l.bias }} + {{ l.y }}[j];
{{ "" }}
			{{ l.dst }} = {{ l.value }};
		}
{%- endif %}
	} else {
{{ l.fallback }}
	}
{% endblock %}
