// SPDX-License-Identifier: GPL-2.0
/*
 * lf_nf: a packet filter driven by whatever snapshot of app 2 is active in
 * lf_kernel -- LiteFlow's (SIGCOMM '22) netfilter datapath client, on
 * integer-only snapshots.
 *
 * A netfilter hook at NF_INET_PRE_ROUTING (IPv4, the initial network
 * namespace, priority LF_NF_PRIORITY) asks the model once per TCP or UDP
 * packet, and accepts or drops the packet as the model's class label says.
 * Other protocols, later fragments (no ports) and packets too short for
 * the ports are accepted without a query, and counted as "other".
 *
 * The model's input (app 2, LF_NF_IN_LEN values), in this order:
 *
 *   in[0] = saddr >> 16      in[1] = saddr & 0xffff   (host byte order)
 *   in[2] = daddr >> 16      in[3] = daddr & 0xffff
 *   in[4] = source port      in[5] = destination port
 *   in[6] = IP protocol      (IPPROTO_TCP 6, IPPROTO_UDP 17)
 *   in[7] = IP total length  (bytes, header included)
 *
 * each times LF_NF_SCALE: s64 at decimal scale 1000 (real = value / 1000),
 * lfc's default input scale, so every feature is an exact integer of the
 * real model's input. Halves keep each address feature below 2^16, which
 * a tree's thresholds compare exactly.
 *
 * Its output (LF_NF_OUT_LEN values) is a classifier's, as lfc lays out
 * several outputs (lf_kernel.h): out[0] the integer class label (scale 1),
 * out[1..3) the two class probabilities (unused here). Label LF_NF_ACCEPT
 * (0) accepts, LF_NF_DROP (1) drops; any other label is an error.
 *
 * Without an active snapshot (lf_query_model() returns -ENODATA, or
 * -ENOENT when app 2 was destroyed) the packet is accepted and counted as
 * no_snapshot; a failed query or an unknown label accepts it and counts an
 * error. So every TCP/UDP packet is counted exactly once, in accepted,
 * dropped, no_snapshot or errors. The counters are per CPU (each packet
 * bumps its own CPU's) and read, summed, as the module's read-only
 * parameters in /sys/module/lf_nf/parameters/. No printk on the packet
 * path.
 *
 * Cost per packet: one skb_header_pointer() for the ports, one
 * lf_query_model() (RCU read side, no lock, no allocation), one per-CPU
 * increment. The hook runs in softirq (or process context with bottom
 * halves disabled), which lf_query_model() allows.
 *
 * lf_nf announces app 2 ("lf_nf", 8 inputs, 3 outputs) at load; an app 2
 * a snapshot already created with those lengths is adopted, one with other
 * lengths makes the load fail with -EEXIST. Snapshots of other lengths are
 * refused by lf_kernel while lf_nf holds its claim.
 */
#include <linux/ip.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/netfilter.h>
#include <linux/netfilter_ipv4.h>
#include <linux/percpu.h>
#include <linux/skbuff.h>
#include <net/ip.h>
#include <net/net_namespace.h>

#include "lf_compat.h"
#include "lf_kernel.h"

#define LF_NF_APP		2
#define LF_NF_APP_NAME		"lf_nf"
#define LF_NF_IN_LEN		8
/* label, then one probability per class (accept, drop) */
#define LF_NF_OUT_LEN		3
#define LF_NF_LABEL		0

/* Decimal fixed point of the features: real = value / 1000. */
#define LF_NF_SCALE		1000

/* Class labels of the model's label output. */
#define LF_NF_ACCEPT		0
#define LF_NF_DROP		1

/* Among PRE_ROUTING's hooks: after conntrack and mangle, with filter. */
#define LF_NF_PRIORITY		NF_IP_PRI_FILTER

enum lf_nf_feature {
	LF_NF_SADDR_HI,
	LF_NF_SADDR_LO,
	LF_NF_DADDR_HI,
	LF_NF_DADDR_LO,
	LF_NF_SPORT,
	LF_NF_DPORT,
	LF_NF_PROTO,
	LF_NF_LENGTH,
	LF_NF_FEATURES,
};

/* Counters behind the read-only parameters, per CPU. */
static DEFINE_PER_CPU(unsigned long, lf_nf_accepted);
static DEFINE_PER_CPU(unsigned long, lf_nf_dropped);
static DEFINE_PER_CPU(unsigned long, lf_nf_no_snapshot);
static DEFINE_PER_CPU(unsigned long, lf_nf_errors);
static DEFINE_PER_CPU(unsigned long, lf_nf_other);

#define LF_NF_COUNTER_PARAM(name, desc)					\
static int lf_nf_get_##name(char *buf, const struct kernel_param *kp)	\
{									\
	unsigned long sum = 0;						\
	int cpu;							\
									\
	for_each_possible_cpu(cpu)					\
		sum += READ_ONCE(per_cpu(lf_nf_##name, cpu));		\
	return sysfs_emit(buf, "%lu\n", sum);				\
}									\
static const struct kernel_param_ops lf_nf_##name##_ops = {		\
	.get = lf_nf_get_##name,					\
};									\
module_param_cb(name, &lf_nf_##name##_ops, NULL, 0444);		\
MODULE_PARM_DESC(name, desc)

LF_NF_COUNTER_PARAM(accepted, "TCP/UDP packets the snapshot accepted");
LF_NF_COUNTER_PARAM(dropped, "TCP/UDP packets the snapshot dropped");
LF_NF_COUNTER_PARAM(no_snapshot,
		    "TCP/UDP packets accepted without an active snapshot");
LF_NF_COUNTER_PARAM(errors,
		    "TCP/UDP packets accepted on a failed query or unknown label");
LF_NF_COUNTER_PARAM(other,
		    "packets accepted unasked: not TCP/UDP, later fragment, or truncated");

/*
 * The features of a TCP/UDP packet at LF_NF_SCALE. Returns false when the
 * packet has no ports to read (not TCP/UDP, a later fragment, truncated).
 */
static bool lf_nf_features(const struct sk_buff *skb, s64 *in)
{
	const struct iphdr *iph = ip_hdr(skb);
	__be16 buf[2];
	const __be16 *ports;
	u32 saddr, daddr;

	if (iph->protocol != IPPROTO_TCP && iph->protocol != IPPROTO_UDP)
		return false;
	if (ntohs(iph->frag_off) & IP_OFFSET)
		return false;
	/* Both headers begin with source and destination port. */
	ports = skb_header_pointer(skb, ip_hdrlen(skb), sizeof(buf), buf);
	if (!ports)
		return false;

	saddr = ntohl(iph->saddr);
	daddr = ntohl(iph->daddr);
	in[LF_NF_SADDR_HI] = (s64)(saddr >> 16) * LF_NF_SCALE;
	in[LF_NF_SADDR_LO] = (s64)(saddr & 0xffff) * LF_NF_SCALE;
	in[LF_NF_DADDR_HI] = (s64)(daddr >> 16) * LF_NF_SCALE;
	in[LF_NF_DADDR_LO] = (s64)(daddr & 0xffff) * LF_NF_SCALE;
	in[LF_NF_SPORT] = (s64)ntohs(ports[0]) * LF_NF_SCALE;
	in[LF_NF_DPORT] = (s64)ntohs(ports[1]) * LF_NF_SCALE;
	in[LF_NF_PROTO] = (s64)iph->protocol * LF_NF_SCALE;
	in[LF_NF_LENGTH] = (s64)ntohs(iph->tot_len) * LF_NF_SCALE;
	return true;
}

static unsigned int lf_nf_hook(void *priv, struct sk_buff *skb,
			       const struct nf_hook_state *state)
{
	s64 in[LF_NF_IN_LEN];
	s64 out[LF_NF_OUT_LEN];
	int err;

	if (!lf_nf_features(skb, in)) {
		this_cpu_inc(lf_nf_other);
		return NF_ACCEPT;
	}
	err = lf_query_model(LF_NF_APP, in, out);
	if (err == -ENODATA || err == -ENOENT) {
		this_cpu_inc(lf_nf_no_snapshot);
		return NF_ACCEPT;
	}
	if (!err && out[LF_NF_LABEL] == LF_NF_DROP) {
		this_cpu_inc(lf_nf_dropped);
		return NF_DROP;
	}
	if (!err && out[LF_NF_LABEL] == LF_NF_ACCEPT)
		this_cpu_inc(lf_nf_accepted);
	else
		this_cpu_inc(lf_nf_errors);
	return NF_ACCEPT;
}

static const struct nf_hook_ops lf_nf_ops = {
	.hook		= lf_nf_hook,
	.pf		= NFPROTO_IPV4,
	.hooknum	= NF_INET_PRE_ROUTING,
	.priority	= LF_NF_PRIORITY,
};

static int __init lf_nf_init(void)
{
	int err;

	BUILD_BUG_ON(LF_NF_FEATURES != LF_NF_IN_LEN);

	err = lf_register_app(LF_NF_APP, LF_NF_APP_NAME, LF_NF_IN_LEN,
			      LF_NF_OUT_LEN);
	if (err) {
		pr_err("lf_nf: cannot register app %d (%s, %d inputs, %d outputs): %d\n",
		       LF_NF_APP, LF_NF_APP_NAME, LF_NF_IN_LEN, LF_NF_OUT_LEN,
		       err);
		return err;
	}
	err = nf_register_net_hook(&init_net, &lf_nf_ops);
	if (err) {
		pr_err("lf_nf: cannot register the PRE_ROUTING hook: %d\n", err);
		goto unregister_app;
	}
	return 0;

unregister_app:
	lf_unregister_app(LF_NF_APP);
	return err;
}

static void __exit lf_nf_exit(void)
{
	/* Waits until no CPU runs the hook any more. */
	nf_unregister_net_hook(&init_net, &lf_nf_ops);
	/* Drop the claim; app 2 and its snapshots stay in lf_kernel. */
	lf_unregister_app(LF_NF_APP);
}

module_init(lf_nf_init);
module_exit(lf_nf_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Packet filter on lf_kernel snapshots (app 2, IPv4 PRE_ROUTING)");
MODULE_AUTHOR("lfc developers");
