// SPDX-License-Identifier: GPL-2.0
/*
 * lfdbg - hostile clients of lf_kernel's "liteflow" family, for the QEMU
 * tests (guest.d/nlfuzz.sh, guest.d/fault.sh). Raw AF_NETLINK, static,
 * knows only uapi/lf_netlink.h, like lfnl.
 *
 *	lfdbg fuzz SEED N [UID]
 *		N random generic-netlink messages to the family (seeded, so a
 *		failure can be replayed): every command number and some past
 *		the last; complete valid requests, and random, missing,
 *		duplicated, oversized, wrongly typed, wrongly nested and
 *		badly framed attributes; truncated netlink and genetlink
 *		headers; random flags. With UID, after dropping to it. Every
 *		reply must be an ack, an errno from the expected set, or a
 *		well-formed GET_APP / INFER answer (as an unprivileged user:
 *		errors only). Requests that change state never name an app
 *		that existed before (their app ids are remapped to 1000..1007),
 *		and those apps are destroyed at the end, so the status is
 *		unchanged. Prints the counts; exits 1 on any bad reply.
 *	lfdbg status
 *		the GET_APP dump without counters: what must not change
 *	lfdbg fault create APP IN OUT
 *	lfdbg fault recon APP
 *	lfdbg fault recoff APP
 *	lfdbg fault register MODULE.ko
 *	lfdbg fault --stride S OP ARGS...
 *		fault injection with /proc/thread-self/fail-nth: run the
 *		operation with its n-th fault-injectable allocation failing,
 *		for n = 1, 2, ... until a run completes without reaching the
 *		n-th one (--stride S: n = 1, 1 + S, ... to that end, then
 *		every n of the last S + 64 before it; the operation's own code
 *		runs last in a module load, after the loader's allocations). Every failed run must return an error and leave the
 *		status as it was; a run that still succeeds (the failure was
 *		absorbed) must leave the status the operation gives. recoff
 *		keeps a socket joined to "records" so shipping allocates.
 *		register loads the module with finit_module(); its snapshot's
 *		app must exist with at most slot 0 filled, or not exist.
 *		Prints "points=N errors=E absorbed=A ... stride=S tail=T";
 *		exits 1 on a violation.
 *	lfdbg listen STOPFILE
 *		join the "records" group and read (and drop) its messages
 *		until STOPFILE exists, so that recorders ship; prints the
 *		number of messages.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/genetlink.h>
#include <linux/netlink.h>

#include "lf_netlink.h"

#define LF_MAX_IO_LEN	1024	/* from lf_kernel.h, which is kernel-only */
#define LF_NAME_LEN	32
#define RX_SIZE		(256 * 1024)
#define TX_SIZE		(64 * 1024)
#define STATUS_SIZE	(16 * 1024)
/* Fuzz apps: state-changing requests are remapped into these ids. */
#define FUZZ_APP_BASE	1000
#define FUZZ_APPS	8
#define MAX_APPS	64

struct nl {
	int fd;
	uint16_t family;
	uint32_t mcgrp_records;
	uint32_t seq;
	char rx[RX_SIZE];
};

static char txbuf[TX_SIZE] __attribute__((aligned(8)));

static void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "lfdbg: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, ": %s\n", strerror(errno));
	va_end(ap);
	exit(2);
}

/* ---- messages ----------------------------------------------------------- */

static struct nlmsghdr *msg_init(char *buf, uint16_t type, uint16_t flags,
				 uint8_t cmd, uint8_t version)
{
	struct nlmsghdr *nlh = (struct nlmsghdr *)buf;
	struct genlmsghdr *g;

	memset(buf, 0, NLMSG_HDRLEN + GENL_HDRLEN);
	nlh->nlmsg_len = NLMSG_HDRLEN + GENL_HDRLEN;
	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = flags;
	g = NLMSG_DATA(nlh);
	g->cmd = cmd;
	g->version = version;
	return nlh;
}

/* Room left in txbuf after @nlh's current end. */
static size_t msg_room(const struct nlmsghdr *nlh)
{
	return TX_SIZE - NLMSG_ALIGN(nlh->nlmsg_len);
}

static struct nlattr *put_attr(struct nlmsghdr *nlh, uint16_t type,
			       const void *data, size_t len)
{
	struct nlattr *nla = (struct nlattr *)((char *)nlh +
					       NLMSG_ALIGN(nlh->nlmsg_len));

	if (NLA_HDRLEN + NLA_ALIGN(len) > msg_room(nlh))
		return NULL;
	nla->nla_type = type;
	nla->nla_len = NLA_HDRLEN + len;
	if (len && data)
		memcpy((char *)nla + NLA_HDRLEN, data, len);
	else if (len)
		memset((char *)nla + NLA_HDRLEN, 0, len);
	nlh->nlmsg_len = NLMSG_ALIGN(nlh->nlmsg_len) + NLA_ALIGN(nla->nla_len);
	return nla;
}

static void put_u32(struct nlmsghdr *nlh, uint16_t type, uint32_t v)
{
	put_attr(nlh, type, &v, sizeof(v));
}

static void put_u64(struct nlmsghdr *nlh, uint16_t type, uint64_t v)
{
	put_attr(nlh, type, &v, sizeof(v));
}

static void put_u8(struct nlmsghdr *nlh, uint16_t type, uint8_t v)
{
	put_attr(nlh, type, &v, sizeof(v));
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

/* Walks attributes; stops at the first that does not fit. */
#define for_each_attr(nla, data, len, rem)				\
	for (nla = (__typeof__(nla))(data), rem = (len);		\
	     rem >= NLA_HDRLEN && nla->nla_len >= NLA_HDRLEN &&		\
	     nla->nla_len <= rem;					\
	     rem -= NLA_ALIGN(nla->nla_len),				\
	     nla = (__typeof__(nla))((const char *)nla +		\
				     NLA_ALIGN(nla->nla_len)))

static const void *genl_attrs(const struct nlmsghdr *nlh)
{
	return (const char *)NLMSG_DATA(nlh) + GENL_HDRLEN;
}

static int genl_attrs_len(const struct nlmsghdr *nlh)
{
	return (int)nlh->nlmsg_len - NLMSG_HDRLEN - GENL_HDRLEN;
}

/* ---- socket ------------------------------------------------------------- */

static int nl_send(struct nl *nl, const void *buf, size_t len)
{
	struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };

	if (sendto(nl->fd, buf, len, 0, (struct sockaddr *)&kernel,
		   sizeof(kernel)) < 0)
		return -errno;
	return 0;
}

typedef void (*msg_cb)(const struct nlmsghdr *nlh, void *arg);

/*
 * Send @nlh (with a new seq) and read until its ack, error or
 * NLMSG_DONE. Returns 0 or the negative errno of the reply (or of
 * sendto/recv: -ENOBUFS when the kernel could not allocate the ack).
 */
static int transact(struct nl *nl, struct nlmsghdr *nlh, msg_cb cb, void *arg)
{
	uint32_t seq = ++nl->seq;
	int err;

	nlh->nlmsg_seq = seq;
	err = nl_send(nl, nlh, nlh->nlmsg_len);
	if (err)
		return err;
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
			if (h->nlmsg_type == NLMSG_ERROR)
				return ((const struct nlmsgerr *)NLMSG_DATA(h))->error;
			if (cb)
				cb(h, arg);
		}
	}
}

static void family_cb(const struct nlmsghdr *nlh, void *arg)
{
	struct nl *nl = arg;
	const struct nlattr *a, *g, *x;
	int rem, grem, xrem;

	for_each_attr(a, genl_attrs(nlh), genl_attrs_len(nlh), rem) {
		if ((a->nla_type & NLA_TYPE_MASK) == CTRL_ATTR_FAMILY_ID)
			memcpy(&nl->family, attr_data(a), sizeof(uint16_t));
		if ((a->nla_type & NLA_TYPE_MASK) != CTRL_ATTR_MCAST_GROUPS)
			continue;
		for_each_attr(g, attr_data(a), attr_len(a), grem) {
			const char *name = NULL;
			uint32_t id = 0;

			for_each_attr(x, attr_data(g), attr_len(g), xrem) {
				if (x->nla_type == CTRL_ATTR_MCAST_GRP_NAME)
					name = attr_data(x);
				if (x->nla_type == CTRL_ATTR_MCAST_GRP_ID)
					id = get_u32(x);
			}
			if (name && !strcmp(name, LF_GENL_MCGRP_RECORDS))
				nl->mcgrp_records = id;
		}
	}
}

static int nl_open(struct nl *nl)
{
	struct sockaddr_nl local = { .nl_family = AF_NETLINK };
	struct nlmsghdr *nlh;
	char buf[256];
	int one = 1, size = 4 << 20;

	nl->fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_GENERIC);
	if (nl->fd < 0)
		die("socket");
	if (bind(nl->fd, (struct sockaddr *)&local, sizeof(local)) < 0)
		die("bind");
	setsockopt(nl->fd, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof(one));
	setsockopt(nl->fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof(one));
	setsockopt(nl->fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));

	nlh = msg_init(buf, GENL_ID_CTRL, NLM_F_REQUEST | NLM_F_ACK,
		       CTRL_CMD_GETFAMILY, 1);
	put_attr(nlh, CTRL_ATTR_FAMILY_NAME, LF_GENL_NAME,
		 sizeof(LF_GENL_NAME));
	nl->family = 0;
	if (transact(nl, nlh, family_cb, nl) || !nl->family) {
		fprintf(stderr, "lfdbg: no %s family\n", LF_GENL_NAME);
		exit(2);
	}
	return 0;
}

/* ---- status: the dump, without counters ---------------------------------- */

struct app_info {
	uint32_t id, in, out;
	int nslots;
	uint64_t uuid[2];
};

struct status {
	char text[STATUS_SIZE];
	size_t len;
	struct app_info app[MAX_APPS];
	int napps;
};

static void status_add(struct status *st, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(st->text + st->len, sizeof(st->text) - st->len, fmt, ap);
	va_end(ap);
	if (n > 0 && st->len + n < sizeof(st->text))
		st->len += n;
}

static void status_cb(const struct nlmsghdr *nlh, void *arg)
{
	struct status *st = arg;
	const struct nlattr *a, *s;
	struct app_info *ai;
	int rem, srem;

	if (st->napps == MAX_APPS)
		return;
	ai = &st->app[st->napps++];
	memset(ai, 0, sizeof(*ai));
	for_each_attr(a, genl_attrs(nlh), genl_attrs_len(nlh), rem) {
		switch (a->nla_type & NLA_TYPE_MASK) {
		case LF_ATTR_APP_ID:
			ai->id = get_u32(a);
			status_add(st, "app=%u", ai->id);
			break;
		case LF_ATTR_APP_NAME:
			status_add(st, " name=%.*s", attr_len(a),
				   (const char *)attr_data(a));
			break;
		case LF_ATTR_INPUT_LEN:
			ai->in = get_u32(a);
			status_add(st, " in=%u", ai->in);
			break;
		case LF_ATTR_OUTPUT_LEN:
			ai->out = get_u32(a);
			status_add(st, " out=%u", ai->out);
			break;
		case LF_ATTR_ACTIVE_SLOT:
			status_add(st, " active_slot=%u", get_u32(a));
			break;
		case LF_ATTR_RECORDING:
			status_add(st, " recording=%u",
				   *(const uint8_t *)attr_data(a));
			break;
		case LF_ATTR_SLOT:
			for_each_attr(s, attr_data(a), attr_len(a), srem) {
				if (s->nla_type == LF_SLOT_ATTR_INDEX)
					status_add(st, " [slot=%u", get_u32(s));
				if (s->nla_type == LF_SLOT_ATTR_UUID) {
					if (ai->nslots < 2)
						ai->uuid[ai->nslots++] = get_u64(s);
					status_add(st, " uuid=%" PRIu64 "]",
						   get_u64(s));
				}
				if (s->nla_type == LF_SLOT_ATTR_MODULE)
					status_add(st, " module=%.*s",
						   attr_len(s),
						   (const char *)attr_data(s));
			}
			break;
		}
	}
	status_add(st, "\n");
}

static int get_status(struct nl *nl, struct status *st)
{
	struct nlmsghdr *nlh;
	char buf[64];

	st->len = 0;
	st->text[0] = '\0';
	st->napps = 0;
	nlh = msg_init(buf, nl->family, NLM_F_REQUEST | NLM_F_DUMP,
		       LF_CMD_GET_APP, LF_GENL_VERSION);
	return transact(nl, nlh, status_cb, st);
}

static const struct app_info *find_app(const struct status *st, uint32_t id)
{
	int i;

	for (i = 0; i < st->napps; i++)
		if (st->app[i].id == id)
			return &st->app[i];
	return NULL;
}

static int simple_cmd(struct nl *nl, uint8_t cmd, uint32_t app)
{
	struct nlmsghdr *nlh = msg_init(txbuf, nl->family,
					NLM_F_REQUEST | NLM_F_ACK, cmd,
					LF_GENL_VERSION);

	put_u32(nlh, LF_ATTR_APP_ID, app);
	return transact(nl, nlh, NULL, NULL);
}

static int app_create(struct nl *nl, uint32_t app, const char *name,
		      uint32_t in, uint32_t out)
{
	struct nlmsghdr *nlh = msg_init(txbuf, nl->family,
					NLM_F_REQUEST | NLM_F_ACK,
					LF_CMD_APP_CREATE, LF_GENL_VERSION);

	put_u32(nlh, LF_ATTR_APP_ID, app);
	put_attr(nlh, LF_ATTR_APP_NAME, name, strlen(name) + 1);
	put_u32(nlh, LF_ATTR_INPUT_LEN, in);
	put_u32(nlh, LF_ATTR_OUTPUT_LEN, out);
	return transact(nl, nlh, NULL, NULL);
}

static int set_recording(struct nl *nl, uint32_t app, uint8_t on)
{
	struct nlmsghdr *nlh = msg_init(txbuf, nl->family,
					NLM_F_REQUEST | NLM_F_ACK,
					LF_CMD_SET_RECORDING, LF_GENL_VERSION);

	put_u32(nlh, LF_ATTR_APP_ID, app);
	put_u8(nlh, LF_ATTR_RECORDING, on);
	return transact(nl, nlh, NULL, NULL);
}

static int activate(struct nl *nl, uint32_t app, uint64_t uuid)
{
	struct nlmsghdr *nlh = msg_init(txbuf, nl->family,
					NLM_F_REQUEST | NLM_F_ACK,
					LF_CMD_ACTIVATE, LF_GENL_VERSION);

	put_u32(nlh, LF_ATTR_APP_ID, app);
	put_u64(nlh, LF_ATTR_UUID, uuid);
	return transact(nl, nlh, NULL, NULL);
}

/* ---- fuzz ----------------------------------------------------------------- */

static uint64_t rng_state;

static uint64_t rnd(void)
{
	/* xorshift64* */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545F4914F6CDD1DULL;
}

static uint32_t below(uint32_t n)
{
	return n ? rnd() % n : 0;
}

static bool chance(unsigned int pct)
{
	return below(100) < pct;
}

static void rnd_bytes(void *p, size_t n)
{
	uint8_t *b = p;

	while (n--)
		*b++ = rnd();
}

/* What the fuzzer counts; printed at the end. */
enum fz_count {
	FZ_SENT, FZ_VALID_REQ, FZ_MUTATED, FZ_TRUNC_NLHDR, FZ_TRUNC_GENLHDR,
	FZ_TRUNC_ATTRS, FZ_SHORT_SEND, FZ_NO_REQUEST, FZ_DUMP_FLAG,
	FZ_ATTR_VALID, FZ_ATTR_WRONG_LEN, FZ_ATTR_RANDOM, FZ_ATTR_OUTPUT_ONLY,
	FZ_ATTR_NESTED, FZ_ATTR_BAD_FLAGS, FZ_ATTR_OVERSIZED, FZ_ATTR_DUP,
	FZ_ATTR_BAD_LEN, FZ_ATTR_DROPPED, FZ_REMAPPED,
	FZ_R_ACK, FZ_R_ERROR, FZ_R_DONE, FZ_R_APP, FZ_R_INFER, FZ_R_SILENT,
	FZ_R_STALE, FZ_R_BAD, FZ_NR,
};

static const char *const fz_names[FZ_NR] = {
	"sent", "valid_requests", "mutated_requests", "truncated_nlmsghdr",
	"truncated_genlmsghdr", "truncated_attrs", "short_send",
	"no_request_flag", "dump_flag",
	"attr_valid", "attr_wrong_len", "attr_random", "attr_output_only",
	"attr_nested", "attr_bad_flags", "attr_oversized", "attr_duplicated",
	"attr_bad_nla_len", "attr_missing", "appid_remapped",
	"reply_ack", "reply_error", "reply_done", "reply_get_app",
	"reply_infer", "no_reply", "reply_stale", "reply_BAD",
};

static unsigned long fz[FZ_NR];
static unsigned long fz_errno[256];

struct fuzz {
	struct nl nl;
	struct status before;
	bool privileged;
	int bad_printed;
};

static uint32_t pick_app(const struct fuzz *f)
{
	switch (below(5)) {
	case 0:
		return f->before.napps ? f->before.app[below(f->before.napps)].id : 1;
	case 1:
		return FUZZ_APP_BASE + below(FUZZ_APPS);
	case 2:
		return below(4);
	case 3:
		return 0xffffffffu - below(2);
	default:
		return f->before.napps ? f->before.app[0].id : 1;
	}
}

static uint32_t pick_len(void)
{
	static const uint32_t lens[] = { 0, 1, 2, 3, 4, 30, 1023, 1024, 1025,
					 0xffffffffu };

	return chance(80) ? lens[below(sizeof(lens) / sizeof(lens[0]))] :
			    (uint32_t)rnd();
}

static uint64_t pick_uuid(const struct fuzz *f)
{
	const struct app_info *a;

	if (chance(60) && f->before.napps) {
		a = &f->before.app[below(f->before.napps)];
		if (a->nslots)
			return a->uuid[below(a->nslots)];
	}
	return chance(50) ? below(30) : rnd();
}

/* A vector of n s64 for @app: small values, so snapshots answer. */
static void put_vector(struct nlmsghdr *nlh, size_t n)
{
	static int64_t v[LF_MAX_IO_LEN * 3];
	size_t i;

	if (n > sizeof(v) / sizeof(v[0]))
		n = sizeof(v) / sizeof(v[0]);
	for (i = 0; i < n; i++)
		v[i] = chance(90) ? (int64_t)below(2000) - 1000 : (int64_t)rnd();
	put_attr(nlh, LF_ATTR_VECTOR, v, n * sizeof(int64_t));
}

/* One well-formed attribute of a type userspace may send. */
static void put_valid_attr(struct fuzz *f, struct nlmsghdr *nlh, int type)
{
	char name[LF_NAME_LEN];
	size_t n;

	switch (type) {
	case LF_ATTR_APP_ID:
		put_u32(nlh, type, pick_app(f));
		break;
	case LF_ATTR_APP_NAME:
		n = 1 + below(LF_NAME_LEN - 1);
		rnd_bytes(name, n);
		name[n - 1] = '\0';
		put_attr(nlh, type, name, n);
		break;
	case LF_ATTR_INPUT_LEN:
	case LF_ATTR_OUTPUT_LEN:
		put_u32(nlh, type, pick_len());
		break;
	case LF_ATTR_UUID:
		put_u64(nlh, type, pick_uuid(f));
		break;
	case LF_ATTR_VECTOR: {
		const struct app_info *a = f->before.napps ?
			&f->before.app[below(f->before.napps)] : NULL;

		put_vector(nlh, a && chance(70) ? a->in : pick_len() % 1100);
		break;
	}
	case LF_ATTR_RECORDING:
		put_u8(nlh, type, chance(80) ? below(2) : rnd());
		break;
	default:
		put_u64(nlh, type, rnd());
		break;
	}
}

/* A complete request for @cmd, as lfnl would send it. */
static void put_valid_request(struct fuzz *f, struct nlmsghdr *nlh, int cmd)
{
	switch (cmd) {
	case LF_CMD_APP_CREATE:
		put_valid_attr(f, nlh, LF_ATTR_APP_ID);
		if (chance(70))
			put_valid_attr(f, nlh, LF_ATTR_APP_NAME);
		put_u32(nlh, LF_ATTR_INPUT_LEN, chance(70) ? 1 + below(8) : pick_len());
		put_u32(nlh, LF_ATTR_OUTPUT_LEN, chance(70) ? 1 + below(8) : pick_len());
		break;
	case LF_CMD_ACTIVATE:
		put_valid_attr(f, nlh, LF_ATTR_APP_ID);
		put_valid_attr(f, nlh, LF_ATTR_UUID);
		break;
	case LF_CMD_INFER:
		if (f->before.napps && chance(70)) {
			/* An app that exists, with its own input length. */
			const struct app_info *a =
				&f->before.app[below(f->before.napps)];

			put_u32(nlh, LF_ATTR_APP_ID, a->id);
			put_vector(nlh, a->in);
			break;
		}
		put_valid_attr(f, nlh, LF_ATTR_APP_ID);
		put_valid_attr(f, nlh, LF_ATTR_VECTOR);
		break;
	case LF_CMD_SET_RECORDING:
		put_valid_attr(f, nlh, LF_ATTR_APP_ID);
		put_valid_attr(f, nlh, LF_ATTR_RECORDING);
		break;
	case LF_CMD_GET_APP:
		break;
	default:
		put_valid_attr(f, nlh, LF_ATTR_APP_ID);
		break;
	}
}

/* One hostile attribute; returns the counter it belongs to. */
static enum fz_count put_fuzz_attr(struct fuzz *f, struct nlmsghdr *nlh)
{
	static uint8_t junk[24 * 1024];
	struct nlattr *nla;
	size_t n;
	int type = 1 + below(LF_ATTR_MAX + 3);

	switch (below(9)) {
	case 0:
		put_valid_attr(f, nlh, 1 + below(LF_ATTR_RECORDING));
		return FZ_ATTR_VALID;
	case 1:		/* a known type, any length */
		n = below(13);
		rnd_bytes(junk, n);
		put_attr(nlh, 1 + below(LF_ATTR_MAX), junk, n);
		return FZ_ATTR_WRONG_LEN;
	case 2:		/* any type, any payload */
		n = below(65);
		rnd_bytes(junk, n);
		put_attr(nlh, rnd() & 0xffff, junk, n);
		return FZ_ATTR_RANDOM;
	case 3:		/* output-only attributes, well-formed */
		put_u64(nlh, LF_ATTR_ACTIVE_SLOT + below(LF_ATTR_PAD - LF_ATTR_ACTIVE_SLOT + 1),
			rnd());
		return FZ_ATTR_OUTPUT_ONLY;
	case 4: {	/* nests, on nested and on scalar types */
		struct nlattr *outer;
		int i, k = below(4);

		outer = put_attr(nlh, type | NLA_F_NESTED, NULL, 0);
		if (!outer)
			return FZ_ATTR_NESTED;
		for (i = 0; i < k; i++) {
			n = below(20);
			rnd_bytes(junk, n);
			put_attr(nlh, below(LF_SLOT_ATTR_MAX + 2), junk, n);
		}
		outer->nla_len = (char *)nlh + nlh->nlmsg_len - (char *)outer;
		if (chance(20))	/* inner lengths past the nest */
			outer->nla_len -= 4 * below(3);
		return FZ_ATTR_NESTED;
	}
	case 5:		/* valid payload, odd flag bits */
		nla = put_attr(nlh, type, NULL, 0);
		if (nla) {
			nlh->nlmsg_len -= NLA_HDRLEN;
			put_valid_attr(f, nlh, type);
			nla->nla_type |= chance(50) ? NLA_F_NESTED :
						      NLA_F_NET_BYTEORDER;
		}
		return FZ_ATTR_BAD_FLAGS;
	case 6:		/* oversized: long vectors, names without NUL */
		if (chance(50)) {
			put_vector(nlh, LF_MAX_IO_LEN + 1 + below(2 * LF_MAX_IO_LEN));
		} else {
			n = LF_NAME_LEN + below(300);
			memset(junk, 'a' + below(26), n);
			put_attr(nlh, LF_ATTR_APP_NAME, junk, n);
		}
		return FZ_ATTR_OVERSIZED;
	case 7: {	/* duplicate the previous attribute */
		const struct nlattr *a, *last = NULL;
		int rem;

		for_each_attr(a, genl_attrs(nlh), genl_attrs_len(nlh), rem)
			last = a;
		if (last && (size_t)NLA_ALIGN(last->nla_len) <= msg_room(nlh)) {
			memcpy(junk, last, last->nla_len);
			put_attr(nlh, last->nla_type, junk + NLA_HDRLEN,
				 last->nla_len - NLA_HDRLEN);
		}
		return FZ_ATTR_DUP;
	}
	default:	/* an nla_len that lies */
		n = below(16);
		nla = put_attr(nlh, type, junk, n);
		if (nla)
			nla->nla_len = chance(50) ? below(NLA_HDRLEN) :
				       nla->nla_len + 4 + below(64);
		return FZ_ATTR_BAD_LEN;
	}
}

/* Drop one well-formed attribute (a missing one), if there is any. */
static void drop_attr(struct nlmsghdr *nlh)
{
	const struct nlattr *a;
	int rem, k = 0, pick;
	char *p;

	for_each_attr(a, genl_attrs(nlh), genl_attrs_len(nlh), rem)
		k++;
	if (!k)
		return;
	pick = below(k);
	for_each_attr(a, genl_attrs(nlh), genl_attrs_len(nlh), rem) {
		if (pick--)
			continue;
		p = (char *)a;
		rem -= NLA_ALIGN(a->nla_len);
		memmove(p, p + NLA_ALIGN(a->nla_len), rem);
		nlh->nlmsg_len -= NLA_ALIGN(a->nla_len);
		return;
	}
}

static bool is_protected(const struct fuzz *f, uint32_t id)
{
	return find_app(&f->before, id) != NULL;
}

/*
 * Requests that change state must not name an app that existed before:
 * remap every APP_ID-typed attribute (any flags, any length >= 4).
 */
static void remap_apps(struct fuzz *f, struct nlmsghdr *nlh)
{
	struct nlattr *a;
	int rem;

	for_each_attr(a, genl_attrs(nlh), genl_attrs_len(nlh), rem) {
		uint32_t id;

		if ((a->nla_type & NLA_TYPE_MASK) != LF_ATTR_APP_ID ||
		    attr_len(a) < 4)
			continue;
		id = get_u32(a);
		if (!is_protected(f, id))
			continue;
		id = FUZZ_APP_BASE + id % FUZZ_APPS;
		memcpy((char *)a + NLA_HDRLEN, &id, sizeof(id));
		fz[FZ_REMAPPED]++;
	}
}

static void bad(struct fuzz *f, const struct nlmsghdr *req,
		const struct nlmsghdr *h, const char *why)
{
	fz[FZ_R_BAD]++;
	if (f->bad_printed++ >= 10)
		return;
	printf("BAD reply (%s): req len=%u type=%u flags=%#x cmd=%u; reply len=%u type=%u flags=%#x\n",
	       why, req->nlmsg_len, req->nlmsg_type, req->nlmsg_flags,
	       ((const struct genlmsghdr *)NLMSG_DATA(req))->cmd,
	       h->nlmsg_len, h->nlmsg_type, h->nlmsg_flags);
}

static bool errno_expected(int e)
{
	switch (e) {
	case EPERM: case ENOENT: case EEXIST: case EINVAL: case ERANGE:
	case ENODATA: case EOPNOTSUPP: case EMSGSIZE: case ESTALE: case EDOM:
	case ENODEV: case ENOMEM: case ENOBUFS:
		return true;
	}
	return false;
}

/* An answer's attributes: each known, of its exact size, each once. */
static bool check_attrs(const struct nlmsghdr *h, bool infer,
			const struct status *st)
{
	const struct nlattr *a, *s;
	uint32_t app = 0, seen = 0;
	int rem, srem, vec = -1;

	for_each_attr(a, genl_attrs(h), genl_attrs_len(h), rem) {
		int t = a->nla_type & NLA_TYPE_MASK, l = attr_len(a);

		if (t >= 32 || (t != LF_ATTR_SLOT && (seen & (1u << t))))
			return false;
		seen |= 1u << t;
		switch (t) {
		case LF_ATTR_APP_ID:
			if (l != 4)
				return false;
			app = get_u32(a);
			break;
		case LF_ATTR_INPUT_LEN: case LF_ATTR_OUTPUT_LEN:
			if (l != 4 || get_u32(a) < 1 || get_u32(a) > LF_MAX_IO_LEN)
				return false;
			break;
		case LF_ATTR_ACTIVE_SLOT:
			if (l != 4 || get_u32(a) > 1)
				return false;
			break;
		case LF_ATTR_UUID: case LF_ATTR_QUERIES: case LF_ATTR_NO_ACTIVE:
		case LF_ATTR_DROPPED:
			if (l != 8)
				return false;
			break;
		case LF_ATTR_RECORDING: case LF_ATTR_STAGING:
			if (l != 1 || *(const uint8_t *)attr_data(a) > 1)
				return false;
			break;
		case LF_ATTR_SHADOW:
			if (!(a->nla_type & NLA_F_NESTED))
				return false;
			for_each_attr(s, attr_data(a), l, srem)
				if (s->nla_type > LF_SHADOW_ATTR_MAX)
					return false;
			if (srem)
				return false;
			break;
		case LF_ATTR_APP_NAME:
			if (l < 1 || l > LF_NAME_LEN ||
			    ((const char *)attr_data(a))[l - 1])
				return false;
			break;
		case LF_ATTR_VECTOR:
			vec = l;
			break;
		case LF_ATTR_PAD:
			break;
		case LF_ATTR_SLOT:
			if (!(a->nla_type & NLA_F_NESTED))
				return false;
			for_each_attr(s, attr_data(a), l, srem)
				if ((s->nla_type & NLA_TYPE_MASK) > LF_SLOT_ATTR_MAX ||
				    ((s->nla_type & NLA_F_NESTED) &&
				     (s->nla_type & NLA_TYPE_MASK) != LF_SLOT_ATTR_COST))
					return false;
			if (srem)
				return false;
			break;
		case LF_ATTR_BUDGET:
			/* Five u64 limits (12 bytes each, or 16 with padding). */
			if (!(a->nla_type & NLA_F_NESTED) || l > 5 * 16)
				return false;
			for_each_attr(s, attr_data(a), l, srem)
				if ((s->nla_type & NLA_TYPE_MASK) > LF_COST_ATTR_MAX)
					return false;
			if (srem)
				return false;
			break;
		default:
			return false;
		}
	}
	if (rem)
		return false;
	if (infer) {
		const struct app_info *ai = find_app(st, app);

		return ai && (seen & (1u << LF_ATTR_UUID)) &&
		       vec == (int)(ai->out * sizeof(int64_t));
	}
	return (seen & (1u << LF_ATTR_APP_ID)) &&
	       (seen & (1u << LF_ATTR_INPUT_LEN)) && vec < 0;
}

/* Check one reply; returns true when it ends the request. */
static bool check_reply(struct fuzz *f, const struct nlmsghdr *req,
			const struct nlmsghdr *h, bool stale)
{
	bool request = req->nlmsg_flags & NLM_F_REQUEST;
	const struct genlmsghdr *g;
	int err;

	if (stale)
		fz[FZ_R_STALE]++;
	if (h->nlmsg_type == NLMSG_ERROR || h->nlmsg_type == NLMSG_DONE) {
		if (h->nlmsg_len < NLMSG_HDRLEN + sizeof(int)) {
			bad(f, req, h, "short error/done");
			return true;
		}
		err = *(const int *)NLMSG_DATA(h);
		if (err > 0 || (err && !errno_expected(-err))) {
			bad(f, req, h, "unexpected errno");
			printf("  errno %d\n", err);
			return true;
		}
		if (h->nlmsg_type == NLMSG_DONE && !f->privileged) {
			bad(f, req, h, "dump ran for an unprivileged user");
			return true;
		}
		if (!err && !f->privileged && request &&
		    h->nlmsg_type == NLMSG_ERROR) {
			bad(f, req, h, "unprivileged request succeeded");
			return true;
		}
		if (err)
			fz_errno[-err & 255]++;
		fz[h->nlmsg_type == NLMSG_DONE ? FZ_R_DONE :
		   err ? FZ_R_ERROR : FZ_R_ACK]++;
		return true;
	}
	if (h->nlmsg_type != f->nl.family ||
	    h->nlmsg_len < NLMSG_HDRLEN + GENL_HDRLEN) {
		bad(f, req, h, "unknown message type");
		return true;
	}
	if (!f->privileged) {
		bad(f, req, h, "answer to an unprivileged user");
		return false;
	}
	g = NLMSG_DATA(h);
	if (g->cmd == LF_CMD_GET_APP && (h->nlmsg_flags & NLM_F_MULTI)) {
		if (!check_attrs(h, false, &f->before))
			bad(f, req, h, "malformed GET_APP");
		fz[FZ_R_APP]++;
	} else if (g->cmd == LF_CMD_INFER) {
		if (!check_attrs(h, true, &f->before))
			bad(f, req, h, "malformed INFER answer");
		fz[FZ_R_INFER]++;
	} else {
		bad(f, req, h, "unexpected command in answer");
	}
	return false;
}

/*
 * Read replies until the one that ends @req (seq @seq). When the kernel
 * drops @req silently (bad framing), a CTRL_CMD_GETFAMILY sent after it
 * marks the end: whatever came for @seq before its answer is checked.
 */
static void read_replies(struct fuzz *f, const struct nlmsghdr *req,
			 uint32_t seq, bool silent)
{
	uint32_t want = seq, got_req = 0;
	char ping[128];

	if (silent) {
		struct nlmsghdr *p = msg_init(ping, GENL_ID_CTRL,
					      NLM_F_REQUEST | NLM_F_ACK,
					      CTRL_CMD_GETFAMILY, 1);

		put_attr(p, CTRL_ATTR_FAMILY_NAME, LF_GENL_NAME,
			 sizeof(LF_GENL_NAME));
		want = p->nlmsg_seq = ++f->nl.seq;
		if (nl_send(&f->nl, p, p->nlmsg_len))
			die("sendto ping");
	}
	for (;;) {
		ssize_t n = recv(f->nl.fd, f->nl.rx, sizeof(f->nl.rx), 0);
		struct nlmsghdr *h;

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == ENOBUFS) {	/* an ack the kernel lost */
				fz_errno[ENOBUFS]++;
				fz[FZ_R_ERROR]++;
				return;
			}
			die("recv");
		}
		for (h = (struct nlmsghdr *)f->nl.rx; NLMSG_OK(h, n);
		     h = NLMSG_NEXT(h, n)) {
			if (silent && h->nlmsg_seq == want) {
				if (h->nlmsg_type == NLMSG_ERROR ||
				    h->nlmsg_type == NLMSG_DONE) {
					if (!got_req)
						fz[FZ_R_SILENT]++;
					return;
				}
				continue;	/* the family answer */
			}
			if (h->nlmsg_seq != seq) {
				check_reply(f, req, h, true);
				continue;
			}
			got_req = 1;
			if (check_reply(f, req, h, false) && !silent)
				return;
		}
	}
}

static const uint16_t fz_flags[] = {
	NLM_F_ECHO, NLM_F_ROOT, NLM_F_MATCH, NLM_F_ATOMIC, NLM_F_REPLACE,
	NLM_F_EXCL, NLM_F_CREATE, NLM_F_APPEND, NLM_F_NONREC,
};

static void fuzz_one(struct fuzz *f)
{
	uint16_t flags = NLM_F_REQUEST | NLM_F_ACK;
	int cmd = below(LF_CMD_MAX + 3), i, k;
	uint8_t version = chance(90) ? LF_GENL_VERSION : rnd();
	struct nlmsghdr *nlh;
	size_t send_len;
	bool silent = false;

	if (chance(15)) {
		flags |= NLM_F_DUMP;
		fz[FZ_DUMP_FLAG]++;
	}
	if (chance(10))
		flags |= fz_flags[below(sizeof(fz_flags) / sizeof(fz_flags[0]))];
	if (chance(3)) {
		flags &= ~NLM_F_REQUEST;
		fz[FZ_NO_REQUEST]++;
	}
	nlh = msg_init(txbuf, f->nl.family, flags, cmd, version);

	if (chance(35)) {
		fz[FZ_VALID_REQ]++;
		put_valid_request(f, nlh, cmd);
		if (chance(40)) {
			fz[FZ_MUTATED]++;
			if (chance(50)) {
				drop_attr(nlh);
				fz[FZ_ATTR_DROPPED]++;
			} else {
				fz[put_fuzz_attr(f, nlh)]++;
			}
		}
	} else {
		k = below(8);
		for (i = 0; i < k; i++)
			fz[put_fuzz_attr(f, nlh)]++;
		if (chance(30)) {
			drop_attr(nlh);
			fz[FZ_ATTR_DROPPED]++;
		}
	}
	if (cmd != LF_CMD_INFER && cmd != LF_CMD_GET_APP)
		remap_apps(f, nlh);

	/* Framing: truncated headers or attributes, short sends. */
	send_len = nlh->nlmsg_len;
	switch (below(20)) {
	case 0:		/* nlmsg_len below the netlink header: dropped */
		nlh->nlmsg_len = below(NLMSG_HDRLEN);
		silent = true;
		fz[FZ_TRUNC_NLHDR]++;
		break;
	case 1:		/* genetlink header cut */
		nlh->nlmsg_len = NLMSG_HDRLEN + below(GENL_HDRLEN);
		/* (Bytes past nlmsg_len would be parsed as more messages.) */
		send_len = nlh->nlmsg_len;
		fz[FZ_TRUNC_GENLHDR]++;
		break;
	case 2:		/* attributes cut anywhere */
		if (nlh->nlmsg_len > NLMSG_HDRLEN + GENL_HDRLEN)
			nlh->nlmsg_len -= 1 + below(nlh->nlmsg_len -
						    NLMSG_HDRLEN - GENL_HDRLEN);
		send_len = nlh->nlmsg_len;
		fz[FZ_TRUNC_ATTRS]++;
		break;
	case 3:		/* fewer bytes sent than nlmsg_len: dropped */
		send_len = below(nlh->nlmsg_len);
		silent = true;
		fz[FZ_SHORT_SEND]++;
		break;
	}
	/* The kernel drops what it cannot frame, without a reply. */
	if (send_len < NLMSG_HDRLEN || nlh->nlmsg_len < NLMSG_HDRLEN ||
	    nlh->nlmsg_len > send_len)
		silent = true;
	nlh->nlmsg_seq = ++f->nl.seq;
	fz[FZ_SENT]++;
	if (getenv("LFDBG_TRACE"))
		fprintf(stderr, "trace seq=%u cmd=%d flags=%#x len=%u send=%zu silent=%d\n",
			nlh->nlmsg_seq, cmd, flags, nlh->nlmsg_len, send_len,
			silent);
	if (nl_send(&f->nl, nlh, send_len)) {
		/* Refused by the socket layer itself (e.g. zero length). */
		fz_errno[errno & 255]++;
		fz[FZ_R_ERROR]++;
		return;
	}
	read_replies(f, nlh, nlh->nlmsg_seq, silent);
}

static int cmd_fuzz(uint64_t seed, unsigned long n, long uid)
{
	static struct fuzz f;
	static struct status after;
	unsigned long i;
	int j, leftover = 0;

	rng_state = seed * 0x9E3779B97F4A7C15ULL + 1;
	nl_open(&f.nl);
	f.privileged = true;
	if (get_status(&f.nl, &f.before))
		die("status");
	if (uid >= 0) {
		/* netlink checks the socket opener's credentials too. */
		close(f.nl.fd);
		if (setgroups(0, NULL) || setgid(uid) || setuid(uid))
			die("dropping privileges");
		f.privileged = false;
		nl_open(&f.nl);
	}
	for (i = 0; i < n; i++)
		fuzz_one(&f);

	if (f.privileged) {
		/* Destroy what the fuzz created: apps that were not there. */
		if (get_status(&f.nl, &after))
			die("status after");
		for (j = 0; j < after.napps; j++) {
			if (is_protected(&f, after.app[j].id))
				continue;
			leftover++;
			if (simple_cmd(&f.nl, LF_CMD_APP_DESTROY, after.app[j].id))
				fz[FZ_R_BAD]++;
		}
	}
	printf("fuzz seed=%" PRIu64 " uid=%ld fuzz_apps_destroyed=%d", seed,
	       uid, leftover);
	for (j = 0; j < FZ_NR; j++)
		printf(" %s=%lu", fz_names[j], fz[j]);
	printf("\nerrnos:");
	for (j = 0; j < 256; j++)
		if (fz_errno[j])
			printf(" %s=%lu", strerror(j), fz_errno[j]);
	printf("\n");
	return fz[FZ_R_BAD] ? 1 : 0;
}

/* ---- fault injection --------------------------------------------------------- */

static int fail_fd = -1;

static void fail_nth_set(unsigned int n)
{
	char buf[16];
	int len = snprintf(buf, sizeof(buf), "%u", n);

	if (pwrite(fail_fd, buf, len, 0) != len)
		die("write fail-nth");
}

/* Whether the armed fault has fired; disarms it. */
static bool fail_nth_fired(void)
{
	char buf[16] = "";

	if (pread(fail_fd, buf, sizeof(buf) - 1, 0) < 0)
		die("read fail-nth");
	if (atoi(buf) == 0)
		return true;
	fail_nth_set(0);
	return false;
}

struct fault {
	struct nl nl;
	struct status pre, post, now;
	const char *op;
	unsigned long points, errors, absorbed, violations;
};

static void fault_violation(struct fault *ft, unsigned int n, int ret,
			    const char *why)
{
	ft->violations++;
	printf("VIOLATION %s n=%u ret=%d: %s\nwant:\n%sgot:\n%s", ft->op, n,
	       ret, why, ft->pre.text, ft->now.text);
}

static bool same(const struct status *a, const struct status *b)
{
	return a->len == b->len && !memcmp(a->text, b->text, a->len);
}

typedef int (*fault_op)(struct fault *ft, void *arg);
typedef void (*fault_undo)(struct fault *ft, void *arg);

/* How one run at fail-nth n went (fault_at). */
enum fault_result { FAULT_FIRED, FAULT_END, FAULT_ABORT };

/*
 * One run of @op with its n-th fault-injectable allocation failing, and
 * the checks of the file comment. FAULT_END: the run did not reach an
 * n-th allocation (it must have succeeded; it is undone).
 */
static enum fault_result fault_at(struct fault *ft, fault_op op,
				  fault_undo undo, void *arg, unsigned int n)
{
	bool fired;
	int ret;

	fail_nth_set(n);
	ret = op(ft, arg);
	fired = fail_nth_fired();
	if (get_status(&ft->nl, &ft->now))
		die("status");
	if (!fired) {
		if (ret || !same(&ft->now, &ft->post))
			fault_violation(ft, n, ret,
					"the run without a fault did not succeed");
		else
			undo(ft, arg);
		return FAULT_END;
	}
	ft->points++;
	if (ret == -ENOBUFS && same(&ft->now, &ft->post)) {
		/* Done, but the kernel could not allocate the ack. */
		ft->absorbed++;
		undo(ft, arg);
	} else if (ret) {
		ft->errors++;
		if (!same(&ft->now, &ft->pre))
			fault_violation(ft, n, ret,
					"failed but changed the state");
	} else {
		ft->absorbed++;
		if (!same(&ft->now, &ft->post))
			fault_violation(ft, n, ret,
					"succeeded with another state");
		undo(ft, arg);
	}
	if (get_status(&ft->nl, &ft->now) || !same(&ft->now, &ft->pre)) {
		fault_violation(ft, n, ret, "state not restored after the run");
		return FAULT_ABORT;
	}
	return FAULT_FIRED;
}

/*
 * The loop of the file comment. @op runs with the fault armed (and must
 * make no other system call before the one under test); @undo brings the
 * state from post back to pre. With @stride > 1 only n = 1, 1 + stride,
 * ... are tried until the end, then every n of the last @stride + @tail
 * before it that was not tried yet.
 */
static int fault_loop(struct fault *ft, fault_op op, fault_undo undo,
		      void *arg, unsigned int stride, unsigned int tail)
{
	enum fault_result res = FAULT_FIRED;
	unsigned int n, end, from;

	if (get_status(&ft->nl, &ft->pre))
		die("status");
	/* The state a successful run leaves, then back. */
	if (op(ft, arg)) {
		printf("%s: fails without fault injection\n", ft->op);
		return 1;
	}
	if (get_status(&ft->nl, &ft->post))
		die("status");
	undo(ft, arg);
	if (get_status(&ft->nl, &ft->now) || !same(&ft->now, &ft->pre)) {
		fault_violation(ft, 0, 0, "undo does not restore the state");
		return 1;
	}

	for (n = 1; n < 100000; n += stride) {
		res = fault_at(ft, op, undo, arg, n);
		if (res != FAULT_FIRED)
			break;
	}
	if (res == FAULT_ABORT)
		return 1;
	end = n;
	from = end > stride + tail ? end - stride - tail : 1;
	for (n = from; stride > 1 && n < end; n++) {
		if ((n - 1) % stride == 0)
			continue;	/* tried above */
		res = fault_at(ft, op, undo, arg, n);
		if (res == FAULT_ABORT)
			return 1;
		if (res == FAULT_END)
			break;
	}
	printf("fault %s points=%lu errors=%lu absorbed=%lu violations=%lu stride=%u tail=%u\n",
	       ft->op, ft->points, ft->errors, ft->absorbed, ft->violations,
	       stride, stride > 1 ? tail : 0);
	return ft->violations ? 1 : 0;
}

struct create_arg {
	uint32_t app, in, out;
};

static int op_create(struct fault *ft, void *arg)
{
	struct create_arg *c = arg;

	return app_create(&ft->nl, c->app, "fault", c->in, c->out);
}

static void undo_create(struct fault *ft, void *arg)
{
	struct create_arg *c = arg;

	simple_cmd(&ft->nl, LF_CMD_APP_DESTROY, c->app);
}

static int op_recon(struct fault *ft, void *arg)
{
	return set_recording(&ft->nl, *(uint32_t *)arg, 1);
}

static void undo_recon(struct fault *ft, void *arg)
{
	set_recording(&ft->nl, *(uint32_t *)arg, 0);
}

static int op_recoff(struct fault *ft, void *arg)
{
	return set_recording(&ft->nl, *(uint32_t *)arg, 0);
}

static void undo_recoff(struct fault *ft, void *arg)
{
	set_recording(&ft->nl, *(uint32_t *)arg, 1);
	usleep(150 * 1000);	/* let records gather for the next "off" */
}

struct register_arg {
	int fd;
	char name[64];
	uint32_t app;
	bool app_existed;
	struct app_info before;
	char app_name[LF_NAME_LEN];
};

static int op_register(struct fault *ft, void *arg)
{
	struct register_arg *r = arg;

	(void)ft;
	return syscall(SYS_finit_module, r->fd, "", 0) ? -errno : 0;
}

/* Unload the snapshot; put the app back as it was (slot 0 at most). */
static void undo_register(struct fault *ft, void *arg)
{
	struct register_arg *r = arg;

	simple_cmd(&ft->nl, LF_CMD_APP_DESTROY, r->app);
	if (syscall(SYS_delete_module, r->name, O_NONBLOCK))
		printf("delete_module %s: %s\n", r->name, strerror(errno));
	if (!r->app_existed)
		return;
	app_create(&ft->nl, r->app, r->app_name, r->before.in, r->before.out);
	if (r->before.nslots)
		activate(&ft->nl, r->app, r->before.uuid[0]);
}

static void name_cb(const struct nlmsghdr *nlh, void *arg)
{
	struct register_arg *r = arg;
	const struct nlattr *a;
	int rem;
	uint32_t id = UINT32_MAX;

	for_each_attr(a, genl_attrs(nlh), genl_attrs_len(nlh), rem) {
		if (a->nla_type == LF_ATTR_APP_ID)
			id = get_u32(a);
		if (a->nla_type == LF_ATTR_APP_NAME && id == r->app)
			snprintf(r->app_name, sizeof(r->app_name), "%.*s",
				 attr_len(a), (const char *)attr_data(a));
	}
}

static int cmd_fault(int argc, char **argv)
{
	static struct fault ft;
	static struct create_arg c;
	static struct register_arg r;
	unsigned int stride = 1, tail = 64;
	uint32_t app;

	if (argc >= 3 && !strcmp(argv[0], "--stride")) {
		stride = strtoul(argv[1], NULL, 0);
		stride = stride ? stride : 1;
		argc -= 2;
		argv += 2;
	}
	fail_fd = open("/proc/thread-self/fail-nth", O_RDWR);
	if (fail_fd < 0)
		die("/proc/thread-self/fail-nth (no CONFIG_FAULT_INJECTION?)");
	nl_open(&ft.nl);
	ft.op = argv[0];
	if (!strcmp(argv[0], "create") && argc == 4) {
		c.app = strtoul(argv[1], NULL, 0);
		c.in = strtoul(argv[2], NULL, 0);
		c.out = strtoul(argv[3], NULL, 0);
		return fault_loop(&ft, op_create, undo_create, &c, stride, tail);
	}
	if (!strcmp(argv[0], "recon") && argc == 2) {
		app = strtoul(argv[1], NULL, 0);
		return fault_loop(&ft, op_recon, undo_recon, &app, stride, tail);
	}
	if (!strcmp(argv[0], "recoff") && argc == 2) {
		static struct nl listener;
		int grp;

		app = strtoul(argv[1], NULL, 0);
		nl_open(&listener);
		grp = listener.mcgrp_records;
		if (setsockopt(listener.fd, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP,
			       &grp, sizeof(grp)))
			die("join records");
		undo_recoff(&ft, &app);
		return fault_loop(&ft, op_recoff, undo_recoff, &app, stride, tail);
	}
	if (!strcmp(argv[0], "register") && argc == 3) {
		const struct app_info *ai;
		const char *base = strrchr(argv[1], '/');

		r.fd = open(argv[1], O_RDONLY | O_CLOEXEC);
		if (r.fd < 0)
			die("%s", argv[1]);
		snprintf(r.name, sizeof(r.name), "%s", base ? base + 1 : argv[1]);
		if (strstr(r.name, ".ko"))
			*strstr(r.name, ".ko") = '\0';
		r.app = strtoul(argv[2], NULL, 0);
		if (get_status(&ft.nl, &ft.pre))
			die("status");
		ai = find_app(&ft.pre, r.app);
		if (ai) {
			struct nlmsghdr *nlh;

			if (ai->nslots > 1) {
				printf("register: app %u must have one slot at most\n", r.app);
				return 1;
			}
			r.app_existed = true;
			r.before = *ai;
			nlh = msg_init(txbuf, ft.nl.family,
				       NLM_F_REQUEST | NLM_F_DUMP,
				       LF_CMD_GET_APP, LF_GENL_VERSION);
			transact(&ft.nl, nlh, name_cb, &r);
		}
		return fault_loop(&ft, op_register, undo_register, &r, stride, tail);
	}
	fprintf(stderr, "usage: see the comment at the top of lfdbg.c\n");
	return 2;
}

static int cmd_listen(const char *stopfile)
{
	static struct nl nl;
	unsigned long msgs = 0;
	int grp;

	nl_open(&nl);
	grp = nl.mcgrp_records;
	if (setsockopt(nl.fd, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &grp,
		       sizeof(grp)))
		die("join records");
	while (access(stopfile, F_OK)) {
		struct pollfd p = { .fd = nl.fd, .events = POLLIN };

		if (poll(&p, 1, 200) > 0 &&
		    recv(nl.fd, nl.rx, sizeof(nl.rx), 0) > 0)
			msgs++;
	}
	printf("listen messages=%lu\n", msgs);
	return 0;
}

int main(int argc, char **argv)
{
	static struct nl nl;
	static struct status st;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc >= 4 && !strcmp(argv[1], "fuzz"))
		return cmd_fuzz(strtoull(argv[2], NULL, 0),
				strtoul(argv[3], NULL, 0),
				argc > 4 ? strtol(argv[4], NULL, 0) : -1);
	if (argc == 2 && !strcmp(argv[1], "status")) {
		nl_open(&nl);
		if (get_status(&nl, &st))
			die("status");
		fputs(st.text, stdout);
		return 0;
	}
	if (argc == 3 && !strcmp(argv[1], "listen"))
		return cmd_listen(argv[2]);
	if (argc >= 3 && !strcmp(argv[1], "fault"))
		return cmd_fault(argc - 2, argv + 2);
	fprintf(stderr, "usage: see the comment at the top of lfdbg.c\n");
	return 2;
}
