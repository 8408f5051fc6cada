// SPDX-License-Identifier: GPL-2.0
{%- for line in m.header %}
//!{% if !line.is_empty() %} {{ line }}{% endif %}
{%- endfor %}

#![no_std]
#![forbid(unsafe_code)]

/// The slot manager app this snapshot serves, and its uuid.
pub const LF_APP_ID: u32 = {{ m.app }};
pub const LF_MODEL_UUID: u64 = {{ m.uuid }};
/// Model name and digest, as the C snapshot registers them.
pub const LF_MODEL_NAME: &str = {{ m.name_literal }};
pub const LF_MODEL_DIGEST: &str = {{ m.digest_literal }};
pub const LF_LFC_VERSION: &str = {{ m.version_literal }};
pub const LF_INPUT_LEN: usize = {{ m.input_len }};
pub const LF_OUTPUT_LEN: usize = {{ m.output_len }};
/// real input = input[i] / LF_INPUT_SCALE
pub const LF_INPUT_SCALE: i64 = {{ m.input_scale }};
/// real output = output[i] / LF_OUTPUT_SCALE
pub const LF_OUTPUT_SCALE: i64 = {{ m.output_scale }};
/// What `infer` returns: an input was outside the declared domain (and
/// clamped), an output was clamped to the guardrail (lf_kernel.h).
pub const LF_INFER_DRIFT: u32 = 0x1;
pub const LF_INFER_GUARD: u32 = 0x2;
{%- for h in m.helpers %}

{{ h }}
{%- endfor %}
{%- for item in m.items %}

{{ item }}
{%- endfor %}
{%- if let Some(fields) = m.scratch %}

/// The activations, too large for the stack budget: the caller owns them
/// (the kernel module keeps one per CPU, used with bottom halves off).
#[repr(C)]
pub struct Scratch {
{%- for (f, n) in fields %}
    {{ f }}: [i64; {{ n }}],
{%- endfor %}
}

impl Scratch {
    pub const fn new() -> Scratch {
        Scratch {
{%- for (f, n) in fields %}
            {{ f }}: [0; {{ n }}],
{%- endfor %}
        }
    }
}

impl Default for Scratch {
    fn default() -> Scratch {
        Scratch::new()
    }
}
{%- endif %}

/// Runs the snapshot on one input vector: straight-line integer code, no
/// floating point, no division, no state shared between calls. Inputs are
/// clamped to the declared domain, so nothing can fail. Returns 0, or
/// `LF_INFER_DRIFT` when an input was outside the domain, `LF_INFER_GUARD`
/// when an output was clamped to the guardrail.
pub fn infer(
    input: &[i64; LF_INPUT_LEN],
    output: &mut [i64; LF_OUTPUT_LEN],
{%- if m.scratch.is_some() %}
    scratch: &mut Scratch,
{%- endif %}
) -> u32 {
    let mut flags: u32 = 0;
{%- if let Some(fields) = m.scratch %}
    let Scratch {
{%- for (f, _) in fields %}
        {{ f }},
{%- endfor %}
    } = scratch;
{%- endif %}
{%- for l in m.locals %}
    {{ l }}
{%- endfor %}
{%- for b in m.bodies %}

{{ b }}
{%- endfor %}

    flags
}
