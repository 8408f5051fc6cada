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
 */
#ifndef _LF_COMPAT_H
#define _LF_COMPAT_H

#include <linux/timer.h>
#include <linux/version.h>

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

#endif /* _LF_COMPAT_H */
