/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * podserver: the workload of one test-world pod (tests/world). One process, one epoll loop,
 * both families: TCP accepts and answers one byte then closes, UDP echoes, and SCTP is stood in
 * for by a raw IPPROTO_SCTP socket that answers every INIT with an ABORT carrying the INIT's
 * initiate tag, because the test kernel has no SCTP stack. probe.c is the matching client.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sctp_wire.h"

#define MAX_PORTS 16
#define MAX_ENDPOINTS (MAX_PORTS * 4 + 3)
#define PKT_MAX 4096

enum endpoint_kind {
	EP_TCP,
	EP_UDP,
	EP_SCTP,
	EP_SIGNAL,
};

struct endpoint {
	enum endpoint_kind kind;
	int family;
	int fd;
};

struct server {
	uint16_t ports[MAX_PORTS];
	size_t n_ports;
	struct endpoint ep[MAX_ENDPOINTS];
	size_t n_ep;
	int epfd;
	FILE *log;
	bool stop;
};

static bool port_served(const struct server *s, uint16_t port)
{
	for (size_t i = 0; i < s->n_ports; i++)
		if (s->ports[i] == port)
			return true;
	return false;
}

static int parse_ports(const char *arg, struct server *s)
{
	const char *p = arg;

	s->n_ports = 0;
	for (;;) {
		char *end;
		unsigned long v;

		errno = 0;
		v = strtoul(p, &end, 10);
		if (errno || end == p || v == 0 || v > 65535 || s->n_ports >= MAX_PORTS)
			return -EINVAL;
		s->ports[s->n_ports++] = (uint16_t)v;
		if (*end == '\0')
			return 0;
		if (*end != ',')
			return -EINVAL;
		p = end + 1;
	}
}

static int add_endpoint(struct server *s, enum endpoint_kind kind, int family, int fd)
{
	struct epoll_event ev = { .events = EPOLLIN };
	struct endpoint *ep;

	if (s->n_ep >= MAX_ENDPOINTS) {
		close(fd);
		return -ENOSPC;
	}
	ep = &s->ep[s->n_ep++];
	ep->kind = kind;
	ep->family = family;
	ep->fd = fd;
	ev.data.ptr = ep;
	if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
		return -errno;
	return 0;
}

static int open_inet(struct server *s, int family, int type, uint16_t port)
{
	struct sockaddr_storage ss = { 0 };
	socklen_t len;
	int one = 1;
	int fd, r;

	fd = socket(family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (family == AF_INET6) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;

		/* One socket per family, so the v4 socket can bind the same port. */
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
		a->sin6_family = AF_INET6;
		a->sin6_port = htons(port);
		len = sizeof(*a);
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;

		a->sin_family = AF_INET;
		a->sin_port = htons(port);
		len = sizeof(*a);
	}
	if (bind(fd, (struct sockaddr *)&ss, len) < 0 ||
	    (type == SOCK_STREAM && listen(fd, 1024) < 0)) {
		r = -errno;
		close(fd);
		return r;
	}
	return add_endpoint(s, type == SOCK_STREAM ? EP_TCP : EP_UDP, family, fd);
}

static int open_sctp_raw(struct server *s, int family)
{
	int fd = socket(family, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_SCTP);

	if (fd < 0)
		return -errno;
	return add_endpoint(s, EP_SCTP, family, fd);
}

static void log_event(struct server *s, const char *proto, const struct sockaddr_storage *from,
		      uint16_t dport, uint32_t tag)
{
	char host[INET6_ADDRSTRLEN] = "?";

	if (!s->log)
		return;
	if (from->ss_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)from)->sin6_addr, host,
			  sizeof(host));
	else if (from->ss_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)from)->sin_addr, host,
			  sizeof(host));
	if (tag)
		fprintf(s->log, "%s %s %u %08x\n", proto, host, dport, tag);
	else
		fprintf(s->log, "%s %s %u\n", proto, host, dport);
	fflush(s->log);
}

static uint16_t local_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		return 0;
	if (ss.ss_family == AF_INET6)
		return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

static void on_tcp(struct server *s, struct endpoint *ep)
{
	for (;;) {
		struct sockaddr_storage from;
		socklen_t len = sizeof(from);
		int c = accept4(ep->fd, (struct sockaddr *)&from, &len,
				SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (c < 0)
			return;
		log_event(s, "tcp", &from, local_port(ep->fd), 0);
		/* Best effort: the client only needs the handshake; a lost byte is fine. */
		(void)!write(c, "x", 1);
		close(c);
	}
}

static void on_udp(struct server *s, struct endpoint *ep)
{
	uint8_t buf[PKT_MAX];

	for (;;) {
		struct sockaddr_storage from;
		socklen_t len = sizeof(from);
		ssize_t n = recvfrom(ep->fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &len);

		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return;
			continue; /* a queued ICMP error; the next datagram may be fine */
		}
		log_event(s, "udp", &from, local_port(ep->fd), 0);
		sendto(ep->fd, buf, (size_t)n, 0, (struct sockaddr *)&from, len);
	}
}

/*
 * Answer an SCTP INIT the way a stack would, as far as the probe needs: an ABORT whose
 * verification tag is the INIT's initiate tag (so conntrack sees a valid reply), with a
 * "User-Initiated Abort" cause when the port is served and none when it is not.
 */
static void on_sctp_packet(struct server *s, struct endpoint *ep, uint8_t *pkt, size_t len,
			   const struct sockaddr_storage *from, socklen_t from_len)
{
	uint8_t out[20];
	uint16_t sport, dport;
	uint32_t init_tag;
	size_t out_len;

	if (len < 12 + 20 || pkt[12] != SCTP_CHUNK_INIT || get32(pkt + 4) != 0)
		return;
	if (get16(pkt + 14) < 20 || !sctp_checksum_ok(pkt, len))
		return;
	sport = get16(pkt);
	dport = get16(pkt + 2);
	init_tag = get32(pkt + 16);
	if (init_tag == 0)
		return;
	log_event(s, "sctp", from, dport, init_tag);

	put16(out, dport);
	put16(out + 2, sport);
	put32(out + 4, init_tag);
	out[12] = SCTP_CHUNK_ABORT;
	out[13] = 0;
	if (port_served(s, dport)) {
		put16(out + 14, 8);
		put16(out + 16, SCTP_CAUSE_USER_ABORT);
		put16(out + 18, 4);
		out_len = 20;
	} else {
		put16(out + 14, 4);
		out_len = 16;
	}
	sctp_set_checksum(out, out_len);
	sendto(ep->fd, out, out_len, 0, (const struct sockaddr *)from, from_len);
}

static void on_sctp(struct server *s, struct endpoint *ep)
{
	uint8_t buf[PKT_MAX];

	for (;;) {
		struct sockaddr_storage from;
		socklen_t len = sizeof(from);
		ssize_t n = recvfrom(ep->fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &len);
		size_t off = 0;

		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return;
			continue;
		}
		if (ep->family == AF_INET) {
			/* IPv4 raw sockets see the IP header; IPv6 ones do not. */
			const struct iphdr *ip = (const struct iphdr *)buf;

			if ((size_t)n < sizeof(*ip) || (ntohs(ip->frag_off) & 0x3fff))
				continue;
			off = (size_t)ip->ihl * 4;
			if (off > (size_t)n)
				continue;
		}
		on_sctp_packet(s, ep, buf + off, (size_t)n - off, &from, len);
	}
}

static void on_signal(struct server *s, struct endpoint *ep)
{
	struct signalfd_siginfo si;

	while (read(ep->fd, &si, sizeof(si)) == sizeof(si))
		s->stop = true;
}

static int server_open(struct server *s)
{
	static const int families[] = { AF_INET, AF_INET6 };
	sigset_t mask;
	int fd, r;

	s->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (s->epfd < 0)
		return -errno;
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	if (fd < 0)
		return -errno;
	r = add_endpoint(s, EP_SIGNAL, 0, fd);
	if (r < 0)
		return r;
	for (size_t f = 0; f < 2; f++) {
		for (size_t i = 0; i < s->n_ports; i++) {
			r = open_inet(s, families[f], SOCK_STREAM, s->ports[i]);
			if (r < 0)
				return r;
			r = open_inet(s, families[f], SOCK_DGRAM, s->ports[i]);
			if (r < 0)
				return r;
		}
		r = open_sctp_raw(s, families[f]);
		if (r < 0)
			return r;
	}
	return 0;
}

static void server_run(struct server *s)
{
	struct epoll_event evs[32];

	while (!s->stop) {
		int n = epoll_wait(s->epfd, evs, 32, -1);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return;
		}
		for (int i = 0; i < n; i++) {
			struct endpoint *ep = evs[i].data.ptr;

			switch (ep->kind) {
			case EP_TCP:
				on_tcp(s, ep);
				break;
			case EP_UDP:
				on_udp(s, ep);
				break;
			case EP_SCTP:
				on_sctp(s, ep);
				break;
			case EP_SIGNAL:
				on_signal(s, ep);
				break;
			}
		}
	}
}

static int write_pidfile(const char *path)
{
	char buf[32];
	int fd, len;

	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	len = snprintf(buf, sizeof(buf), "%d\n", (int)getpid());
	if (write(fd, buf, (size_t)len) != len) {
		close(fd);
		return -EIO;
	}
	return close(fd) < 0 ? -errno : 0;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: podserver [--ports P,P...] [--pidfile FILE] [--log FILE] [--daemon]\n"
		   "Serves TCP (one byte then close), UDP (echo) and SCTP INIT -> ABORT on the\n"
		   "ports (default 80,81), IPv4 and IPv6. --daemon returns once every socket is\n"
		   "bound. --log appends 'PROTO SRC_IP DPORT' per connection and datagram and\n"
		   "'sctp SRC_IP DPORT INITIATE_TAG' per INIT.\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "ports", required_argument, NULL, 'p' },
		{ "pidfile", required_argument, NULL, 'P' },
		{ "log", required_argument, NULL, 'l' },
		{ "daemon", no_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct server s = { .ports = { 80, 81 }, .n_ports = 2, .epfd = -1 };
	const char *pidfile = NULL, *logfile = NULL;
	bool daemonize = false;
	int ready[2] = { -1, -1 };
	int c, r;

	while ((c = getopt_long(argc, argv, "p:P:l:dh", opts, NULL)) != -1) {
		switch (c) {
		case 'p':
			if (parse_ports(optarg, &s) < 0) {
				fprintf(stderr, "podserver: bad --ports '%s'\n", optarg);
				return 2;
			}
			break;
		case 'P':
			pidfile = optarg;
			break;
		case 'l':
			logfile = optarg;
			break;
		case 'd':
			daemonize = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}

	if (daemonize) {
		pid_t pid;
		char byte;

		if (pipe2(ready, O_CLOEXEC) < 0) {
			fprintf(stderr, "podserver: pipe: %s\n", strerror(errno));
			return 1;
		}
		pid = fork();
		if (pid < 0) {
			fprintf(stderr, "podserver: fork: %s\n", strerror(errno));
			return 1;
		}
		if (pid > 0) {
			/* The parent returns when the child is serving, or fails with it. */
			close(ready[1]);
			return read(ready[0], &byte, 1) == 1 ? 0 : 1;
		}
		close(ready[0]);
		setsid();
	}

	if (logfile) {
		s.log = fopen(logfile, "ae");
		if (!s.log) {
			fprintf(stderr, "podserver: %s: %s\n", logfile, strerror(errno));
			return 1;
		}
	}
	r = server_open(&s);
	if (r < 0) {
		fprintf(stderr, "podserver: setting up sockets: %s\n", strerror(-r));
		return 1;
	}
	if (pidfile) {
		r = write_pidfile(pidfile);
		if (r < 0) {
			fprintf(stderr, "podserver: %s: %s\n", pidfile, strerror(-r));
			return 1;
		}
	}
	if (daemonize) {
		int null = open("/dev/null", O_RDWR | O_CLOEXEC);

		if (null >= 0) {
			dup2(null, STDIN_FILENO);
			dup2(null, STDOUT_FILENO);
			dup2(null, STDERR_FILENO);
			close(null);
		}
		(void)!write(ready[1], "r", 1);
		close(ready[1]);
	}
	server_run(&s);
	if (pidfile)
		unlink(pidfile);
	for (size_t i = 0; i < s.n_ep; i++)
		close(s.ep[i].fd);
	close(s.epfd);
	if (s.log)
		fclose(s.log);
	return 0;
}
