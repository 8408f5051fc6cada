/* SPDX-License-Identifier: GPL-2.0 */
/*
 * lf_kernel.h - the ABI between lf_kernel.ko (the slot manager), the
 * snapshot modules lfc emits, and datapath clients such as lf_tcp.
 *
 * A snapshot module defines one const struct lf_snapshot and calls
 * lf_register_snapshot() from module_init and lf_unregister_snapshot() from
 * module_exit. lf_kernel pins the snapshot's module (try_module_get) while it
 * sits in an active or standby slot, so an installed snapshot cannot be
 * unloaded (rmmod fails with -EAGAIN from the module loader, which sees the
 * held reference) until it is evicted from both slots.
 *
 * Values cross the boundary as s64 fixed-point numbers with a decimal scale:
 * real = value / scale (LiteFlow's INPUT_SCALE / OUTPUT_SCALE).
 */
#ifndef _LF_KERNEL_H
#define _LF_KERNEL_H

#include <linux/types.h>

/*
 * Bumped on any incompatible change to struct lf_snapshot or the calls.
 * 2: infer() returns LF_INFER_* flags; proven output bounds, guardrail and
 *    cost in struct lf_snapshot; app budgets.
 */
#define LF_ABI_VERSION		2

/* Longest input or output vector an app may declare. */
#define LF_MAX_IO_LEN		1024
/* Longest app or model name, including the terminating NUL. */
#define LF_NAME_LEN		64
/* Model digest: hex SHA-256 of the ONNX file and the compile options. */
#define LF_DIGEST_HEX_LEN	64

struct module;

/*
 * Inference entry point: reads input_len values from @in, writes output_len
 * values to @out. Reentrant, no sleeping, callable from process and softirq
 * context (not hardirq). Returns 0, or a negative errno.
 *
 * A model with several outputs (a classifier's label and probabilities)
 * answers them concatenated in the ONNX graph's output order: out[0..n0)
 * is the first output, out[n0..n0+n1) the second, and so on; output_len is
 * the sum. Real-valued outputs are at output_scale (real = out[i] /
 * output_scale); integer outputs (class labels, indices) are at scale 1:
 * out[i] is the label itself. The snapshot's C source lists its outputs,
 * offsets and scales in its header comment.
 */
typedef int (*lf_infer_fn)(const s64 *in, s64 *out);

/*
 * What infer() returns when it succeeds: 0, or a set of these flags. They
 * cost the hot path nothing extra: the clamps already compare. lf_kernel
 * counts them per CPU (drift and guardrail counters, `lfc status`), puts
 * them in training records, and answers 0 to lf_query_model() callers.
 */
/* An input was outside the declared domain and clamped to it. */
#define LF_INFER_DRIFT		0x1
/* An output was outside the guardrail and clamped to it. */
#define LF_INFER_GUARD		0x2
#define LF_INFER_FLAGS		(LF_INFER_DRIFT | LF_INFER_GUARD)

/*
 * What one inference costs, as lfc's validator proved it: checked against
 * the app's struct lf_budget when the snapshot enters a slot.
 */
struct lf_cost {
	u64 macs;		/* multiply-adds per query */
	u64 cmps;		/* worst-case table comparisons (tree walks) */
	u64 stack_bytes;	/* activations on the kernel stack */
	u64 rodata_bytes;	/* tables and weights (static const) */
	u64 scratch_bytes;	/* per-CPU scratch */
};

/*
 * An app's limits: a snapshot whose struct lf_cost exceeds any of them is
 * refused and the slots stay as they are. 0 means no limit.
 */
struct lf_budget {
	u64 max_macs;
	u64 max_cmps;
	u64 max_stack;
	u64 max_rodata;
	u64 max_scratch;
};

struct lf_snapshot {
	u32 abi_version;	/* LF_ABI_VERSION */
	u32 app_id;		/* application (datapath) this model serves */
	u64 uuid;		/* unique per snapshot, chosen at compile time */
	u32 input_len;
	u32 output_len;
	s64 input_scale;	/* real input  = in[i]  / input_scale */
	s64 output_scale;	/* real output = out[i] / output_scale */
	lf_infer_fn infer;
	struct module *owner;	/* THIS_MODULE of the snapshot */
	const char *name;	/* model name, for status and dmesg */
	const char *digest;	/* LF_DIGEST_HEX_LEN hex chars + NUL */
	/*
	 * Proven bounds of out[i] over the declared input domain, before the
	 * guardrail: output_len values each, out_lo[i] <= out_hi[i].
	 */
	const s64 *out_lo;
	const s64 *out_hi;
	/* The guardrail infer() clamps out[i] to, or both NULL: none. */
	const s64 *guard_lo;
	const s64 *guard_hi;
	struct lf_cost cost;
};

/*
 * Apps: created by a datapath client, or from userspace over netlink (or by
 * the first snapshot that names them). lf_register_app() also adopts an
 * existing app of the same lengths. Each registration is a claim the
 * client drops with lf_unregister_app(); while a claim is held, the app's
 * lengths cannot change: a userspace APP_DESTROY only releases its slots.
 */
int lf_register_app(u32 app_id, const char *name, u32 input_len,
		    u32 output_len);
/*
 * lf_register_app() with a budget (NULL: none) for the snapshots of the
 * app. The first registration of an app sets it; a later claim with a
 * different budget is refused (-EEXIST), since snapshots already in a slot
 * were checked against the first.
 */
int lf_register_app_budget(u32 app_id, const char *name, u32 input_len,
			   u32 output_len, const struct lf_budget *budget);
int lf_unregister_app(u32 app_id);

/*
 * Snapshots: the new one becomes active, the previous active the standby.
 * Refused with -E2BIG (and a kernel log line naming the limit) when its
 * cost exceeds the app's budget.
 */
int lf_register_snapshot(const struct lf_snapshot *snap);
void lf_unregister_snapshot(const struct lf_snapshot *snap);

/*
 * Run the active snapshot of @app_id. Lock-free (RCU), callable from
 * softirq. Returns 0, -ENOENT for an unknown app, -ENODATA when the app has
 * no active snapshot, or the snapshot's own negative errno.
 */
int lf_query_model(u32 app_id, const s64 *in, s64 *out);

#endif /* _LF_KERNEL_H */
