// SPDX-License-Identifier: GPL-2.0
/*
 * lf_budget.c - what a snapshot may cost an app, and what it reports.
 *
 * Every snapshot declares what lfc's validator proved of one inference
 * (struct lf_cost: multiply-adds, worst-case table comparisons, stack,
 * table and weight bytes, per-CPU scratch). An app may carry a budget
 * (struct lf_budget, 0 = no limit), set by `lfc app create --max-...` over
 * netlink or by a kernel client at lf_register_app_budget(). A snapshot
 * over any limit never enters a slot: registration fails with -E2BIG and a
 * log line with both figures, activation over netlink with -E2BIG and an
 * extended ack naming the limit. The check runs before anything changes.
 *
 * lf_snapshot_facts_check() is the sanity check of the proven output
 * bounds and the guardrail a snapshot module hands in.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/kernel.h>
#include <linux/printk.h>

#include "lf_internal.h"

struct lf_limit {
	const char *name;	/* as `lfc app create` spells the option */
	const char *msg;	/* the extack: must be a static string */
	size_t cost;		/* offsetof(struct lf_cost, ...) */
	size_t max;		/* offsetof(struct lf_budget, ...) */
};

#define LF_LIMIT(opt, c, b) { \
	.name = opt, \
	.msg = KBUILD_MODNAME ": snapshot over the app's budget: " opt, \
	.cost = offsetof(struct lf_cost, c), \
	.max = offsetof(struct lf_budget, b), \
}

static const struct lf_limit lf_limits[] = {
	LF_LIMIT("max-macs", macs, max_macs),
	LF_LIMIT("max-cmps", cmps, max_cmps),
	LF_LIMIT("max-stack", stack_bytes, max_stack),
	LF_LIMIT("max-rodata", rodata_bytes, max_rodata),
	LF_LIMIT("max-scratch", scratch_bytes, max_scratch),
};

static u64 lf_field(const void *base, size_t off)
{
	return *(const u64 *)((const char *)base + off);
}

int lf_budget_check(const struct lf_app *app, const struct lf_snapshot *snap,
		    struct netlink_ext_ack *extack)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(lf_limits); i++) {
		const struct lf_limit *l = &lf_limits[i];
		u64 max = lf_field(&app->budget, l->max);
		u64 cost = lf_field(&snap->cost, l->cost);

		if (!max || cost <= max)
			continue;
		pr_err("refusing snapshot %llu %s for app %u: %s %llu, the app's budget allows %llu\n",
		       snap->uuid, snap->name ? snap->name : "", app->id,
		       l->name, cost, max);
		/* NL_SET_ERR_MSG() wants a literal; this one is static too. */
		if (extack)
			extack->_msg = l->msg;
		return -E2BIG;
	}
	return 0;
}

int lf_snapshot_facts_check(const struct lf_snapshot *snap)
{
	u32 i;

	if (!snap->out_lo || !snap->out_hi) {
		pr_err("refusing snapshot %llu: no proven output bounds\n",
		       snap->uuid);
		return -EINVAL;
	}
	if (!snap->guard_lo != !snap->guard_hi) {
		pr_err("refusing snapshot %llu: guardrail needs both bounds\n",
		       snap->uuid);
		return -EINVAL;
	}
	for (i = 0; i < snap->output_len; i++) {
		if (snap->out_lo[i] > snap->out_hi[i] ||
		    (snap->guard_lo && snap->guard_lo[i] > snap->guard_hi[i])) {
			pr_err("refusing snapshot %llu: output %u has empty bounds\n",
			       snap->uuid, i);
			return -EINVAL;
		}
	}
	return 0;
}
