// SPDX-License-Identifier: GPL-2.0
/*
 * Shadow evaluation: a loaded snapshot that is not active (a candidate)
 * answers a sample of an app's live queries, off the datapath, and its
 * answers are shipped to userspace beside the active snapshot's, so
 * `lfc adapt --shadow` can judge it on live traffic before it decides
 * anything.
 *
 * Path of a sample:
 *
 *   lf_query_model (softirq or process context, any CPU), after the active
 *   snapshot answered
 *     -> every @every-th query of this CPU: copy (active uuid, time,
 *        inputs, active outputs) into this CPU's ring of LF_SHADOW_RING
 *        samples and kick the worker; a full ring drops the sample
 *        (counted). The query path never waits and never allocates.
 *   the worker: one work item per shadowed app, process context
 *     -> takes each CPU's samples, runs the candidate's infer() on the
 *        inputs, and multicasts up to LF_SHADOW_BATCH results per
 *        LF_CMD_SHADOW_RECORDS message on the "records" group.
 *
 * Cost on the query path when shadowing is on: one per-CPU decrement and
 * a branch for a query that is not sampled (lf_shadow_offer(), inline in
 * lf_query_model); a sampled one calls lf_shadow_sample(), which takes its
 * CPU's ring lock (uncontended: the worker takes it once per sample to
 * move the head), copies input_len + output_len values and queues the
 * work (a test_and_set_bit when it is already pending). With shadowing
 * off: one rcu_dereference() and a branch.
 *
 * Concurrency. As lf_record.c: each CPU's ring has a raw spinlock taken
 * with interrupts off; the query path writes only the slot at the tail,
 * the worker copies the slot at the head out under the lock, then runs
 * the candidate without it.
 *
 * Lifetime. lf_shadow_start() pins the candidate's module
 * (try_module_get), allocates everything and publishes app->shadow with
 * rcu_assign_pointer(). lf_shadow_stop() unpublishes it, waits for a
 * grace period (no query can still offer a sample), cancels the work
 * (waiting for a running one), then drops the pin and frees. Both under
 * lf_mutex; the worker never takes it.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/module.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/string.h>
#include <linux/timekeeping.h>
#include <linux/workqueue.h>

#include "lf_compat.h"
#include "lf_internal.h"

/* Samples per CPU waiting for the worker. */
#define LF_SHADOW_RING		16
/* Results per LF_CMD_SHADOW_RECORDS message, at most. */
#define LF_SHADOW_BATCH		32

struct lf_shadow_ring {
	raw_spinlock_t lock;
	u32 head;		/* oldest sample not yet taken by the worker */
	u32 tail;		/* next free slot; [head, tail) are filled */
	void *mem;		/* LF_SHADOW_RING samples of sample_size bytes */
};

/* What the query path copies: inputs then the active snapshot's outputs. */
struct lf_shadow_sample {
	u64 uuid;
	u64 timestamp;
	s64 values[];
};

static void *lf_shadow_at(const struct lf_shadow *sh,
			  const struct lf_shadow_ring *ring, u32 i)
{
	return ring->mem + (size_t)(i % LF_SHADOW_RING) * sh->sample_size;
}

/* lf_shadow_offer() found this query due; any context but NMI. */
void lf_shadow_sample(struct lf_shadow *sh, u64 uuid, const s64 *in,
		      const s64 *out)
{
	struct lf_shadow_sample *s;
	struct lf_shadow_ring *ring;
	unsigned long flags;
	bool kick = false;

	local_irq_save(flags);
	ring = this_cpu_ptr(sh->ring);
	raw_spin_lock(&ring->lock);
	this_cpu_write(*sh->skip, sh->every);
	if (ring->tail - ring->head >= LF_SHADOW_RING) {
		this_cpu_inc(sh->stats->dropped);
		goto unlock;
	}
	s = lf_shadow_at(sh, ring, ring->tail++);
	s->uuid = uuid;
	s->timestamp = ktime_get_ns();
	memcpy(s->values, in, sh->input_len * sizeof(s64));
	memcpy(s->values + sh->input_len, out, sh->output_len * sizeof(s64));
	this_cpu_inc(sh->stats->sampled);
	kick = true;
unlock:
	raw_spin_unlock_irqrestore(&ring->lock, flags);

	/* Safe from softirq; a no-op while the work is already pending. */
	if (kick)
		queue_work(system_wq, &sh->work);
}

/* Move the oldest sample of @ring into result @res; false if none. */
static bool lf_shadow_take(struct lf_shadow *sh, struct lf_shadow_ring *ring,
			   struct lf_shadow_result *res)
{
	const struct lf_shadow_sample *s;
	u32 n = sh->input_len + sh->output_len;

	raw_spin_lock_irq(&ring->lock);
	if (ring->head == ring->tail) {
		raw_spin_unlock_irq(&ring->lock);
		return false;
	}
	s = lf_shadow_at(sh, ring, ring->head);
	res->uuid = s->uuid;
	res->timestamp = s->timestamp;
	memcpy(res->values, s->values, n * sizeof(s64));
	ring->head++;
	raw_spin_unlock_irq(&ring->lock);
	return true;
}

static void lf_shadow_ship(struct lf_shadow *sh, u32 n)
{
	int err = -ESRCH;

	if (!n)
		return;
	if (lf_nl_records_listened())
		err = lf_nl_send_shadow(sh->app_id, sh->cand->snap->uuid,
					sh->input_len, sh->output_len,
					sh->results, sh->result_size, n);
	if (err)
		this_cpu_add(sh->stats->unsent, n);
}

/*
 * Run the candidate on every waiting sample of every CPU. A sample that
 * arrives meanwhile re-queues the work, so nothing waits longer than one
 * more pass.
 */
static void lf_shadow_work(struct work_struct *work)
{
	struct lf_shadow *sh = container_of(work, struct lf_shadow, work);
	const struct lf_snapshot *snap = sh->cand->snap;
	u32 n = 0;
	int cpu;

	for_each_possible_cpu(cpu) {
		struct lf_shadow_ring *ring = per_cpu_ptr(sh->ring, cpu);

		for (;;) {
			struct lf_shadow_result *res;

			res = sh->results + (size_t)n * sh->result_size;
			if (!lf_shadow_take(sh, ring, res))
				break;
			res->err = snap->infer(res->values,
					       res->values + sh->input_len +
					       sh->output_len);
			this_cpu_inc(sh->stats->run);
			/*
			 * A success may carry LF_INFER_* flags (> 0): not an
			 * error. They reach userspace in the result only; the
			 * candidate's drift and guardrail counters count live
			 * answers, so a canary reads no shadow runs in them.
			 */
			if (res->err < 0)
				this_cpu_inc(sh->stats->errors);
			if (++n == LF_SHADOW_BATCH) {
				lf_shadow_ship(sh, n);
				n = 0;
			}
		}
	}
	lf_shadow_ship(sh, n);
}

static void lf_shadow_free(struct lf_shadow *sh)
{
	int cpu;

	if (sh->ring)
		for_each_possible_cpu(cpu)
			kvfree(per_cpu_ptr(sh->ring, cpu)->mem);
	free_percpu(sh->ring);
	free_percpu(sh->skip);
	free_percpu(sh->stats);
	kvfree(sh->results);
	kfree(sh);
}

static struct lf_shadow *lf_shadow_alloc(const struct lf_app *app,
					 struct lf_entry *cand, u32 every)
{
	struct lf_shadow *sh;
	int cpu;

	sh = kzalloc(sizeof(*sh), GFP_KERNEL);
	if (!sh)
		return NULL;
	sh->app_id = app->id;
	sh->input_len = app->input_len;
	sh->output_len = app->output_len;
	sh->every = every;
	sh->cand = cand;
	/* At most 24 + 3 * LF_MAX_IO_LEN * 8 bytes: no overflow. */
	sh->sample_size = sizeof(struct lf_shadow_sample) +
			  (app->input_len + app->output_len) * sizeof(s64);
	sh->result_size = sizeof(struct lf_shadow_result) +
			  (app->input_len + 2 * app->output_len) * sizeof(s64);
	INIT_WORK(&sh->work, lf_shadow_work);
	sh->stats = alloc_percpu(struct lf_shadow_stats);
	sh->ring = alloc_percpu(struct lf_shadow_ring);
	sh->skip = alloc_percpu(long);
	sh->results = kvmalloc_array(LF_SHADOW_BATCH, sh->result_size,
				     GFP_KERNEL);
	if (!sh->stats || !sh->ring || !sh->skip || !sh->results)
		goto fail;
	for_each_possible_cpu(cpu) {
		struct lf_shadow_ring *ring = per_cpu_ptr(sh->ring, cpu);

		raw_spin_lock_init(&ring->lock);
		*per_cpu_ptr(sh->skip, cpu) = every;
		ring->mem = kvmalloc_node(LF_SHADOW_RING * sh->sample_size,
					  GFP_KERNEL, cpu_to_node(cpu));
		if (!ring->mem)
			goto fail;
	}
	return sh;

fail:
	lf_shadow_free(sh);
	return NULL;
}

/* Caller holds lf_mutex. */
int lf_shadow_start(struct lf_app *app, struct lf_entry *cand, u32 every,
		    struct netlink_ext_ack *extack)
{
	const struct lf_snapshot *snap = cand->snap;
	struct lf_shadow *sh;
	int i;

	lockdep_assert_held(&lf_mutex);
	if (snap->app_id != app->id) {
		NL_SET_ERR_MSG_MOD(extack, "snapshot belongs to another app");
		return -EINVAL;
	}
	if (snap->input_len != app->input_len ||
	    snap->output_len != app->output_len) {
		NL_SET_ERR_MSG_MOD(extack,
				   "snapshot input/output lengths do not match the app");
		return -EINVAL;
	}
	for (i = 0; i < LF_NR_SLOTS; i++) {
		if (app->slot[i] == cand && app->active_slot == i) {
			NL_SET_ERR_MSG_MOD(extack,
					   "snapshot is the active one: nothing to shadow it against");
			return -EBUSY;
		}
	}
	if (!try_module_get(snap->owner)) {
		NL_SET_ERR_MSG_MOD(extack, "snapshot module is being unloaded");
		return -ENODEV;
	}
	sh = lf_shadow_alloc(app, cand, every);
	if (!sh) {
		module_put(snap->owner);
		NL_SET_ERR_MSG_MOD(extack, "cannot allocate shadow buffers");
		return -ENOMEM;
	}

	/* One candidate at a time: a new start replaces the old one. */
	lf_shadow_stop(app);
	rcu_assign_pointer(app->shadow, sh);
	pr_info("app %u: shadowing model %llu %s on 1 query in %u per CPU\n",
		app->id, snap->uuid, snap->name ? snap->name : "", every);
	return 0;
}

/* Caller holds lf_mutex. Results still waiting are dropped (counted). */
void lf_shadow_stop(struct lf_app *app)
{
	struct lf_shadow *sh;

	lockdep_assert_held(&lf_mutex);
	sh = rcu_dereference_protected(app->shadow, lockdep_is_held(&lf_mutex));
	if (!sh)
		return;
	RCU_INIT_POINTER(app->shadow, NULL);
	synchronize_rcu();	/* no query is offering a sample any more */
	cancel_work_sync(&sh->work);

	lf_shadow_stats_sum(sh, &app->shadow_last);
	app->shadow_last_uuid = sh->cand->snap->uuid;
	app->shadow_last_scale = sh->cand->snap->output_scale;
	pr_info("app %u: shadow of model %llu off: %llu sampled, %llu run, %llu errors, %llu dropped, %llu unsent\n",
		app->id, sh->cand->snap->uuid, app->shadow_last.sampled,
		app->shadow_last.run, app->shadow_last.errors,
		app->shadow_last.dropped, app->shadow_last.unsent);
	module_put(sh->cand->snap->owner);
	lf_shadow_free(sh);
}

/* Caller holds lf_mutex (or runs the worker's own stats: any context). */
void lf_shadow_stats_sum(const struct lf_shadow *sh,
			 struct lf_shadow_stats *sum)
{
	int cpu;

	memset(sum, 0, sizeof(*sum));
	for_each_possible_cpu(cpu) {
		const struct lf_shadow_stats *s = per_cpu_ptr(sh->stats, cpu);

		sum->sampled += READ_ONCE(s->sampled);
		sum->dropped += READ_ONCE(s->dropped);
		sum->run += READ_ONCE(s->run);
		sum->errors += READ_ONCE(s->errors);
		sum->unsent += READ_ONCE(s->unsent);
	}
}

/* The candidate and sampling rate of a running shadow; lf_mutex held. */
const struct lf_snapshot *lf_shadow_snap(const struct lf_shadow *sh,
					 u32 *every)
{
	*every = sh->every;
	return sh->cand->snap;
}

bool lf_shadow_runs(const struct lf_shadow *sh, const struct lf_entry *e)
{
	return sh->cand == e;
}
