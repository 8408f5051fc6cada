// SPDX-License-Identifier: GPL-2.0
/*
 * Training records: what an app's active snapshot was asked by the
 * datapath (lf_query_model) and what it answered, shipped to userspace
 * (lfc collect) as generic-netlink multicast on the "records" group, so
 * the float model can be adapted on real inputs.
 *
 * A record is (uuid of the snapshot that answered, ktime_get_ns(), the
 * LF_INFER_* flags it returned (drift, guardrail), the input_len inputs,
 * the output_len outputs). Userspace INFER is not
 * recorded: records are the datapath's own data.
 *
 * Path of a record:
 *
 *   lf_query_model (softirq or process context, any CPU)
 *     -> that CPU's ring of LF_REC_RING batches: append to the batch being
 *        filled; when it is full, seal it and kick the shipper
 *   the shipper: one delayed work per recording app, process context
 *     -> every sealed batch becomes one LF_CMD_RECORDS message
 *        (genlmsg_multicast, GFP_KERNEL); it also seals and ships a
 *        partial batch once its first record is LF_REC_FLUSH_MS old, and
 *        re-arms itself every LF_REC_FLUSH_MS while recording is on
 *
 * Bounds. A batch holds at most LF_REC_BATCH_MAX records and at most
 * LF_REC_BATCH_BYTES of them on the wire, so the message size does not
 * grow with the app's vector lengths beyond one record. For Aurora (30
 * inputs, 1 output) a record is 292 bytes on the wire (see
 * lf_nl_record_size()), a batch is 64 records and its message 18,716
 * bytes; a stored record is 272 bytes, so each CPU holds 4 * 64 * 272 =
 * 69,632 bytes while recording is on. When the ring is full (the
 * shipper is behind), new records are dropped: the query path never waits
 * and never allocates. Records are also dropped, in whole batches, when no
 * socket listens on the group or the multicast fails (-ENOBUFS: a
 * listener that set NETLINK_BROADCAST_ERROR had a full receive queue;
 * listeners without it learn of overruns from their own ENOBUFS). Every
 * dropped record is counted in the app's per-CPU "dropped" counter
 * (LF_ATTR_DROPPED).
 *
 * Concurrency. Each CPU's ring has a raw spinlock, taken with interrupts
 * off: by that CPU's query path (so a softirq query cannot interleave with
 * a process-context one on the same CPU), and by the shipper only to seal
 * a partial batch or move the ring's head. Sealed batches belong to the
 * shipper: the query path writes only the batch it is filling, so messages
 * are built without the lock. The lock is per CPU and the shipper takes
 * it a few times per batch, so the query path finds it uncontended.
 *
 * Lifetime. The recorder is allocated (all of its rings too) when
 * recording is turned on, published with rcu_assign_pointer(app->rec),
 * and found by the query path with rcu_dereference(). Turning it off
 * unpublishes it, waits for a grace period (no query can still append),
 * stops the shipper, ships what is left and frees it. All under lf_mutex.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/jiffies.h>
#include <linux/minmax.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/string.h>
#include <linux/timekeeping.h>
#include <linux/workqueue.h>

#include "lf_compat.h"
#include "lf_internal.h"
#include "lf_trace.h"

/* Records per batch (one multicast message), at most. */
#define LF_REC_BATCH_MAX	64
/* Wire bytes of the records of one batch, at most (one record always fits). */
#define LF_REC_BATCH_BYTES	(32 * 1024)
/* Batches per CPU: the one being filled plus up to LF_REC_RING - 1 sealed. */
#define LF_REC_RING		4
/* A partial batch is shipped once its first record is this old. */
#define LF_REC_FLUSH_MS		100

struct lf_rec_ring {
	raw_spinlock_t lock;
	u32 head;		/* oldest sealed batch, not yet shipped */
	u32 tail;		/* batch being filled; [head, tail) are sealed */
	u32 count[LF_REC_RING];	/* records in each batch */
	void *mem;		/* LF_REC_RING * batch_len records */
};

struct lf_recorder {
	u32 app_id;
	u32 input_len;
	u32 output_len;
	u32 batch_len;		/* records per batch */
	size_t rec_size;	/* bytes of a stored record with its values */
	struct lf_app_stats __percpu *stats;	/* the app's: dropped */
	struct lf_rec_ring __percpu *ring;
	struct delayed_work work;
	bool stopping;		/* no more re-arming of @work */
};

static struct lf_record *lf_rec_at(const struct lf_recorder *r,
				   const struct lf_rec_ring *ring, u32 batch,
				   u32 i)
{
	size_t n = (size_t)(batch % LF_REC_RING) * r->batch_len + i;

	return ring->mem + n * r->rec_size;
}

/* Close the batch being filled, if a free one follows; lock held. */
static bool lf_rec_seal(struct lf_rec_ring *ring)
{
	if (ring->tail - ring->head >= LF_REC_RING - 1)
		return false;
	ring->tail++;
	ring->count[ring->tail % LF_REC_RING] = 0;
	return true;
}

void lf_rec_append(struct lf_recorder *r, u64 uuid, u32 infer_flags,
		   const s64 *in, const s64 *out)
{
	u64 now = ktime_get_ns();
	struct lf_rec_ring *ring;
	struct lf_record *rec;
	unsigned long flags;
	bool kick = false;
	u32 *count;

	local_irq_save(flags);
	ring = this_cpu_ptr(r->ring);
	raw_spin_lock(&ring->lock);

	count = &ring->count[ring->tail % LF_REC_RING];
	if (*count == r->batch_len) {
		/* Full since the ring had no room to seal it: is there now? */
		if (!lf_rec_seal(ring)) {
			this_cpu_inc(r->stats->dropped);
			trace_lf_records_dropped(r->app_id, 1, -ENOBUFS);
			goto unlock;
		}
		kick = true;
		count = &ring->count[ring->tail % LF_REC_RING];
	}

	rec = lf_rec_at(r, ring, ring->tail, (*count)++);
	rec->uuid = uuid;
	rec->timestamp = now;
	rec->flags = infer_flags;
	memcpy(rec->values, in, r->input_len * sizeof(s64));
	memcpy(rec->values + r->input_len, out, r->output_len * sizeof(s64));

	if (*count == r->batch_len && lf_rec_seal(ring))
		kick = true;
unlock:
	raw_spin_unlock_irqrestore(&ring->lock, flags);

	/* Safe from softirq and with the lock dropped; rare (per batch). */
	if (kick)
		mod_delayed_work(system_wq, &r->work, 0);
}

static void lf_rec_ship_batch(struct lf_recorder *r,
			      const struct lf_rec_ring *ring, u32 batch, u32 n)
{
	int err = -ESRCH;

	if (lf_nl_records_listened())
		err = lf_nl_send_records(r->app_id, r->input_len,
					 r->output_len,
					 lf_rec_at(r, ring, batch, 0),
					 r->rec_size, n);
	if (err) {
		this_cpu_add(r->stats->dropped, n);
		trace_lf_records_dropped(r->app_id, n, err);
	} else {
		trace_lf_records_shipped(r->app_id, n, 0);
	}
}

/*
 * Ship one CPU's sealed batches, oldest first, then its partial batch if
 * @all or if that batch's first record is LF_REC_FLUSH_MS old. At most
 * LF_REC_RING messages per call: a ring that refills meanwhile has kicked
 * the work again.
 */
static void lf_rec_ship_ring(struct lf_recorder *r, struct lf_rec_ring *ring,
			     bool all)
{
	u64 now = ktime_get_ns();
	int i;

	for (i = 0; i < LF_REC_RING; i++) {
		u32 batch, n;

		raw_spin_lock_irq(&ring->lock);
		if (ring->head == ring->tail) {
			const struct lf_record *first;

			n = ring->count[ring->tail % LF_REC_RING];
			first = lf_rec_at(r, ring, ring->tail, 0);
			if (!n || (!all && (s64)(now - first->timestamp) <
				   LF_REC_FLUSH_MS * NSEC_PER_MSEC)) {
				raw_spin_unlock_irq(&ring->lock);
				return;
			}
			lf_rec_seal(ring);	/* head == tail: always room */
		}
		batch = ring->head;
		n = ring->count[batch % LF_REC_RING];
		raw_spin_unlock_irq(&ring->lock);

		/* Sealed: the query path no longer touches this batch. */
		lf_rec_ship_batch(r, ring, batch, n);

		raw_spin_lock_irq(&ring->lock);
		ring->head++;
		raw_spin_unlock_irq(&ring->lock);
	}
}

static void lf_rec_work(struct work_struct *work)
{
	struct lf_recorder *r = container_of(to_delayed_work(work),
					     struct lf_recorder, work);
	int cpu;

	for_each_possible_cpu(cpu)
		lf_rec_ship_ring(r, per_cpu_ptr(r->ring, cpu), false);

	if (!READ_ONCE(r->stopping))
		queue_delayed_work(system_wq, &r->work,
				   msecs_to_jiffies(LF_REC_FLUSH_MS));
}

static void lf_rec_free(struct lf_recorder *r)
{
	int cpu;

	for_each_possible_cpu(cpu)
		kvfree(per_cpu_ptr(r->ring, cpu)->mem);
	free_percpu(r->ring);
	kfree(r);
}

/* Caller holds lf_mutex. */
int lf_rec_start(struct lf_app *app)
{
	size_t wire = lf_nl_record_size(app->input_len, app->output_len);
	struct lf_recorder *r;
	int cpu;

	lockdep_assert_held(&lf_mutex);
	if (rcu_access_pointer(app->rec))
		return 0;

	r = kzalloc(sizeof(*r), GFP_KERNEL);
	if (!r)
		return -ENOMEM;
	r->ring = alloc_percpu(struct lf_rec_ring);
	if (!r->ring) {
		kfree(r);
		return -ENOMEM;
	}
	r->app_id = app->id;
	r->input_len = app->input_len;
	r->output_len = app->output_len;
	r->batch_len = clamp_t(size_t, LF_REC_BATCH_BYTES / wire, 1,
			       LF_REC_BATCH_MAX);
	/* At most 16 + 2 * LF_MAX_IO_LEN * 8 bytes: no overflow. */
	r->rec_size = sizeof(struct lf_record) +
		      (app->input_len + app->output_len) * sizeof(s64);
	r->stats = app->stats;
	INIT_DELAYED_WORK(&r->work, lf_rec_work);

	for_each_possible_cpu(cpu) {
		struct lf_rec_ring *ring = per_cpu_ptr(r->ring, cpu);

		raw_spin_lock_init(&ring->lock);
		ring->mem = kvmalloc_node(LF_REC_RING * r->batch_len *
					  r->rec_size, GFP_KERNEL,
					  cpu_to_node(cpu));
		if (!ring->mem) {
			lf_rec_free(r);
			return -ENOMEM;
		}
	}

	rcu_assign_pointer(app->rec, r);
	queue_delayed_work(system_wq, &r->work,
			   msecs_to_jiffies(LF_REC_FLUSH_MS));
	pr_info("app %u: recording on: %u records of %zu bytes per message\n",
		app->id, r->batch_len, wire);
	return 0;
}

/*
 * Caller holds lf_mutex (the shipper never takes it). With @ship the
 * records still buffered are sent; without (the family is going away)
 * they are discarded.
 */
void lf_rec_stop(struct lf_app *app, bool ship)
{
	struct lf_recorder *r;
	int cpu;

	lockdep_assert_held(&lf_mutex);
	r = rcu_dereference_protected(app->rec, lockdep_is_held(&lf_mutex));
	if (!r)
		return;
	RCU_INIT_POINTER(app->rec, NULL);
	synchronize_rcu();	/* no query is appending any more */

	WRITE_ONCE(r->stopping, true);
	cancel_delayed_work_sync(&r->work);
	if (ship)
		for_each_possible_cpu(cpu)
			lf_rec_ship_ring(r, per_cpu_ptr(r->ring, cpu), true);

	pr_info("app %u: recording off\n", app->id);
	lf_rec_free(r);
}
