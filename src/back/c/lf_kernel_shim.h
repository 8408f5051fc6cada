/* SPDX-License-Identifier: GPL-2.0 */
/*
 * lf_kernel_shim.h - just enough of the kernel for an lfc snapshot module to
 * build and run in userspace, unchanged: the same lf_model_<uuid>.c the
 * kernel gets is compiled against this (through stub <linux/...> headers
 * that include it) for tests and benchmarks.
 *
 * module_init()/module_exit() become lf_shim_module_init()/_exit(), which the
 * driver calls; the driver also provides lf_register_snapshot() and so gets
 * the struct lf_snapshot the module registers.
 */
#ifndef _LF_KERNEL_SHIM_H
#define _LF_KERNEL_SHIM_H

#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>

typedef int8_t s8;
typedef uint8_t u8;
typedef int16_t s16;
typedef uint16_t u16;
typedef int32_t s32;
typedef uint32_t u32;
typedef long long s64;
typedef unsigned long long u64;

struct module;

#define THIS_MODULE		((struct module *)0)
#define __init
#define __exit
#define __percpu
#define __aligned(x)	__attribute__((aligned(x)))

/* A declaration that may be repeated: swallows the statement's semicolon. */
#define LF_SHIM_DECL		extern int lf_shim_unused

#define MODULE_LICENSE(x)	LF_SHIM_DECL
#define MODULE_DESCRIPTION(x)	LF_SHIM_DECL
#define MODULE_AUTHOR(x)	LF_SHIM_DECL
#define MODULE_INFO(tag, x)	LF_SHIM_DECL

int lf_shim_module_init(void);
void lf_shim_module_exit(void);
#define module_init(fn)	int lf_shim_module_init(void) { return fn(); } LF_SHIM_DECL
#define module_exit(fn)	void lf_shim_module_exit(void) { fn(); } LF_SHIM_DECL

#define BUILD_BUG_ON(cond)	((void)sizeof(char[1 - 2 * !!(cond)]))
/* As <linux/compiler.h>: the value of var is opaque to the optimizer. */
#define OPTIMIZER_HIDE_VAR(var)	__asm__ ("" : "=r" (var) : "0" (var))
#define PERCPU_MODULE_RESERVE	(8 << 10)

/* One CPU, no softirqs. */
#define DEFINE_PER_CPU(type, name)	type name
#define this_cpu_ptr(ptr)	(ptr)
#define local_bh_disable()	do { } while (0)
#define local_bh_enable()	do { } while (0)

/*
 * --simd avx2 modules: the CPU is asked (never SIGILL on a CPU without
 * AVX2: the module runs its scalar code). irq_fpu_usable() is false when
 * LF_SHIM_NO_FPU is set in the environment: the scalar fallback runs.
 * kernel_fpu_begin()/_end() save nothing in userspace (the kernel's
 * cost of them is measured separately, see README "Speed").
 */
#define X86_FEATURE_AVX2	"avx2"
#define boot_cpu_has(f)		(__builtin_cpu_supports(f))
#include <stdlib.h>
static inline bool lf_shim_fpu_usable(void)
{
	static int usable = -1;

	if (usable < 0)
		usable = getenv("LF_SHIM_NO_FPU") == NULL;
	return usable;
}
#define irq_fpu_usable()	lf_shim_fpu_usable()
#define kernel_fpu_begin()	do { } while (0)
#define kernel_fpu_end()	do { } while (0)

#endif /* _LF_KERNEL_SHIM_H */
