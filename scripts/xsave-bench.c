// SPDX-License-Identifier: GPL-2.0
/*
 * xsave-bench.c - what kernel_fpu_begin()/kernel_fpu_end() can add to one
 * --simd inference: the first kernel_fpu_begin() after a return from
 * userspace saves the task's FPU registers (XSAVES/XSAVEOPT of every
 * feature XCR0 enables) and the return to userspace restores them
 * (XRSTOR[S]); later begin/end pairs before that return save nothing.
 * This times the same pair in userspace (XSAVE64 + XRSTOR64 of the XCR0
 * features into a 64-byte aligned buffer), with the YMM registers dirty
 * as they are after an AVX2 layer.
 *
 *	gcc -O2 -mxsave -o xsave-bench scripts/xsave-bench.c && ./xsave-bench
 */
#include <cpuid.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define ITERS	200000

static uint64_t xgetbv0(void)
{
	uint32_t lo, hi;

	__asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
	return ((uint64_t)hi << 32) | lo;
}

static double now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e9 + t.tv_nsec;
}

/* Median of 21 runs of ITERS save/restore pairs of the features in mask. */
static double pair_ns(void *area, uint64_t mask)
{
	uint32_t lo = (uint32_t)mask, hi = (uint32_t)(mask >> 32);
	double runs[21], t;
	int r, i, j;

	for (r = 0; r < 21; r++) {
		t = now_ns();
		for (i = 0; i < ITERS; i++) {
			/* Dirty the upper halves of ymm0/ymm1, as AVX2 code does. */
			__asm__ volatile("vpcmpeqd %%ymm0, %%ymm0, %%ymm0\n\t"
					 "vpaddd %%ymm0, %%ymm0, %%ymm1" ::: "xmm0", "xmm1");
			__asm__ volatile("xsave64 (%0)" :: "r"(area), "a"(lo), "d"(hi) : "memory");
			__asm__ volatile("xrstor64 (%0)" :: "r"(area), "a"(lo), "d"(hi) : "memory");
		}
		runs[r] = (now_ns() - t) / ITERS;
	}
	for (i = 1; i < 21; i++)
		for (j = i; j > 0 && runs[j - 1] > runs[j]; j--) {
			t = runs[j];
			runs[j] = runs[j - 1];
			runs[j - 1] = t;
		}
	return runs[10];
}

/*
 * The fastest single pair of 20000, the clock's own cost subtracted: on a
 * loaded machine the medians above include preemption, this does not.
 */
static double pair_min_ns(void *area, uint64_t mask)
{
	uint32_t lo = (uint32_t)mask, hi = (uint32_t)(mask >> 32);
	double best = 1e9, empty = 1e9, t;
	int i;

	for (i = 0; i < 20000; i++) {
		t = now_ns();
		t = now_ns() - t;
		if (t < empty)
			empty = t;
		__asm__ volatile("vpcmpeqd %%ymm0, %%ymm0, %%ymm0" ::: "xmm0");
		t = now_ns();
		__asm__ volatile("xsave64 (%0)" :: "r"(area), "a"(lo), "d"(hi) : "memory");
		__asm__ volatile("xrstor64 (%0)" :: "r"(area), "a"(lo), "d"(hi) : "memory");
		t = now_ns() - t;
		if (t < best)
			best = t;
	}
	return best - empty;
}

int main(void)
{
	unsigned int a, b, c, d;
	uint64_t xcr0;
	void *area;

	if (!__get_cpuid_count(0xd, 0, &a, &b, &c, &d)) {
		fprintf(stderr, "no CPUID leaf 0xd: no XSAVE\n");
		return 1;
	}
	xcr0 = xgetbv0();
	area = aligned_alloc(64, (c + 63) / 64 * 64);
	if (!area)
		return 1;
	memset(area, 0, c);
	printf("XCR0 0x%llx, XSAVE area %u bytes for it\n", (unsigned long long)xcr0, b);
	printf("XSAVE64+XRSTOR64, all XCR0 features (what the kernel saves): %.1f ns per pair\n",
	       pair_ns(area, xcr0));
	printf("XSAVE64+XRSTOR64, x87+SSE+AVX only (mask 0x7): %.1f ns per pair\n",
	       pair_ns(area, 0x7));
	printf("fastest single pair, all XCR0 features: %.1f ns; mask 0x7: %.1f ns\n",
	       pair_min_ns(area, xcr0), pair_min_ns(area, 0x7));
	free(area);
	return 0;
}
