// SPDX-License-Identifier: GPL-2.0
/*
 * lf_driver.c - userspace driver for an lfc snapshot module built against
 * lf_kernel_shim.h. It runs the module's init (which registers its
 * struct lf_snapshot with us), then:
 *   lf_driver info   prints the registered snapshot's fields, one per line;
 *   lf_driver        reads rows of input_len little-endian s64 from stdin,
 *                    calls snap->infer() on each and writes output_len
 *                    little-endian s64 per row to stdout, then one more:
 *                    the LF_INFER_* flags infer() returned.
 * Exit status: 0; 2 bad usage or input; 3 init failed; 4 infer failed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lf_kernel_shim.h"
#include "lf_kernel.h"

static const struct lf_snapshot *snap;

int lf_register_snapshot(const struct lf_snapshot *s)
{
	if (snap)
		return -17; /* -EEXIST */
	snap = s;
	return 0;
}

void lf_unregister_snapshot(const struct lf_snapshot *s)
{
	if (s == snap)
		snap = NULL;
}

static int read_row(s64 *row, u32 len)
{
	unsigned char b[8];
	u32 i;
	int k;

	for (i = 0; i < len; i++) {
		u64 v = 0;
		size_t got = fread(b, 1, sizeof(b), stdin);

		if (got == 0 && i == 0)
			return 0;
		if (got != sizeof(b))
			return -1;
		for (k = 7; k >= 0; k--)
			v = (v << 8) | b[k];
		row[i] = (s64)v;
	}
	return 1;
}

static void write_row(const s64 *row, u32 len)
{
	unsigned char b[8];
	u32 i;
	int k;

	for (i = 0; i < len; i++) {
		u64 v = (u64)row[i];

		for (k = 0; k < 8; k++)
			b[k] = (unsigned char)(v >> (8 * k));
		fwrite(b, 1, sizeof(b), stdout);
	}
}

int main(int argc, char **argv)
{
	s64 *in, *out;
	int err, more;
	s64 flags;

	err = lf_shim_module_init();
	if (err || !snap) {
		fprintf(stderr, "lf_driver: module init returned %d\n", err);
		return 3;
	}
	if (argc > 1 && strcmp(argv[1], "info") == 0) {
		printf("abi_version %u\napp_id %u\nuuid %llx\n",
		       snap->abi_version, snap->app_id, snap->uuid);
		printf("input_len %u\noutput_len %u\n", snap->input_len,
		       snap->output_len);
		printf("input_scale %lld\noutput_scale %lld\n",
		       snap->input_scale, snap->output_scale);
		printf("owner_null %d\nname %s\ndigest %s\n", snap->owner == NULL,
		       snap->name, snap->digest);
		printf("cost %llu %llu %llu %llu %llu\nguard %d\n",
		       snap->cost.macs, snap->cost.cmps, snap->cost.stack_bytes,
		       snap->cost.rodata_bytes, snap->cost.scratch_bytes,
		       snap->guard_lo != NULL);
		lf_shim_module_exit();
		return snap ? 3 : 0;
	}
	if (argc > 1) {
		fprintf(stderr, "usage: lf_driver [info] < rows\n");
		return 2;
	}
	in = calloc(snap->input_len + 1, sizeof(*in));
	out = calloc(snap->output_len + 1, sizeof(*out));
	if (!in || !out)
		return 2;
	while ((more = read_row(in, snap->input_len)) > 0) {
		err = snap->infer(in, out);
		if (err < 0 || (err & ~LF_INFER_FLAGS)) {
			fprintf(stderr, "lf_driver: infer returned %d\n", err);
			return 4;
		}
		write_row(out, snap->output_len);
		flags = err;
		write_row(&flags, 1);
	}
	if (more < 0) {
		fprintf(stderr, "lf_driver: truncated input row\n");
		return 2;
	}
	if (fflush(stdout))
		return 2;
	lf_shim_module_exit();
	free(in);
	free(out);
	return 0;
}
