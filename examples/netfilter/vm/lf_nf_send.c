// SPDX-License-Identifier: GPL-2.0
/*
 * lf_nf_send: sends the packets of a feature file, for lf_nf's VM checks.
 *
 *   lf_nf_send IFNAME ROWS.csv COUNT [GAP]
 *
 * ROWS.csv holds lf_nf's eight features per line (header line skipped):
 * saddr_hi,saddr_lo,daddr_hi,daddr_lo,sport,dport,proto,len, integers.
 * Packet i (0 <= i < COUNT) is row i % rows, built exactly to those
 * values: an IPv4 header (no options, IP id i, TOS 0x20 -- lf_nf_probe's
 * mark -- a valid checksum) and a UDP header or a TCP SYN header with the
 * ports, zero payload up to total length len. It goes out of IFNAME as an
 * Ethernet broadcast through an AF_PACKET socket, so no routing, ARP or
 * local address is involved and the receiving side's IP layer takes it
 * (broadcast frames pass ip_rcv to PRE_ROUTING). After every GAP packets
 * (default 32) the sender sleeps 1 ms so that the receiver's backlog
 * (netdev_max_backlog) does not overflow. Prints "sent=N" and exits 0 when
 * every packet was sent; exits 1 with a message otherwise.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <netinet/ip.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_ROWS	65536
#define PKT_MAX		1500
#define PROBE_TOS	0x20

struct row {
	uint32_t saddr, daddr;
	uint16_t sport, dport, len;
	uint8_t proto;
};

static struct row rows[MAX_ROWS];

static int read_rows(const char *path)
{
	FILE *f = fopen(path, "r");
	char line[256];
	int n = 0;

	if (!f) {
		perror(path);
		exit(1);
	}
	while (fgets(line, sizeof(line), f)) {
		long v[8];
		struct row *r;

		if (sscanf(line, "%ld,%ld,%ld,%ld,%ld,%ld,%ld,%ld", &v[0], &v[1],
			   &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]) != 8)
			continue;	/* the header */
		if (n == MAX_ROWS) {
			fprintf(stderr, "%s: more than %d rows\n", path, MAX_ROWS);
			exit(1);
		}
		for (int i = 0; i < 6; i++) {
			if (v[i] < 0 || v[i] > 65535) {
				fprintf(stderr, "%s:%d: feature %d = %ld is not 16-bit\n",
					path, n + 2, i, v[i]);
				exit(1);
			}
		}
		if ((v[6] != IPPROTO_TCP && v[6] != IPPROTO_UDP) ||
		    v[7] < (v[6] == IPPROTO_TCP ? 40 : 28) || v[7] > PKT_MAX) {
			fprintf(stderr, "%s:%d: protocol %ld with length %ld cannot be built\n",
				path, n + 2, v[6], v[7]);
			exit(1);
		}
		r = &rows[n++];
		r->saddr = (uint32_t)v[0] << 16 | (uint32_t)v[1];
		r->daddr = (uint32_t)v[2] << 16 | (uint32_t)v[3];
		r->sport = v[4];
		r->dport = v[5];
		r->proto = v[6];
		r->len = v[7];
	}
	fclose(f);
	return n;
}

static uint16_t ip_checksum(const void *p, size_t len)
{
	const uint8_t *b = p;
	uint32_t sum = 0;

	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)b[i] << 8 | b[i + 1];
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return htons((uint16_t)~sum);
}

/* Builds packet @id from @r into @pkt; returns its length. */
static size_t build(uint8_t *pkt, const struct row *r, uint16_t id)
{
	struct iphdr *ip = (struct iphdr *)pkt;
	uint8_t *l4 = pkt + sizeof(*ip);

	memset(pkt, 0, r->len);
	ip->version = 4;
	ip->ihl = 5;
	ip->tos = PROBE_TOS;
	ip->tot_len = htons(r->len);
	ip->id = htons(id);
	ip->ttl = 64;
	ip->protocol = r->proto;
	ip->saddr = htonl(r->saddr);
	ip->daddr = htonl(r->daddr);
	ip->check = ip_checksum(ip, sizeof(*ip));
	/* UDP and TCP: source port, destination port first. */
	l4[0] = r->sport >> 8;
	l4[1] = r->sport & 0xff;
	l4[2] = r->dport >> 8;
	l4[3] = r->dport & 0xff;
	if (r->proto == IPPROTO_UDP) {
		uint16_t ulen = r->len - sizeof(*ip);

		l4[4] = ulen >> 8;	/* length; checksum 0: none */
		l4[5] = ulen & 0xff;
	} else {
		l4[12] = 5 << 4;	/* data offset: 5 words */
		l4[13] = 0x02;		/* SYN */
		l4[14] = 0xff;		/* window */
		l4[15] = 0xff;
	}
	return r->len;
}

int main(int argc, char **argv)
{
	struct sockaddr_ll to = { 0 };
	static uint8_t pkt[PKT_MAX];
	long count, gap = 32;
	int fd, nrows;

	if (argc < 4 || argc > 5) {
		fprintf(stderr, "usage: %s IFNAME ROWS.csv COUNT [GAP]\n", argv[0]);
		return 2;
	}
	nrows = read_rows(argv[2]);
	count = atol(argv[3]);
	if (argc == 5)
		gap = atol(argv[4]);
	if (nrows == 0 || count < 0 || count > 65536 || gap < 1) {
		fprintf(stderr, "%s: %d rows, count %ld (at most 65536 ids), gap %ld\n",
			argv[0], nrows, count, gap);
		return 1;
	}
	fd = socket(AF_PACKET, SOCK_DGRAM, htons(ETH_P_IP));
	if (fd < 0) {
		perror("socket(AF_PACKET)");
		return 1;
	}
	to.sll_family = AF_PACKET;
	to.sll_protocol = htons(ETH_P_IP);
	to.sll_ifindex = if_nametoindex(argv[1]);
	to.sll_halen = ETH_ALEN;
	memset(to.sll_addr, 0xff, ETH_ALEN);
	if (!to.sll_ifindex) {
		perror(argv[1]);
		return 1;
	}
	for (long i = 0; i < count; i++) {
		size_t len = build(pkt, &rows[i % nrows], (uint16_t)i);

		while (sendto(fd, pkt, len, 0, (struct sockaddr *)&to,
			      sizeof(to)) != (ssize_t)len) {
			if (errno != ENOBUFS && errno != EAGAIN) {
				fprintf(stderr, "packet %ld: sendto: %s\n", i,
					strerror(errno));
				return 1;
			}
			usleep(1000);
		}
		if ((i + 1) % gap == 0)
			usleep(1000);
	}
	printf("sent=%ld\n", count);
	return 0;
}
