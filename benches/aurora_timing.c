// SPDX-License-Identifier: GPL-2.0
/*
 * aurora_timing.c - timing driver for an lfc snapshot built in userspace
 * (benches/aurora.rs). Registers the snapshot through its module_init, reads
 * rows of input_len little-endian s64 from stdin, then calls infer on every
 * row, ITERATIONS times over, and prints the elapsed nanoseconds.
 *
 *	aurora_timing ITERATIONS < rows
 *
 * ITERATIONS = 0 runs everything but the loop: under callgrind, its count
 * is the start-up cost to subtract.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "lf_kernel_shim.h"
#include "lf_kernel.h"

static const struct lf_snapshot *snap;

int lf_register_snapshot(const struct lf_snapshot *s)
{
	snap = s;
	return 0;
}

void lf_unregister_snapshot(const struct lf_snapshot *s)
{
	snap = NULL;
}

int main(int argc, char **argv)
{
	static s64 rows[4096][LF_MAX_IO_LEN];
	s64 out[LF_MAX_IO_LEN];
	struct timespec t0, t1;
	long iterations, it;
	size_t n = 0, r;
	s64 sink = 0;
	long long ns;
	u32 i;

	if (argc != 2 || lf_shim_module_init() || !snap)
		return 2;
	iterations = atol(argv[1]);
	while (n < 4096) {
		for (i = 0; i < snap->input_len; i++) {
			unsigned char b[8];
			u64 v = 0;
			int k;

			if (fread(b, 1, 8, stdin) != 8)
				goto read_done;
			for (k = 7; k >= 0; k--)
				v = (v << 8) | b[k];
			rows[n][i] = (s64)v;
		}
		n++;
	}
read_done:
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (it = 0; it < iterations; it++)
		for (r = 0; r < n; r++) {
			snap->infer(rows[r], out);
			sink += out[0];
		}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ns = (t1.tv_sec - t0.tv_sec) * 1000000000LL + (t1.tv_nsec - t0.tv_nsec);
	printf("rows %zu\niterations %ld\nns %lld\nsink %lld\n", n, iterations, ns, sink);
	return 0;
}
