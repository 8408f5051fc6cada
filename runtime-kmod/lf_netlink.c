// SPDX-License-Identifier: GPL-2.0
/*
 * lf_netlink.c - the "liteflow" generic-netlink family: list apps and
 * slots, create/destroy apps, activate by uuid, roll back, run one
 * inference from userspace (so snapshots can be tested without a datapath
 * client), switch training records on and off, and the "records"
 * multicast group that carries them (lf_record.c collects them), shadow
 * a candidate on live queries and stage new snapshots (lf_shadow.c; the
 * candidate's answers go out on the same group). The
 * protocol is in include/uapi/lf_netlink.h.
 *
 * Every command needs CAP_NET_ADMIN (GENL_ADMIN_PERM) and every attribute
 * goes through lf_nl_policy with strict validation; what a policy cannot
 * express (a vector's length depends on the app) is checked here. Errors
 * are negative errnos with an extack message. The family is not
 * netns-aware: apps are global, so only the initial namespace sees it.
 * Joining the "records" group needs CAP_NET_ADMIN too (records carry
 * datapath state).
 *
 * A LF_CMD_RECORDS message (family header, then):
 *
 *	LF_ATTR_APP_ID		u32				8 bytes
 *	LF_ATTR_RECORD		nest, once per record		4 bytes
 *	  LF_REC_ATTR_UUID	u64				12 bytes
 *	  LF_REC_ATTR_TIMESTAMP	u64, ktime_get_ns()		12 bytes
 *	  LF_REC_ATTR_FLAGS	u32, LF_INFER_* (drift, guard)	8 bytes
 *	  LF_REC_ATTR_INPUT	s64[input_len]			4 + 8 * input_len
 *	  LF_REC_ATTR_OUTPUT	s64[output_len]			4 + 8 * output_len
 *
 * so a record is 44 + 8 * (input_len + output_len) bytes on 64-bit
 * machines (a u64 attribute may take a 4-byte LF_REC_ATTR_PAD more where
 * unaligned 64-bit access is slow): 292 bytes for Aurora's 30 inputs and
 * 1 output, and a 64-record batch 16 + 4 + 8 + 64 * 292 = 18,716 bytes
 * with the netlink and genetlink headers.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/slab.h>
#include <net/genetlink.h>

#include "lf_compat.h"
#include "lf_internal.h"
#include "uapi/lf_netlink.h"

/* Largest LF_ATTR_VECTOR payload: LF_MAX_IO_LEN values. */
#define LF_VECTOR_MAX_BYTES	(LF_MAX_IO_LEN * sizeof(s64))

/* An app's budget: every limit optional, u64. */
static const struct nla_policy lf_cost_policy[LF_COST_ATTR_MAX + 1] = {
	[LF_COST_ATTR_MACS]	= { .type = NLA_U64 },
	[LF_COST_ATTR_CMPS]	= { .type = NLA_U64 },
	[LF_COST_ATTR_STACK]	= { .type = NLA_U64 },
	[LF_COST_ATTR_RODATA]	= { .type = NLA_U64 },
	[LF_COST_ATTR_SCRATCH]	= { .type = NLA_U64 },
};

/*
 * Attributes userspace may send. The rest are output only and, having no
 * type here, are rejected on input by strict validation.
 */
static const struct nla_policy lf_nl_policy[LF_ATTR_MAX + 1] = {
	[LF_ATTR_APP_ID]	= { .type = NLA_U32 },
	[LF_ATTR_APP_NAME]	= { .type = NLA_NUL_STRING,
				    .len = LF_NAME_LEN - 1 },
	[LF_ATTR_INPUT_LEN]	= NLA_POLICY_RANGE(NLA_U32, 1, LF_MAX_IO_LEN),
	[LF_ATTR_OUTPUT_LEN]	= NLA_POLICY_RANGE(NLA_U32, 1, LF_MAX_IO_LEN),
	[LF_ATTR_UUID]		= { .type = NLA_U64 },
	[LF_ATTR_VECTOR]	= { .type = NLA_BINARY,
				    .len = LF_VECTOR_MAX_BYTES },
	[LF_ATTR_RECORDING]	= NLA_POLICY_MAX(NLA_U8, 1),
	[LF_ATTR_SHADOW_EVERY]	= { .type = NLA_U32 },
	[LF_ATTR_STAGING]	= NLA_POLICY_MAX(NLA_U8, 1),
	[LF_ATTR_BUDGET]	= NLA_POLICY_NESTED(lf_cost_policy),
};

static struct genl_family lf_genl_family;

/* Multicast groups, indexed by these numbers. */
enum lf_mcgrp {
	LF_MCGRP_RECORDS,
};

static const struct genl_multicast_group lf_mcgrps[] = {
	[LF_MCGRP_RECORDS] = {
		.name	= LF_GENL_MCGRP_RECORDS,
		.flags	= GENL_MCAST_CAP_NET_ADMIN,
	},
};

/* The five LF_COST_ATTR_* of @c in a nest of type @type. */
static int lf_nl_put_cost(struct sk_buff *skb, int type,
			  const struct lf_cost *c)
{
	struct nlattr *nest = nla_nest_start(skb, type);

	if (!nest)
		return -EMSGSIZE;
	if (nla_put_u64_64bit(skb, LF_COST_ATTR_MACS, c->macs,
			      LF_COST_ATTR_PAD) ||
	    nla_put_u64_64bit(skb, LF_COST_ATTR_CMPS, c->cmps,
			      LF_COST_ATTR_PAD) ||
	    nla_put_u64_64bit(skb, LF_COST_ATTR_STACK, c->stack_bytes,
			      LF_COST_ATTR_PAD) ||
	    nla_put_u64_64bit(skb, LF_COST_ATTR_RODATA, c->rodata_bytes,
			      LF_COST_ATTR_PAD) ||
	    nla_put_u64_64bit(skb, LF_COST_ATTR_SCRATCH, c->scratch_bytes,
			      LF_COST_ATTR_PAD)) {
		nla_nest_cancel(skb, nest);
		return -EMSGSIZE;
	}
	nla_nest_end(skb, nest);
	return 0;
}

/* Proven bounds, the guardrail, the counters and the cost of a slot. */
static int lf_nl_put_facts(struct sk_buff *skb,
			   const struct lf_snapshot *snap,
			   const struct lf_snap_stats *stats)
{
	size_t bytes = snap->output_len * sizeof(s64);

	if (nla_put_u64_64bit(skb, LF_SLOT_ATTR_DRIFT, stats->drift,
			      LF_SLOT_ATTR_PAD) ||
	    nla_put_u64_64bit(skb, LF_SLOT_ATTR_GUARD, stats->guard,
			      LF_SLOT_ATTR_PAD) ||
	    nla_put(skb, LF_SLOT_ATTR_OUT_LO, bytes, snap->out_lo) ||
	    nla_put(skb, LF_SLOT_ATTR_OUT_HI, bytes, snap->out_hi))
		return -EMSGSIZE;
	if (snap->guard_lo &&
	    (nla_put(skb, LF_SLOT_ATTR_GUARD_LO, bytes, snap->guard_lo) ||
	     nla_put(skb, LF_SLOT_ATTR_GUARD_HI, bytes, snap->guard_hi)))
		return -EMSGSIZE;
	return lf_nl_put_cost(skb, LF_SLOT_ATTR_COST, &snap->cost);
}

static int lf_nl_put_slot(struct sk_buff *skb, const struct lf_app *app,
			  int idx)
{
	const struct lf_entry *e = app->slot[idx];
	const struct lf_snapshot *snap = e->snap;
	struct lf_snap_stats stats;
	struct nlattr *nest;

	lf_entry_stats_sum(e, &stats);
	nest = nla_nest_start(skb, LF_ATTR_SLOT);
	if (!nest)
		return -EMSGSIZE;
	if (nla_put_u32(skb, LF_SLOT_ATTR_INDEX, idx) ||
	    nla_put_u64_64bit(skb, LF_SLOT_ATTR_UUID, snap->uuid,
			      LF_SLOT_ATTR_PAD) ||
	    nla_put_string(skb, LF_SLOT_ATTR_NAME,
			   snap->name ? snap->name : "") ||
	    nla_put_string(skb, LF_SLOT_ATTR_DIGEST,
			   snap->digest ? snap->digest : "") ||
	    nla_put_string(skb, LF_SLOT_ATTR_MODULE,
			   module_name(snap->owner)) ||
	    nla_put_u64_64bit(skb, LF_SLOT_ATTR_QUERIES, stats.queries,
			      LF_SLOT_ATTR_PAD) ||
	    nla_put_u64_64bit(skb, LF_SLOT_ATTR_ERRORS, stats.errors,
			      LF_SLOT_ATTR_PAD) ||
	    nla_put_s64(skb, LF_SLOT_ATTR_INPUT_SCALE, snap->input_scale,
			LF_SLOT_ATTR_PAD) ||
	    nla_put_s64(skb, LF_SLOT_ATTR_OUTPUT_SCALE, snap->output_scale,
			LF_SLOT_ATTR_PAD))
		goto cancel_nest;
	if (idx == app->active_slot &&
	    nla_put_flag(skb, LF_SLOT_ATTR_ACTIVE))
		goto cancel_nest;
	if (lf_nl_put_facts(skb, snap, &stats))
		goto cancel_nest;
	nla_nest_end(skb, nest);
	return 0;

cancel_nest:
	nla_nest_cancel(skb, nest);
	return -EMSGSIZE;
}

static int lf_nl_put_shadow_stats(struct sk_buff *skb, u64 uuid, u32 every,
				  s64 output_scale,
				  const struct lf_shadow_stats *st,
				  bool running)
{
	struct nlattr *nest = nla_nest_start(skb, LF_ATTR_SHADOW);

	if (!nest)
		return -EMSGSIZE;
	if (nla_put_u64_64bit(skb, LF_SHADOW_ATTR_UUID, uuid,
			      LF_SHADOW_ATTR_PAD) ||
	    nla_put_u32(skb, LF_SHADOW_ATTR_EVERY, every) ||
	    nla_put_u64_64bit(skb, LF_SHADOW_ATTR_SAMPLED, st->sampled,
			      LF_SHADOW_ATTR_PAD) ||
	    nla_put_u64_64bit(skb, LF_SHADOW_ATTR_DROPPED, st->dropped,
			      LF_SHADOW_ATTR_PAD) ||
	    nla_put_u64_64bit(skb, LF_SHADOW_ATTR_RUN, st->run,
			      LF_SHADOW_ATTR_PAD) ||
	    nla_put_u64_64bit(skb, LF_SHADOW_ATTR_ERRORS, st->errors,
			      LF_SHADOW_ATTR_PAD) ||
	    nla_put_u64_64bit(skb, LF_SHADOW_ATTR_UNSENT, st->unsent,
			      LF_SHADOW_ATTR_PAD) ||
	    nla_put_s64(skb, LF_SHADOW_ATTR_OUTPUT_SCALE, output_scale,
			LF_SHADOW_ATTR_PAD) ||
	    (running && nla_put_flag(skb, LF_SHADOW_ATTR_RUNNING))) {
		nla_nest_cancel(skb, nest);
		return -EMSGSIZE;
	}
	nla_nest_end(skb, nest);
	return 0;
}

/* The running shadow, else the last one, else nothing; lf_mutex held. */
static int lf_nl_put_shadow(struct sk_buff *skb, const struct lf_app *app)
{
	const struct lf_shadow *sh;
	struct lf_shadow_stats st;
	const struct lf_snapshot *snap;
	u32 every;

	sh = rcu_dereference_protected(app->shadow, lockdep_is_held(&lf_mutex));
	if (sh) {
		lf_shadow_stats_sum(sh, &st);
		snap = lf_shadow_snap(sh, &every);
		return lf_nl_put_shadow_stats(skb, snap->uuid, every,
					      snap->output_scale, &st, true);
	}
	if (!app->shadow_last_uuid)
		return 0;
	return lf_nl_put_shadow_stats(skb, app->shadow_last_uuid, 0,
				      app->shadow_last_scale,
				      &app->shadow_last, false);
}

/* One GET_APP message; caller holds lf_mutex. */
static int lf_nl_fill_app(struct sk_buff *skb, const struct lf_app *app,
			  u32 portid, u32 seq, int flags)
{
	const struct lf_cost limits = {
		.macs		= app->budget.max_macs,
		.cmps		= app->budget.max_cmps,
		.stack_bytes	= app->budget.max_stack,
		.rodata_bytes	= app->budget.max_rodata,
		.scratch_bytes	= app->budget.max_scratch,
	};
	struct lf_app_stats stats;
	void *hdr;
	int i;

	lockdep_assert_held(&lf_mutex);
	hdr = genlmsg_put(skb, portid, seq, &lf_genl_family, flags,
			  LF_CMD_GET_APP);
	if (!hdr)
		return -EMSGSIZE;

	lf_app_stats_sum(app, &stats);
	if (nla_put_u32(skb, LF_ATTR_APP_ID, app->id) ||
	    nla_put_string(skb, LF_ATTR_APP_NAME, app->name) ||
	    nla_put_u32(skb, LF_ATTR_INPUT_LEN, app->input_len) ||
	    nla_put_u32(skb, LF_ATTR_OUTPUT_LEN, app->output_len) ||
	    nla_put_u64_64bit(skb, LF_ATTR_QUERIES, stats.queries,
			      LF_ATTR_PAD) ||
	    nla_put_u64_64bit(skb, LF_ATTR_NO_ACTIVE, stats.no_active,
			      LF_ATTR_PAD) ||
	    nla_put_u8(skb, LF_ATTR_RECORDING,
		       rcu_access_pointer(app->rec) ? 1 : 0) ||
	    nla_put_u64_64bit(skb, LF_ATTR_DROPPED, stats.dropped,
			      LF_ATTR_PAD) ||
	    nla_put_u8(skb, LF_ATTR_STAGING, app->staging) ||
	    lf_nl_put_shadow(skb, app))
		goto cancel_msg;
	if (app->active_slot != LF_NO_SLOT &&
	    nla_put_u32(skb, LF_ATTR_ACTIVE_SLOT, app->active_slot))
		goto cancel_msg;
	if (lf_nl_put_cost(skb, LF_ATTR_BUDGET, &limits))
		goto cancel_msg;
	for (i = 0; i < LF_NR_SLOTS; i++)
		if (app->slot[i] && lf_nl_put_slot(skb, app, i))
			goto cancel_msg;

	genlmsg_end(skb, hdr);
	return 0;

cancel_msg:
	genlmsg_cancel(skb, hdr);
	return -EMSGSIZE;
}

/* cb->args[0]: the app id to resume from. */
static int lf_nl_get_app_dumpit(struct sk_buff *skb,
				struct netlink_callback *cb)
{
	unsigned long id = cb->args[0];
	struct lf_app *app;
	int err = 0;

	mutex_lock(&lf_mutex);
	xa_for_each_start(&lf_apps, id, app, cb->args[0]) {
		err = lf_nl_fill_app(skb, app, NETLINK_CB(cb->skb).portid,
				     cb->nlh->nlmsg_seq, NLM_F_MULTI);
		if (err)
			break;
		cb->args[0] = id + 1;
	}
	mutex_unlock(&lf_mutex);

	/* A full skb is not an error: the dump resumes where it stopped. */
	if (err == -EMSGSIZE && skb->len)
		return skb->len;
	return err ? err : skb->len;
}

/* LF_ATTR_BUDGET (already validated against lf_cost_policy) -> @b. */
static int lf_nl_get_budget(const struct nlattr *attr, struct lf_budget *b,
			    struct netlink_ext_ack *extack)
{
	struct nlattr *tb[LF_COST_ATTR_MAX + 1];
	int err;

	memset(b, 0, sizeof(*b));
	if (!attr)
		return 0;
	err = nla_parse_nested(tb, LF_COST_ATTR_MAX, attr, lf_cost_policy,
			       extack);
	if (err)
		return err;
	if (tb[LF_COST_ATTR_MACS])
		b->max_macs = nla_get_u64(tb[LF_COST_ATTR_MACS]);
	if (tb[LF_COST_ATTR_CMPS])
		b->max_cmps = nla_get_u64(tb[LF_COST_ATTR_CMPS]);
	if (tb[LF_COST_ATTR_STACK])
		b->max_stack = nla_get_u64(tb[LF_COST_ATTR_STACK]);
	if (tb[LF_COST_ATTR_RODATA])
		b->max_rodata = nla_get_u64(tb[LF_COST_ATTR_RODATA]);
	if (tb[LF_COST_ATTR_SCRATCH])
		b->max_scratch = nla_get_u64(tb[LF_COST_ATTR_SCRATCH]);
	return 0;
}

static int lf_nl_app_create(struct sk_buff *skb, struct genl_info *info)
{
	struct nlattr **attrs = info->attrs;
	struct lf_budget budget;
	int err;

	if (GENL_REQ_ATTR_CHECK(info, LF_ATTR_APP_ID) ||
	    GENL_REQ_ATTR_CHECK(info, LF_ATTR_INPUT_LEN) ||
	    GENL_REQ_ATTR_CHECK(info, LF_ATTR_OUTPUT_LEN))
		return -EINVAL;
	err = lf_nl_get_budget(attrs[LF_ATTR_BUDGET], &budget, info->extack);
	if (err)
		return err;

	return lf_app_create(nla_get_u32(attrs[LF_ATTR_APP_ID]),
			     attrs[LF_ATTR_APP_NAME] ?
			     nla_data(attrs[LF_ATTR_APP_NAME]) : "",
			     nla_get_u32(attrs[LF_ATTR_INPUT_LEN]),
			     nla_get_u32(attrs[LF_ATTR_OUTPUT_LEN]),
			     &budget, info->extack);
}

static int lf_nl_app_destroy(struct sk_buff *skb, struct genl_info *info)
{
	if (GENL_REQ_ATTR_CHECK(info, LF_ATTR_APP_ID))
		return -EINVAL;

	return lf_app_destroy(nla_get_u32(info->attrs[LF_ATTR_APP_ID]),
			      info->extack);
}

static int lf_nl_activate(struct sk_buff *skb, struct genl_info *info)
{
	if (GENL_REQ_ATTR_CHECK(info, LF_ATTR_APP_ID) ||
	    GENL_REQ_ATTR_CHECK(info, LF_ATTR_UUID))
		return -EINVAL;

	return lf_activate(nla_get_u32(info->attrs[LF_ATTR_APP_ID]),
			   nla_get_u64(info->attrs[LF_ATTR_UUID]),
			   info->extack);
}

static int lf_nl_rollback(struct sk_buff *skb, struct genl_info *info)
{
	if (GENL_REQ_ATTR_CHECK(info, LF_ATTR_APP_ID))
		return -EINVAL;

	return lf_rollback(nla_get_u32(info->attrs[LF_ATTR_APP_ID]),
			   info->extack);
}

static int lf_nl_infer_reply(struct genl_info *info, u32 app_id, u64 uuid,
			     const s64 *out, u32 output_len)
{
	size_t out_bytes = output_len * sizeof(s64);
	struct sk_buff *msg;
	void *hdr;

	msg = genlmsg_new(nla_total_size(sizeof(u32)) +
			  nla_total_size_64bit(sizeof(u64)) +
			  nla_total_size(out_bytes), GFP_KERNEL);
	if (!msg)
		return -ENOMEM;
	hdr = genlmsg_put_reply(msg, info, &lf_genl_family, 0, LF_CMD_INFER);
	if (!hdr)
		goto free_msg;
	if (nla_put_u32(msg, LF_ATTR_APP_ID, app_id) ||
	    nla_put_u64_64bit(msg, LF_ATTR_UUID, uuid, LF_ATTR_PAD) ||
	    nla_put(msg, LF_ATTR_VECTOR, out_bytes, out))
		goto free_msg;
	genlmsg_end(msg, hdr);
	return genlmsg_reply(msg, info);

free_msg:
	nlmsg_free(msg);
	return -EMSGSIZE;
}

/*
 * Run the app's active snapshot on one vector. The buffers are sized from
 * the app's lengths and allocated (up to 2 * LF_VECTOR_MAX_BYTES), never
 * taken from the kernel stack; the input is copied out of the message so
 * the snapshot sees aligned s64s.
 */
static int lf_nl_infer(struct sk_buff *skb, struct genl_info *info)
{
	struct netlink_ext_ack *extack = info->extack;
	u32 app_id, input_len, output_len;
	struct nlattr *vec;
	s64 *buf;
	u64 uuid;
	int err;

	if (GENL_REQ_ATTR_CHECK(info, LF_ATTR_APP_ID) ||
	    GENL_REQ_ATTR_CHECK(info, LF_ATTR_VECTOR))
		return -EINVAL;
	app_id = nla_get_u32(info->attrs[LF_ATTR_APP_ID]);
	vec = info->attrs[LF_ATTR_VECTOR];

	if (lf_app_io_len(app_id, &input_len, &output_len)) {
		NL_SET_ERR_MSG_ATTR(extack, info->attrs[LF_ATTR_APP_ID],
				    "unknown app");
		return -ENOENT;
	}
	if (nla_len(vec) != input_len * sizeof(s64)) {
		NL_SET_ERR_MSG_ATTR(extack, vec,
				    "vector must hold exactly input_len s64 values");
		return -EINVAL;
	}

	buf = kmalloc_array(input_len + output_len, sizeof(s64), GFP_KERNEL);
	if (!buf)
		return -ENOMEM;
	memcpy(buf, nla_data(vec), input_len * sizeof(s64));

	err = lf_infer(app_id, buf, input_len, buf + input_len, output_len,
		       &uuid);
	switch (err) {
	case 0:
		err = lf_nl_infer_reply(info, app_id, uuid, buf + input_len,
					output_len);
		break;
	case -ENOENT:
		NL_SET_ERR_MSG_MOD(extack, "unknown app");
		break;
	case -ESTALE:
		NL_SET_ERR_MSG_MOD(extack, "app was recreated during the query");
		break;
	case -ENODATA:
		NL_SET_ERR_MSG_MOD(extack, "app has no active snapshot");
		break;
	default:
		NL_SET_ERR_MSG_MOD(extack, "snapshot returned an error");
		break;
	}
	kfree(buf);
	return err;
}

static int lf_nl_set_recording(struct sk_buff *skb, struct genl_info *info)
{
	if (GENL_REQ_ATTR_CHECK(info, LF_ATTR_APP_ID) ||
	    GENL_REQ_ATTR_CHECK(info, LF_ATTR_RECORDING))
		return -EINVAL;

	return lf_set_recording(nla_get_u32(info->attrs[LF_ATTR_APP_ID]),
				nla_get_u8(info->attrs[LF_ATTR_RECORDING]),
				info->extack);
}

static int lf_nl_shadow(struct sk_buff *skb, struct genl_info *info)
{
	struct nlattr **attrs = info->attrs;
	u32 every = 0;

	if (GENL_REQ_ATTR_CHECK(info, LF_ATTR_APP_ID))
		return -EINVAL;
	if (attrs[LF_ATTR_SHADOW_EVERY])
		every = nla_get_u32(attrs[LF_ATTR_SHADOW_EVERY]);
	if (every && !attrs[LF_ATTR_UUID]) {
		NL_SET_ERR_MSG_MOD(info->extack,
				   "starting a shadow needs the candidate's UUID");
		return -EINVAL;
	}
	return lf_set_shadow(nla_get_u32(attrs[LF_ATTR_APP_ID]),
			     every ? nla_get_u64(attrs[LF_ATTR_UUID]) : 0,
			     every, info->extack);
}

static int lf_nl_staging(struct sk_buff *skb, struct genl_info *info)
{
	if (GENL_REQ_ATTR_CHECK(info, LF_ATTR_APP_ID) ||
	    GENL_REQ_ATTR_CHECK(info, LF_ATTR_STAGING))
		return -EINVAL;

	return lf_set_staging(nla_get_u32(info->attrs[LF_ATTR_APP_ID]),
			      nla_get_u8(info->attrs[LF_ATTR_STAGING]),
			      info->extack);
}

/* Wire bytes of one LF_ATTR_RECORD nest; see the table at the top. */
size_t lf_nl_record_size(u32 input_len, u32 output_len)
{
	return nla_total_size(0) +
	       2 * nla_total_size_64bit(sizeof(u64)) +
	       nla_total_size(sizeof(u32)) +
	       nla_total_size(input_len * sizeof(s64)) +
	       nla_total_size(output_len * sizeof(s64));
}

bool lf_nl_records_listened(void)
{
	return genl_has_listeners(&lf_genl_family, &init_net,
				  LF_MCGRP_RECORDS) > 0;
}

/*
 * Multicast @n records, @stride bytes apart from @recs, as one
 * LF_CMD_RECORDS message. Process context. Returns 0, or a negative errno
 * when the message could not be built or reached no listener.
 */
int lf_nl_send_records(u32 app_id, u32 input_len, u32 output_len,
		       const void *recs, size_t stride, u32 n)
{
	size_t in_bytes = input_len * sizeof(s64);
	size_t out_bytes = output_len * sizeof(s64);
	struct sk_buff *msg;
	void *hdr;
	u32 i;

	msg = genlmsg_new(nla_total_size(sizeof(u32)) +
			  n * lf_nl_record_size(input_len, output_len),
			  GFP_KERNEL);
	if (!msg)
		return -ENOMEM;
	hdr = genlmsg_put(msg, 0, 0, &lf_genl_family, 0, LF_CMD_RECORDS);
	if (!hdr || nla_put_u32(msg, LF_ATTR_APP_ID, app_id))
		goto free_msg;

	for (i = 0; i < n; i++) {
		const struct lf_record *rec = recs + i * stride;
		struct nlattr *nest;

		nest = nla_nest_start(msg, LF_ATTR_RECORD);
		if (!nest ||
		    nla_put_u64_64bit(msg, LF_REC_ATTR_UUID, rec->uuid,
				      LF_REC_ATTR_PAD) ||
		    nla_put_u64_64bit(msg, LF_REC_ATTR_TIMESTAMP,
				      rec->timestamp, LF_REC_ATTR_PAD) ||
		    nla_put_u32(msg, LF_REC_ATTR_FLAGS, rec->flags) ||
		    nla_put(msg, LF_REC_ATTR_INPUT, in_bytes, rec->values) ||
		    nla_put(msg, LF_REC_ATTR_OUTPUT, out_bytes,
			    rec->values + input_len))
			goto free_msg;
		nla_nest_end(msg, nest);
	}
	genlmsg_end(msg, hdr);
	return genlmsg_multicast(&lf_genl_family, msg, 0, LF_MCGRP_RECORDS,
				 GFP_KERNEL);

free_msg:
	nlmsg_free(msg);
	return -EMSGSIZE;
}

/* Wire bytes of one shadow result: a record with the candidate's answer. */
static size_t lf_nl_shadow_size(u32 input_len, u32 output_len)
{
	return lf_nl_record_size(input_len, output_len) +
	       nla_total_size(output_len * sizeof(s64)) +
	       nla_total_size(sizeof(s32));
}

/*
 * Multicast @n shadow results (struct lf_shadow_result, @stride bytes
 * apart) of candidate @cand_uuid as one LF_CMD_SHADOW_RECORDS message.
 * Process context.
 */
int lf_nl_send_shadow(u32 app_id, u64 cand_uuid, u32 input_len,
		      u32 output_len, const void *res, size_t stride, u32 n)
{
	size_t in_bytes = input_len * sizeof(s64);
	size_t out_bytes = output_len * sizeof(s64);
	struct sk_buff *msg;
	void *hdr;
	u32 i;

	msg = genlmsg_new(nla_total_size(sizeof(u32)) +
			  nla_total_size_64bit(sizeof(u64)) +
			  n * lf_nl_shadow_size(input_len, output_len),
			  GFP_KERNEL);
	if (!msg)
		return -ENOMEM;
	hdr = genlmsg_put(msg, 0, 0, &lf_genl_family, 0,
			  LF_CMD_SHADOW_RECORDS);
	if (!hdr || nla_put_u32(msg, LF_ATTR_APP_ID, app_id) ||
	    nla_put_u64_64bit(msg, LF_ATTR_UUID, cand_uuid, LF_ATTR_PAD))
		goto free_msg;

	for (i = 0; i < n; i++) {
		const struct lf_shadow_result *r = res + i * stride;
		const s64 *out = r->values + input_len;
		struct nlattr *nest;

		nest = nla_nest_start(msg, LF_ATTR_RECORD);
		if (!nest ||
		    nla_put_u64_64bit(msg, LF_REC_ATTR_UUID, r->uuid,
				      LF_REC_ATTR_PAD) ||
		    nla_put_u64_64bit(msg, LF_REC_ATTR_TIMESTAMP,
				      r->timestamp, LF_REC_ATTR_PAD) ||
		    nla_put(msg, LF_REC_ATTR_INPUT, in_bytes, r->values) ||
		    nla_put(msg, LF_REC_ATTR_OUTPUT, out_bytes, out) ||
		    nla_put(msg, LF_REC_ATTR_SHADOW_OUTPUT, out_bytes,
			    out + output_len) ||
		    nla_put_s32(msg, LF_REC_ATTR_SHADOW_ERROR, r->err))
			goto free_msg;
		nla_nest_end(msg, nest);
	}
	genlmsg_end(msg, hdr);
	return genlmsg_multicast(&lf_genl_family, msg, 0, LF_MCGRP_RECORDS,
				 GFP_KERNEL);

free_msg:
	nlmsg_free(msg);
	return -EMSGSIZE;
}

static const struct genl_ops lf_genl_ops[] = {
	{
		.cmd	= LF_CMD_GET_APP,
		.dumpit	= lf_nl_get_app_dumpit,
		.flags	= GENL_ADMIN_PERM,
	},
	{
		.cmd	= LF_CMD_APP_CREATE,
		.doit	= lf_nl_app_create,
		.flags	= GENL_ADMIN_PERM,
	},
	{
		.cmd	= LF_CMD_APP_DESTROY,
		.doit	= lf_nl_app_destroy,
		.flags	= GENL_ADMIN_PERM,
	},
	{
		.cmd	= LF_CMD_ACTIVATE,
		.doit	= lf_nl_activate,
		.flags	= GENL_ADMIN_PERM,
	},
	{
		.cmd	= LF_CMD_ROLLBACK,
		.doit	= lf_nl_rollback,
		.flags	= GENL_ADMIN_PERM,
	},
	{
		.cmd	= LF_CMD_INFER,
		.doit	= lf_nl_infer,
		.flags	= GENL_ADMIN_PERM,
	},
	{
		.cmd	= LF_CMD_SET_RECORDING,
		.doit	= lf_nl_set_recording,
		.flags	= GENL_ADMIN_PERM,
	},
	{
		.cmd	= LF_CMD_SHADOW,
		.doit	= lf_nl_shadow,
		.flags	= GENL_ADMIN_PERM,
	},
	{
		.cmd	= LF_CMD_STAGING,
		.doit	= lf_nl_staging,
		.flags	= GENL_ADMIN_PERM,
	},
};

/*
 * parallel_ops: commands are not serialised by the genetlink mutex; lf_mutex
 * does that for updates, and INFER runs lock-free like any other query.
 */
static struct genl_family lf_genl_family __ro_after_init = {
	.name		= LF_GENL_NAME,
	.version	= LF_GENL_VERSION,
	.maxattr	= LF_ATTR_MAX,
	.policy		= lf_nl_policy,
	.netnsok	= false,
	.parallel_ops	= true,
	.module		= THIS_MODULE,
	.ops		= lf_genl_ops,
	.n_ops		= ARRAY_SIZE(lf_genl_ops),
	.mcgrps		= lf_mcgrps,
	.n_mcgrps	= ARRAY_SIZE(lf_mcgrps),
};

int __init lf_netlink_init(void)
{
	return genl_register_family(&lf_genl_family);
}

void lf_netlink_exit(void)
{
	genl_unregister_family(&lf_genl_family);
}
