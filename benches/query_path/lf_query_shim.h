/* SPDX-License-Identifier: GPL-2.0 */
/*
 * lf_query_shim.h - just enough of the kernel for lf_kernel's query path
 * (lf_run() and lf_query_model() of lf_main.c, lf_shadow_offer() of
 * lf_internal.h, lf_shadow_sample() of lf_shadow.c, their text copied
 * verbatim by benches/query_path.rs) to run in userspace under callgrind,
 * on one CPU. Reached through stub <linux/...> headers.
 *
 * What is faithful and what is not (instructions, x86-64):
 *  - this_cpu_inc/_dec_return/_write/_ptr: one CPU, so a plain memory
 *    operation; the kernel's is one %gs-relative instruction too.
 *  - rcu_read_lock()/rcu_dereference(): a compiler barrier and a load
 *    (the kernel with PREEMPT_RCU adds an increment/decrement of the
 *    task's nesting count: about 4 instructions per query, not counted).
 *  - xa_load(): an array lookup here; the kernel walks the xarray (a call
 *    of some 20-40 instructions). The same in every mode measured, so the
 *    differences between modes do not depend on it.
 *  - trace_lf_query(): one nop, as the disabled tracepoint's static key.
 *  - local_irq_save/restore and the raw spinlock of lf_shadow_sample():
 *    pushf/cli/popf are not counted (3 instructions); the lock is one
 *    atomic exchange and one store, as the kernel's uncontended
 *    queued spinlock fast path.
 *  - ktime_get_ns(): a counter here (the kernel reads the clocksource:
 *    a few dozen instructions, sampled queries only).
 *  - queue_work(): its pending-bit test-and-set only; the enqueueing
 *    itself runs once per worker pass (the first sample after the worker
 *    drained the ring) and is not counted.
 */
#ifndef _LF_QUERY_SHIM_H
#define _LF_QUERY_SHIM_H

#include "lf_kernel_shim.h"
#include <string.h>

#define __rcu
#ifndef __always_inline
#define __always_inline		inline __attribute__((always_inline))
#endif
#define likely(x)		__builtin_expect(!!(x), 1)
#define unlikely(x)		__builtin_expect(!!(x), 0)
#define barrier()		__asm__ __volatile__("" ::: "memory")
#define READ_ONCE(x)		(*(const volatile __typeof__(x) *)&(x))

#define EPERM		1
#define ENOENT		2
#define ENODATA		61
#define EXPORT_SYMBOL_GPL(sym)	LF_SHIM_DECL

struct list_head { struct list_head *next, *prev; };
struct mutex { int locked; };
struct netlink_ext_ack;
struct work_struct { unsigned long pending; };
struct workqueue_struct;
extern struct workqueue_struct *system_wq;

/* One CPU: the per-CPU operations are plain accesses to the one copy. */
#define this_cpu_inc(pcp)		((void)((pcp)++))
#define this_cpu_dec_return(pcp)	(--(pcp))
#define this_cpu_write(pcp, v)		((void)((pcp) = (v)))

#define rcu_read_lock()		barrier()
#define rcu_read_unlock()	barrier()
#define rcu_dereference(p)	READ_ONCE(p)

/* The app table: lf_apps.app[id] (the kernel's is an xarray). */
#define LF_QUERY_SHIM_APPS	8
struct lf_app;
struct xarray { struct lf_app *app[LF_QUERY_SHIM_APPS]; };
static inline void *xa_load(struct xarray *xa, unsigned long i)
{
	return i < LF_QUERY_SHIM_APPS ? (void *)xa->app[i] : NULL;
}

#define trace_lf_query(app, uuid, ret)	__asm__ __volatile__("nop")

typedef struct { int locked; } raw_spinlock_t;
#define local_irq_save(f)		((void)((f) = 0))
#define raw_spin_lock(l)		((void)__atomic_exchange_n(&(l)->locked, 1, __ATOMIC_ACQUIRE))
#define raw_spin_unlock_irqrestore(l, f) \
	((void)(f), __atomic_store_n(&(l)->locked, 0, __ATOMIC_RELEASE))

u64 ktime_get_ns(void);
static inline bool queue_work(struct workqueue_struct *wq, struct work_struct *w)
{
	(void)wq;
	return !__atomic_exchange_n(&w->pending, 1, __ATOMIC_ACQ_REL);
}

#endif /* _LF_QUERY_SHIM_H */
