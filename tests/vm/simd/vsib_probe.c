// SPDX-License-Identifier: GPL-2.0
/*
 * vsib_probe - does this CPU gather with a VSIB index of xmm4/ymm4?
 *
 * QEMU 7.2's TCG (Debian 12's qemu-system-x86) decodes the SIB index
 * field 100b of a VSIB operand (VEX.X clear: xmm4/ymm4) as "no index", as
 * it would be in plain SIB addressing, so every lane of such a gather
 * reads the base address: vpgatherqd %xmm6, t(,%ymm4,2), %xmm1 gives
 * t[0] four times. Upstream QEMU fixed its VSIB decoding in 2024 (the fix
 * is in the 8.2.7 and 9.0.3 stable releases). Real CPUs, and the same
 * gather with any other index register, are right. guest.d/simd.sh runs
 * this in the -cpu max boot: a snapshot whose gathers use that index
 * cannot be checked on such an emulator (simd-build.sh counts them).
 *
 * Exit status: 0 the gather is right, 1 it is wrong (the lanes printed),
 * 2 no AVX2. Built static by ../simd-build.sh: gcc -O1 -static -no-pie.
 */
#include <stdio.h>

short vsib_table[64];

static __attribute__((target("avx2"), noinline)) void
gather_index4(const long long *idx, int *out)
{
	asm volatile("vmovdqu (%0), %%ymm4\n\t"
		     "vpcmpeqd %%xmm6, %%xmm6, %%xmm6\n\t"
		     "vpxor %%xmm1, %%xmm1, %%xmm1\n\t"
		     "vpgatherqd %%xmm6, vsib_table(,%%ymm4,2), %%xmm1\n\t"
		     "vmovdqu %%xmm1, (%1)\n\t"
		     "vzeroupper"
		     : : "r"(idx), "r"(out) : "xmm1", "xmm4", "xmm6", "memory");
}

int main(void)
{
	static const long long idx[4] = { 3, 10, 0, 31 };
	int out[4], i, bad = 0;

	__builtin_cpu_init();
	if (!__builtin_cpu_supports("avx2")) {
		printf("vsib_probe: no AVX2\n");
		return 2;
	}
	for (i = 0; i < 64; i++)
		vsib_table[i] = 100 + i;
	gather_index4(idx, out);
	for (i = 0; i < 4; i++) {
		/* 32 bits at entry idx[i]: entries idx[i] and idx[i] + 1 */
		int want = (100 + (int)idx[i]) | ((101 + (int)idx[i]) << 16);

		bad |= out[i] != want;
	}
	printf("vsib_probe: index ymm4: %s (lanes %d %d %d %d)\n",
	       bad ? "WRONG" : "right", out[0], out[1], out[2], out[3]);
	return bad;
}
