// SPDX-License-Identifier: GPL-2.0
/*
 * lf_rec_load - queries app 1 (Aurora: 30 inputs, 1 output) from softirq,
 * to drive lf_kernel's training records at rates one TCP flow cannot reach
 * (lf_tcp queries once per RTT). A timer fires every jiffy, @bursts times,
 * and each time calls lf_query_model() @burst times in a row. A burst
 * larger than a CPU's record ring (4 batches of 64 Aurora records) fills
 * it before the shipper can run on that CPU, so records are dropped there.
 *
 *	insmod lf_rec_load.ko burst=16 bursts=250
 *	cat /sys/module/lf_rec_load/parameters/{ok,nodata,failed,done}
 */
#include <linux/jiffies.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/timer.h>

#include "lf_compat.h"
#include "lf_kernel.h"

#define LF_LOAD_APP	1
#define LF_LOAD_IN_LEN	30
#define LF_LOAD_OUT_LEN	1

static uint burst = 8;
module_param(burst, uint, 0444);
MODULE_PARM_DESC(burst, "queries per timer tick");
static uint bursts = 100;
module_param(bursts, uint, 0444);
MODULE_PARM_DESC(bursts, "timer ticks to run");
static unsigned long ok;
module_param(ok, ulong, 0444);
MODULE_PARM_DESC(ok, "queries answered");
static unsigned long nodata;
module_param(nodata, ulong, 0444);
MODULE_PARM_DESC(nodata, "queries refused: no active snapshot or no app");
static unsigned long failed;
module_param(failed, ulong, 0444);
MODULE_PARM_DESC(failed, "queries failed otherwise");
static bool done;
module_param(done, bool, 0444);
MODULE_PARM_DESC(done, "all bursts issued");

static struct timer_list lf_load_timer;
static uint lf_load_ticks;
static bool lf_load_stopping;

static void lf_load_tick(struct timer_list *t)
{
	s64 in[LF_LOAD_IN_LEN], out[LF_LOAD_OUT_LEN];
	uint i;
	int ret;

	/* Three features per MI: inflation, latency ratio, send ratio. */
	for (i = 0; i < LF_LOAD_IN_LEN; i++)
		in[i] = i % 3 == 0 ? 0 : 1000 + 10 * i;
	for (i = 0; i < burst; i++) {
		in[0] = (s64)(ok % 100);	/* records differ */
		ret = lf_query_model(LF_LOAD_APP, in, out);
		if (!ret)
			ok++;
		else if (ret == -ENODATA || ret == -ENOENT)
			nodata++;
		else
			failed++;
	}
	if (++lf_load_ticks < bursts && !READ_ONCE(lf_load_stopping))
		mod_timer(&lf_load_timer, jiffies + 1);
	else
		WRITE_ONCE(done, true);
}

static int __init lf_load_init(void)
{
	timer_setup(&lf_load_timer, lf_load_tick, 0);
	if (bursts)
		mod_timer(&lf_load_timer, jiffies + 1);
	else
		done = true;
	return 0;
}

static void __exit lf_load_exit(void)
{
	WRITE_ONCE(lf_load_stopping, true);
	timer_delete_sync(&lf_load_timer);
}

module_init(lf_load_init);
module_exit(lf_load_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("lf_kernel record-path load: app 1 queries from a timer");
