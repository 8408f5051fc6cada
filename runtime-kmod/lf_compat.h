/* SPDX-License-Identifier: GPL-2.0 */
/*
 * lf_compat.h - kernel API drift that lf_kernel and its test modules meet,
 * kept in one place so the .c files read like current mainline code.
 *
 * Tested on Debian's 6.1 and 6.12 kernels. What moved, and when:
 *
 *   5.2   the generic-netlink attribute policy moved from each op to the
 *         family (struct genl_family .policy/.maxattr); per-op policies
 *         are not supported here, so older kernels are refused outright.
 *   5.2   ops validate strictly unless they set GENL_DONT_VALIDATE_*
 *         (we never do): no unknown, trailing or policy-less attributes.
 *   6.1   .resv_start_op: commands numbered below it keep legacy parsing.
 *         lf_kernel leaves it at zero, as new families should, so every
 *         command also gets its header's reserved field checked.
 *   6.2   genl_split_ops and a new pre_doit/post_doit signature; we use
 *         plain struct genl_ops without pre/post hooks, which both old
 *         and new kernels accept.
 *   6.2   del_timer_sync() became timer_delete_sync() (later 6.1.y have
 *         both; the old name went away in 6.15). Test client only.
 *   6.6   GENL_MCAST_CAP_NET_ADMIN: joining a multicast group can need a
 *         capability (backported to 6.1.y; Debian's 6.1 has it). Where it
 *         is missing anyone may join the "records" group.
 *   6.10  tcp_congestion_ops.cong_control gained (ack, flag) before the
 *         rate sample (lf_tcp): LF_CONG_CONTROL_ARGS() below.
 */
#ifndef _LF_COMPAT_H
#define _LF_COMPAT_H

#include <linux/timer.h>
#include <linux/version.h>
#include <net/genetlink.h>

#if LINUX_VERSION_CODE < KERNEL_VERSION(5, 2, 0)
#error "lf_kernel needs Linux 5.2 or newer (generic-netlink family policy)"
#endif

/*
 * Every 6.1.y has del_timer_sync(); where timer_delete_sync() exists too,
 * this macro comes after its declaration and only renames our calls.
 */
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 2, 0)
#define timer_delete_sync(timer)	del_timer_sync(timer)
#endif

#ifndef GENL_MCAST_CAP_NET_ADMIN
#define GENL_MCAST_CAP_NET_ADMIN	0
#endif

/*
 * The parameter list of a cong_control hook: @sk and @rs, and from 6.10
 * also @ack and @flag (unused by lf_tcp):
 *
 *	static void foo_cong_control(LF_CONG_CONTROL_ARGS)
 */
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 10, 0)
#define LF_CONG_CONTROL_ARGS \
	struct sock *sk, const struct rate_sample *rs
#else
#define LF_CONG_CONTROL_ARGS \
	struct sock *sk, u32 ack, int flag, const struct rate_sample *rs
#endif

#endif /* _LF_COMPAT_H */
