/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Small shared helpers: cleanup attributes, ownership transfer, checked
 * integer parsing and the address/prefix types every module speaks.
 * Nothing here allocates behind the caller's back or logs.
 */
#pragma once

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define _cleanup_(f) __attribute__((cleanup(f)))
#define _unused_ __attribute__((unused))
#define _printf_(a, b) __attribute__((format(printf, a, b)))

#define ELEMENTSOF(x) (sizeof(x) / sizeof((x)[0]))

/* Hand a pointer out of a _cleanup_ scope: returns it and leaves NULL behind. */
#define TAKE_PTR(p)                                                                                \
	({                                                                                         \
		__typeof__(p) _p_ = (p);                                                           \
		(p) = NULL;                                                                        \
		_p_;                                                                               \
	})

static inline void freep(void *p)
{
	free(*(void **)p);
}

static inline void closep(int *fd)
{
	if (*fd >= 0)
		close(*fd);
}

#define _cleanup_free_ _cleanup_(freep)
#define _cleanup_close_ _cleanup_(closep)

/* An IPv4 or IPv6 address; v4 lives in the first 4 bytes of a, the rest zero. */
struct ip_addr {
	uint8_t family; /* AF_INET or AF_INET6; 0 = unset */
	uint8_t a[16];
};

/* A prefix, always canonical: host bits are cleared on parse. */
struct cidr {
	struct ip_addr addr;
	uint8_t plen;
};

static inline size_t ip_addr_len(const struct ip_addr *ip)
{
	return ip->family == AF_INET ? 4 : 16;
}

static inline bool ip_addr_equal(const struct ip_addr *x, const struct ip_addr *y)
{
	return x->family == y->family && memcmp(x->a, y->a, ip_addr_len(x)) == 0;
}

/*
 * Parse a textual address ("10.0.0.1", "fd00::1"). Returns 0 or -EINVAL.
 */
int ip_addr_parse(const char *s, struct ip_addr *ret);

/*
 * Parse "a.b.c.d/n" or "x::y/n"; host bits are masked off (10.1.2.3/8 is
 * 10.0.0.0/8). A bare address is not a CIDR. Returns 0 or -EINVAL.
 */
int cidr_parse(const char *s, struct cidr *ret);

/* Whether ip lies inside c (families must agree, else false). */
bool cidr_contains(const struct cidr *c, const struct ip_addr *ip);

/* Whether inner is entirely inside outer (same family). */
bool cidr_covers(const struct cidr *outer, const struct cidr *inner);

/* Format into buf (at least INET6_ADDRSTRLEN + 4 bytes). Returns buf. */
const char *ip_addr_fmt(const struct ip_addr *ip, char *buf, size_t len);
const char *cidr_fmt(const struct cidr *c, char *buf, size_t len);

/*
 * Checked decimal parsers: the whole string must be a number within
 * [min, max]. Return 0 or -EINVAL / -ERANGE.
 */
int parse_int64(const char *s, int64_t min, int64_t max, int64_t *ret);

/* strdup that treats NULL as NULL; returns NULL on allocation failure too. */
char *strdup_or_null(const char *s);
