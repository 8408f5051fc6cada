/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * lf_netlink.h - the generic-netlink protocol of lf_kernel (family
 * "liteflow"). Shared by the kernel module and lfc's control client
 * (src/control mirrors these numbers; a test checks they match).
 *
 * All commands need CAP_NET_ADMIN. Errors come back as a negative errno
 * with an extack message.
 */
#ifndef _UAPI_LF_NETLINK_H
#define _UAPI_LF_NETLINK_H

#define LF_GENL_NAME		"liteflow"
#define LF_GENL_VERSION		1
#define LF_GENL_MCGRP_RECORDS	"records"

enum lf_cmd {
	LF_CMD_UNSPEC,
	LF_CMD_GET_APP,		/* dump: one LF_CMD_GET_APP message per app */
	LF_CMD_APP_CREATE,	/* APP_ID, APP_NAME, INPUT_LEN, OUTPUT_LEN,
				 * BUDGET (optional) */
	LF_CMD_APP_DESTROY,	/* APP_ID; an app a kernel client registered
				 * keeps existing, only its slots are released */
	LF_CMD_ACTIVATE,	/* APP_ID, UUID; -E2BIG over the app budget */
	LF_CMD_ROLLBACK,	/* APP_ID */
	LF_CMD_INFER,		/* APP_ID, VECTOR -> APP_ID, UUID, VECTOR */
	LF_CMD_SET_RECORDING,	/* APP_ID, RECORDING (u8 0/1) */
	LF_CMD_RECORDS,		/* multicast on "records": APP_ID, RECORD... */
	LF_CMD_SHADOW,		/* APP_ID, UUID, SHADOW_EVERY (> 0): the loaded,
				 * non-active snapshot UUID answers 1 query in
				 * SHADOW_EVERY per CPU, off the datapath;
				 * APP_ID alone or SHADOW_EVERY 0: stop */
	LF_CMD_STAGING,		/* APP_ID, STAGING (u8 0/1): while on, snapshots
				 * registering for the app only enter the
				 * registry (loaded, in no slot) */
	LF_CMD_SHADOW_RECORDS,	/* multicast on "records": APP_ID, UUID (the
				 * candidate), RECORD... with SHADOW_OUTPUT */
	__LF_CMD_MAX,
};
#define LF_CMD_MAX (__LF_CMD_MAX - 1)

enum lf_attr {
	LF_ATTR_UNSPEC,
	LF_ATTR_APP_ID,		/* u32 */
	LF_ATTR_APP_NAME,	/* NUL-terminated string, < LF_NAME_LEN */
	LF_ATTR_INPUT_LEN,	/* u32, 1..LF_MAX_IO_LEN */
	LF_ATTR_OUTPUT_LEN,	/* u32, 1..LF_MAX_IO_LEN */
	LF_ATTR_UUID,		/* u64 */
	LF_ATTR_VECTOR,		/* binary: s64 array, host byte order */
	LF_ATTR_ACTIVE_SLOT,	/* u32: 0 or 1; absent when no active snapshot */
	LF_ATTR_SLOT,		/* nested LF_SLOT_ATTR_*, one per occupied slot */
	LF_ATTR_QUERIES,	/* u64: app queries answered by a snapshot */
	LF_ATTR_NO_ACTIVE,	/* u64: app queries refused, no active snapshot */
	LF_ATTR_RECORDING,	/* u8: training-record collection on/off */
	LF_ATTR_RECORD,		/* nested LF_REC_ATTR_* (issue: records) */
	LF_ATTR_DROPPED,	/* u64: records dropped (buffers full) */
	LF_ATTR_PAD,
	LF_ATTR_SHADOW_EVERY,	/* u32: sample 1 query in N per CPU, 0: stop */
	LF_ATTR_STAGING,	/* u8: new snapshots are staged, not installed */
	LF_ATTR_SHADOW,		/* nested LF_SHADOW_ATTR_*: the running shadow,
				 * or the last one (no LF_SHADOW_ATTR_RUNNING) */
	LF_ATTR_BUDGET,		/* nested LF_COST_ATTR_*: the app's limits
				 * (u64 each, absent or 0 = no limit) */
	__LF_ATTR_MAX,
};
#define LF_ATTR_MAX (__LF_ATTR_MAX - 1)

enum lf_slot_attr {
	LF_SLOT_ATTR_UNSPEC,
	LF_SLOT_ATTR_INDEX,	/* u32: 0 or 1 */
	LF_SLOT_ATTR_UUID,	/* u64 */
	LF_SLOT_ATTR_NAME,	/* string: model name */
	LF_SLOT_ATTR_DIGEST,	/* string: hex SHA-256 */
	LF_SLOT_ATTR_MODULE,	/* string: owning module name */
	LF_SLOT_ATTR_QUERIES,	/* u64 */
	LF_SLOT_ATTR_ERRORS,	/* u64: infer() returned an error */
	LF_SLOT_ATTR_PAD,
	LF_SLOT_ATTR_INPUT_SCALE,	/* s64 */
	LF_SLOT_ATTR_OUTPUT_SCALE,	/* s64 */
	LF_SLOT_ATTR_ACTIVE,	/* flag: this slot is the active one */
	LF_SLOT_ATTR_DRIFT,	/* u64: queries with an input outside the
				 * declared domain (clamped) */
	LF_SLOT_ATTR_GUARD,	/* u64: queries with an output clamped by
				 * the guardrail */
	LF_SLOT_ATTR_OUT_LO,	/* binary s64[output_len]: proven bounds */
	LF_SLOT_ATTR_OUT_HI,
	LF_SLOT_ATTR_GUARD_LO,	/* binary s64[output_len]: the guardrail; */
	LF_SLOT_ATTR_GUARD_HI,	/* absent when the snapshot has none */
	LF_SLOT_ATTR_COST,	/* nested LF_COST_ATTR_*: what it proved */
	__LF_SLOT_ATTR_MAX,
};
#define LF_SLOT_ATTR_MAX (__LF_SLOT_ATTR_MAX - 1)

enum lf_rec_attr {
	LF_REC_ATTR_UNSPEC,
	LF_REC_ATTR_UUID,	/* u64 */
	LF_REC_ATTR_TIMESTAMP,	/* u64: ktime_get_ns() */
	LF_REC_ATTR_INPUT,	/* binary s64 array */
	LF_REC_ATTR_OUTPUT,	/* binary s64 array */
	LF_REC_ATTR_PAD,
	LF_REC_ATTR_SHADOW_OUTPUT,	/* binary s64 array: the candidate's */
	LF_REC_ATTR_SHADOW_ERROR,	/* s32: the candidate's infer() return */
	LF_REC_ATTR_FLAGS,	/* u32: LF_INFER_* (1 drift, 2 guardrail) */
	__LF_REC_ATTR_MAX,
};
#define LF_REC_ATTR_MAX (__LF_REC_ATTR_MAX - 1)

enum lf_shadow_attr {
	LF_SHADOW_ATTR_UNSPEC,
	LF_SHADOW_ATTR_UUID,	/* u64: the candidate */
	LF_SHADOW_ATTR_EVERY,	/* u32 */
	LF_SHADOW_ATTR_SAMPLED,	/* u64: queries copied for the candidate */
	LF_SHADOW_ATTR_DROPPED,	/* u64: samples dropped, ring full */
	LF_SHADOW_ATTR_RUN,	/* u64: samples the candidate answered */
	LF_SHADOW_ATTR_ERRORS,	/* u64: ... with an error */
	LF_SHADOW_ATTR_UNSENT,	/* u64: results that reached no listener */
	LF_SHADOW_ATTR_RUNNING,	/* flag: this shadow is on */
	LF_SHADOW_ATTR_PAD,
	LF_SHADOW_ATTR_OUTPUT_SCALE,	/* s64: the candidate's */
	__LF_SHADOW_ATTR_MAX,
};
#define LF_SHADOW_ATTR_MAX (__LF_SHADOW_ATTR_MAX - 1)
/* A snapshot's cost (LF_SLOT_ATTR_COST) or an app's budget (LF_ATTR_BUDGET). */
enum lf_cost_attr {
	LF_COST_ATTR_UNSPEC,
	LF_COST_ATTR_MACS,	/* u64: multiply-adds per query */
	LF_COST_ATTR_CMPS,	/* u64: worst-case table comparisons */
	LF_COST_ATTR_STACK,	/* u64: stack bytes */
	LF_COST_ATTR_RODATA,	/* u64: table and weight bytes */
	LF_COST_ATTR_SCRATCH,	/* u64: per-CPU scratch bytes */
	LF_COST_ATTR_PAD,
	__LF_COST_ATTR_MAX,
};
#define LF_COST_ATTR_MAX (__LF_COST_ATTR_MAX - 1)

#endif /* _UAPI_LF_NETLINK_H */
