// SPDX-License-Identifier: GPL-2.0
/*
{%- for line in m.header %}
 *{{ line }}
{%- endfor %}
 */

#include <linux/module.h>
#include <linux/build_bug.h>
{%- if m.scratch.is_some() %}
#include <linux/percpu.h>
#include <linux/bottom_half.h>
{%- endif %}
{%- if m.simd %}
#include <asm/cpufeature.h>
#include <asm/fpu/api.h>
{%- endif %}

#include "lf_kernel.h"

#define LF_MODEL_UUID	{{ m.uuid_literal }}
#define LF_APP_ID	{{ m.app }}
#define LF_INPUT_LEN	{{ m.input_len }}
#define LF_OUTPUT_LEN	{{ m.output_len }}
#define LF_INPUT_SCALE	{{ m.input_scale }}	/* real input  = in[i]  / LF_INPUT_SCALE */
#define LF_OUTPUT_SCALE	{{ m.output_scale }}	/* real output = out[i] / LF_OUTPUT_SCALE */
{{ m.helpers }}
{%- for d in m.decls %}
{{ d }}
{%- endfor %}

{{ m.facts.decls }}
{%- if let Some(s) = m.scratch %}

/*
 * The activations ({{ s.bytes }} bytes) would not fit the stack budget: each CPU
 * has its own copy, used with bottom halves disabled (see {{ m.infer }}()).
 */
struct {{ s.type_name }} {
{%- for f in s.fields %}
	s64 {{ f }};
{%- endfor %}
};

static DEFINE_PER_CPU(struct {{ s.type_name }}, {{ s.var }});
{%- endif %}

/**
 * {{ m.infer }}() - run the snapshot on one input vector
 * @in: LF_INPUT_LEN values, real input = in[i] / LF_INPUT_SCALE
 * @out: LF_OUTPUT_LEN values, real output = out[i] / LF_OUTPUT_SCALE
 *
 * Straight-line integer code: no floating point, no division, no state
 * shared between calls{% if m.scratch.is_some() %} (the per-CPU scratch is private to this CPU while bottom
 * halves are off){% endif %}. Reentrant and non-sleeping; callable from process
 * and softirq context.
 *
 * Return: 0, or LF_INFER_DRIFT when an input was outside the declared
 * domain (it is clamped to it){% if m.guarded %}, LF_INFER_GUARD when an output was clamped
 * to the guardrail{% endif %}. Nothing can fail.
 */
static int {{ m.infer }}(const s64 *in, s64 *out)
{
	unsigned int flags = 0;
{%- for l in m.locals %}
	{{ l }};
{%- endfor %}
{%- if let Some(s) = m.scratch %}

	/*
	 * A softirq on this CPU (a packet or an ACK handled by the datapath)
	 * could run this model while we are in the middle of it, and would
	 * overwrite the same per-CPU buffers: keep bottom halves off until we
	 * are done. That also keeps us on this CPU.
	 */
	local_bh_disable();
	scratch = this_cpu_ptr(&{{ s.var }});
{%- for (b, f) in s.bind %}
	{{ b }} = scratch->{{ f }};
{%- endfor %}
{%- endif %}

{%- if m.simd %}

	/* AVX2 layers run in vectors only inside kernel_fpu_begin()/_end(). */
	lf_simd = lf_simd_begin();
{%- endif %}

{%- for b in m.bodies %}

{{ b }}
{%- endfor %}
{%- if m.simd %}

	if (lf_simd)
		kernel_fpu_end();
{%- endif %}
{%- if m.scratch.is_some() %}

	local_bh_enable();
{%- endif %}
	return flags;
}

static const struct lf_snapshot {{ m.snapshot }} = {
	.abi_version	= LF_ABI_VERSION,
	.app_id		= LF_APP_ID,
	.uuid		= LF_MODEL_UUID,
	.input_len	= LF_INPUT_LEN,
	.output_len	= LF_OUTPUT_LEN,
	.input_scale	= LF_INPUT_SCALE,
	.output_scale	= LF_OUTPUT_SCALE,
	.infer		= {{ m.infer }},
	.owner		= THIS_MODULE,
	.name		= {{ m.name_literal }},
	.digest		= {{ m.digest_literal }},
	.out_lo		= {{ m.facts.out_lo }},
	.out_hi		= {{ m.facts.out_hi }},
	.guard_lo	= {{ m.facts.guard_lo }},
	.guard_hi	= {{ m.facts.guard_hi }},
	.cost		= {
		.macs		= {{ m.facts.cost.macs }},
		.cmps		= {{ m.facts.cost.cmps }},
		.stack_bytes	= {{ m.facts.cost.stack_bytes }},
		.rodata_bytes	= {{ m.facts.cost.rodata_bytes }},
		.scratch_bytes	= {{ m.facts.cost.scratch_bytes }},
	},
};

static int __init {{ m.stem }}_init(void)
{
	BUILD_BUG_ON(LF_INPUT_LEN > LF_MAX_IO_LEN);
	BUILD_BUG_ON(LF_OUTPUT_LEN > LF_MAX_IO_LEN);
{%- if let Some(s) = m.scratch %}
	BUILD_BUG_ON(sizeof(struct {{ s.type_name }}) > PERCPU_MODULE_RESERVE);
{%- endif %}
	return lf_register_snapshot(&{{ m.snapshot }});
}

static void __exit {{ m.stem }}_exit(void)
{
	lf_unregister_snapshot(&{{ m.snapshot }});
}

module_init({{ m.stem }}_init);
module_exit({{ m.stem }}_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION({{ m.description_literal }});
MODULE_INFO(uuid, {{ m.uuid_string }});
MODULE_INFO(app, {{ m.app_string }});
MODULE_INFO(digest, {{ m.digest_literal }});
MODULE_INFO(lfc_version, {{ m.version_literal }});
MODULE_INFO(output_bounds, {{ m.facts.output_bounds_string }});
MODULE_INFO(guardrail, {{ m.facts.guardrail_string }});
MODULE_INFO(cost, {{ m.facts.cost_string }});
