// SPDX-License-Identifier: GPL-2.0
/*
 * lf_bench.c - timing driver of `lfc bench` for an lfc snapshot built in
 * userspace with the kernel's code-generation flags. Registers the snapshot
 * through its module_init, reads rows of input_len little-endian s64 from
 * stdin, then:
 *
 *	lf_bench loop N   calls infer on every row, N passes over (N = 0 runs
 *	                  everything but the loop: its callgrind count is the
 *	                  start-up cost to subtract);
 *	lf_bench warm N   N inferences (rows in turn), timed one by one;
 *	                  prints the median ns and the timer's own median cost
 *	                  (an empty timed region), to subtract;
 *	lf_bench cold N   the same, each inference after writing EVICT_BYTES
 *	                  of memory (more than the last-level cache).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lf_kernel_shim.h"
#include "lf_kernel.h"

#define MAX_ROWS	4096
#define EVICT_BYTES	(64UL << 20)

static const struct lf_snapshot *snap;
static s64 rows[MAX_ROWS][LF_MAX_IO_LEN];
static volatile s64 sink;

int lf_register_snapshot(const struct lf_snapshot *s)
{
	snap = s;
	return 0;
}

void lf_unregister_snapshot(const struct lf_snapshot *s)
{
	snap = NULL;
}

static size_t read_rows(void)
{
	size_t n = 0;
	u32 i;
	int k;

	for (; n < MAX_ROWS; n++)
		for (i = 0; i < snap->input_len; i++) {
			unsigned char b[8];
			u64 v = 0;

			if (fread(b, 1, 8, stdin) != 8)
				return n;
			for (k = 7; k >= 0; k--)
				v = (v << 8) | b[k];
			rows[n][i] = (s64)v;
		}
	return n;
}

static long long now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000000000LL + t.tv_nsec;
}

static int cmp_ll(const void *a, const void *b)
{
	long long x = *(const long long *)a, y = *(const long long *)b;

	return (x > y) - (x < y);
}

static void loop(long passes, size_t n)
{
	s64 out[LF_MAX_IO_LEN];
	long it;
	size_t r;

	for (it = 0; it < passes; it++)
		for (r = 0; r < n; r++) {
			snap->infer(rows[r], out);
			sink += out[0];
		}
}

static int single(long samples, size_t n, int evicting)
{
	unsigned char *evict = evicting ? malloc(EVICT_BYTES) : NULL;
	long long *t = calloc(samples > 0 ? samples : 1, sizeof(*t));
	long long *e = calloc(samples > 0 ? samples : 1, sizeof(*e));
	s64 out[LF_MAX_IO_LEN];
	long s;

	if ((evicting && !evict) || !t || !e || samples <= 0)
		return 2;
	for (s = 0; s < samples; s++) {
		long long a, b;

		if (evict)
			memset(evict, (int)s, EVICT_BYTES);
		a = now_ns();
		b = now_ns();
		e[s] = b - a;
		if (evict)
			memset(evict, (int)s + 1, EVICT_BYTES);
		a = now_ns();
		snap->infer(rows[s % n], out);
		b = now_ns();
		t[s] = b - a;
		sink += out[0];
	}
	qsort(t, samples, sizeof(*t), cmp_ll);
	qsort(e, samples, sizeof(*e), cmp_ll);
	printf("samples %ld\nmedian %lld\ntimer %lld\n", samples, t[samples / 2], e[samples / 2]);
	free(evict);
	free(t);
	free(e);
	return 0;
}

int main(int argc, char **argv)
{
	size_t n;

	if (argc != 3 || lf_shim_module_init() || !snap)
		return 2;
	n = read_rows();
	if (n == 0)
		return 2;
	if (!strcmp(argv[1], "loop")) {
		loop(atol(argv[2]), n);
		return 0;
	}
	if (!strcmp(argv[1], "warm"))
		return single(atol(argv[2]), n, 0);
	if (!strcmp(argv[1], "cold"))
		return single(atol(argv[2]), n, 1);
	return 2;
}
