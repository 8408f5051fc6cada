/* SPDX-License-Identifier: GPL-2.0 */
/*
 * lf_internal.h - slot-manager state shared by lf_main.c (slots, the
 * exported ABI) and lf_netlink.c (the "liteflow" generic-netlink family).
 *
 * Locking: lf_mutex serialises every change to apps, slots, recorders and
 * the snapshot registry, and is held while netlink reads them for a dump.
 * The query path takes no lock: it finds the app with xa_load() and the
 * active snapshot with rcu_dereference(), both under rcu_read_lock(). When
 * the app records, it also appends to its recorder's buffer of the current
 * CPU (lf_record.c), under that buffer's own lock.
 */
#ifndef _LF_INTERNAL_H
#define _LF_INTERNAL_H

#include <linux/list.h>
#include <linux/mutex.h>
#include <linux/netlink.h>
#include <linux/percpu.h>
#include <linux/rcupdate.h>
#include <linux/xarray.h>

#include "lf_kernel.h"

/* Two slots per app: the active snapshot and the standby kept for rollback. */
#define LF_NR_SLOTS	2
/* app->active_slot when neither slot is active. */
#define LF_NO_SLOT	(-1)

/*
 * Counters are per CPU, so the query path never writes a shared cache
 * line; readers sum them. On 32-bit a sum may read one CPU's counter torn
 * while it is being bumped; status output tolerates that.
 */
struct lf_snap_stats {
	u64 queries;		/* infer() calls */
	u64 errors;		/* infer() returned a negative errno */
	u64 drift;		/* queries with an input outside the domain */
	u64 guard;		/* queries with an output clamped by the guardrail */
};

struct lf_app_stats {
	u64 queries;		/* queries answered by a snapshot */
	u64 no_active;		/* queries refused: no active snapshot */
	u64 dropped;		/* training records that reached no listener */
};

/*
 * One training record as the recorder stores it: who answered, when
 * (ktime_get_ns()), and input_len inputs followed by output_len outputs.
 */
struct lf_record {
	u64 uuid;
	u64 timestamp;
	u32 flags;		/* LF_INFER_* the snapshot returned */
	s64 values[];
};

struct lf_recorder;	/* lf_record.c */
struct lf_shadow_ring;	/* lf_shadow.c */

/* Shadow evaluation counters, per CPU (lf_shadow.c). */
struct lf_shadow_stats {
	u64 sampled;		/* queries copied for the candidate */
	u64 dropped;		/* samples dropped: the CPU's ring was full */
	u64 run;		/* samples the candidate answered */
	u64 errors;		/* ... with a negative errno */
	u64 unsent;		/* results that reached no listener */
};

/*
 * One shadow result as the worker ships it: the active snapshot that
 * answered, when, its input_len inputs, its output_len outputs, then the
 * candidate's output_len outputs and return value.
 */
struct lf_shadow_result {
	u64 uuid;
	u64 timestamp;
	s32 err;
	s64 values[];
};

/*
 * One registered snapshot, from lf_register_snapshot() until
 * lf_unregister_snapshot(). While it sits in a slot its owner module is
 * pinned, so @snap (which lives in that module) stays valid.
 */
struct lf_entry {
	struct list_head node;		/* lf_registry, under lf_mutex */
	const struct lf_snapshot *snap;
	struct lf_snap_stats __percpu *stats;
};

struct lf_app {
	u32 id;
	u32 input_len;			/* fixed for the app's lifetime */
	u32 output_len;
	/*
	 * Kernel clients that registered the app (lf_register_app) and have
	 * not unregistered; under lf_mutex. They size their query buffers by
	 * the lengths above, so while any is left the app is never freed from
	 * userspace: APP_DESTROY only releases its slots.
	 */
	unsigned int clients;
	char name[LF_NAME_LEN];
	/* What lf_query_model() runs: NULL or slot[active_slot]. */
	struct lf_entry __rcu *active;
	struct lf_entry *slot[LF_NR_SLOTS];	/* under lf_mutex */
	int active_slot;			/* under lf_mutex */
	struct lf_app_stats __percpu *stats;
	/* Limits on the snapshots it takes; fixed once set, under lf_mutex. */
	struct lf_budget budget;
	/* Non-NULL while training records are collected; under lf_mutex. */
	struct lf_recorder __rcu *rec;
	/* Non-NULL while a candidate shadows the active snapshot. */
	struct lf_shadow __rcu *shadow;
	/* Totals of the last shadow that ended, for status; under lf_mutex. */
	struct lf_shadow_stats shadow_last;
	u64 shadow_last_uuid;
	s64 shadow_last_scale;
	/* New snapshots of this app only enter the registry; under lf_mutex. */
	bool staging;
};

extern struct mutex lf_mutex;
extern struct xarray lf_apps;

/* Process context; each takes lf_mutex. @extack may be NULL. */
int lf_app_create(u32 app_id, const char *name, u32 input_len,
		  u32 output_len, const struct lf_budget *budget,
		  struct netlink_ext_ack *extack);
int lf_app_destroy(u32 app_id, struct netlink_ext_ack *extack);
int lf_activate(u32 app_id, u64 uuid, struct netlink_ext_ack *extack);
int lf_rollback(u32 app_id, struct netlink_ext_ack *extack);
int lf_set_recording(u32 app_id, bool on, struct netlink_ext_ack *extack);
/* @every 0 stops the app's shadow. */
int lf_set_shadow(u32 app_id, u64 uuid, u32 every,
		  struct netlink_ext_ack *extack);
int lf_set_staging(u32 app_id, bool on, struct netlink_ext_ack *extack);

/* Lock-free, like lf_query_model(), but length-checked and says who answered. */
int lf_infer(u32 app_id, const s64 *in, u32 input_len, s64 *out,
	     u32 output_len, u64 *uuid);
int lf_app_io_len(u32 app_id, u32 *input_len, u32 *output_len);

/* Counter sums, for status; caller holds lf_mutex. */
void lf_app_stats_sum(const struct lf_app *app, struct lf_app_stats *sum);
void lf_entry_stats_sum(const struct lf_entry *e, struct lf_snap_stats *sum);

/* Training records (lf_record.c). Start/stop: caller holds lf_mutex. */
int lf_rec_start(struct lf_app *app);
void lf_rec_stop(struct lf_app *app, bool ship);
/* The query path: caller holds rcu_read_lock(); any context but NMI. */
void lf_rec_append(struct lf_recorder *r, u64 uuid, u32 flags,
		   const s64 *in, const s64 *out);

/* Budgets and snapshot facts (lf_budget.c). */
int lf_budget_check(const struct lf_app *app, const struct lf_snapshot *snap,
		    struct netlink_ext_ack *extack);
int lf_snapshot_facts_check(const struct lf_snapshot *snap);

/*
 * A candidate shadowing an app (lf_shadow.c), from lf_shadow_start() until
 * lf_shadow_stop(); the query path finds it with rcu_dereference().
 */
struct lf_shadow {
	/* Queries this CPU lets pass before it samples one: the hot path. */
	long __percpu *skip;
	u32 app_id;
	u32 input_len;
	u32 output_len;
	u32 every;			/* sample one query in @every per CPU */
	struct lf_entry *cand;		/* pinned: its module is held */
	size_t sample_size;		/* a copied query with its values */
	size_t result_size;		/* struct lf_shadow_result + values */
	struct lf_shadow_stats __percpu *stats;
	struct lf_shadow_ring __percpu *ring;
	struct work_struct work;
	void *results;			/* LF_SHADOW_BATCH results, worker's */
};

/* Shadow evaluation (lf_shadow.c). Start/stop: caller holds lf_mutex. */
int lf_shadow_start(struct lf_app *app, struct lf_entry *cand, u32 every,
		    struct netlink_ext_ack *extack);
void lf_shadow_stop(struct lf_app *app);
void lf_shadow_stats_sum(const struct lf_shadow *sh,
			 struct lf_shadow_stats *sum);
const struct lf_snapshot *lf_shadow_snap(const struct lf_shadow *sh,
					 u32 *every);
bool lf_shadow_runs(const struct lf_shadow *sh, const struct lf_entry *e);
void lf_shadow_sample(struct lf_shadow *sh, u64 uuid, const s64 *in,
		      const s64 *out);

/*
 * The query path, after the active snapshot answered; caller holds
 * rcu_read_lock(); any context but NMI. One per-CPU decrement (irq-safe
 * on its own) unless this query is the one in @every to sample.
 */
static __always_inline void lf_shadow_offer(struct lf_shadow *sh, u64 uuid,
					    const s64 *in, const s64 *out)
{
	if (likely(this_cpu_dec_return(*sh->skip) > 0))
		return;
	lf_shadow_sample(sh, uuid, in, out);
}

int lf_netlink_init(void);
void lf_netlink_exit(void);

/* Records on the wire (lf_netlink.c); process context. */
size_t lf_nl_record_size(u32 input_len, u32 output_len);
bool lf_nl_records_listened(void);
int lf_nl_send_records(u32 app_id, u32 input_len, u32 output_len,
		       const void *recs, size_t stride, u32 n);
int lf_nl_send_shadow(u32 app_id, u64 cand_uuid, u32 input_len,
		      u32 output_len, const void *res, size_t stride, u32 n);

#endif /* _LF_INTERNAL_H */
