// SPDX-License-Identifier: GPL-2.0
/*
 * lfnl - a small, independent client of lf_kernel's "liteflow"
 * generic-netlink family, for the QEMU tests. Raw AF_NETLINK sockets, no
 * libraries, linked statically so it runs in a busybox initramfs. It
 * checks the protocol from the outside: it only knows uapi/lf_netlink.h.
 *
 *	lfnl [-u UID] status              one line per app, one per slot
 *	lfnl [-u UID] active APP          "uuid=U slot=S", or "none"
 *	lfnl [-u UID] create APP NAME IN OUT
 *	lfnl [-u UID] destroy APP
 *	lfnl [-u UID] activate APP UUID
 *	lfnl [-u UID] rollback APP
 *	lfnl [-u UID] infer APP V...      "uuid=U out=O,O,..."
 *	lfnl [-u UID] infer-bytes APP N   sends an N-byte vector of zeros
 *	lfnl [-u UID] setrec APP 0|1
 *	lfnl [-u UID] bogus-attr APP      ROLLBACK plus an output-only attribute
 *	lfnl stress APP STOPFILE MAXSEC V...
 *		INFER in a loop until STOPFILE exists; every answer must be
 *		out[i] = uuid * in[i] (the test snapshots' function), and
 *		at least two snapshots must have answered
 *	lfnl switch APP N MODPREFIX MODDIR UUID...
 *		N rounds of: activate UUID[i % k], rollback, then try to
 *		delete_module(MODPREFIX UUID), which must be refused; unless
 *		MODDIR is "-", also unload every snapshot in no slot (must
 *		work) and load it again from MODDIR/MODPREFIX<uuid>.ko
 *
 * -u drops to that uid/gid before opening the socket. A failed command
 * prints "error: -ERRNO (text): extack message" and exits with ERRNO.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <linux/genetlink.h>
#include <linux/netlink.h>

#include "lf_netlink.h"

#define LF_MAX_IO_LEN	1024	/* from lf_kernel.h, which is kernel-only */
#define MSG_BUF_SIZE	(64 * 1024)

struct nl {
	int fd;
	uint16_t family;
	uint32_t seq;
	char rx[MSG_BUF_SIZE];
	char extack[256];
};

/* Attribute table for one message or nest. */
struct attrs {
	const struct nlattr *a[64];
};

static void die(const char *what)
{
	fprintf(stderr, "lfnl: %s: %s\n", what, strerror(errno));
	exit(1);
}

static struct nlmsghdr *msg_init(char *buf, uint16_t type, uint16_t flags,
				 uint8_t cmd)
{
	struct nlmsghdr *nlh = (struct nlmsghdr *)buf;
	struct genlmsghdr *g;

	memset(buf, 0, NLMSG_HDRLEN + GENL_HDRLEN);
	nlh->nlmsg_len = NLMSG_HDRLEN + GENL_HDRLEN;
	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST | flags;
	g = NLMSG_DATA(nlh);
	g->cmd = cmd;
	g->version = type == GENL_ID_CTRL ? 1 : LF_GENL_VERSION;
	return nlh;
}

static void put_attr(struct nlmsghdr *nlh, uint16_t type, const void *data,
		     size_t len)
{
	struct nlattr *nla = (struct nlattr *)((char *)nlh +
					       NLMSG_ALIGN(nlh->nlmsg_len));

	nla->nla_type = type;
	nla->nla_len = NLA_HDRLEN + len;
	if (len)
		memcpy((char *)nla + NLA_HDRLEN, data, len);
	nlh->nlmsg_len = NLMSG_ALIGN(nlh->nlmsg_len) + NLA_ALIGN(nla->nla_len);
}

static void put_u32(struct nlmsghdr *nlh, uint16_t type, uint32_t v)
{
	put_attr(nlh, type, &v, sizeof(v));
}

static void put_u64(struct nlmsghdr *nlh, uint16_t type, uint64_t v)
{
	put_attr(nlh, type, &v, sizeof(v));
}

static void parse_attrs(struct attrs *t, const void *data, int len)
{
	const struct nlattr *nla = data;

	memset(t, 0, sizeof(*t));
	while (len >= NLA_HDRLEN && nla->nla_len >= NLA_HDRLEN &&
	       nla->nla_len <= len) {
		int type = nla->nla_type & NLA_TYPE_MASK;

		if (type < 64)
			t->a[type] = nla;
		len -= NLA_ALIGN(nla->nla_len);
		nla = (const struct nlattr *)((const char *)nla +
					      NLA_ALIGN(nla->nla_len));
	}
}

static const void *attr_data(const struct nlattr *nla)
{
	return (const char *)nla + NLA_HDRLEN;
}

static int attr_len(const struct nlattr *nla)
{
	return nla->nla_len - NLA_HDRLEN;
}

static uint32_t get_u32(const struct nlattr *nla)
{
	uint32_t v;

	memcpy(&v, attr_data(nla), sizeof(v));
	return v;
}

static uint64_t get_u64(const struct nlattr *nla)
{
	uint64_t v;

	memcpy(&v, attr_data(nla), sizeof(v));
	return v;
}

typedef void (*msg_cb)(const struct nlmsghdr *nlh, void *arg);

/* Pick the extack message out of an NLMSG_ERROR. */
static void read_extack(struct nl *nl, const struct nlmsghdr *nlh)
{
	const struct nlmsgerr *err = NLMSG_DATA(nlh);
	size_t off = sizeof(*err);
	struct attrs t;

	nl->extack[0] = '\0';
	if (!(nlh->nlmsg_flags & NLM_F_ACK_TLVS))
		return;
	if (!(nlh->nlmsg_flags & NLM_F_CAPPED))
		off += err->msg.nlmsg_len - NLMSG_HDRLEN;
	if (NLMSG_HDRLEN + off > nlh->nlmsg_len)
		return;
	parse_attrs(&t, (const char *)err + off,
		    nlh->nlmsg_len - NLMSG_HDRLEN - off);
	if (t.a[NLMSGERR_ATTR_MSG])
		snprintf(nl->extack, sizeof(nl->extack), "%.*s",
			 attr_len(t.a[NLMSGERR_ATTR_MSG]),
			 (const char *)attr_data(t.a[NLMSGERR_ATTR_MSG]));
}

/*
 * Send @nlh and read replies until the ack (or NLMSG_DONE of a dump).
 * Returns 0 or the negative errno the kernel answered with.
 */
static int transact(struct nl *nl, struct nlmsghdr *nlh, msg_cb cb, void *arg)
{
	struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
	uint32_t seq = ++nl->seq;

	nlh->nlmsg_seq = seq;
	if (sendto(nl->fd, nlh, nlh->nlmsg_len, 0, (struct sockaddr *)&kernel,
		   sizeof(kernel)) < 0)
		return -errno;

	for (;;) {
		ssize_t n = recv(nl->fd, nl->rx, sizeof(nl->rx), 0);
		struct nlmsghdr *h;

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		for (h = (struct nlmsghdr *)nl->rx; NLMSG_OK(h, n);
		     h = NLMSG_NEXT(h, n)) {
			if (h->nlmsg_seq != seq)
				continue;
			if (h->nlmsg_type == NLMSG_DONE)
				return 0;
			if (h->nlmsg_type == NLMSG_ERROR) {
				const struct nlmsgerr *e = NLMSG_DATA(h);

				read_extack(nl, h);
				return e->error;
			}
			if (cb)
				cb(h, arg);
		}
	}
}

static void family_cb(const struct nlmsghdr *nlh, void *arg)
{
	struct attrs t;

	parse_attrs(&t, (const char *)NLMSG_DATA(nlh) + GENL_HDRLEN,
		    nlh->nlmsg_len - NLMSG_HDRLEN - GENL_HDRLEN);
	if (t.a[CTRL_ATTR_FAMILY_ID])
		memcpy(arg, attr_data(t.a[CTRL_ATTR_FAMILY_ID]),
		       sizeof(uint16_t));
}

static int nl_open(struct nl *nl)
{
	struct sockaddr_nl local = { .nl_family = AF_NETLINK };
	char buf[256];
	struct nlmsghdr *nlh;
	int one = 1;
	int err;

	nl->fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_GENERIC);
	if (nl->fd < 0)
		die("socket");
	if (bind(nl->fd, (struct sockaddr *)&local, sizeof(local)) < 0)
		die("bind");
	setsockopt(nl->fd, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof(one));
	setsockopt(nl->fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof(one));

	nlh = msg_init(buf, GENL_ID_CTRL, NLM_F_ACK, CTRL_CMD_GETFAMILY);
	put_attr(nlh, CTRL_ATTR_FAMILY_NAME, LF_GENL_NAME,
		 sizeof(LF_GENL_NAME));
	nl->family = 0;
	err = transact(nl, nlh, family_cb, &nl->family);
	if (err)
		return err;
	return nl->family ? 0 : -ENOENT;
}

static int report(struct nl *nl, int err)
{
	if (!err)
		return 0;
	printf("error: %d (%s): %s\n", err, strerror(-err), nl->extack);
	return -err;
}

static void status_cb(const struct nlmsghdr *nlh, void *arg)
{
	const struct nlattr *nla;
	struct attrs t, s;
	uint32_t app;
	int rem;

	(void)arg;
	parse_attrs(&t, (const char *)NLMSG_DATA(nlh) + GENL_HDRLEN,
		    nlh->nlmsg_len - NLMSG_HDRLEN - GENL_HDRLEN);
	if (!t.a[LF_ATTR_APP_ID] || !t.a[LF_ATTR_APP_NAME] ||
	    !t.a[LF_ATTR_INPUT_LEN] || !t.a[LF_ATTR_OUTPUT_LEN] ||
	    !t.a[LF_ATTR_QUERIES] || !t.a[LF_ATTR_NO_ACTIVE]) {
		printf("malformed app message\n");
		return;
	}
	app = get_u32(t.a[LF_ATTR_APP_ID]);
	printf("app=%u name=%s in=%u out=%u", app,
	       (const char *)attr_data(t.a[LF_ATTR_APP_NAME]),
	       get_u32(t.a[LF_ATTR_INPUT_LEN]),
	       get_u32(t.a[LF_ATTR_OUTPUT_LEN]));
	if (t.a[LF_ATTR_ACTIVE_SLOT])
		printf(" active_slot=%u", get_u32(t.a[LF_ATTR_ACTIVE_SLOT]));
	else
		printf(" active_slot=none");
	printf(" queries=%" PRIu64 " no_active=%" PRIu64,
	       get_u64(t.a[LF_ATTR_QUERIES]), get_u64(t.a[LF_ATTR_NO_ACTIVE]));
	/* Training records (absent from an lf_kernel without them). */
	if (t.a[LF_ATTR_RECORDING])
		printf(" recording=%u",
		       *(const uint8_t *)attr_data(t.a[LF_ATTR_RECORDING]));
	if (t.a[LF_ATTR_DROPPED])
		printf(" dropped=%" PRIu64, get_u64(t.a[LF_ATTR_DROPPED]));
	printf("\n");

	/* Every LF_ATTR_SLOT nest; parse_attrs() keeps only the last one. */
	nla = (const struct nlattr *)((const char *)NLMSG_DATA(nlh) +
				      GENL_HDRLEN);
	rem = nlh->nlmsg_len - NLMSG_HDRLEN - GENL_HDRLEN;
	for (; rem >= NLA_HDRLEN && nla->nla_len >= NLA_HDRLEN &&
	       nla->nla_len <= rem;
	     rem -= NLA_ALIGN(nla->nla_len),
	     nla = (const struct nlattr *)((const char *)nla +
					   NLA_ALIGN(nla->nla_len))) {
		if ((nla->nla_type & NLA_TYPE_MASK) != LF_ATTR_SLOT)
			continue;
		if (!(nla->nla_type & NLA_F_NESTED)) {
			printf("slot attribute without NLA_F_NESTED\n");
			continue;
		}
		parse_attrs(&s, attr_data(nla), attr_len(nla));
		if (!s.a[LF_SLOT_ATTR_INDEX] || !s.a[LF_SLOT_ATTR_UUID] ||
		    !s.a[LF_SLOT_ATTR_NAME] || !s.a[LF_SLOT_ATTR_DIGEST] ||
		    !s.a[LF_SLOT_ATTR_MODULE] || !s.a[LF_SLOT_ATTR_QUERIES] ||
		    !s.a[LF_SLOT_ATTR_ERRORS] ||
		    !s.a[LF_SLOT_ATTR_INPUT_SCALE] ||
		    !s.a[LF_SLOT_ATTR_OUTPUT_SCALE]) {
			printf("malformed slot nest\n");
			continue;
		}
		printf("app=%u slot=%u uuid=%" PRIu64 " name=%s module=%s queries=%" PRIu64
		       " errors=%" PRIu64 " iscale=%" PRId64 " oscale=%" PRId64
		       " digest=%s active=%d\n",
		       app, get_u32(s.a[LF_SLOT_ATTR_INDEX]),
		       get_u64(s.a[LF_SLOT_ATTR_UUID]),
		       (const char *)attr_data(s.a[LF_SLOT_ATTR_NAME]),
		       (const char *)attr_data(s.a[LF_SLOT_ATTR_MODULE]),
		       get_u64(s.a[LF_SLOT_ATTR_QUERIES]),
		       get_u64(s.a[LF_SLOT_ATTR_ERRORS]),
		       (int64_t)get_u64(s.a[LF_SLOT_ATTR_INPUT_SCALE]),
		       (int64_t)get_u64(s.a[LF_SLOT_ATTR_OUTPUT_SCALE]),
		       (const char *)attr_data(s.a[LF_SLOT_ATTR_DIGEST]),
		       s.a[LF_SLOT_ATTR_ACTIVE] ? 1 : 0);
	}
}

struct active_arg {
	uint32_t app;
	bool found;
};

/* "active APP": the uuid in the slot flagged active. */
static void active_cb(const struct nlmsghdr *nlh, void *arg)
{
	struct active_arg *want = arg;
	const struct nlattr *nla;
	struct attrs t, s;
	int rem;

	parse_attrs(&t, (const char *)NLMSG_DATA(nlh) + GENL_HDRLEN,
		    nlh->nlmsg_len - NLMSG_HDRLEN - GENL_HDRLEN);
	if (!t.a[LF_ATTR_APP_ID] || get_u32(t.a[LF_ATTR_APP_ID]) != want->app)
		return;
	nla = (const struct nlattr *)((const char *)NLMSG_DATA(nlh) +
				      GENL_HDRLEN);
	rem = nlh->nlmsg_len - NLMSG_HDRLEN - GENL_HDRLEN;
	for (; rem >= NLA_HDRLEN && nla->nla_len >= NLA_HDRLEN &&
	       nla->nla_len <= rem;
	     rem -= NLA_ALIGN(nla->nla_len),
	     nla = (const struct nlattr *)((const char *)nla +
					   NLA_ALIGN(nla->nla_len))) {
		if ((nla->nla_type & NLA_TYPE_MASK) != LF_ATTR_SLOT)
			continue;
		parse_attrs(&s, attr_data(nla), attr_len(nla));
		if (!s.a[LF_SLOT_ATTR_ACTIVE])
			continue;
		printf("uuid=%" PRIu64 " slot=%u\n",
		       get_u64(s.a[LF_SLOT_ATTR_UUID]),
		       get_u32(s.a[LF_SLOT_ATTR_INDEX]));
		want->found = true;
	}
}

struct infer_res {
	uint64_t uuid;
	int64_t out[LF_MAX_IO_LEN];
	int out_len;
	bool got;
};

static void infer_cb(const struct nlmsghdr *nlh, void *arg)
{
	struct infer_res *r = arg;
	struct attrs t;

	parse_attrs(&t, (const char *)NLMSG_DATA(nlh) + GENL_HDRLEN,
		    nlh->nlmsg_len - NLMSG_HDRLEN - GENL_HDRLEN);
	if (!t.a[LF_ATTR_UUID] || !t.a[LF_ATTR_VECTOR] ||
	    !t.a[LF_ATTR_APP_ID] ||
	    attr_len(t.a[LF_ATTR_VECTOR]) > (int)sizeof(r->out) ||
	    attr_len(t.a[LF_ATTR_VECTOR]) % sizeof(int64_t))
		return;
	r->uuid = get_u64(t.a[LF_ATTR_UUID]);
	r->out_len = attr_len(t.a[LF_ATTR_VECTOR]) / sizeof(int64_t);
	memcpy(r->out, attr_data(t.a[LF_ATTR_VECTOR]),
	       r->out_len * sizeof(int64_t));
	r->got = true;
}

static char txbuf[MSG_BUF_SIZE];

static int do_infer(struct nl *nl, uint32_t app, const int64_t *in, int n,
		    struct infer_res *r)
{
	struct nlmsghdr *nlh = msg_init(txbuf, nl->family, NLM_F_ACK,
					LF_CMD_INFER);
	int err;

	put_u32(nlh, LF_ATTR_APP_ID, app);
	put_attr(nlh, LF_ATTR_VECTOR, in, n * sizeof(int64_t));
	r->got = false;
	err = transact(nl, nlh, infer_cb, r);
	if (!err && !r->got)
		err = -EBADMSG;
	return err;
}

static int simple_cmd(struct nl *nl, uint8_t cmd, uint32_t app)
{
	struct nlmsghdr *nlh = msg_init(txbuf, nl->family, NLM_F_ACK, cmd);

	put_u32(nlh, LF_ATTR_APP_ID, app);
	return transact(nl, nlh, NULL, NULL);
}

static int activate(struct nl *nl, uint32_t app, uint64_t uuid)
{
	struct nlmsghdr *nlh = msg_init(txbuf, nl->family, NLM_F_ACK,
					LF_CMD_ACTIVATE);

	put_u32(nlh, LF_ATTR_APP_ID, app);
	put_u64(nlh, LF_ATTR_UUID, uuid);
	return transact(nl, nlh, NULL, NULL);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int cmd_stress(struct nl *nl, uint32_t app, const char *stopfile,
		      double maxsec, const int64_t *in, int n)
{
	unsigned long ok = 0, nodata = 0, failed = 0, bad = 0;
	double start = now_s(), end = start + maxsec;
	uint64_t seen = 0;	/* bit u: snapshot u answered (u < 64) */
	static struct infer_res r;
	int first_err = 0;
	bool stopped = false;
	unsigned long i;

	for (i = 0;; i++) {
		int err, j;

		if (!(i % 16)) {
			if (access(stopfile, F_OK) == 0) {
				stopped = true;
				break;
			}
			if (now_s() > end)
				break;
		}
		err = do_infer(nl, app, in, n, &r);
		if (err == -ENODATA) {
			nodata++;
			continue;
		}
		if (err) {
			if (!first_err)
				first_err = err;
			failed++;
			continue;
		}
		for (j = 0; j < r.out_len && j < n; j++)
			if (r.out[j] != (int64_t)r.uuid * in[j])
				break;
		if (j < r.out_len || r.out_len == 0) {
			bad++;
		} else {
			ok++;
			if (r.uuid < 64)
				seen |= 1ULL << r.uuid;
		}
	}
	printf("stress ok=%lu nodata=%lu failed=%lu bad=%lu first_err=%d stopped=%d uuids_seen=%d secs=%.2f\n",
	       ok, nodata, failed, bad, first_err, stopped,
	       __builtin_popcountll(seen), now_s() - start);
	/* Switching happened under us only if several snapshots answered. */
	return failed || bad || !stopped || __builtin_popcountll(seen) < 2;
}

struct slots_arg {
	uint32_t app;
	uint64_t uuid[2];
	int n;
};

static void slots_cb(const struct nlmsghdr *nlh, void *arg)
{
	struct slots_arg *sl = arg;
	const struct nlattr *nla;
	struct attrs t, s;
	int rem;

	parse_attrs(&t, (const char *)NLMSG_DATA(nlh) + GENL_HDRLEN,
		    nlh->nlmsg_len - NLMSG_HDRLEN - GENL_HDRLEN);
	if (!t.a[LF_ATTR_APP_ID] || get_u32(t.a[LF_ATTR_APP_ID]) != sl->app)
		return;
	nla = (const struct nlattr *)((const char *)NLMSG_DATA(nlh) +
				      GENL_HDRLEN);
	rem = nlh->nlmsg_len - NLMSG_HDRLEN - GENL_HDRLEN;
	for (; rem >= NLA_HDRLEN && nla->nla_len >= NLA_HDRLEN &&
	       nla->nla_len <= rem;
	     rem -= NLA_ALIGN(nla->nla_len),
	     nla = (const struct nlattr *)((const char *)nla +
					   NLA_ALIGN(nla->nla_len))) {
		if ((nla->nla_type & NLA_TYPE_MASK) != LF_ATTR_SLOT)
			continue;
		parse_attrs(&s, attr_data(nla), attr_len(nla));
		if (s.a[LF_SLOT_ATTR_UUID] && sl->n < 2)
			sl->uuid[sl->n++] = get_u64(s.a[LF_SLOT_ATTR_UUID]);
	}
}

static bool in_slots(const struct slots_arg *sl, uint64_t uuid)
{
	return (sl->n > 0 && sl->uuid[0] == uuid) ||
	       (sl->n > 1 && sl->uuid[1] == uuid);
}

/*
 * Unload every test snapshot of @uuids that sits in no slot (must work),
 * then load it again (it registers and becomes active). Returns the
 * number of failures.
 */
static int churn(struct nl *nl, uint32_t app, const char *moddir,
		 const char *prefix, char **uuids, int k,
		 unsigned long *reloads)
{
	struct slots_arg sl = { .app = app };
	struct nlmsghdr *nlh;
	int fails = 0;
	int j;

	nlh = msg_init(txbuf, nl->family, NLM_F_DUMP, LF_CMD_GET_APP);
	if (transact(nl, nlh, slots_cb, &sl))
		return 1;
	for (j = 0; j < k; j++) {
		char mod[64], path[256];
		int fd;

		if (in_slots(&sl, strtoull(uuids[j], NULL, 0)))
			continue;
		snprintf(mod, sizeof(mod), "%s%s", prefix, uuids[j]);
		if (syscall(SYS_delete_module, mod, O_NONBLOCK)) {
			fails++;
			continue;
		}
		snprintf(path, sizeof(path), "%s/%s.ko", moddir, mod);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0 || syscall(SYS_finit_module, fd, "", 0))
			fails++;
		else
			(*reloads)++;
		if (fd >= 0)
			close(fd);
	}
	return fails;
}

static int cmd_switch(struct nl *nl, uint32_t app, int rounds,
		      const char *prefix, const char *moddir, char **uuids,
		      int k)
{
	unsigned long act_fail = 0, rb_fail = 0, refused = 0, removed = 0;
	unsigned long reloads = 0, churn_fail = 0;
	int first_err = 0, rm_errno = 0;
	double start = now_s();
	int i;

	for (i = 0; i < rounds; i++) {
		const char *u = uuids[i % k];
		char mod[64];
		int err;

		err = activate(nl, app, strtoull(u, NULL, 0));
		if (err) {
			act_fail++;
			if (!first_err)
				first_err = err;
		}
		err = simple_cmd(nl, LF_CMD_ROLLBACK, app);
		if (err) {
			rb_fail++;
			if (!first_err)
				first_err = err;
		}
		/* @u is now the standby: its module must stay pinned. */
		snprintf(mod, sizeof(mod), "%s%s", prefix, u);
		if (syscall(SYS_delete_module, mod, O_NONBLOCK) == 0) {
			removed++;
		} else {
			refused++;
			rm_errno = errno;
		}
		if (strcmp(moddir, "-"))
			churn_fail += churn(nl, app, moddir, prefix, uuids, k,
					    &reloads);
	}
	printf("switch rounds=%d activate_fail=%lu rollback_fail=%lu rmmod_refused=%lu rmmod_done=%lu rmmod_errno=%d reloads=%lu churn_fail=%lu first_err=%d secs=%.2f\n",
	       rounds, act_fail, rb_fail, refused, removed, rm_errno,
	       reloads, churn_fail, first_err, now_s() - start);
	return act_fail || rb_fail || removed || churn_fail;
}

static int parse_vec(int64_t *v, char **argv, int n)
{
	int i;

	if (n > LF_MAX_IO_LEN)
		return -1;
	for (i = 0; i < n; i++)
		v[i] = strtoll(argv[i], NULL, 0);
	return 0;
}

static void usage(void)
{
	fprintf(stderr, "usage: see the comment at the top of lfnl.c\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static int64_t vec[LF_MAX_IO_LEN * 4];
	static struct infer_res res;
	struct nlmsghdr *nlh;
	static struct nl nl;
	const char *cmd;
	uint32_t app;
	int err, i;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc > 2 && !strcmp(argv[1], "-u")) {
		uid_t uid = strtoul(argv[2], NULL, 0);

		if (setgroups(0, NULL) || setgid(uid) || setuid(uid))
			die("dropping privileges");
		argc -= 2;
		argv += 2;
	}
	if (argc < 2)
		usage();
	cmd = argv[1];

	err = nl_open(&nl);
	if (err)
		return report(&nl, err);

	if (!strcmp(cmd, "status") || !strcmp(cmd, "active")) {
		struct active_arg want = { 0 };
		bool all = !strcmp(cmd, "status");

		if (!all) {
			if (argc != 3)
				usage();
			want.app = strtoul(argv[2], NULL, 0);
		}
		nlh = msg_init(txbuf, nl.family, NLM_F_DUMP, LF_CMD_GET_APP);
		err = transact(&nl, nlh, all ? status_cb : active_cb, &want);
		if (!err && !all && !want.found)
			printf("none\n");
		return report(&nl, err);
	}

	if (argc < 3)
		usage();
	app = strtoul(argv[2], NULL, 0);

	if (!strcmp(cmd, "create") && argc == 6) {
		nlh = msg_init(txbuf, nl.family, NLM_F_ACK, LF_CMD_APP_CREATE);
		put_u32(nlh, LF_ATTR_APP_ID, app);
		put_attr(nlh, LF_ATTR_APP_NAME, argv[3], strlen(argv[3]) + 1);
		put_u32(nlh, LF_ATTR_INPUT_LEN, strtoul(argv[4], NULL, 0));
		put_u32(nlh, LF_ATTR_OUTPUT_LEN, strtoul(argv[5], NULL, 0));
		return report(&nl, transact(&nl, nlh, NULL, NULL));
	}
	if (!strcmp(cmd, "destroy") && argc == 3)
		return report(&nl, simple_cmd(&nl, LF_CMD_APP_DESTROY, app));
	if (!strcmp(cmd, "rollback") && argc == 3)
		return report(&nl, simple_cmd(&nl, LF_CMD_ROLLBACK, app));
	if (!strcmp(cmd, "activate") && argc == 4)
		return report(&nl, activate(&nl, app,
					    strtoull(argv[3], NULL, 0)));
	if (!strcmp(cmd, "setrec") && argc == 4) {
		uint8_t on = strtoul(argv[3], NULL, 0);

		nlh = msg_init(txbuf, nl.family, NLM_F_ACK,
			       LF_CMD_SET_RECORDING);
		put_u32(nlh, LF_ATTR_APP_ID, app);
		put_attr(nlh, LF_ATTR_RECORDING, &on, sizeof(on));
		return report(&nl, transact(&nl, nlh, NULL, NULL));
	}
	if (!strcmp(cmd, "bogus-attr") && argc == 3) {
		nlh = msg_init(txbuf, nl.family, NLM_F_ACK, LF_CMD_ROLLBACK);
		put_u32(nlh, LF_ATTR_APP_ID, app);
		put_u64(nlh, LF_ATTR_QUERIES, 1);
		return report(&nl, transact(&nl, nlh, NULL, NULL));
	}
	if (!strcmp(cmd, "infer") && argc >= 3) {
		if (parse_vec(vec, argv + 3, argc - 3))
			usage();
		err = do_infer(&nl, app, vec, argc - 3, &res);
		if (err)
			return report(&nl, err);
		printf("uuid=%" PRIu64 " out=", res.uuid);
		for (i = 0; i < res.out_len; i++)
			printf("%s%" PRId64, i ? "," : "", res.out[i]);
		printf("\n");
		return 0;
	}
	if (!strcmp(cmd, "infer-bytes") && argc == 4) {
		size_t n = strtoul(argv[3], NULL, 0);

		if (n > sizeof(vec))
			usage();
		nlh = msg_init(txbuf, nl.family, NLM_F_ACK, LF_CMD_INFER);
		put_u32(nlh, LF_ATTR_APP_ID, app);
		put_attr(nlh, LF_ATTR_VECTOR, vec, n);
		return report(&nl, transact(&nl, nlh, NULL, NULL));
	}
	if (!strcmp(cmd, "stress") && argc >= 6) {
		if (parse_vec(vec, argv + 5, argc - 5))
			usage();
		return cmd_stress(&nl, app, argv[3], strtod(argv[4], NULL),
				  vec, argc - 5);
	}
	if (!strcmp(cmd, "switch") && argc >= 7)
		return cmd_switch(&nl, app, atoi(argv[3]), argv[4], argv[5],
				  argv + 6, argc - 6);
	usage();
	return 2;
}
