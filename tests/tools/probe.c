/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * probe: checks a whole connectivity matrix at once. Each probe's socket is created inside its
 * source network namespace (setns, then back: a socket keeps the namespace it was made in), and
 * one epoll loop then drives every TCP connect, UDP echo and crafted SCTP INIT concurrently, so
 * a matrix costs about one timeout. The server side is podserver.c; see tests/world/README.md.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "sctp_wire.h"

#define PROBE_MAX 100000
#define NETNS_MAX 4096
#define LINE_MAX_LEN 1024
#define PKT_MAX 4096

enum probe_proto {
	P_TCP,
	P_UDP,
	P_SCTP,
};

enum probe_state {
	ST_QUEUED,   /* not started yet (concurrency limit) */
	ST_RUNNING,  /* a try is in flight */
	ST_RETRY,    /* a try failed, another one is due */
	ST_DONE,
};

struct probe {
	char *id;
	size_t ns;  /* index into struct run.netns */
	enum probe_proto proto;
	struct sockaddr_storage dst;
	socklen_t dst_len;
	uint16_t port;

	enum probe_state state;
	unsigned int tries;  /* tries started */
	int fd;
	int64_t deadline_ms;
	uint32_t nonce;      /* UDP payload and SCTP initiate tag */
	uint16_t sport;      /* SCTP source port */
	bool refused;        /* SCTP: a bare ABORT came back during this try */
	bool ok;
	char reason[32];
};

struct run {
	struct probe *p;
	size_t n, cap;
	char *netns[NETNS_MAX];
	int netns_fd[NETNS_MAX];
	size_t n_netns;
	int self_ns;
	ssize_t cur_ns;  /* -1: our own namespace */

	int epfd;
	unsigned int max_tries;
	int timeout_ms;
	size_t max_inflight;
	size_t inflight;
	size_t done;
};

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static uint32_t random_u32(void)
{
	uint32_t v;

	if (getrandom(&v, sizeof(v), 0) != sizeof(v))
		v = (uint32_t)now_ms() * 2654435761u ^ (uint32_t)getpid();
	return v;
}

static int parse_proto(const char *s, enum probe_proto *ret)
{
	if (strcasecmp(s, "tcp") == 0)
		*ret = P_TCP;
	else if (strcasecmp(s, "udp") == 0)
		*ret = P_UDP;
	else if (strcasecmp(s, "sctp") == 0)
		*ret = P_SCTP;
	else
		return -EINVAL;
	return 0;
}

static int parse_uint(const char *s, unsigned long min, unsigned long max, unsigned long *ret)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || *s == '-' || v < min || v > max)
		return -EINVAL;
	*ret = v;
	return 0;
}

/* Namespace names are opened once: "-" is our own, a name is /run/netns/NAME, or a path. */
static int netns_lookup(struct run *r, const char *name, size_t *ret)
{
	char path[PATH_MAX];
	int fd;

	for (size_t i = 0; i < r->n_netns; i++) {
		if (strcmp(r->netns[i], name) == 0) {
			*ret = i;
			return 0;
		}
	}
	if (r->n_netns >= NETNS_MAX)
		return -ENOSPC;
	if (strcmp(name, "-") == 0)
		fd = dup(r->self_ns);
	else if (name[0] == '/')
		fd = open(name, O_RDONLY | O_CLOEXEC);
	else if (strchr(name, '/') ||
		 snprintf(path, sizeof(path), "/run/netns/%s", name) >= (int)sizeof(path))
		return -EINVAL;
	else
		fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	r->netns[r->n_netns] = strdup(name);
	if (!r->netns[r->n_netns]) {
		close(fd);
		return -ENOMEM;
	}
	r->netns_fd[r->n_netns] = fd;
	*ret = r->n_netns++;
	return 0;
}

static int enter_ns(struct run *r, ssize_t ns)
{
	if (r->cur_ns == ns)
		return 0;
	if (setns(ns < 0 ? r->self_ns : r->netns_fd[ns], CLONE_NEWNET) < 0)
		return -errno;
	r->cur_ns = ns;
	return 0;
}

static int parse_addr(const char *s, uint16_t port, struct sockaddr_storage *ss, socklen_t *len)
{
	struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, s, &a4->sin_addr) == 1) {
		a4->sin_family = AF_INET;
		a4->sin_port = htons(port);
		*len = sizeof(*a4);
		return 0;
	}
	if (inet_pton(AF_INET6, s, &a6->sin6_addr) == 1) {
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons(port);
		*len = sizeof(*a6);
		return 0;
	}
	return -EINVAL;
}

/* One probe from its five fields; errors name the offending field. */
static int probe_add(struct run *r, char **f, const char *where)
{
	struct probe *p;
	unsigned long port;
	int e;

	if (r->n >= PROBE_MAX) {
		fprintf(stderr, "probe: %s: more than %d probes\n", where, PROBE_MAX);
		return -ENOSPC;
	}
	if (r->n == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 256;
		struct probe *np = realloc(r->p, cap * sizeof(*np));

		if (!np)
			return -ENOMEM;
		r->p = np;
		r->cap = cap;
	}
	p = &r->p[r->n];
	memset(p, 0, sizeof(*p));
	p->fd = -1;
	if (parse_uint(f[3], 1, 65535, &port) < 0) {
		fprintf(stderr, "probe: %s: bad port '%s'\n", where, f[3]);
		return -EINVAL;
	}
	p->port = (uint16_t)port;
	if (parse_proto(f[4], &p->proto) < 0) {
		fprintf(stderr, "probe: %s: bad protocol '%s' (tcp, udp, sctp)\n", where, f[4]);
		return -EINVAL;
	}
	if (parse_addr(f[2], p->port, &p->dst, &p->dst_len) < 0) {
		fprintf(stderr, "probe: %s: bad address '%s'\n", where, f[2]);
		return -EINVAL;
	}
	e = netns_lookup(r, f[1], &p->ns);
	if (e < 0) {
		fprintf(stderr, "probe: %s: netns '%s': %s\n", where, f[1], strerror(-e));
		return e;
	}
	p->id = strdup(f[0]);
	if (!p->id)
		return -ENOMEM;
	r->n++;
	return 0;
}

/* Split at blanks in place; returns the number of fields, at most max. */
static size_t split_fields(char *line, char **f, size_t max)
{
	size_t nf = 0;
	char *c = line;

	while (nf < max) {
		c += strspn(c, " \t\r\n");
		if (*c == '\0')
			break;
		f[nf++] = c;
		c += strcspn(c, " \t\r\n");
		if (*c == '\0')
			break;
		*c++ = '\0';
	}
	return nf;
}

static int read_input(struct run *r, FILE *in)
{
	char line[LINE_MAX_LEN];
	unsigned int lineno = 0;

	while (fgets(line, sizeof(line), in)) {
		char *f[6];
		char where[32];
		size_t nf = 0;
		int e;

		lineno++;
		if (!strchr(line, '\n') && !feof(in)) {
			fprintf(stderr, "probe: line %u: longer than %d bytes\n", lineno,
				LINE_MAX_LEN - 1);
			return -EINVAL;
		}
		nf = split_fields(line, f, 6);
		if (nf == 0 || f[0][0] == '#')
			continue;
		snprintf(where, sizeof(where), "line %u", lineno);
		if (nf != 5) {
			fprintf(stderr, "probe: %s: want 'ID NETNS DST_IP PORT PROTO'\n", where);
			return -EINVAL;
		}
		e = probe_add(r, f, where);
		if (e < 0)
			return e;
	}
	return 0;
}

static void finish(struct run *r, struct probe *p, bool ok, const char *reason)
{
	if (p->fd >= 0) {
		close(p->fd);
		p->fd = -1;
		r->inflight--;
	}
	if (ok || p->tries >= r->max_tries) {
		p->ok = ok;
		snprintf(p->reason, sizeof(p->reason), "%s", reason ? reason : "");
		p->state = ST_DONE;
		r->done++;
	} else {
		/* Keep the last failure's reason in case every try fails. */
		snprintf(p->reason, sizeof(p->reason), "%s", reason ? reason : "");
		p->state = ST_RETRY;
	}
}

static const char *errno_reason(int err)
{
	switch (err) {
	case ECONNREFUSED:
	case ENOPROTOOPT: /* ICMP protocol unreachable: nobody handles SCTP there */
	case EPROTO:      /* its ICMPv6 counterpart, parameter problem (next header) */
		return "refused";
	case EHOSTUNREACH:
	case ENETUNREACH:
	case EACCES:
		return "unreachable";
	case EPERM:
		return "eperm"; /* dropped by a local output hook */
	case ETIMEDOUT:
		return "timeout";
	default: {
		const char *n = strerrorname_np(err);

		return n ? n : "error";
	}
	}
}

static int sctp_send_init(struct probe *p)
{
	uint8_t pkt[32];

	put16(pkt, p->sport);
	put16(pkt + 2, p->port);
	put32(pkt + 4, 0);  /* an INIT carries verification tag 0 */
	pkt[12] = SCTP_CHUNK_INIT;
	pkt[13] = 0;
	put16(pkt + 14, 20);
	put32(pkt + 16, p->nonce);  /* initiate tag */
	put32(pkt + 20, 65535);     /* a_rwnd */
	put16(pkt + 24, 1);         /* outbound streams */
	put16(pkt + 26, 1);         /* inbound streams */
	put32(pkt + 28, p->nonce);  /* initial TSN */
	sctp_set_checksum(pkt, sizeof(pkt));
	if (send(p->fd, pkt, sizeof(pkt), 0) < 0)
		return -errno;
	return 0;
}

/* Start one try: socket in the source namespace, then connect / send. */
static void probe_start(struct run *r, struct probe *p)
{
	int family = p->dst.ss_family;
	struct epoll_event ev = { .data.ptr = p };
	struct sockaddr_storage dst = p->dst;
	int type, proto = 0, e;

	p->tries++;
	p->state = ST_RUNNING;
	p->deadline_ms = now_ms() + r->timeout_ms;
	p->nonce = random_u32() | 1;
	p->refused = false;
	switch (p->proto) {
	case P_TCP:
		type = SOCK_STREAM;
		ev.events = EPOLLOUT;
		break;
	case P_UDP:
		type = SOCK_DGRAM;
		ev.events = EPOLLIN;
		break;
	default:
		type = SOCK_RAW;
		proto = IPPROTO_SCTP;
		ev.events = EPOLLIN;
		/* A raw socket has no port: the kernel takes sin6_port as the protocol. */
		if (family == AF_INET6)
			((struct sockaddr_in6 *)&dst)->sin6_port = 0;
		else
			((struct sockaddr_in *)&dst)->sin_port = 0;
		p->sport = (uint16_t)(32768 + random_u32() % 28000);
		break;
	}

	e = enter_ns(r, (ssize_t)p->ns);
	if (e < 0) {
		finish(r, p, false, errno_reason(-e));
		return;
	}
	p->fd = socket(family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, proto);
	if (p->fd < 0) {
		e = errno;
		finish(r, p, false, errno_reason(e));
		return;
	}
	r->inflight++;
	if (p->proto == P_TCP) {
		/* Abort on close: no TIME_WAIT left behind by thousands of probes. */
		struct linger lg = { .l_onoff = 1, .l_linger = 0 };

		setsockopt(p->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	}
	if (connect(p->fd, (struct sockaddr *)&dst, p->dst_len) < 0) {
		if (errno != EINPROGRESS) {
			finish(r, p, false, errno_reason(errno));
			return;
		}
	} else if (p->proto == P_TCP) {
		finish(r, p, true, NULL);
		return;
	}
	if (p->proto == P_UDP) {
		char payload[32];
		int n = snprintf(payload, sizeof(payload), "netpold-probe %08x", p->nonce);

		if (send(p->fd, payload, (size_t)n, 0) < 0) {
			finish(r, p, false, errno_reason(errno));
			return;
		}
	} else if (p->proto == P_SCTP) {
		e = sctp_send_init(p);
		if (e < 0) {
			finish(r, p, false, errno_reason(-e));
			return;
		}
	}
	if (epoll_ctl(r->epfd, EPOLL_CTL_ADD, p->fd, &ev) < 0)
		finish(r, p, false, errno_reason(errno));
}

static void on_tcp(struct run *r, struct probe *p)
{
	int err = 0;
	socklen_t len = sizeof(err);

	if (getsockopt(p->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		err = errno;
	if (err == EINPROGRESS)
		return;
	finish(r, p, err == 0, err ? errno_reason(err) : NULL);
}

static void on_udp(struct run *r, struct probe *p)
{
	char want[32], buf[256];
	int wn = snprintf(want, sizeof(want), "netpold-probe %08x", p->nonce);

	for (;;) {
		ssize_t n = recv(p->fd, buf, sizeof(buf), 0);

		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
				return;
			finish(r, p, false, errno_reason(errno));
			return;
		}
		if (n == wn && memcmp(buf, want, (size_t)wn) == 0) {
			finish(r, p, true, NULL);
			return;
		}
	}
}

/*
 * The raw socket sees every SCTP packet from the destination address; ours is the ABORT with
 * swapped ports and our initiate tag as verification tag. podserver adds a "User-Initiated
 * Abort" cause for served ports; a bare ABORT means "nothing listens there" (like a real stack).
 */
static void on_sctp(struct run *r, struct probe *p)
{
	uint8_t buf[PKT_MAX];

	for (;;) {
		ssize_t n = recv(p->fd, buf, sizeof(buf), 0);
		const uint8_t *s = buf;
		size_t len, clen;

		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
				return;
			finish(r, p, false, errno_reason(errno));
			return;
		}
		len = (size_t)n;
		if (p->dst.ss_family == AF_INET) {
			const struct iphdr *ip = (const struct iphdr *)buf;

			if (len < sizeof(*ip) || (size_t)ip->ihl * 4 > len)
				continue;
			s += ip->ihl * 4;
			len -= ip->ihl * 4;
		}
		if (len < 16 || get16(s) != p->port || get16(s + 2) != p->sport ||
		    get32(s + 4) != p->nonce || s[12] != SCTP_CHUNK_ABORT)
			continue;
		clen = get16(s + 14);
		if (clen >= 8 && clen <= len - 12 && get16(s + 16) == SCTP_CAUSE_USER_ABORT) {
			finish(r, p, true, NULL);
			return;
		}
		/*
		 * A bare ABORT: this podserver does not serve the port. Another one in the same
		 * pod might, so wait for its answer until the deadline.
		 */
		p->refused = true;
	}
}

static void on_event(struct run *r, struct probe *p)
{
	if (p->state != ST_RUNNING)
		return;
	switch (p->proto) {
	case P_TCP:
		on_tcp(r, p);
		break;
	case P_UDP:
		on_udp(r, p);
		break;
	case P_SCTP:
		on_sctp(r, p);
		break;
	}
}

/*
 * Ends the tries whose deadline passed. Returns how long epoll may sleep: 0 when a probe can be
 * started right away, the time to the nearest deadline otherwise, -1 when nothing runs.
 */
static int64_t expire(struct run *r)
{
	int64_t now = now_ms(), wait = -1;
	bool startable = false;

	for (size_t i = 0; i < r->n; i++) {
		struct probe *p = &r->p[i];

		if (p->state == ST_RUNNING && p->deadline_ms <= now)
			finish(r, p, false, p->refused ? "refused" : "timeout");
		if (p->state == ST_RETRY || p->state == ST_QUEUED)
			startable = true;
		else if (p->state == ST_RUNNING && (wait < 0 || p->deadline_ms - now < wait))
			wait = p->deadline_ms - now;
	}
	if (startable && r->inflight < r->max_inflight)
		return 0;
	return wait;
}

static void run_all(struct run *r)
{
	struct epoll_event evs[256];

	while (r->done < r->n) {
		int64_t wait;
		int n;

		for (size_t i = 0; i < r->n && r->inflight < r->max_inflight; i++) {
			struct probe *p = &r->p[i];

			if (p->state == ST_QUEUED || p->state == ST_RETRY)
				probe_start(r, p);
		}
		enter_ns(r, -1);

		wait = expire(r);
		if (wait < 0)
			continue;
		n = epoll_wait(r->epfd, evs, 256, (int)wait);
		for (int i = 0; i < n; i++)
			on_event(r, evs[i].data.ptr);
	}
}

static void run_free(struct run *r)
{
	for (size_t i = 0; i < r->n; i++) {
		free(r->p[i].id);
		if (r->p[i].fd >= 0)
			close(r->p[i].fd);
	}
	free(r->p);
	for (size_t i = 0; i < r->n_netns; i++) {
		free(r->netns[i]);
		close(r->netns_fd[i]);
	}
	if (r->epfd >= 0)
		close(r->epfd);
	if (r->self_ns >= 0)
		close(r->self_ns);
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: probe [--timeout MS] [--tries N] [--parallel N] [--summary]\n"
		"             [ID NETNS DST_IP PORT PROTO]...\n"
		"Reads probes, one 'ID NETNS DST_IP PORT PROTO' per line, from stdin when\n"
		"none are given as arguments. NETNS is a name under /run/netns, an absolute\n"
		"path, or '-'. PROTO is tcp, udp or sctp. Prints 'ID ok' or 'ID fail(REASON)'\n"
		"per probe, in input order; REASON is timeout, refused, unreachable, eperm or\n"
		"an errno name.\n"
		"--tries N: up to N tries per probe, ok as soon as one succeeds (default 1).\n"
		"--timeout MS: per try (default 1000).\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "timeout", required_argument, NULL, 't' },
		{ "tries", required_argument, NULL, 'n' },
		{ "parallel", required_argument, NULL, 'j' },
		{ "summary", no_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct run r = {
		.max_tries = 1, .timeout_ms = 1000, .cur_ns = -1, .self_ns = -1, .epfd = -1,
	};
	struct rlimit rl;
	bool summary = false;
	size_t n_ok = 0;
	unsigned long v;
	int64_t t0;
	int c, e, rc = 2;

	while ((c = getopt_long(argc, argv, "t:n:j:sh", opts, NULL)) != -1) {
		switch (c) {
		case 't':
			if (parse_uint(optarg, 1, 600000, &v) < 0)
				goto bad;
			r.timeout_ms = (int)v;
			break;
		case 'n':
			if (parse_uint(optarg, 1, 100, &v) < 0)
				goto bad;
			r.max_tries = (unsigned int)v;
			break;
		case 'j':
			if (parse_uint(optarg, 1, 1000000, &v) < 0)
				goto bad;
			r.max_inflight = v;
			break;
		case 's':
			summary = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			goto bad;
		}
	}
	if ((argc - optind) % 5 != 0)
		goto bad;

	/* Every namespace and every in-flight probe holds a file descriptor. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	r.self_ns = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	r.epfd = epoll_create1(EPOLL_CLOEXEC);
	if (r.self_ns < 0 || r.epfd < 0) {
		fprintf(stderr, "probe: setup: %s\n", strerror(errno));
		goto out;
	}
	if (optind < argc) {
		for (int i = optind; i < argc; i += 5) {
			char where[32];

			snprintf(where, sizeof(where), "argument %d", i);
			if (probe_add(&r, argv + i, where) < 0)
				goto out;
		}
	} else if (read_input(&r, stdin) < 0) {
		goto out;
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		size_t cap = rl.rlim_cur > r.n_netns + 64 ? rl.rlim_cur - r.n_netns - 64 : 16;

		if (r.max_inflight == 0 || r.max_inflight > cap)
			r.max_inflight = cap;
	}

	t0 = now_ms();
	if (r.n > 0)
		run_all(&r);
	e = enter_ns(&r, -1);
	if (e < 0) {
		fprintf(stderr, "probe: returning to own netns: %s\n", strerror(-e));
		goto out;
	}
	for (size_t i = 0; i < r.n; i++) {
		struct probe *p = &r.p[i];

		if (p->ok) {
			printf("%s ok\n", p->id);
			n_ok++;
		} else {
			printf("%s fail(%s)\n", p->id, p->reason);
		}
	}
	if (summary)
		fprintf(stderr, "probe: %zu probes, %zu ok, %zu failed, %lld ms\n", r.n, n_ok,
			r.n - n_ok, (long long)(now_ms() - t0));
	if (fflush(stdout) == 0)
		rc = 0;
out:
	run_free(&r);
	return rc;

bad:
	usage(stderr);
	return 2;
}
