// SPDX-License-Identifier: GPL-2.0
/*
 * lf_kernel - the LiteFlow slot manager.
 *
 * Snapshot modules (integer-only neural networks emitted by lfc) register
 * here; datapath clients such as lf_tcp ask lf_query_model() for an answer
 * from whatever snapshot is active for their app.
 *
 * Every app has two slots. A new snapshot goes into the standby slot and is
 * made active in one pointer store; the snapshot that was active becomes
 * the standby (the rollback target) and the one that was standby is
 * evicted:
 *
 *	register 1:  slot0 = 1*            active slot 0
 *	register 2:  slot0 = 1,  slot1 = 2*  active slot 1
 *	register 3:  slot0 = 3*, slot1 = 2   active slot 0, 1 evicted
 *
 * Every registered snapshot also stays in a registry (by uuid) until its
 * module unloads, so "activate uuid" can bring an evicted one back.
 *
 * Concurrency. The query path takes no lock and writes no shared cache
 * line: xa_load() finds the app and rcu_dereference() its active snapshot
 * under rcu_read_lock(); the counters it bumps are per CPU. It is callable
 * from softirq. An explicit rcu_read_lock() is taken because bh-disabled
 * regions only count as RCU readers from 5.0 on.
 *
 * Updates happen in process context under lf_mutex. A snapshot's module is
 * pinned with try_module_get() when the snapshot enters a slot, published
 * with rcu_assign_pointer(), and only after synchronize_rcu() -- when no
 * query can still be running it -- is an evicted snapshot's module released
 * with module_put(). So:
 *
 *  - rmmod of a snapshot that sits in a slot fails (the module is in use)
 *    until it has been evicted; the query path can never run freed code.
 *  - rmmod of lf_kernel fails while any snapshot or datapath client module
 *    is loaded, since they use its symbols; with none it tears down apps.
 *
 * The same design as tcp_cong.c (RCU plus owner refcount) and
 * __sk_attach_prog() in net/core/filter.c (publish, then release the old
 * program after a grace period).
 *
 * Training records: while an app records (LF_CMD_SET_RECORDING), every
 * successful lf_query_model() also appends (uuid, time, input, output) to
 * a per-CPU buffer that a workqueue ships as netlink multicast; see
 * lf_record.c.
 *
 * Shadow evaluation: while a candidate (a registered snapshot that is not
 * active) shadows an app (LF_CMD_SHADOW), every K-th successful query per
 * CPU is also copied to a per-CPU ring; a workqueue runs the candidate on
 * it in process context and ships both answers; see lf_shadow.c. While an
 * app is staging (LF_CMD_STAGING), a snapshot registering for it only
 * enters the registry: it is loaded but answers nothing until shadowed or
 * activated by uuid.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/module.h>
#include <linux/slab.h>
#include <linux/string.h>

#include "lf_compat.h"
#include "lf_internal.h"

#define CREATE_TRACE_POINTS
#include "lf_trace.h"

/* Serialises every update of apps, slots and the registry. */
DEFINE_MUTEX(lf_mutex);
/* app id -> struct lf_app; loads are lock-free under RCU. */
DEFINE_XARRAY(lf_apps);

/* Every registered snapshot, in registration order; under lf_mutex. */
static LIST_HEAD(lf_registry);
/* Set under lf_mutex once module exit has stopped every recorder. */
static bool lf_exiting;

static const char *lf_snap_name(const struct lf_snapshot *snap)
{
	return snap->name ? snap->name : "";
}

static bool lf_io_len_valid(u32 len)
{
	return len >= 1 && len <= LF_MAX_IO_LEN;
}

/*
 * The query path proper; caller holds rcu_read_lock(). infer() answers 0,
 * LF_INFER_* flags (counted here, passed on in @flags) or a negative
 * errno; callers see 0 or the errno.
 */
static __always_inline int lf_run(struct lf_app *app, const s64 *in, s64 *out,
				  u64 *uuid, u32 *flags)
{
	struct lf_entry *e = rcu_dereference(app->active);
	int ret;

	if (unlikely(!e)) {
		this_cpu_inc(app->stats->no_active);
		return -ENODATA;
	}

	ret = e->snap->infer(in, out);
	this_cpu_inc(e->stats->queries);
	this_cpu_inc(app->stats->queries);
	if (uuid)
		*uuid = e->snap->uuid;
	*flags = 0;
	if (likely(!ret))
		return 0;
	if (ret < 0) {
		this_cpu_inc(e->stats->errors);
		return ret;
	}
	*flags = ret & LF_INFER_FLAGS;
	if (ret & LF_INFER_DRIFT)
		this_cpu_inc(e->stats->drift);
	if (ret & LF_INFER_GUARD)
		this_cpu_inc(e->stats->guard);
	return 0;
}

int lf_query_model(u32 app_id, const s64 *in, s64 *out)
{
	struct lf_recorder *rec;
	struct lf_shadow *sh;
	struct lf_app *app;
	u32 flags;
	u64 uuid = 0;
	int ret;

	rcu_read_lock();
	app = xa_load(&lf_apps, app_id);
	if (unlikely(!app)) {
		ret = -ENOENT;
		goto unlock;
	}
	ret = lf_run(app, in, out, &uuid, &flags);
	if (likely(!ret)) {
		rec = rcu_dereference(app->rec);
		if (unlikely(rec))
			lf_rec_append(rec, uuid, flags, in, out);
		sh = rcu_dereference(app->shadow);
		if (unlikely(sh))
			lf_shadow_offer(sh, uuid, in, out);
	}
unlock:
	rcu_read_unlock();
	trace_lf_query(app_id, uuid, ret);
	return ret;
}
EXPORT_SYMBOL_GPL(lf_query_model);

int lf_infer(u32 app_id, const s64 *in, u32 input_len, s64 *out,
	     u32 output_len, u64 *uuid)
{
	struct lf_app *app;
	u32 flags;
	int ret;

	rcu_read_lock();
	app = xa_load(&lf_apps, app_id);
	if (!app)
		ret = -ENOENT;
	else if (app->input_len != input_len || app->output_len != output_len)
		ret = -ESTALE;	/* recreated since the caller sized its buffers */
	else
		ret = lf_run(app, in, out, uuid, &flags);
	rcu_read_unlock();
	return ret;
}

int lf_app_io_len(u32 app_id, u32 *input_len, u32 *output_len)
{
	struct lf_app *app;
	int ret = -ENOENT;

	rcu_read_lock();
	app = xa_load(&lf_apps, app_id);
	if (app) {
		*input_len = app->input_len;
		*output_len = app->output_len;
		ret = 0;
	}
	rcu_read_unlock();
	return ret;
}

void lf_app_stats_sum(const struct lf_app *app, struct lf_app_stats *sum)
{
	int cpu;

	lockdep_assert_held(&lf_mutex);
	memset(sum, 0, sizeof(*sum));
	for_each_possible_cpu(cpu) {
		const struct lf_app_stats *s = per_cpu_ptr(app->stats, cpu);

		sum->queries += READ_ONCE(s->queries);
		sum->no_active += READ_ONCE(s->no_active);
		sum->dropped += READ_ONCE(s->dropped);
	}
}

void lf_entry_stats_sum(const struct lf_entry *e, struct lf_snap_stats *sum)
{
	int cpu;

	lockdep_assert_held(&lf_mutex);
	memset(sum, 0, sizeof(*sum));
	for_each_possible_cpu(cpu) {
		const struct lf_snap_stats *s = per_cpu_ptr(e->stats, cpu);

		sum->queries += READ_ONCE(s->queries);
		sum->errors += READ_ONCE(s->errors);
		sum->drift += READ_ONCE(s->drift);
		sum->guard += READ_ONCE(s->guard);
	}
}

/* Caller holds lf_mutex. */
static struct lf_entry *lf_find_uuid(u64 uuid)
{
	struct lf_entry *e;

	lockdep_assert_held(&lf_mutex);
	list_for_each_entry(e, &lf_registry, node)
		if (e->snap->uuid == uuid)
			return e;
	return NULL;
}

/* Stop the app's shadow if @e is its candidate; lf_mutex held. */
static void lf_shadow_stop_for(struct lf_app *app, const struct lf_entry *e)
{
	struct lf_shadow *sh;

	sh = rcu_dereference_protected(app->shadow, lockdep_is_held(&lf_mutex));
	if (sh && lf_shadow_runs(sh, e))
		lf_shadow_stop(app);
}

/* Make slot @idx (or LF_NO_SLOT) the active one; caller holds lf_mutex. */
static void lf_set_active(struct lf_app *app, int idx)
{
	lockdep_assert_held(&lf_mutex);
	app->active_slot = idx;
	if (idx == LF_NO_SLOT)
		RCU_INIT_POINTER(app->active, NULL);
	else
		rcu_assign_pointer(app->active, app->slot[idx]);
	trace_lf_activate(app->id, idx,
			  idx == LF_NO_SLOT ? 0 : app->slot[idx]->snap->uuid);
}

/* The slot a new snapshot goes into: the standby one, or an empty one. */
static int lf_standby_slot(const struct lf_app *app)
{
	BUILD_BUG_ON(LF_NR_SLOTS != 2);

	if (app->active_slot != LF_NO_SLOT)
		return !app->active_slot;
	return app->slot[0] ? 1 : 0;
}

/*
 * Drop the pin of a snapshot that left its slot. Caller holds lf_mutex and
 * has already unpublished it, so once the grace period is over no query
 * can be running its code. Holding lf_mutex across the wait keeps the
 * entry from being freed under us by a concurrent unregister.
 */
static void lf_release(struct lf_app *app, struct lf_entry *e, int slot)
{
	lockdep_assert_held(&lf_mutex);
	synchronize_rcu();
	trace_lf_evict(app->id, slot, e->snap->uuid);
	pr_info("app %u: released model: %llu %s\n", app->id, e->snap->uuid,
		lf_snap_name(e->snap));
	module_put(e->snap->owner);
}

/*
 * Put @e, whose module the caller pinned, in the standby slot and make it
 * active. The previous active becomes the standby; the previous standby is
 * evicted and released. Caller holds lf_mutex.
 */
static void lf_install(struct lf_app *app, struct lf_entry *e)
{
	int idx = lf_standby_slot(app);
	struct lf_entry *evicted = app->slot[idx];

	lockdep_assert_held(&lf_mutex);
	app->slot[idx] = e;
	trace_lf_install(app->id, idx, e->snap->uuid);
	lf_set_active(app, idx);
	pr_info("app %u: Current slot %d is registered with model: %llu %s\n",
		app->id, idx, e->snap->uuid, lf_snap_name(e->snap));
	pr_info("app %u: Current active slot is: %d\n", app->id, idx);

	if (evicted)
		lf_release(app, evicted, idx);
}

/* Caller holds lf_mutex. */
static struct lf_app *__lf_app_create(u32 app_id, const char *name,
				      u32 input_len, u32 output_len,
				      const struct lf_budget *budget,
				      struct netlink_ext_ack *extack)
{
	struct lf_app *app;
	int err;

	lockdep_assert_held(&lf_mutex);
	if (!lf_io_len_valid(input_len) || !lf_io_len_valid(output_len)) {
		NL_SET_ERR_MSG_MOD(extack, "input/output length out of range");
		return ERR_PTR(-EINVAL);
	}

	app = kzalloc(sizeof(*app), GFP_KERNEL);
	if (!app)
		return ERR_PTR(-ENOMEM);
	app->stats = alloc_percpu(struct lf_app_stats);
	if (!app->stats) {
		err = -ENOMEM;
		goto free_app;
	}
	app->id = app_id;
	app->input_len = input_len;
	app->output_len = output_len;
	strscpy(app->name, name ? name : "", sizeof(app->name));
	app->active_slot = LF_NO_SLOT;
	if (budget)
		app->budget = *budget;

	err = xa_insert(&lf_apps, app_id, app, GFP_KERNEL);
	if (err) {
		if (err == -EBUSY) {
			NL_SET_ERR_MSG_MOD(extack, "app already exists");
			err = -EEXIST;
		}
		goto free_stats;
	}

	pr_info("app %u (%s) created: %u inputs, %u outputs\n", app_id,
		app->name, input_len, output_len);
	trace_lf_app_create(app_id, app->name, input_len, output_len);
	return app;

free_stats:
	free_percpu(app->stats);
free_app:
	kfree(app);
	return ERR_PTR(err);
}

/* Unpublish @app, wait out its readers, release its slots; lf_mutex held. */
static void __lf_app_destroy(struct lf_app *app)
{
	int i;

	lockdep_assert_held(&lf_mutex);
	lf_rec_stop(app, !lf_exiting);
	lf_shadow_stop(app);
	xa_erase(&lf_apps, app->id);
	synchronize_rcu();

	for (i = 0; i < LF_NR_SLOTS; i++) {
		struct lf_entry *e = app->slot[i];

		if (!e)
			continue;
		trace_lf_evict(app->id, i, e->snap->uuid);
		pr_info("app %u: released model: %llu %s\n", app->id,
			e->snap->uuid, lf_snap_name(e->snap));
		module_put(e->snap->owner);
	}
	pr_info("app %u (%s) destroyed\n", app->id, app->name);
	trace_lf_app_destroy(app->id, app->name, app->input_len,
			     app->output_len);
	free_percpu(app->stats);
	kfree(app);
}

int lf_app_create(u32 app_id, const char *name, u32 input_len,
		  u32 output_len, const struct lf_budget *budget,
		  struct netlink_ext_ack *extack)
{
	struct lf_app *app;

	mutex_lock(&lf_mutex);
	app = __lf_app_create(app_id, name, input_len, output_len, budget,
			      extack);
	mutex_unlock(&lf_mutex);
	return PTR_ERR_OR_ZERO(app);
}

/*
 * Empty both slots of @app, keeping the app and its lengths; lf_mutex held.
 * Queries see no active snapshot (-ENODATA) from the moment it is
 * unpublished; the pins are dropped after the grace period.
 */
static void __lf_app_release_slots(struct lf_app *app)
{
	struct lf_entry *old[LF_NR_SLOTS];
	int i;

	lockdep_assert_held(&lf_mutex);
	lf_shadow_stop(app);
	lf_set_active(app, LF_NO_SLOT);
	for (i = 0; i < LF_NR_SLOTS; i++) {
		old[i] = app->slot[i];
		app->slot[i] = NULL;
	}
	synchronize_rcu();
	for (i = 0; i < LF_NR_SLOTS; i++) {
		if (!old[i])
			continue;
		trace_lf_evict(app->id, i, old[i]->snap->uuid);
		pr_info("app %u: released model: %llu %s\n", app->id,
			old[i]->snap->uuid, lf_snap_name(old[i]->snap));
		module_put(old[i]->snap->owner);
	}
}

int lf_app_destroy(u32 app_id, struct netlink_ext_ack *extack)
{
	struct lf_app *app;
	int err = 0;

	mutex_lock(&lf_mutex);
	app = xa_load(&lf_apps, app_id);
	if (app && app->clients) {
		/*
		 * A datapath client still queries this app with buffers of its
		 * lengths: freeing it would let a new app of other lengths
		 * reach those buffers. Release the snapshots only.
		 */
		__lf_app_release_slots(app);
		pr_info("app %u (%s): slots released; the app stays for its %u kernel client(s)\n",
			app->id, app->name, app->clients);
	} else if (app) {
		__lf_app_destroy(app);
	} else {
		NL_SET_ERR_MSG_MOD(extack, "unknown app");
		err = -ENOENT;
	}
	mutex_unlock(&lf_mutex);
	return err;
}

int lf_activate(u32 app_id, u64 uuid, struct netlink_ext_ack *extack)
{
	const struct lf_snapshot *snap;
	struct lf_entry *e;
	struct lf_app *app;
	int err = 0;
	int i;

	mutex_lock(&lf_mutex);
	app = xa_load(&lf_apps, app_id);
	if (!app) {
		NL_SET_ERR_MSG_MOD(extack, "unknown app");
		err = -ENOENT;
		goto unlock;
	}
	e = lf_find_uuid(uuid);
	if (!e) {
		NL_SET_ERR_MSG_MOD(extack, "no loaded snapshot has this uuid");
		err = -ENOENT;
		goto unlock;
	}
	snap = e->snap;
	if (snap->app_id != app_id) {
		NL_SET_ERR_MSG_MOD(extack, "snapshot belongs to another app");
		err = -EINVAL;
		goto unlock;
	}
	/* Promotion of the candidate: its shadow has done its work. */
	lf_shadow_stop_for(app, e);

	/* Already in a slot: just switch to it. */
	for (i = 0; i < LF_NR_SLOTS; i++) {
		if (app->slot[i] != e)
			continue;
		if (app->active_slot != i) {
			lf_set_active(app, i);
			pr_info("app %u: Current active slot is: %d\n",
				app->id, i);
		}
		goto unlock;
	}

	/* An evicted one, brought back from the registry. */
	if (snap->input_len != app->input_len ||
	    snap->output_len != app->output_len) {
		NL_SET_ERR_MSG_MOD(extack,
				   "snapshot input/output lengths do not match the app");
		err = -EINVAL;
		goto unlock;
	}
	err = lf_budget_check(app, snap, extack);
	if (err)
		goto unlock;
	if (!try_module_get(snap->owner)) {
		NL_SET_ERR_MSG_MOD(extack, "snapshot module is being unloaded");
		err = -ENODEV;
		goto unlock;
	}
	lf_install(app, e);
unlock:
	mutex_unlock(&lf_mutex);
	return err;
}

int lf_rollback(u32 app_id, struct netlink_ext_ack *extack)
{
	struct lf_app *app;
	int err = 0;
	int idx;

	mutex_lock(&lf_mutex);
	app = xa_load(&lf_apps, app_id);
	if (!app) {
		NL_SET_ERR_MSG_MOD(extack, "unknown app");
		err = -ENOENT;
		goto unlock;
	}
	idx = app->active_slot;
	if (idx == LF_NO_SLOT)
		idx = app->slot[0] ? 0 : 1;	/* whichever is occupied */
	else
		idx = !idx;
	if (!app->slot[idx]) {
		NL_SET_ERR_MSG_MOD(extack, "no standby snapshot to roll back to");
		err = -ENODATA;
		goto unlock;
	}
	lf_set_active(app, idx);
	trace_lf_rollback(app->id, idx, app->slot[idx]->snap->uuid);
	pr_info("app %u: rolled back to model: %llu %s\n", app->id,
		app->slot[idx]->snap->uuid, lf_snap_name(app->slot[idx]->snap));
	pr_info("app %u: Current active slot is: %d\n", app->id, idx);
unlock:
	mutex_unlock(&lf_mutex);
	return err;
}

int lf_set_recording(u32 app_id, bool on, struct netlink_ext_ack *extack)
{
	struct lf_app *app;
	int err = 0;

	mutex_lock(&lf_mutex);
	app = xa_load(&lf_apps, app_id);
	if (!app) {
		NL_SET_ERR_MSG_MOD(extack, "unknown app");
		err = -ENOENT;
	} else if (!on) {
		lf_rec_stop(app, true);
	} else if (lf_exiting) {
		err = -ESHUTDOWN;
	} else {
		err = lf_rec_start(app);
		if (err)
			NL_SET_ERR_MSG_MOD(extack, "cannot allocate record buffers");
	}
	mutex_unlock(&lf_mutex);
	return err;
}

int lf_set_shadow(u32 app_id, u64 uuid, u32 every,
		  struct netlink_ext_ack *extack)
{
	struct lf_entry *e;
	struct lf_app *app;
	int err = 0;

	mutex_lock(&lf_mutex);
	app = xa_load(&lf_apps, app_id);
	e = every ? lf_find_uuid(uuid) : NULL;
	if (!app) {
		NL_SET_ERR_MSG_MOD(extack, "unknown app");
		err = -ENOENT;
	} else if (!every) {
		lf_shadow_stop(app);
	} else if (lf_exiting) {
		err = -ESHUTDOWN;
	} else if (!e) {
		NL_SET_ERR_MSG_MOD(extack, "no loaded snapshot has this uuid");
		err = -ENOENT;
	} else {
		err = lf_shadow_start(app, e, every, extack);
	}
	mutex_unlock(&lf_mutex);
	return err;
}

int lf_set_staging(u32 app_id, bool on, struct netlink_ext_ack *extack)
{
	struct lf_app *app;
	int err = 0;

	mutex_lock(&lf_mutex);
	app = xa_load(&lf_apps, app_id);
	if (app) {
		app->staging = on;
		pr_info("app %u: staging %s\n", app->id, on ? "on" : "off");
	} else {
		NL_SET_ERR_MSG_MOD(extack, "unknown app");
		err = -ENOENT;
	}
	mutex_unlock(&lf_mutex);
	return err;
}

/*
 * A kernel client adopts @app with @budget: an app without a budget takes
 * it if the snapshots in its slots fit; one with a budget keeps it, and a
 * different one is refused. Caller holds lf_mutex.
 */
static int lf_adopt_budget(struct lf_app *app, const struct lf_budget *budget)
{
	static const struct lf_budget none;
	struct lf_app probe;
	int i, err;

	lockdep_assert_held(&lf_mutex);
	if (!budget || !memcmp(budget, &app->budget, sizeof(*budget)))
		return 0;
	if (memcmp(&app->budget, &none, sizeof(none))) {
		pr_err("app %u already has another budget; refusing the client's\n",
		       app->id);
		return -EEXIST;
	}
	probe.id = app->id;
	probe.budget = *budget;
	for (i = 0; i < LF_NR_SLOTS; i++) {
		if (!app->slot[i])
			continue;
		err = lf_budget_check(&probe, app->slot[i]->snap, NULL);
		if (err)
			return err;
	}
	app->budget = *budget;
	return 0;
}

int lf_register_app_budget(u32 app_id, const char *name, u32 input_len,
			   u32 output_len, const struct lf_budget *budget)
{
	struct lf_app *app;
	int err = 0;

	mutex_lock(&lf_mutex);
	app = xa_load(&lf_apps, app_id);
	if (!app) {
		app = __lf_app_create(app_id, name, input_len, output_len,
				      budget, NULL);
		err = PTR_ERR_OR_ZERO(app);
		if (!err)
			app->clients = 1;
	} else if (app->input_len == input_len &&
		   app->output_len == output_len) {
		/* Created by its first snapshot: adopt it, take its name. */
		err = lf_adopt_budget(app, budget);
		if (err)
			goto unlock;
		if (name)
			strscpy(app->name, name, sizeof(app->name));
		app->clients++;
	} else {
		pr_err("app %u exists with %u inputs, %u outputs; refusing %u/%u\n",
		       app_id, app->input_len, app->output_len, input_len,
		       output_len);
		err = -EEXIST;
	}
unlock:
	mutex_unlock(&lf_mutex);
	return err;
}
EXPORT_SYMBOL_GPL(lf_register_app_budget);

int lf_register_app(u32 app_id, const char *name, u32 input_len,
		    u32 output_len)
{
	return lf_register_app_budget(app_id, name, input_len, output_len,
				      NULL);
}
EXPORT_SYMBOL_GPL(lf_register_app);

/*
 * A client drops its claim on @app_id. The app and its snapshots stay (a
 * client may come back, and userspace may still query it); once no client
 * is left, userspace can destroy it.
 */
int lf_unregister_app(u32 app_id)
{
	struct lf_app *app;
	int err = 0;

	mutex_lock(&lf_mutex);
	app = xa_load(&lf_apps, app_id);
	if (!app)
		err = -ENOENT;
	else if (app->clients)
		app->clients--;
	mutex_unlock(&lf_mutex);
	return err;
}
EXPORT_SYMBOL_GPL(lf_unregister_app);

/* Sanity of a descriptor handed in by a module; no lock needed. */
static int lf_snapshot_check(const struct lf_snapshot *snap)
{
	if (snap->abi_version != LF_ABI_VERSION) {
		pr_err("refusing snapshot with ABI version %u (lf_kernel has %u)\n",
		       snap->abi_version, LF_ABI_VERSION);
		return -EINVAL;
	}
	if (!snap->infer) {
		pr_err("refusing snapshot %llu %s: no infer function\n",
		       snap->uuid, lf_snap_name(snap));
		return -EINVAL;
	}
	if (!lf_io_len_valid(snap->input_len) ||
	    !lf_io_len_valid(snap->output_len)) {
		pr_err("refusing snapshot %llu %s: input/output length %u/%u not in 1..%u\n",
		       snap->uuid, lf_snap_name(snap), snap->input_len,
		       snap->output_len, LF_MAX_IO_LEN);
		return -EINVAL;
	}
	if (snap->input_scale <= 0 || snap->output_scale <= 0) {
		pr_err("refusing snapshot %llu %s: scales must be positive\n",
		       snap->uuid, lf_snap_name(snap));
		return -EINVAL;
	}
	return lf_snapshot_facts_check(snap);
}

int lf_register_snapshot(const struct lf_snapshot *snap)
{
	struct lf_entry *e;
	struct lf_app *app;
	int err;

	err = lf_snapshot_check(snap);
	if (err)
		return err;

	e = kzalloc(sizeof(*e), GFP_KERNEL);
	if (!e)
		return -ENOMEM;
	e->stats = alloc_percpu(struct lf_snap_stats);
	if (!e->stats) {
		err = -ENOMEM;
		goto free_entry;
	}
	e->snap = snap;

	mutex_lock(&lf_mutex);
	if (lf_find_uuid(snap->uuid)) {
		pr_err("refusing snapshot %llu %s (%s): uuid already registered\n",
		       snap->uuid, lf_snap_name(snap), module_name(snap->owner));
		err = -EEXIST;
		goto unlock;
	}

	app = xa_load(&lf_apps, snap->app_id);
	if (app && (snap->input_len != app->input_len ||
		    snap->output_len != app->output_len)) {
		pr_err("refusing snapshot %llu %s (%s): %u inputs, %u outputs, but app %u has %u, %u\n",
		       snap->uuid, lf_snap_name(snap), module_name(snap->owner),
		       snap->input_len, snap->output_len, app->id,
		       app->input_len, app->output_len);
		err = -EINVAL;
		goto unlock;
	}
	/* Over the budget: refused before anything changes. */
	if (app) {
		err = lf_budget_check(app, snap, NULL);
		if (err)
			goto unlock;
	}

	if (app && app->staging) {
		/* Staged: loaded, not pinned, answering nothing. */
		list_add_tail(&e->node, &lf_registry);
		pr_info("app %u: staged model: %llu %s (not in a slot)\n",
			app->id, snap->uuid, lf_snap_name(snap));
		mutex_unlock(&lf_mutex);
		return 0;
	}

	/* Pinned from here until it leaves its slot. */
	if (!try_module_get(snap->owner)) {
		err = -ENODEV;
		goto unlock;
	}

	if (!app) {
		/* First snapshot of an app no datapath client announced. */
		app = __lf_app_create(snap->app_id, snap->name,
				      snap->input_len, snap->output_len, NULL,
				      NULL);
		if (IS_ERR(app)) {
			err = PTR_ERR(app);
			goto put_module;
		}
	}

	list_add_tail(&e->node, &lf_registry);
	trace_lf_register(app->id, snap->uuid, lf_snap_name(snap));
	lf_install(app, e);
	mutex_unlock(&lf_mutex);
	return 0;

put_module:
	module_put(snap->owner);
unlock:
	mutex_unlock(&lf_mutex);
	free_percpu(e->stats);
free_entry:
	kfree(e);
	return err;
}
EXPORT_SYMBOL_GPL(lf_register_snapshot);

/*
 * Called from the snapshot's module_exit. A snapshot in a slot pins its
 * module, so normally it is no longer in a slot here and no query can hold
 * it (its eviction waited a grace period). A module whose init fails after
 * registering is freed whatever its refcount, so that case is handled too:
 * empty the slot, wait for readers, drop the pin.
 */
void lf_unregister_snapshot(const struct lf_snapshot *snap)
{
	struct lf_entry *e = NULL, *pos;
	struct lf_app *app;
	int i;

	mutex_lock(&lf_mutex);
	list_for_each_entry(pos, &lf_registry, node) {
		if (pos->snap == snap) {
			e = pos;
			break;
		}
	}
	if (!e) {
		mutex_unlock(&lf_mutex);
		pr_warn("unregister of unknown snapshot %llu %s\n",
			snap->uuid, lf_snap_name(snap));
		return;
	}

	app = xa_load(&lf_apps, snap->app_id);
	if (app)
		lf_shadow_stop_for(app, e);
	for (i = 0; app && i < LF_NR_SLOTS; i++) {
		if (app->slot[i] != e)
			continue;
		if (app->active_slot == i)
			lf_set_active(app, LF_NO_SLOT);
		app->slot[i] = NULL;
		pr_warn("app %u: slot %d emptied, its module is going away\n",
			app->id, i);
		lf_release(app, e, i);
	}
	list_del(&e->node);
	mutex_unlock(&lf_mutex);

	pr_info("unregistered model: %llu %s\n", snap->uuid,
		lf_snap_name(snap));
	free_percpu(e->stats);
	kfree(e);
}
EXPORT_SYMBOL_GPL(lf_unregister_snapshot);

static int __init lf_kernel_init(void)
{
	int err;

	err = lf_netlink_init();
	if (err)
		return err;
	pr_info("slot manager ready (ABI %d, %d slots per app)\n",
		LF_ABI_VERSION, LF_NR_SLOTS);
	return 0;
}

static void __exit lf_kernel_exit(void)
{
	struct lf_app *app;
	unsigned long id;

	/* Ship what recorders hold while the family is still there. */
	mutex_lock(&lf_mutex);
	lf_exiting = true;
	xa_for_each(&lf_apps, id, app) {
		lf_rec_stop(app, true);
		lf_shadow_stop(app);
	}
	mutex_unlock(&lf_mutex);

	lf_netlink_exit();

	mutex_lock(&lf_mutex);
	xa_for_each(&lf_apps, id, app)
		__lf_app_destroy(app);
	/* Snapshots use our symbols, so none can still be registered. */
	WARN_ON(!list_empty(&lf_registry));
	mutex_unlock(&lf_mutex);
	xa_destroy(&lf_apps);
	pr_info("slot manager unloaded\n");
}

module_init(lf_kernel_init);
module_exit(lf_kernel_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("LiteFlow slot manager for in-kernel neural network snapshots");
MODULE_AUTHOR("lfc developers");
