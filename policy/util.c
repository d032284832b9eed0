/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Address, prefix and integer parsing shared by the decoders, the engine and
 * the tools. Everything is strict: a string is accepted whole or not at all.
 */
#include <arpa/inet.h>
#include <limits.h>
#include <stdio.h>

#include "util.h"

int ip_addr_parse(const char *s, struct ip_addr *ret)
{
	struct ip_addr ip = {0};

	if (!s)
		return -EINVAL;
	if (strchr(s, ':')) {
		if (inet_pton(AF_INET6, s, ip.a) != 1)
			return -EINVAL;
		ip.family = AF_INET6;
	} else {
		if (inet_pton(AF_INET, s, ip.a) != 1)
			return -EINVAL;
		ip.family = AF_INET;
	}
	*ret = ip;
	return 0;
}

static void mask_host_bits(struct ip_addr *ip, unsigned plen)
{
	size_t len = ip_addr_len(ip);

	for (size_t i = 0; i < len; i++) {
		unsigned bits = i * 8;

		if (plen >= bits + 8)
			continue;
		if (plen <= bits)
			ip->a[i] = 0;
		else
			ip->a[i] &= (uint8_t)(0xff << (8 - (plen - bits)));
	}
}

int cidr_parse(const char *s, struct cidr *ret)
{
	char buf[64];
	const char *slash;
	int64_t plen;
	struct cidr c = {0};
	size_t n;
	int r;

	if (!s)
		return -EINVAL;
	slash = strchr(s, '/');
	if (!slash)
		return -EINVAL;
	n = (size_t)(slash - s);
	if (n == 0 || n >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, s, n);
	buf[n] = 0;
	r = ip_addr_parse(buf, &c.addr);
	if (r < 0)
		return r;
	/* parse_int64 takes "-0" and long runs of zeros; a prefix length is 1-3 digits. */
	n = strlen(slash + 1);
	if (n == 0 || n > 3 || strspn(slash + 1, "0123456789") != n)
		return -EINVAL;
	r = parse_int64(slash + 1, 0, c.addr.family == AF_INET ? 32 : 128, &plen);
	if (r < 0)
		return -EINVAL;
	c.plen = (uint8_t)plen;
	mask_host_bits(&c.addr, c.plen);
	*ret = c;
	return 0;
}

bool cidr_contains(const struct cidr *c, const struct ip_addr *ip)
{
	struct ip_addr m;

	if (c->addr.family != ip->family)
		return false;
	m = *ip;
	mask_host_bits(&m, c->plen);
	return memcmp(m.a, c->addr.a, ip_addr_len(ip)) == 0;
}

bool cidr_covers(const struct cidr *outer, const struct cidr *inner)
{
	return outer->addr.family == inner->addr.family && inner->plen >= outer->plen &&
	       cidr_contains(outer, &inner->addr);
}

const char *ip_addr_fmt(const struct ip_addr *ip, char *buf, size_t len)
{
	if (!ip->family || !inet_ntop(ip->family, ip->a, buf, (socklen_t)len))
		snprintf(buf, len, "?");
	return buf;
}

const char *cidr_fmt(const struct cidr *c, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN];

	snprintf(buf, len, "%s/%u", ip_addr_fmt(&c->addr, a, sizeof(a)), c->plen);
	return buf;
}

int parse_int64(const char *s, int64_t min, int64_t max, int64_t *ret)
{
	char *end;
	long long v;

	if (!s || !*s)
		return -EINVAL;
	/* strtoll accepts leading blanks and '+'; the API never sends them. */
	if (!(s[0] == '-' || (s[0] >= '0' && s[0] <= '9')))
		return -EINVAL;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (*end)
		return -EINVAL;
	if (errno == ERANGE || v < min || v > max)
		return -ERANGE;
	*ret = v;
	return 0;
}

char *strdup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}
