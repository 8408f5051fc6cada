// SPDX-License-Identifier: GPL-2.0
/*
 * lf_tcp: Aurora (PCC-RL, Jay et al., ICML 2019) congestion control,
 * driven by whatever snapshot of app 1 is active in lf_kernel -- LiteFlow's
 * datapath client (SIGCOMM '22), rebuilt on integer-only snapshots.
 *
 * The flow's sending rate is set by pacing. Time is cut into monitor
 * intervals (MIs) of one smoothed RTT (at least LF_TCP_MI_MIN_US). At the
 * end of each MI three features of it are computed, as PCC-RL's
 * sender_obs.py defines them:
 *
 *   latency inflation = (mean RTT of the MI's second half
 *                        - mean RTT of its first half) / MI duration
 *   latency ratio     = mean RTT of the MI / least mean RTT of any MI of
 *                       this connection
 *   send ratio        = sending rate / delivery rate
 *                     = bytes sent in the MI / bytes acked in the MI
 *                       (both over the same MI, so the durations cancel)
 *
 * PCC-RL splits the RTT samples into halves by count; we split them by
 * time at the middle of the MI, which needs no per-sample storage and is
 * the same when ACKs arrive evenly. As in PCC-RL, a ratio whose
 * denominator is zero is 1 (send ratio also when sent >= 1000 * acked),
 * and inflation is 0 when a half has no sample; a MI without any RTT
 * sample has latency ratio 1 (PCC-RL would give 0, which the model's
 * input domain [1, 10] clamps to 1 anyway).
 *
 * The model's input ("obs", 30 values) is the last 10 MIs, oldest first,
 * the three features interleaved per MI:
 *
 *   obs = { infl[t-9], lat_ratio[t-9], send_ratio[t-9], ..., infl[t], ... }
 *
 * History starts as 10 empty MIs (0, 1, 1), as PCC-RL's does. Its single
 * output a (the "action") changes the rate as PCC-RL's apply_rate_delta():
 *
 *   rate *= 1 + 0.025 * a        for a >= 0
 *   rate /= 1 - 0.025 * a        for a < 0
 *
 * and cwnd follows the rate: LF_TCP_CWND_GAIN times the bandwidth-delay
 * product rate * min_rtt, so pacing, not cwnd, limits the flow.
 *
 * Fixed point. Values cross to the model as s64 at LF_TCP_SCALE (1000:
 * real = value / 1000), the snapshot's input and output scale. The history
 * keeps them as s16 at the same scale (range -32.768 .. 32.767, clamped
 * there; the model's input domain is [-1, 10] x [1, 10] x [0, 10]) so 10
 * MIs x 3 features take 60 bytes of the 104 in icsk_ca_priv. Rates are
 * bytes per second; times are microseconds of tp->tcp_mstamp. The rate
 * factor is Q16 (LF_TCP_FACTOR_SHIFT): 0.025 * a = |a| / 40, so with a at
 * scale 1000 the step is |a| * 2^16 / 40000 (a division by a constant),
 * and |a| <= LF_TCP_ACTION_MAX bounds the factor to [1/2, 2] per MI.
 *
 * Cost. Per ACK: one RTT sample added to a sum, one comparison, and the
 * cwnd refresh; no division, no allocation, no printk. Per MI (once per
 * RTT, on the ACK that ends it): one lf_query_model(), six divisions for
 * the features (two u32 means, the rest through div_u64/div_s64 so that
 * 32-bit machines work too), one for a < 0 and two for cwnd. Overflow
 * bounds are next to each computation.
 *
 * Without an active snapshot (lf_query_model() returns -ENODATA, or
 * -ENOENT when app 1 was destroyed) the flow holds its current rate and
 * cwnd, and counts a fallback; it resumes as soon as a snapshot answers.
 * /sys/module/lf_tcp/parameters/ shows monitor_intervals, model_answers
 * and fallbacks (sums of per-CPU counters).
 *
 * lf_tcp announces app 1 ("aurora", 30 inputs, 1 output) at load; an app 1
 * that a snapshot already created with those lengths is adopted, one with
 * other lengths makes the load fail with -EEXIST. lf_query_model() does
 * not check lengths: do not recreate app 1 with other lengths while
 * lf_tcp is loaded.
 */
#include <linux/bits.h>
#include <linux/minmax.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/percpu.h>
#include <linux/string.h>
#include <net/tcp.h>

#include "lf_compat.h"
#include "lf_kernel.h"

#define LF_TCP_APP		1
#define LF_TCP_APP_NAME		"aurora"
#define LF_TCP_HISTORY		10	/* MIs the model sees */
#define LF_TCP_FEATURES		3	/* per MI */
#define LF_TCP_IN_LEN		(LF_TCP_HISTORY * LF_TCP_FEATURES)
#define LF_TCP_OUT_LEN		1

/* Decimal fixed point of features and action: real = value / 1000. */
#define LF_TCP_SCALE		1000
/* Rate factor 1 + 0.025 * |a| in Q16. */
#define LF_TCP_FACTOR_SHIFT	16
#define LF_TCP_FACTOR_ONE	BIT(LF_TCP_FACTOR_SHIFT)
/* 1 / 0.025 = 40, times LF_TCP_SCALE: step = |a| * 2^16 / 40000. */
#define LF_TCP_STEP_DIV		(40 * LF_TCP_SCALE)
/* |a| <= 40.0: the rate at most doubles or halves per MI. */
#define LF_TCP_ACTION_MAX	(40 * LF_TCP_SCALE)

/* Rate bounds, bytes per second: 1 Mbit/s .. 100 Gbit/s (< 2^34). */
#define LF_TCP_RATE_MIN		(125ULL * 1000)
#define LF_TCP_RATE_MAX		(12500ULL * 1000 * 1000)
/* cwnd = LF_TCP_CWND_GAIN * rate * min_rtt / mss, in [4, snd_cwnd_clamp]. */
#define LF_TCP_CWND_GAIN	2
#define LF_TCP_CWND_MIN		4U

/* MI length: srtt, at least this; RTT when there is no sample yet. */
#define LF_TCP_MI_MIN_US	1000U
#define LF_TCP_DEFAULT_RTT_US	USEC_PER_MSEC
/* RTT samples are clamped to 2^22 us (4.2 s) ... */
#define LF_TCP_RTT_MAX_US	BIT(22)
/* ... and at most 1023 counted per half MI, so a sum stays below 2^32. */
#define LF_TCP_RTT_CNT_MAX	1023U

/* PCC-RL: send ratio is 1 unless sent < 1000 * acked. */
#define LF_TCP_SEND_RATIO_MAX	1000
/* History entries are s16 at LF_TCP_SCALE. */
#define LF_TCP_FEAT_MIN		S16_MIN
#define LF_TCP_FEAT_MAX		S16_MAX

/* Per-socket state, in icsk_ca_priv (104 bytes). */
struct lf_tcp {
	u64 rate;			/* bytes per second */
	u32 mi_start_us;		/* low 32 bits of tcp_mstamp */
	u32 mi_len_us;			/* 0: no MI started yet */
	u32 mi_sent;			/* low 32 bits of bytes_sent at start */
	u32 mi_acked;			/* low 32 bits of bytes_acked at start */
	u32 rtt_sum_us[2];		/* per half of the MI */
	u32 min_mi_rtt_us;		/* least MI mean RTT; 0: none yet */
	u32 cwnd;			/* packets */
	u16 rtt_cnt[2];
	s16 obs[LF_TCP_IN_LEN];		/* history, oldest MI first */
};

/*
 * Counters behind the read-only parameters. Per CPU, because every flow
 * bumps them from its own ACK path.
 */
static DEFINE_PER_CPU(unsigned long, lf_tcp_mis);
static DEFINE_PER_CPU(unsigned long, lf_tcp_answers);
static DEFINE_PER_CPU(unsigned long, lf_tcp_fallbacks);

#define LF_TCP_COUNTER_PARAM(name, var, desc)				\
static int lf_tcp_get_##name(char *buf, const struct kernel_param *kp)	\
{									\
	unsigned long sum = 0;						\
	int cpu;							\
									\
	for_each_possible_cpu(cpu)					\
		sum += READ_ONCE(per_cpu(var, cpu));			\
	return sysfs_emit(buf, "%lu\n", sum);				\
}									\
static const struct kernel_param_ops lf_tcp_##name##_ops = {		\
	.get = lf_tcp_get_##name,					\
};									\
module_param_cb(name, &lf_tcp_##name##_ops, NULL, 0444);		\
MODULE_PARM_DESC(name, desc)

LF_TCP_COUNTER_PARAM(monitor_intervals, lf_tcp_mis,
		     "monitor intervals ended, over all lf_tcp flows");
LF_TCP_COUNTER_PARAM(model_answers, lf_tcp_answers,
		     "MIs whose rate came from the active snapshot");
LF_TCP_COUNTER_PARAM(fallbacks, lf_tcp_fallbacks,
		     "MIs without an answer (no active snapshot): rate held");

static s16 lf_tcp_feature(s64 v)
{
	return clamp_t(s64, v, LF_TCP_FEAT_MIN, LF_TCP_FEAT_MAX);
}

/* cwnd for the current rate: LF_TCP_CWND_GAIN bandwidth-delay products. */
static void lf_tcp_set_cwnd_target(struct sock *sk, struct lf_tcp *ca)
{
	const struct tcp_sock *tp = tcp_sk(sk);
	u32 min_rtt = min_t(u32, tcp_min_rtt(tp), LF_TCP_RTT_MAX_US);
	u32 mss = max(tp->mss_cache, 1U);
	u64 cwnd;

	if (min_rtt == 0)
		min_rtt = LF_TCP_DEFAULT_RTT_US;
	/* rate < 2^34, min_rtt <= 2^22, gain 2: the product is < 2^57. */
	cwnd = div_u64(ca->rate * min_rtt * LF_TCP_CWND_GAIN,
		       (u32)USEC_PER_SEC);
	cwnd = div_u64(cwnd, mss);
	ca->cwnd = clamp_t(u64, cwnd, LF_TCP_CWND_MIN, tp->snd_cwnd_clamp);
}

static void lf_tcp_set_rate(struct sock *sk, struct lf_tcp *ca, u64 rate)
{
	rate = clamp_t(u64, rate, LF_TCP_RATE_MIN, LF_TCP_RATE_MAX);
	ca->rate = rate;
	WRITE_ONCE(sk->sk_pacing_rate,
		   min_t(u64, rate, READ_ONCE(sk->sk_max_pacing_rate)));
	lf_tcp_set_cwnd_target(sk, ca);
}

/*
 * rate *= 1 + |a| / 40 or rate /= 1 + |a| / 40, for the model's action a
 * at LF_TCP_SCALE.
 */
static void lf_tcp_apply_action(struct sock *sk, struct lf_tcp *ca, s64 a)
{
	u32 step, factor;

	a = clamp_t(s64, a, -LF_TCP_ACTION_MAX, LF_TCP_ACTION_MAX);
	/* |a| <= 40000: |a| << 16 < 2^32; step <= 2^16. */
	step = ((u32)abs(a) << LF_TCP_FACTOR_SHIFT) / LF_TCP_STEP_DIV;
	factor = LF_TCP_FACTOR_ONE + step;

	/* rate < 2^34 and factor <= 2^17: both products are < 2^51. */
	if (a >= 0)
		lf_tcp_set_rate(sk, ca, (ca->rate * factor) >>
					LF_TCP_FACTOR_SHIFT);
	else
		lf_tcp_set_rate(sk, ca, div_u64(ca->rate << LF_TCP_FACTOR_SHIFT,
						factor));
}

static void lf_tcp_mi_start(struct sock *sk, struct lf_tcp *ca, u32 now)
{
	const struct tcp_sock *tp = tcp_sk(sk);

	ca->mi_start_us = now;
	ca->mi_len_us = max(tp->srtt_us >> 3, LF_TCP_MI_MIN_US);
	ca->mi_sent = (u32)tp->bytes_sent;
	ca->mi_acked = (u32)tp->bytes_acked;
	ca->rtt_sum_us[0] = 0;
	ca->rtt_sum_us[1] = 0;
	ca->rtt_cnt[0] = 0;
	ca->rtt_cnt[1] = 0;
}

static void lf_tcp_rtt_sample(struct lf_tcp *ca, u32 now, long rtt_us)
{
	int half = now - ca->mi_start_us >= ca->mi_len_us / 2;

	if (ca->rtt_cnt[half] >= LF_TCP_RTT_CNT_MAX)
		return;
	/* <= 1023 samples of <= 2^22 us: the sum is < 2^32. */
	ca->rtt_sum_us[half] += min_t(u32, rtt_us, LF_TCP_RTT_MAX_US);
	ca->rtt_cnt[half]++;
}

/*
 * The three features of the MI that ends at @now, appended to the history
 * (dropping the oldest MI). dur >= LF_TCP_MI_MIN_US > 0.
 */
static void lf_tcp_mi_features(struct sock *sk, struct lf_tcp *ca, u32 now)
{
	const struct tcp_sock *tp = tcp_sk(sk);
	/* An MI spanning an idle period can be long: keep it an s32. */
	s32 dur = min_t(u32, now - ca->mi_start_us, S32_MAX);
	/* < 4 GB per MI: the u32 differences of the byte counters hold. */
	u32 sent = (u32)tp->bytes_sent - ca->mi_sent;
	u32 acked = (u32)tp->bytes_acked - ca->mi_acked;
	u32 cnt = ca->rtt_cnt[0] + ca->rtt_cnt[1];
	s64 infl = 0, lat_ratio = LF_TCP_SCALE, send_ratio = LF_TCP_SCALE;
	s16 *mi = ca->obs + LF_TCP_IN_LEN - LF_TCP_FEATURES;

	if (ca->rtt_cnt[0] && ca->rtt_cnt[1]) {
		s32 incr = ca->rtt_sum_us[1] / ca->rtt_cnt[1] -
			   ca->rtt_sum_us[0] / ca->rtt_cnt[0];

		/* |incr| < 2^22, times 1000: < 2^32, held in s64. */
		infl = div_s64((s64)incr * LF_TCP_SCALE, dur);
	}
	if (cnt) {
		/* Each sum < 2^32, their sum fits u64; the mean is < 2^22. */
		u32 mean = div_u64((u64)ca->rtt_sum_us[0] + ca->rtt_sum_us[1],
				   cnt);

		if (!ca->min_mi_rtt_us || mean < ca->min_mi_rtt_us)
			ca->min_mi_rtt_us = mean;
		if (ca->min_mi_rtt_us)
			lat_ratio = div_u64((u64)mean * LF_TCP_SCALE,
					    ca->min_mi_rtt_us);
	}
	if (acked && sent < (u64)acked * LF_TCP_SEND_RATIO_MAX)
		send_ratio = div_u64((u64)sent * LF_TCP_SCALE, acked);

	memmove(ca->obs, ca->obs + LF_TCP_FEATURES,
		(LF_TCP_IN_LEN - LF_TCP_FEATURES) * sizeof(ca->obs[0]));
	mi[0] = lf_tcp_feature(infl);
	mi[1] = lf_tcp_feature(lat_ratio);
	mi[2] = lf_tcp_feature(send_ratio);
}

static void lf_tcp_mi_end(struct sock *sk, struct lf_tcp *ca, u32 now)
{
	s64 in[LF_TCP_IN_LEN], out[LF_TCP_OUT_LEN];
	int i;

	lf_tcp_mi_features(sk, ca, now);
	this_cpu_inc(lf_tcp_mis);

	for (i = 0; i < LF_TCP_IN_LEN; i++)
		in[i] = ca->obs[i];
	if (lf_query_model(LF_TCP_APP, in, out)) {
		/* No active snapshot (or it failed): hold the rate. */
		this_cpu_inc(lf_tcp_fallbacks);
		return;
	}
	this_cpu_inc(lf_tcp_answers);
	lf_tcp_apply_action(sk, ca, out[0]);
}

static void lf_tcp_main(LF_CONG_CONTROL_ARGS)
{
	struct tcp_sock *tp = tcp_sk(sk);
	struct lf_tcp *ca = inet_csk_ca(sk);
	u32 now = (u32)tp->tcp_mstamp;

	/*
	 * The ACK of a SYN-ACK reaches us before tcp_finish_connect() calls
	 * lf_tcp_init() (icsk_ca_priv is zero then): leave it to the stack.
	 */
	if (unlikely(!ca->cwnd))
		return;

	if (!ca->mi_len_us) {
		lf_tcp_mi_start(sk, ca, now);
	} else {
		if (rs->rtt_us > 0)
			lf_tcp_rtt_sample(ca, now, rs->rtt_us);
		if (now - ca->mi_start_us >= ca->mi_len_us) {
			lf_tcp_mi_end(sk, ca, now);
			lf_tcp_mi_start(sk, ca, now);
		}
	}

	/* Recovery and RTO shrink cwnd; pacing is what limits us. */
	if (tcp_snd_cwnd(tp) != ca->cwnd)
		tcp_snd_cwnd_set(tp, ca->cwnd);
}

static void lf_tcp_init(struct sock *sk)
{
	struct tcp_sock *tp = tcp_sk(sk);
	struct lf_tcp *ca = inet_csk_ca(sk);
	u32 rtt_us = tp->srtt_us >> 3;
	int i;

	memset(ca, 0, sizeof(*ca));
	/* An empty MI: inflation 0, latency ratio 1, send ratio 1. */
	for (i = 0; i < LF_TCP_IN_LEN; i += LF_TCP_FEATURES) {
		ca->obs[i] = 0;
		ca->obs[i + 1] = LF_TCP_SCALE;
		ca->obs[i + 2] = LF_TCP_SCALE;
	}

	/* Start at the initial window per RTT: cwnd * mss / srtt. */
	if (!rtt_us)
		rtt_us = LF_TCP_DEFAULT_RTT_US;
	ca->rate = div_u64((u64)tcp_snd_cwnd(tp) * tp->mss_cache *
			   USEC_PER_SEC, rtt_us);
	lf_tcp_set_rate(sk, ca, ca->rate);
	tp->snd_ssthresh = TCP_INFINITE_SSTHRESH;

	/* Ask for TCP's own pacing when no fq qdisc does it. */
	cmpxchg(&sk->sk_pacing_status, SK_PACING_NONE, SK_PACING_NEEDED);
}

static u32 lf_tcp_ssthresh(struct sock *sk)
{
	return TCP_INFINITE_SSTHRESH;
}

static u32 lf_tcp_undo_cwnd(struct sock *sk)
{
	return tcp_snd_cwnd(tcp_sk(sk));
}

static struct tcp_congestion_ops lf_tcp_ops __read_mostly = {
	.flags		= TCP_CONG_NON_RESTRICTED,
	.name		= "lf_tcp",
	.owner		= THIS_MODULE,
	.init		= lf_tcp_init,
	.cong_control	= lf_tcp_main,
	.ssthresh	= lf_tcp_ssthresh,
	.undo_cwnd	= lf_tcp_undo_cwnd,
};

/*
 * What a snapshot may cost per ACK-driven query (lf_kernel refuses one
 * over it): Aurora needs 1,488 MACs and 496 stack bytes; the limits leave
 * room for ten times its size and 16 KiB of per-CPU scratch, but not for
 * activations above the 1 KiB of stack the softirq path can afford.
 */
static const struct lf_budget lf_tcp_budget = {
	.max_macs	= 16384,
	.max_cmps	= 4096,
	.max_stack	= 1024,
	.max_rodata	= 256 * 1024,
	.max_scratch	= 16 * 1024,
};

static int __init lf_tcp_register(void)
{
	int err;

	BUILD_BUG_ON(sizeof(struct lf_tcp) > ICSK_CA_PRIV_SIZE);
	BUILD_BUG_ON((u64)LF_TCP_ACTION_MAX << LF_TCP_FACTOR_SHIFT > U32_MAX);
	BUILD_BUG_ON(LF_TCP_RATE_MAX >= 1ULL << 34);

	err = lf_register_app_budget(LF_TCP_APP, LF_TCP_APP_NAME,
				     LF_TCP_IN_LEN, LF_TCP_OUT_LEN,
				     &lf_tcp_budget);
	if (err) {
		pr_err("lf_tcp: cannot register app %d (%s, %d inputs, %d output): %d\n",
		       LF_TCP_APP, LF_TCP_APP_NAME, LF_TCP_IN_LEN,
		       LF_TCP_OUT_LEN, err);
		return err;
	}
	err = tcp_register_congestion_control(&lf_tcp_ops);
	if (err)
		lf_unregister_app(LF_TCP_APP);
	return err;
}

static void __exit lf_tcp_unregister(void)
{
	tcp_unregister_congestion_control(&lf_tcp_ops);
	/* Drop the claim; app 1 and its snapshots stay in lf_kernel. */
	lf_unregister_app(LF_TCP_APP);
}

module_init(lf_tcp_register);
module_exit(lf_tcp_unregister);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Aurora congestion control on lf_kernel snapshots (app 1)");
MODULE_AUTHOR("lfc developers");
