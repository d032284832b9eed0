/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * bench_connrate: TCP load generator for bench/bench_dataplane.sh.
 *
 *   bench_connrate server [--ready FILE] [--bulk PORT] PORT...
 *       on each PORT: accept and close at once (the server closes first, so
 *       TIME_WAIT stays on the server side and the client's ephemeral ports
 *       recycle); on the --bulk port: a sink for "bulk" (below). Runs until
 *       killed.
 *   bench_connrate connect DST PORT SECONDS PARALLEL
 *       new TCP connections per second: PARALLEL non-blocking connects in
 *       flight; a connection counts once the handshake completed and the
 *       server's FIN came back; the client then closes. Prints
 *       "conns N seconds T rate R failed F".
 *   bench_connrate bulk DST PORT SECONDS
 *       one TCP stream, 256 KiB writes for SECONDS; the server counts the
 *       bytes and returns the total; prints "bytes N seconds T gbps G"
 *       (the iperf3 fallback).
 *
 * Every socket lives in the network namespace the process runs in (the
 * script uses ip netns exec). Not a test; prints figures only.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_LISTEN 8
#define BULK_BUF (256 * 1024)

static double wall(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int parse_port(const char *s)
{
	char *end;
	long v = strtol(s, &end, 10);

	if (*s == 0 || *end || v < 1 || v > 65535) {
		fprintf(stderr, "bad port: %s\n", s);
		exit(2);
	}
	return (int)v;
}

static struct sockaddr_in parse_dst(const char *ip, const char *port)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)parse_port(port))};

	if (inet_pton(AF_INET, ip, &a.sin_addr) != 1) {
		fprintf(stderr, "bad IPv4 address: %s\n", ip);
		exit(2);
	}
	return a;
}

/* Server: every fd in epoll carries a tag in the low bits of data.u64. */
enum { TAG_LISTEN = 1, TAG_CONN = 2, TAG_BULK_LISTEN = 3 };

struct bulk_conn {
	int fd;
	uint64_t bytes;
};

static int server(int argc, char **argv)
{
	int lfd[MAX_LISTEN], ltag[MAX_LISTEN], nl = 0, ep, one = 1, tag;
	const char *ready = NULL;
	static char buf[BULK_BUF];

	signal(SIGPIPE, SIG_IGN);
	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--ready") == 0 && i + 1 < argc) {
			ready = argv[++i];
			continue;
		}
		tag = TAG_LISTEN;
		if (strcmp(argv[i], "--bulk") == 0 && i + 1 < argc) {
			tag = TAG_BULK_LISTEN;
			i++;
		}
		if (nl == MAX_LISTEN) {
			fprintf(stderr, "too many ports\n");
			return 2;
		}
		struct sockaddr_in a = {.sin_family = AF_INET,
					.sin_port = htons((uint16_t)parse_port(argv[i]))};
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

		if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
		    bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 4096) < 0) {
			perror("listen");
			return 1;
		}
		ltag[nl] = tag;
		lfd[nl++] = fd;
	}
	if (nl == 0) {
		fprintf(stderr, "usage: bench_connrate server [--ready FILE] PORT...\n");
		return 2;
	}
	ep = epoll_create1(EPOLL_CLOEXEC);
	for (int i = 0; i < nl; i++) {
		struct epoll_event ev = {.events = EPOLLIN, .data.u64 = ((uint64_t)lfd[i] << 8) | (uint64_t)ltag[i]};

		epoll_ctl(ep, EPOLL_CTL_ADD, lfd[i], &ev);
	}
	if (ready) {
		FILE *f = fopen(ready, "we");

		if (f) {
			fprintf(f, "%d\n", (int)getpid());
			fclose(f);
		}
	}
	for (;;) {
		struct epoll_event evs[64];
		int n = epoll_wait(ep, evs, 64, -1);

		for (int i = 0; i < n; i++) {
			uint64_t d = evs[i].data.u64;

			if ((d & 0xff) == TAG_LISTEN || (d & 0xff) == TAG_BULK_LISTEN) {
				int fd = (int)(d >> 8);

				for (;;) {
					int c = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

					if (c < 0)
						break;
					if ((d & 0xff) == TAG_LISTEN) {
						close(c); /* connection-rate client */
						continue;
					}
					struct bulk_conn *b = calloc(1, sizeof(*b));

					if (!b) {
						close(c);
						continue;
					}
					b->fd = c;
					struct epoll_event ev = {.events = EPOLLIN,
								 .data.u64 = ((uint64_t)(uintptr_t)b << 8) | TAG_CONN};

					epoll_ctl(ep, EPOLL_CTL_ADD, c, &ev);
				}
			} else {
				struct bulk_conn *b = (struct bulk_conn *)(uintptr_t)(d >> 8);

				for (;;) {
					ssize_t r = recv(b->fd, buf, sizeof(buf), 0);

					if (r > 0) {
						b->bytes += (uint64_t)r;
						continue;
					}
					if (r < 0 && errno == EAGAIN)
						break;
					/* EOF: answer the count, then close */
					uint64_t be = b->bytes;
					int fl = fcntl(b->fd, F_GETFL);

					fcntl(b->fd, F_SETFL, fl & ~O_NONBLOCK);
					if (write(b->fd, &be, sizeof(be)) < 0)
						perror("write count");
					close(b->fd);
					free(b);
					break;
				}
			}
		}
	}
}

/* Connection rate client. */
static int connect_rate(int argc, char **argv)
{
	struct sockaddr_in dst;
	double secs, t0, t1, deadline;
	long par;
	uint64_t done = 0, failed = 0;
	int ep, inflight = 0;
	char buf[64];

	if (argc != 4) {
		fprintf(stderr, "usage: bench_connrate connect DST PORT SECONDS PARALLEL\n");
		return 2;
	}
	dst = parse_dst(argv[0], argv[1]);
	secs = atof(argv[2]);
	par = strtol(argv[3], NULL, 10);
	if (secs <= 0 || par < 1 || par > 10000) {
		fprintf(stderr, "bad SECONDS or PARALLEL\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	ep = epoll_create1(EPOLL_CLOEXEC);
	t0 = wall();
	deadline = t0 + secs;
	for (;;) {
		bool open_more = wall() < deadline;

		while (open_more && inflight < par) {
			int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
			struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP};

			if (fd < 0) {
				perror("socket");
				return 1;
			}
			if (connect(fd, (struct sockaddr *)&dst, sizeof(dst)) < 0 && errno != EINPROGRESS) {
				failed++;
				close(fd);
				continue;
			}
			ev.data.fd = fd;
			epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
			inflight++;
		}
		if (inflight == 0)
			break;

		struct epoll_event evs[256];
		int n = epoll_wait(ep, evs, 256, 1000);

		if (n == 0 && !open_more) {
			/* stragglers after the deadline: give up on them */
			failed += (uint64_t)inflight;
			break;
		}
		for (int i = 0; i < n; i++) {
			int fd = evs[i].data.fd, err = 0;
			socklen_t el = sizeof(err);

			getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el);
			if (err) {
				failed++;
			} else {
				/* EOF from the server after a completed handshake */
				ssize_t r = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);

				if (r == 0)
					done++;
				else if (r < 0 && errno == EAGAIN)
					continue; /* spurious; wait for the FIN */
				else
					failed++;
			}
			epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
			close(fd);
			inflight--;
		}
	}
	t1 = wall();
	/* Rate over the measured window: completions until the last one returned. */
	printf("conns %llu seconds %.3f rate %.0f failed %llu\n", (unsigned long long)done, t1 - t0,
	       (double)done / (t1 - t0), (unsigned long long)failed);
	return failed > done / 100 ? 1 : 0;
}

/* Bulk sender (iperf3 fallback). */
static int bulk(int argc, char **argv)
{
	struct sockaddr_in dst;
	double secs, t0, t1;
	static char buf[BULK_BUF];
	uint64_t sent = 0, got = 0;
	int fd;

	if (argc != 3) {
		fprintf(stderr, "usage: bench_connrate bulk DST PORT SECONDS\n");
		return 2;
	}
	dst = parse_dst(argv[0], argv[1]);
	secs = atof(argv[2]);
	signal(SIGPIPE, SIG_IGN);
	memset(buf, 0x5a, sizeof(buf));
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&dst, sizeof(dst)) < 0) {
		perror("connect");
		return 1;
	}
	t0 = wall();
	while (wall() - t0 < secs) {
		ssize_t w = write(fd, buf, sizeof(buf));

		if (w < 0) {
			perror("write");
			return 1;
		}
		sent += (uint64_t)w;
	}
	shutdown(fd, SHUT_WR);
	if (read(fd, &got, sizeof(got)) != (ssize_t)sizeof(got)) {
		fprintf(stderr, "no byte count from the server\n");
		return 1;
	}
	t1 = wall();
	close(fd);
	printf("bytes %llu seconds %.3f gbps %.3f sent %llu\n", (unsigned long long)got, t1 - t0,
	       (double)got * 8 / (t1 - t0) / 1e9, (unsigned long long)sent);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "server") == 0)
		return server(argc - 2, argv + 2);
	if (argc >= 2 && strcmp(argv[1], "connect") == 0)
		return connect_rate(argc - 2, argv + 2);
	if (argc >= 2 && strcmp(argv[1], "bulk") == 0)
		return bulk(argc - 2, argv + 2);
	fprintf(stderr, "usage: bench_connrate server|connect|bulk ... (see the source)\n");
	return 2;
}
