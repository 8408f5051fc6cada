/* SPDX-License-Identifier: GPL-2.0 */
/*
 * lf_kernel's tracepoints (tracefs: events/lf_kernel/).
 *
 *	lf_app_create, lf_app_destroy	an app appears or goes away
 *	lf_register			a snapshot module registered
 *	lf_install			a snapshot put into a slot (registration,
 *					or activation of an evicted one)
 *	lf_activate			a slot made the active one (-1: none)
 *	lf_rollback			active and standby swapped
 *	lf_evict			a snapshot released from its slot (its
 *					module unpinned, after a grace period)
 *	lf_query			one lf_query_model() (ret: 0 or -errno)
 *	lf_records_shipped, _dropped	training records sent as one netlink
 *					batch, or dropped (no listener, the
 *					send failed, or a full ring)
 *
 * Names are fixed-size arrays, not __string(): __assign_str() changed its
 * arguments in 6.10, and this header builds for 6.1 and 6.12 alike.
 * Disabled tracepoints cost a patched-out branch on the query path.
 */
#undef TRACE_SYSTEM
#define TRACE_SYSTEM lf_kernel

#if !defined(_LF_TRACE_H) || defined(TRACE_HEADER_MULTI_READ)
#define _LF_TRACE_H

#include <linux/tracepoint.h>

#define LF_TRACE_NAME_LEN 32

DECLARE_EVENT_CLASS(lf_app_class,
	TP_PROTO(u32 app, const char *name, u32 input_len, u32 output_len),
	TP_ARGS(app, name, input_len, output_len),
	TP_STRUCT__entry(
		__field(u32, app)
		__field(u32, input_len)
		__field(u32, output_len)
		__array(char, name, LF_TRACE_NAME_LEN)
	),
	TP_fast_assign(
		__entry->app = app;
		__entry->input_len = input_len;
		__entry->output_len = output_len;
		strscpy(__entry->name, name ? name : "", LF_TRACE_NAME_LEN);
	),
	TP_printk("app=%u name=%s inputs=%u outputs=%u", __entry->app,
		  __entry->name, __entry->input_len, __entry->output_len)
);

DEFINE_EVENT(lf_app_class, lf_app_create,
	TP_PROTO(u32 app, const char *name, u32 input_len, u32 output_len),
	TP_ARGS(app, name, input_len, output_len));

DEFINE_EVENT(lf_app_class, lf_app_destroy,
	TP_PROTO(u32 app, const char *name, u32 input_len, u32 output_len),
	TP_ARGS(app, name, input_len, output_len));

TRACE_EVENT(lf_register,
	TP_PROTO(u32 app, u64 uuid, const char *name),
	TP_ARGS(app, uuid, name),
	TP_STRUCT__entry(
		__field(u64, uuid)
		__field(u32, app)
		__array(char, name, LF_TRACE_NAME_LEN)
	),
	TP_fast_assign(
		__entry->uuid = uuid;
		__entry->app = app;
		strscpy(__entry->name, name ? name : "", LF_TRACE_NAME_LEN);
	),
	TP_printk("app=%u uuid=%llu name=%s", __entry->app, __entry->uuid,
		  __entry->name)
);

DECLARE_EVENT_CLASS(lf_slot_class,
	TP_PROTO(u32 app, int slot, u64 uuid),
	TP_ARGS(app, slot, uuid),
	TP_STRUCT__entry(
		__field(u64, uuid)
		__field(u32, app)
		__field(int, slot)
	),
	TP_fast_assign(
		__entry->uuid = uuid;
		__entry->app = app;
		__entry->slot = slot;
	),
	TP_printk("app=%u slot=%d uuid=%llu", __entry->app, __entry->slot,
		  __entry->uuid)
);

DEFINE_EVENT(lf_slot_class, lf_install,
	TP_PROTO(u32 app, int slot, u64 uuid), TP_ARGS(app, slot, uuid));

DEFINE_EVENT(lf_slot_class, lf_activate,
	TP_PROTO(u32 app, int slot, u64 uuid), TP_ARGS(app, slot, uuid));

DEFINE_EVENT(lf_slot_class, lf_rollback,
	TP_PROTO(u32 app, int slot, u64 uuid), TP_ARGS(app, slot, uuid));

DEFINE_EVENT(lf_slot_class, lf_evict,
	TP_PROTO(u32 app, int slot, u64 uuid), TP_ARGS(app, slot, uuid));

TRACE_EVENT(lf_query,
	TP_PROTO(u32 app, u64 uuid, int ret),
	TP_ARGS(app, uuid, ret),
	TP_STRUCT__entry(
		__field(u64, uuid)
		__field(u32, app)
		__field(int, ret)
	),
	TP_fast_assign(
		__entry->uuid = uuid;
		__entry->app = app;
		__entry->ret = ret;
	),
	TP_printk("app=%u uuid=%llu ret=%d", __entry->app, __entry->uuid,
		  __entry->ret)
);

DECLARE_EVENT_CLASS(lf_records_class,
	TP_PROTO(u32 app, u32 records, int err),
	TP_ARGS(app, records, err),
	TP_STRUCT__entry(
		__field(u32, app)
		__field(u32, records)
		__field(int, err)
	),
	TP_fast_assign(
		__entry->app = app;
		__entry->records = records;
		__entry->err = err;
	),
	TP_printk("app=%u records=%u err=%d", __entry->app,
		  __entry->records, __entry->err)
);

DEFINE_EVENT(lf_records_class, lf_records_shipped,
	TP_PROTO(u32 app, u32 records, int err), TP_ARGS(app, records, err));

DEFINE_EVENT(lf_records_class, lf_records_dropped,
	TP_PROTO(u32 app, u32 records, int err), TP_ARGS(app, records, err));

#endif /* _LF_TRACE_H */

/* This part must be outside the include guard. */
#undef TRACE_INCLUDE_PATH
#define TRACE_INCLUDE_PATH .
#undef TRACE_INCLUDE_FILE
#define TRACE_INCLUDE_FILE lf_trace
#include <trace/define_trace.h>
