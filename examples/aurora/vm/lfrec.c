// SPDX-License-Identifier: GPL-2.0
/*
 * lfrec - training records of lf_kernel from the outside, for the QEMU
 * checks of lf_tcp (examples/aurora/vm/lf_tcp.sh). Raw AF_NETLINK, only
 * uapi/lf_netlink.h, linked statically for a busybox initramfs.
 *
 *	lfrec setrec APP 0|1     LF_CMD_SET_RECORDING; exits with the errno
 *	lfrec app APP            "recording=R dropped=D queries=Q no_active=N"
 *	lfrec listen APP STOPFILE MAXSEC
 *		join the "records" group and read LF_CMD_RECORDS messages
 *		until STOPFILE exists and no message came for 1 s (or
 *		MAXSEC); check every message (app id, nests, vector lengths
 *		consistent, timestamps non-decreasing inside a message) and
 *		re-run the first record of every message through LF_CMD_INFER:
 *		while the snapshot that answered is still the active one,
 *		INFER must give the recorded output. Prints
 *		"listen messages=M records=R max_batch=B in=I out=O uuid=U
 *		 bad=X infer_checked=C infer_mismatch=Y overruns=Z"
 *		and exits non-zero if any check failed or nothing came.
 *	lfrec stall APP SECONDS
 *		join the group with a 4 KiB receive buffer and
 *		NETLINK_BROADCAST_ERROR, never read: multicasts to it fail
 *		with ENOBUFS once the buffer is full
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <linux/genetlink.h>
#include <linux/netlink.h>

#include "lf_netlink.h"

#define BUF_SIZE	(256 * 1024)
#define MAX_VEC		1024

struct nl {
	int fd;
	uint16_t family;
	uint32_t mcgrp;
	uint32_t seq;
};

struct attrs {
	const struct nlattr *a[64];
};

/* Replies to requests; multicast records are read into mcbuf. */
static char rxbuf[BUF_SIZE], txbuf[BUF_SIZE], mcbuf[BUF_SIZE];

static void die(const char *what)
{
	fprintf(stderr, "lfrec: %s: %s\n", what, strerror(errno));
	exit(1);
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

static struct nlmsghdr *msg_init(uint16_t type, uint16_t flags, uint8_t cmd)
{
	struct nlmsghdr *nlh = (struct nlmsghdr *)txbuf;
	struct genlmsghdr *g;

	memset(txbuf, 0, NLMSG_HDRLEN + GENL_HDRLEN);
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
	memcpy((char *)nla + NLA_HDRLEN, data, len);
	nlh->nlmsg_len = NLMSG_ALIGN(nlh->nlmsg_len) + NLA_ALIGN(nla->nla_len);
}

typedef void (*msg_cb)(const struct nlmsghdr *nlh, void *arg);

/* Send and read replies up to the ack or NLMSG_DONE; 0 or -errno. */
static int transact(struct nl *nl, struct nlmsghdr *nlh, msg_cb cb, void *arg)
{
	struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
	uint32_t seq = ++nl->seq;

	nlh->nlmsg_seq = seq;
	if (sendto(nl->fd, nlh, nlh->nlmsg_len, 0, (struct sockaddr *)&kernel,
		   sizeof(kernel)) < 0)
		return -errno;
	for (;;) {
		ssize_t n = recv(nl->fd, rxbuf, sizeof(rxbuf), 0);
		struct nlmsghdr *h;

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		for (h = (struct nlmsghdr *)rxbuf; NLMSG_OK(h, n);
		     h = NLMSG_NEXT(h, n)) {
			if (h->nlmsg_seq != seq)
				continue;
			if (h->nlmsg_type == NLMSG_DONE)
				return 0;
			if (h->nlmsg_type == NLMSG_ERROR)
				return ((struct nlmsgerr *)NLMSG_DATA(h))->error;
			if (cb)
				cb(h, arg);
		}
	}
}

static const void *genl_attrs(const struct nlmsghdr *nlh, int *len)
{
	*len = nlh->nlmsg_len - NLMSG_HDRLEN - GENL_HDRLEN;
	return (const char *)NLMSG_DATA(nlh) + GENL_HDRLEN;
}

static void parse_genl(struct attrs *t, const struct nlmsghdr *nlh)
{
	int len;
	const void *data = genl_attrs(nlh, &len);

	parse_attrs(t, data, len);
}

/* Family id and the id of its "records" multicast group. */
static void family_cb(const struct nlmsghdr *nlh, void *arg)
{
	struct nl *nl = arg;
	const struct nlattr *grp;
	struct attrs t, g;
	int rem;

	parse_genl(&t, nlh);
	if (t.a[CTRL_ATTR_FAMILY_ID])
		memcpy(&nl->family, attr_data(t.a[CTRL_ATTR_FAMILY_ID]), 2);
	if (!t.a[CTRL_ATTR_MCAST_GROUPS])
		return;
	grp = attr_data(t.a[CTRL_ATTR_MCAST_GROUPS]);
	rem = attr_len(t.a[CTRL_ATTR_MCAST_GROUPS]);
	for (; rem >= NLA_HDRLEN && grp->nla_len >= NLA_HDRLEN &&
	       grp->nla_len <= rem;
	     rem -= NLA_ALIGN(grp->nla_len),
	     grp = (const struct nlattr *)((const char *)grp +
					   NLA_ALIGN(grp->nla_len))) {
		parse_attrs(&g, attr_data(grp), attr_len(grp));
		if (g.a[CTRL_ATTR_MCAST_GRP_NAME] && g.a[CTRL_ATTR_MCAST_GRP_ID] &&
		    !strcmp(attr_data(g.a[CTRL_ATTR_MCAST_GRP_NAME]),
			    LF_GENL_MCGRP_RECORDS))
			nl->mcgrp = get_u32(g.a[CTRL_ATTR_MCAST_GRP_ID]);
	}
}

static void nl_open(struct nl *nl, int rcvbuf)
{
	struct sockaddr_nl local = { .nl_family = AF_NETLINK };
	struct nlmsghdr *nlh;
	int err;

	nl->fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_GENERIC);
	if (nl->fd < 0)
		die("socket");
	if (rcvbuf && setsockopt(nl->fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf,
				 sizeof(rcvbuf)))
		die("SO_RCVBUF");
	if (bind(nl->fd, (struct sockaddr *)&local, sizeof(local)) < 0)
		die("bind");
	nlh = msg_init(GENL_ID_CTRL, NLM_F_ACK, CTRL_CMD_GETFAMILY);
	put_attr(nlh, CTRL_ATTR_FAMILY_NAME, LF_GENL_NAME, sizeof(LF_GENL_NAME));
	err = transact(nl, nlh, family_cb, nl);
	if (err || !nl->family) {
		fprintf(stderr, "lfrec: family %s: %s\n", LF_GENL_NAME,
			strerror(err ? -err : ENOENT));
		exit(err ? -err : ENOENT);
	}
}

static void join_records(struct nl *nl)
{
	if (!nl->mcgrp) {
		fprintf(stderr, "lfrec: no \"%s\" multicast group\n",
			LF_GENL_MCGRP_RECORDS);
		exit(ENOENT);
	}
	if (setsockopt(nl->fd, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP,
		       &nl->mcgrp, sizeof(nl->mcgrp)))
		die("NETLINK_ADD_MEMBERSHIP");
}

struct app_arg {
	uint32_t app;
	bool found;
};

static void app_cb(const struct nlmsghdr *nlh, void *arg)
{
	struct app_arg *want = arg;
	struct attrs t;

	parse_genl(&t, nlh);
	if (!t.a[LF_ATTR_APP_ID] || get_u32(t.a[LF_ATTR_APP_ID]) != want->app)
		return;
	want->found = true;
	if (!t.a[LF_ATTR_RECORDING] || !t.a[LF_ATTR_DROPPED] ||
	    !t.a[LF_ATTR_QUERIES] || !t.a[LF_ATTR_NO_ACTIVE]) {
		printf("malformed app message\n");
		return;
	}
	printf("recording=%u dropped=%" PRIu64 " queries=%" PRIu64
	       " no_active=%" PRIu64 "\n",
	       *(const uint8_t *)attr_data(t.a[LF_ATTR_RECORDING]),
	       get_u64(t.a[LF_ATTR_DROPPED]), get_u64(t.a[LF_ATTR_QUERIES]),
	       get_u64(t.a[LF_ATTR_NO_ACTIVE]));
}

struct infer_res {
	uint64_t uuid;
	int64_t out[MAX_VEC];
	int out_len;
};

static void infer_cb(const struct nlmsghdr *nlh, void *arg)
{
	struct infer_res *r = arg;
	struct attrs t;

	parse_genl(&t, nlh);
	if (!t.a[LF_ATTR_UUID] || !t.a[LF_ATTR_VECTOR] ||
	    attr_len(t.a[LF_ATTR_VECTOR]) > (int)sizeof(r->out))
		return;
	r->uuid = get_u64(t.a[LF_ATTR_UUID]);
	r->out_len = attr_len(t.a[LF_ATTR_VECTOR]) / 8;
	memcpy(r->out, attr_data(t.a[LF_ATTR_VECTOR]), r->out_len * 8);
}

struct listen_state {
	uint32_t app;
	unsigned long messages, records, bad, checked, mismatch;
	unsigned long max_batch;
	int in_len, out_len;
	uint64_t uuid;
	bool mixed_uuid;
	struct nl *ctl;		/* for INFER */
};

/* One record nest; returns false if malformed. */
static bool check_record(struct listen_state *st, const struct nlattr *rec,
			 uint64_t *ts, bool first)
{
	struct attrs r;
	int in_len, out_len;

	if (!(rec->nla_type & NLA_F_NESTED))
		return false;
	parse_attrs(&r, attr_data(rec), attr_len(rec));
	if (!r.a[LF_REC_ATTR_UUID] || !r.a[LF_REC_ATTR_TIMESTAMP] ||
	    !r.a[LF_REC_ATTR_INPUT] || !r.a[LF_REC_ATTR_OUTPUT])
		return false;
	if (attr_len(r.a[LF_REC_ATTR_INPUT]) % 8 ||
	    attr_len(r.a[LF_REC_ATTR_OUTPUT]) % 8)
		return false;
	in_len = attr_len(r.a[LF_REC_ATTR_INPUT]) / 8;
	out_len = attr_len(r.a[LF_REC_ATTR_OUTPUT]) / 8;
	if (!in_len || !out_len || in_len > MAX_VEC || out_len > MAX_VEC)
		return false;
	if (!st->in_len) {
		st->in_len = in_len;
		st->out_len = out_len;
		st->uuid = get_u64(r.a[LF_REC_ATTR_UUID]);
	}
	if (in_len != st->in_len || out_len != st->out_len)
		return false;
	if (get_u64(r.a[LF_REC_ATTR_UUID]) != st->uuid)
		st->mixed_uuid = true;
	if (get_u64(r.a[LF_REC_ATTR_TIMESTAMP]) < *ts)
		return false;
	*ts = get_u64(r.a[LF_REC_ATTR_TIMESTAMP]);

	if (first) {
		static int64_t in[MAX_VEC];
		static struct infer_res res;
		struct nlmsghdr *nlh;
		int err;

		memcpy(in, attr_data(r.a[LF_REC_ATTR_INPUT]), in_len * 8);
		nlh = msg_init(st->ctl->family, NLM_F_ACK, LF_CMD_INFER);
		put_attr(nlh, LF_ATTR_APP_ID, &st->app, sizeof(st->app));
		put_attr(nlh, LF_ATTR_VECTOR, in, in_len * 8);
		res.out_len = 0;
		err = transact(st->ctl, nlh, infer_cb, &res);
		/* Only comparable while the same snapshot is active. */
		if (!err && res.uuid == get_u64(r.a[LF_REC_ATTR_UUID])) {
			st->checked++;
			if (res.out_len != out_len ||
			    memcmp(res.out, attr_data(r.a[LF_REC_ATTR_OUTPUT]),
				   out_len * 8))
				st->mismatch++;
		}
	}
	return true;
}

static void records_msg(struct listen_state *st, const struct nlmsghdr *nlh)
{
	const struct genlmsghdr *g = NLMSG_DATA(nlh);
	const struct nlattr *nla;
	unsigned long n = 0;
	uint64_t ts = 0;
	bool app_ok = false;
	int rem;

	st->messages++;
	if (g->cmd != LF_CMD_RECORDS) {
		st->bad++;
		return;
	}
	for (nla = genl_attrs(nlh, &rem);
	     rem >= NLA_HDRLEN && nla->nla_len >= NLA_HDRLEN &&
	     nla->nla_len <= rem;
	     rem -= NLA_ALIGN(nla->nla_len),
	     nla = (const struct nlattr *)((const char *)nla +
					   NLA_ALIGN(nla->nla_len))) {
		switch (nla->nla_type & NLA_TYPE_MASK) {
		case LF_ATTR_APP_ID:
			app_ok = n == 0 && get_u32(nla) == st->app;
			break;
		case LF_ATTR_RECORD:
			if (!check_record(st, nla, &ts, n == 0))
				st->bad++;
			n++;
			break;
		default:
			st->bad++;
		}
	}
	if (!app_ok || !n)
		st->bad++;
	st->records += n;
	if (n > st->max_batch)
		st->max_batch = n;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int cmd_listen(uint32_t app, const char *stopfile, double maxsec)
{
	static struct nl nl, ctl;
	struct listen_state st = { .app = app, .ctl = &ctl };
	double end = now_s() + maxsec, last = now_s();
	unsigned long overruns = 0;
	bool stopped = false;

	nl_open(&nl, 4 * 1024 * 1024);
	nl_open(&ctl, 0);
	join_records(&nl);
	printf("listening\n");
	fflush(stdout);

	while (now_s() < end) {
		struct pollfd pfd = { .fd = nl.fd, .events = POLLIN };
		struct nlmsghdr *h;
		ssize_t n;

		if (!stopped && access(stopfile, F_OK) == 0)
			stopped = true;
		if (stopped && now_s() - last > 1.0)
			break;
		if (poll(&pfd, 1, 100) <= 0)
			continue;
		n = recv(nl.fd, mcbuf, sizeof(mcbuf), MSG_DONTWAIT);
		if (n < 0) {
			if (errno == ENOBUFS)
				overruns++;
			continue;
		}
		last = now_s();
		for (h = (struct nlmsghdr *)mcbuf; NLMSG_OK(h, n);
		     h = NLMSG_NEXT(h, n))
			records_msg(&st, h);
	}
	printf("listen messages=%lu records=%lu max_batch=%lu in=%d out=%d uuid=%" PRIu64
	       " mixed_uuid=%d bad=%lu infer_checked=%lu infer_mismatch=%lu overruns=%lu stopped=%d\n",
	       st.messages, st.records, st.max_batch, st.in_len, st.out_len,
	       st.uuid, st.mixed_uuid, st.bad, st.checked, st.mismatch,
	       overruns, stopped);
	return !st.records || st.bad || st.mismatch || overruns || !stopped;
}

int main(int argc, char **argv)
{
	static struct nl nl;
	struct nlmsghdr *nlh;
	uint32_t app;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc < 3) {
		fprintf(stderr, "usage: see the comment at the top of the source\n");
		return 2;
	}
	app = strtoul(argv[2], NULL, 0);

	if (!strcmp(argv[1], "setrec") && argc == 4) {
		uint8_t on = strtoul(argv[3], NULL, 0);
		int err;

		nl_open(&nl, 0);
		nlh = msg_init(nl.family, NLM_F_ACK, LF_CMD_SET_RECORDING);
		put_attr(nlh, LF_ATTR_APP_ID, &app, sizeof(app));
		put_attr(nlh, LF_ATTR_RECORDING, &on, sizeof(on));
		err = transact(&nl, nlh, NULL, NULL);
		if (err)
			printf("error: %d (%s)\n", err, strerror(-err));
		return -err;
	}
	if (!strcmp(argv[1], "app") && argc == 3) {
		struct app_arg want = { .app = app };
		int err;

		nl_open(&nl, 0);
		nlh = msg_init(nl.family, NLM_F_DUMP, LF_CMD_GET_APP);
		err = transact(&nl, nlh, app_cb, &want);
		if (!err && !want.found)
			err = -ENOENT;
		return -err;
	}
	if (!strcmp(argv[1], "listen") && argc == 5)
		return cmd_listen(app, argv[3], strtod(argv[4], NULL));
	if (!strcmp(argv[1], "stall") && argc == 4) {
		int one = 1;

		nl_open(&nl, 4096);
		if (setsockopt(nl.fd, SOL_NETLINK, NETLINK_BROADCAST_ERROR,
			       &one, sizeof(one)))
			die("NETLINK_BROADCAST_ERROR");
		join_records(&nl);
		printf("stalling\n");
		sleep(atoi(argv[3]));
		return 0;
	}
	fprintf(stderr, "usage: see the comment at the top of the source\n");
	return 2;
}
