// SPDX-License-Identifier: GPL-2.0
/*
 * lf_bulk - one bulk TCP transfer with a chosen congestion control, for
 * the QEMU checks of lf_tcp. Static, no libraries.
 *
 *	lf_bulk recv PORT
 *		accept one connection, read to EOF, send back the byte count
 *		(8 bytes, little endian), print "recv bytes=N"
 *	lf_bulk send HOST PORT BYTES CC
 *		connect with TCP_CONGESTION=CC (set before connect and read
 *		back), write BYTES, shut down the sending side, read the
 *		receiver's count. Prints "send bytes=N counted=M secs=T cc=CC
 *		..." with TCP_INFO figures; exits 0 only if M == N == BYTES.
 *	lf_bulk send HOST PORT BYTES CC STOPFILE
 *		the same, but stops writing early once STOPFILE exists
 *		(looked for before every 64 KiB write) and then ends like a
 *		full transfer; the line ends with "stopped=early" or
 *		"stopped=no"; exits 0 only if M == N and N > 0.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <linux/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static char buf[64 * 1024];

static void die(const char *what)
{
	fprintf(stderr, "lf_bulk: %s: %s\n", what, strerror(errno));
	exit(1);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int cmd_recv(int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_port = htons(port) };
	uint64_t total = 0;
	int one = 1, ls, s;
	ssize_t n;

	ls = socket(AF_INET, SOCK_STREAM, 0);
	if (ls < 0)
		die("socket");
	setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(ls, (struct sockaddr *)&a, sizeof(a)) || listen(ls, 1))
		die("bind/listen");
	s = accept(ls, NULL, NULL);
	if (s < 0)
		die("accept");
	while ((n = read(s, buf, sizeof(buf))) > 0)
		total += n;
	if (n < 0)
		die("read");
	if (write(s, &total, sizeof(total)) != sizeof(total))
		die("write count");
	printf("recv bytes=%" PRIu64 "\n", total);
	close(s);
	close(ls);
	return 0;
}

static int cmd_send(const char *host, int port, uint64_t bytes,
		    const char *cc, const char *stop)
{
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_port = htons(port) };
	uint64_t sent = 0, counted = 0;
	struct tcp_info ti;
	socklen_t len;
	char got[32] = "";
	double start;
	int s, tries, early = 0;

	if (inet_pton(AF_INET, host, &a.sin_addr) != 1)
		die("address");
	for (tries = 0;; tries++) {
		s = socket(AF_INET, SOCK_STREAM, 0);
		if (s < 0)
			die("socket");
		if (setsockopt(s, IPPROTO_TCP, TCP_CONGESTION, cc, strlen(cc)))
			die("TCP_CONGESTION");
		if (!connect(s, (struct sockaddr *)&a, sizeof(a)))
			break;
		if (tries == 50)
			die("connect");
		close(s);
		usleep(100 * 1000);	/* receiver not listening yet */
	}
	len = sizeof(got) - 1;
	if (getsockopt(s, IPPROTO_TCP, TCP_CONGESTION, got, &len))
		die("getsockopt TCP_CONGESTION");
	got[len] = '\0';

	memset(buf, 0x5a, sizeof(buf));
	start = now_s();
	while (sent < bytes) {
		size_t chunk = bytes - sent < sizeof(buf) ? bytes - sent :
							    sizeof(buf);
		ssize_t n;

		if (stop && !access(stop, F_OK)) {
			early = 1;
			break;
		}
		n = write(s, buf, chunk);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			die("write");
		}
		sent += n;
	}
	if (shutdown(s, SHUT_WR))
		die("shutdown");
	len = sizeof(ti);
	memset(&ti, 0, sizeof(ti));
	getsockopt(s, IPPROTO_TCP, TCP_INFO, &ti, &len);
	if (read(s, &counted, sizeof(counted)) != sizeof(counted))
		die("read count");
	printf("send bytes=%" PRIu64 " counted=%" PRIu64 " secs=%.2f cc=%s rtt_us=%u min_rtt_us=%u cwnd=%u pacing_rate=%llu delivery_rate=%llu retrans=%u%s\n",
	       sent, counted, now_s() - start, got[0] ? got : "?",
	       ti.tcpi_rtt, ti.tcpi_min_rtt, ti.tcpi_snd_cwnd,
	       (unsigned long long)ti.tcpi_pacing_rate,
	       (unsigned long long)ti.tcpi_delivery_rate, ti.tcpi_total_retrans,
	       !stop ? "" : early ? " stopped=early" : " stopped=no");
	close(s);
	if (stop)
		return !(sent > 0 && counted == sent && !strcmp(got, cc));
	return !(sent == bytes && counted == bytes && !strcmp(got, cc));
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 3 && !strcmp(argv[1], "recv"))
		return cmd_recv(atoi(argv[2]));
	if ((argc == 6 || argc == 7) && !strcmp(argv[1], "send"))
		return cmd_send(argv[2], atoi(argv[3]),
				strtoull(argv[4], NULL, 0), argv[5],
				argc == 7 ? argv[6] : NULL);
	fprintf(stderr, "usage: see the comment at the top of the source\n");
	return 2;
}
