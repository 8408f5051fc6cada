// SPDX-License-Identifier: GPL-2.0
/*
 * lf_query_bench.c - lf_kernel's query path in userspace, for callgrind
 * (benches/query_path.rs). lf_query_path.inc is lf_run() and
 * lf_query_model() of runtime-kmod/lf_main.c and lf_shadow_sample() of
 * runtime-kmod/lf_shadow.c, copied verbatim by the bench; the snapshot is
 * an lfc module built with the kernel's flags and registered through its
 * module_init. One app, one CPU (see lf_query_shim.h for the kernel parts
 * stood in for).
 *
 *	lf_query_bench MODE QUERIES < rows	(input_len little-endian s64 each)
 *
 * MODE: plain (no recorder, no shadow), drift (every row's in[0] moved
 * above the domain: LF_INFER_DRIFT on every query), skip (a shadow that
 * samples none of these queries: the per-CPU countdown only), sample (a
 * shadow sampling every query; the ring is emptied between queries, as
 * the worker would, outside lf_query_model). Prints the counters.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lf_query_shim.h"
#include "lf_internal.h"

struct lf_shadow_ring;
#include "lf_query_path.inc"

struct xarray lf_apps;
struct mutex lf_mutex;
struct workqueue_struct *system_wq;
static const struct lf_snapshot *snap;
static u64 clock_ns;

u64 ktime_get_ns(void)
{
	return ++clock_ns;
}

void lf_rec_append(struct lf_recorder *r, u64 uuid, u32 flags,
		   const s64 *in, const s64 *out)
{
	abort();	/* the bench never records */
}

int lf_register_snapshot(const struct lf_snapshot *s)
{
	snap = s;
	return 0;
}

void lf_unregister_snapshot(const struct lf_snapshot *s)
{
}

int main(int argc, char **argv)
{
	static struct lf_snap_stats es;
	static struct lf_app_stats as;
	static struct lf_shadow_stats ss;
	static struct lf_shadow_ring ring;
	static struct lf_entry e;
	static struct lf_app app;
	static struct lf_shadow sh;
	static s64 out[LF_MAX_IO_LEN];
	static long skip;
	s64 *rows;
	size_t n = 0, cap = 64, q, queries;
	u32 il;
	int err = 0;

	if (argc != 3 || lf_shim_module_init() || !snap)
		return 2;
	queries = strtoull(argv[2], NULL, 10);
	il = snap->input_len;
	rows = malloc(cap * il * sizeof(s64));
	while (rows && fread(rows + n * il, sizeof(s64), il, stdin) == il)
		if (++n == cap)
			rows = realloc(rows, (cap *= 2) * il * sizeof(s64));
	if (!rows || !n)
		return 2;

	e.snap = snap;
	e.stats = &es;
	app.id = snap->app_id;
	app.input_len = il;
	app.output_len = snap->output_len;
	app.active = &e;
	app.stats = &as;
	lf_apps.app[app.id % LF_QUERY_SHIM_APPS] = &app;

	sh.skip = &skip;
	sh.input_len = il;
	sh.output_len = snap->output_len;
	sh.stats = &ss;
	sh.ring = &ring;
	sh.sample_size = sizeof(struct lf_shadow_sample) +
			 (il + snap->output_len) * sizeof(s64);
	ring.mem = malloc(LF_SHADOW_RING * sh.sample_size);
	if (!strcmp(argv[1], "drift")) {
		for (q = 0; q < n; q++)
			rows[q * il] = (s64)1 << 40;
	} else if (!strcmp(argv[1], "skip")) {
		sh.every = skip = (long)queries + 1;
		app.shadow = &sh;
	} else if (!strcmp(argv[1], "sample")) {
		sh.every = skip = 1;
		app.shadow = &sh;
	} else if (strcmp(argv[1], "plain")) {
		return 2;
	}
	for (q = 0; q < queries; q++) {
		err |= lf_query_model(app.id, rows + (q % n) * il, out);
		ring.head = ring.tail;	/* the worker took the sample */
	}
	printf("queries %llu\ndrift %llu\nguard %llu\nerrors %llu\n"
	       "sampled %llu\ndropped %llu\nfailed %d\n",
	       es.queries, es.drift, es.guard, es.errors, ss.sampled,
	       ss.dropped, err);
	return err ? 1 : 0;
}
