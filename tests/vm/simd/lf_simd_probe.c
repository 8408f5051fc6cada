// SPDX-License-Identifier: GPL-2.0
/*
 * lf_simd_probe.c - asks one app's active snapshot one row at a time, from
 * process context or from softirq context (a timer), for the --simd avx2
 * VM check (tests/vm/guest.d/simd.sh). Through its module parameters:
 *
 *	echo 7 > app; echo 2 > out_len; echo 1,2,...,31 > in
 *	echo softirq > query		(or: echo process > query)
 *	cat rc softirq out vector	(0, 1, the outputs, 1 if AVX2 usable)
 *
 * "vector" is what the snapshot's lf_simd_begin() tests, evaluated in the
 * query's own context just before the query: the CPU has AVX2 and
 * irq_fpu_usable() is true, so the snapshot ran its AVX2 code.
 */
#include <linux/completion.h>
#include <linux/jiffies.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/preempt.h>
#include <linux/string.h>
#include <linux/timer.h>
#include <asm/cpufeature.h>
#include <asm/fpu/api.h>

#include "lf_kernel.h"

#define LF_PROBE_MAX_IN		64
#define LF_PROBE_MAX_OUT	16

static int app = 1;
module_param(app, int, 0644);
MODULE_PARM_DESC(app, "application id to query");
static long in[LF_PROBE_MAX_IN];
static int in_len;
module_param_array(in, long, &in_len, 0644);
MODULE_PARM_DESC(in, "the input row (s64 values)");
static int out_len = 1;
module_param(out_len, int, 0644);
MODULE_PARM_DESC(out_len, "outputs of the app's snapshots");
static long out[LF_PROBE_MAX_OUT];
static int out_shown;
module_param_array(out, long, &out_shown, 0444);
MODULE_PARM_DESC(out, "the last answer");
static int rc;
module_param(rc, int, 0444);
MODULE_PARM_DESC(rc, "lf_query_model()'s return value for the last query");
static int softirq;
module_param(softirq, int, 0444);
MODULE_PARM_DESC(softirq, "1 if the last query ran in softirq context");
static int vector;
module_param(vector, int, 0444);
MODULE_PARM_DESC(vector, "1 if AVX2 was usable in the last query's context");

static struct timer_list lf_probe_timer;
static DECLARE_COMPLETION(lf_probe_done);

static void lf_probe_ask(void)
{
	s64 x[LF_PROBE_MAX_IN], y[LF_PROBE_MAX_OUT];
	int i;

	for (i = 0; i < in_len; i++)
		x[i] = in[i];
	softirq = in_serving_softirq() ? 1 : 0;
	vector = boot_cpu_has(X86_FEATURE_AVX2) && irq_fpu_usable();
	rc = lf_query_model(app, x, y);
	out_shown = out_len;
	for (i = 0; i < out_len; i++)
		out[i] = rc ? 0 : y[i];
}

static void lf_probe_tick(struct timer_list *t)
{
	lf_probe_ask();
	complete(&lf_probe_done);
}

static int lf_probe_query(const char *val, const struct kernel_param *kp)
{
	if (out_len < 1 || out_len > LF_PROBE_MAX_OUT || in_len < 1)
		return -EINVAL;
	if (sysfs_streq(val, "process")) {
		lf_probe_ask();
		return 0;
	}
	if (!sysfs_streq(val, "softirq"))
		return -EINVAL;
	reinit_completion(&lf_probe_done);
	mod_timer(&lf_probe_timer, jiffies);
	if (!wait_for_completion_timeout(&lf_probe_done, 5 * HZ))
		return -ETIMEDOUT;
	return 0;
}

static const struct kernel_param_ops lf_probe_query_ops = {
	.set = lf_probe_query,
};
module_param_cb(query, &lf_probe_query_ops, NULL, 0200);
MODULE_PARM_DESC(query, "write process or softirq: ask the app once from there");

static int __init lf_probe_init(void)
{
	timer_setup(&lf_probe_timer, lf_probe_tick, 0);
	return 0;
}

static void __exit lf_probe_exit(void)
{
	timer_delete_sync(&lf_probe_timer);
}

module_init(lf_probe_init);
module_exit(lf_probe_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("lf_kernel --simd check: one query from process or softirq context");
