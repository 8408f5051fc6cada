// SPDX-License-Identifier: GPL-2.0
/*
 * lf_bench.c - timing driver of `lfc bench` for an lfc snapshot built in
 * userspace with the kernel's code-generation flags. Registers the snapshot
 * through its module_init, reads rows of input_len little-endian s64 from
 * stdin, then:
 *
 *	lf_bench warm N   calls infer on every row, N passes over; prints the
 *	                  elapsed ns and the median ns of one pass (N = 0 runs
 *	                  everything but the loop: its callgrind count is the
 *	                  start-up cost to subtract);
 *	lf_bench cold N   N inferences, each after writing EVICT_BYTES of
 *	                  memory (larger than the last-level cache), timed one
 *	                  by one; prints the median ns and the timer's own
 *	                  median cost (an empty timed region), to subtract.
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

static int warm(long passes, size_t n)
{
	long long *t = calloc(passes > 0 ? passes : 1, sizeof(*t));
	s64 out[LF_MAX_IO_LEN];
	long long t0, t1, all;
	long it;
	size_t r;

	if (!t)
		return 2;
	all = now_ns();
	for (it = 0; it < passes; it++) {
		t0 = now_ns();
		for (r = 0; r < n; r++) {
			snap->infer(rows[r], out);
			sink += out[0];
		}
		t1 = now_ns();
		t[it] = t1 - t0;
	}
	all = now_ns() - all;
	qsort(t, passes, sizeof(*t), cmp_ll);
	printf("rows %zu\npasses %ld\nns %lld\nmedian_pass %lld\n", n, passes, all,
	       passes > 0 ? t[passes / 2] : 0);
	free(t);
	return 0;
}

static int cold(long samples, size_t n)
{
	unsigned char *evict = malloc(EVICT_BYTES);
	long long *t = calloc(samples, sizeof(*t));
	long long *e = calloc(samples, sizeof(*e));
	s64 out[LF_MAX_IO_LEN];
	long s;

	if (!evict || !t || !e || samples <= 0)
		return 2;
	for (s = 0; s < samples; s++) {
		long long a, b;

		memset(evict, (int)s, EVICT_BYTES);
		a = now_ns();
		b = now_ns();
		e[s] = b - a;
		memset(evict, (int)s + 1, EVICT_BYTES);
		a = now_ns();
		snap->infer(rows[s % n], out);
		b = now_ns();
		t[s] = b - a;
		sink += out[0] + evict[s % EVICT_BYTES];
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
	if (!strcmp(argv[1], "warm"))
		return warm(atol(argv[2]), n);
	if (!strcmp(argv[1], "cold"))
		return cold(atol(argv[2]), n);
	return 2;
}
