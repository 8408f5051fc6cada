// SPDX-License-Identifier: GPL-2.0
/*
 * lf_nf_probe: test-only witness of lf_nf's decisions (examples/netfilter/
 * vm/lf_nf.sh). Two PRE_ROUTING hooks in the initial namespace, one just
 * before lf_nf's priority and one just after, look at the test packets
 * lf_nf_send makes (IP TOS LF_NF_PROBE_TOS; their IP id numbers them):
 * the first marks packet id as seen, the second as passed (lf_nf accepted
 * it). /proc/lf_nf_probe lists "id seen passed" for every id seen since
 * the last reset (writing anything to the file resets it).
 *
 * Not a datapath client and not an example to follow: it writes a byte
 * per packet into one shared array (test packets come from one sender,
 * one CPU at a time) and the reader does not synchronise with the hooks
 * (it reads after the sender finished and the stream drained).
 */
#include <linux/ip.h>
#include <linux/module.h>
#include <linux/netfilter.h>
#include <linux/netfilter_ipv4.h>
#include <linux/proc_fs.h>
#include <linux/seq_file.h>
#include <linux/skbuff.h>
#include <linux/vmalloc.h>
#include <net/net_namespace.h>

/* Same as lf_nf.c's LF_NF_PRIORITY. */
#define LF_NF_PROBE_PRIORITY	NF_IP_PRI_FILTER
/* Marks the test packets (DSCP CS1); lf_nf does not look at TOS. */
#define LF_NF_PROBE_TOS		0x20
#define LF_NF_PROBE_IDS		65536

#define LF_NF_PROBE_SEEN	BIT(0)
#define LF_NF_PROBE_PASSED	BIT(1)

static u8 *lf_nf_probe_marks;

static unsigned int lf_nf_probe_mark(struct sk_buff *skb, u8 mark)
{
	const struct iphdr *iph = ip_hdr(skb);

	if (iph->tos == LF_NF_PROBE_TOS)
		WRITE_ONCE(lf_nf_probe_marks[ntohs(iph->id)],
			   READ_ONCE(lf_nf_probe_marks[ntohs(iph->id)]) | mark);
	return NF_ACCEPT;
}

static unsigned int lf_nf_probe_before(void *priv, struct sk_buff *skb,
				       const struct nf_hook_state *state)
{
	return lf_nf_probe_mark(skb, LF_NF_PROBE_SEEN);
}

static unsigned int lf_nf_probe_after(void *priv, struct sk_buff *skb,
				      const struct nf_hook_state *state)
{
	return lf_nf_probe_mark(skb, LF_NF_PROBE_PASSED);
}

static const struct nf_hook_ops lf_nf_probe_ops[] = {
	{
		.hook		= lf_nf_probe_before,
		.pf		= NFPROTO_IPV4,
		.hooknum	= NF_INET_PRE_ROUTING,
		.priority	= LF_NF_PROBE_PRIORITY - 1,
	},
	{
		.hook		= lf_nf_probe_after,
		.pf		= NFPROTO_IPV4,
		.hooknum	= NF_INET_PRE_ROUTING,
		.priority	= LF_NF_PROBE_PRIORITY + 1,
	},
};

static int lf_nf_probe_show(struct seq_file *m, void *v)
{
	u32 id;
	u8 mark;

	for (id = 0; id < LF_NF_PROBE_IDS; id++) {
		mark = READ_ONCE(lf_nf_probe_marks[id]);
		if (mark & LF_NF_PROBE_SEEN)
			seq_printf(m, "%u 1 %d\n", id,
				   !!(mark & LF_NF_PROBE_PASSED));
	}
	return 0;
}

static int lf_nf_probe_open(struct inode *inode, struct file *file)
{
	/* The listing of 65536 ids can exceed seq_file's first buffer. */
	return single_open_size(file, lf_nf_probe_show, NULL,
				LF_NF_PROBE_IDS * 16);
}

static ssize_t lf_nf_probe_write(struct file *file, const char __user *buf,
				 size_t len, loff_t *pos)
{
	memset(lf_nf_probe_marks, 0, LF_NF_PROBE_IDS);
	return len;
}

static const struct proc_ops lf_nf_probe_fops = {
	.proc_open	= lf_nf_probe_open,
	.proc_read	= seq_read,
	.proc_write	= lf_nf_probe_write,
	.proc_lseek	= seq_lseek,
	.proc_release	= single_release,
};

static int __init lf_nf_probe_init(void)
{
	int err;

	lf_nf_probe_marks = vzalloc(LF_NF_PROBE_IDS);
	if (!lf_nf_probe_marks)
		return -ENOMEM;
	if (!proc_create("lf_nf_probe", 0600, NULL, &lf_nf_probe_fops)) {
		err = -ENOMEM;
		goto free_marks;
	}
	err = nf_register_net_hooks(&init_net, lf_nf_probe_ops,
				    ARRAY_SIZE(lf_nf_probe_ops));
	if (err)
		goto remove_proc;
	return 0;

remove_proc:
	remove_proc_entry("lf_nf_probe", NULL);
free_marks:
	vfree(lf_nf_probe_marks);
	return err;
}

static void __exit lf_nf_probe_exit(void)
{
	nf_unregister_net_hooks(&init_net, lf_nf_probe_ops,
				ARRAY_SIZE(lf_nf_probe_ops));
	remove_proc_entry("lf_nf_probe", NULL);
	vfree(lf_nf_probe_marks);
}

module_init(lf_nf_probe_init);
module_exit(lf_nf_probe_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Test witness of lf_nf's per-packet decisions");
MODULE_AUTHOR("lfc developers");
