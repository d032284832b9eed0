/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Capability dropping without libcap: the bounding set through
 * prctl(PR_CAPBSET_DROP), the user switch under PR_SET_KEEPCAPS, then one
 * capset() that leaves CAP_NET_ADMIN alone in the permitted and effective
 * sets. See include/caps.h for the order and why it is that order.
 */
#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <linux/capability.h>
#include <linux/securebits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "caps.h"
#include "util.h"

#ifndef PR_CAP_AMBIENT
#define PR_CAP_AMBIENT 47
#define PR_CAP_AMBIENT_CLEAR_ALL 4
#endif

static int fail(char **ret_err, int r, const char *fmt, ...) _printf_(3, 4);
static int fail(char **ret_err, int r, const char *fmt, ...)
{
	va_list ap;

	if (ret_err) {
		va_start(ap, fmt);
		if (vasprintf(ret_err, fmt, ap) < 0)
			*ret_err = NULL;
		va_end(ap);
	}
	return r;
}

static int capget_sets(struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3])
{
	struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};

	memset(data, 0, sizeof(*data) * _LINUX_CAPABILITY_U32S_3);
	if (syscall(SYS_capget, &hdr, data) < 0)
		return -errno;
	return 0;
}

static uint64_t mask_of(const struct __user_cap_data_struct *data, size_t field)
{
	const uint32_t *lo = (const uint32_t *)((const char *)&data[0] + field);
	const uint32_t *hi = (const uint32_t *)((const char *)&data[1] + field);

	return (uint64_t)*lo | ((uint64_t)*hi << 32);
}

static bool has_cap(const struct __user_cap_data_struct *data, size_t field, int cap)
{
	return (mask_of(data, field) >> cap) & 1;
}

/* A user name or number; a number without a passwd entry gets its own number as group. */
static int resolve_user(const char *user, uid_t *ret_uid, gid_t *ret_gid, char **ret_name,
			char **ret_err)
{
	struct passwd *pw;
	unsigned long n = 0;
	char *end = NULL;
	bool numeric = user[0] >= '0' && user[0] <= '9';

	if (numeric) {
		errno = 0;
		n = strtoul(user, &end, 10);
		if (errno || *end || n >= UINT_MAX)
			return fail(ret_err, -EINVAL, "invalid user \"%s\"", user);
	}
	errno = 0;
	pw = numeric ? getpwuid((uid_t)n) : getpwnam(user);
	if (!pw && !numeric)
		return fail(ret_err, errno ? -errno : -ESRCH, "unknown user \"%s\"", user);
	if (!pw) {
		*ret_uid = (uid_t)n;
		*ret_gid = (gid_t)n;
		*ret_name = NULL;
		return 0;
	}
	*ret_name = strdup(pw->pw_name);
	if (!*ret_name)
		return -ENOMEM;
	*ret_uid = pw->pw_uid;
	*ret_gid = pw->pw_gid;
	return 0;
}

static int switch_user(const char *user, char **ret_err)
{
	_cleanup_free_ char *name = NULL;
	uid_t uid = (uid_t)-1;
	gid_t gid = (gid_t)-1;
	int r;

	r = resolve_user(user, &uid, &gid, &name, ret_err);
	if (r < 0)
		return r;
	/* keep the permitted set across the uid change; the effective set is rebuilt after */
	if (prctl(PR_SET_KEEPCAPS, 1L, 0L, 0L, 0L) < 0)
		return fail(ret_err, -errno, "PR_SET_KEEPCAPS: %s", strerror(errno));
	if (name ? initgroups(name, gid) < 0 : setgroups(0, NULL) < 0)
		return fail(ret_err, -errno, "cannot set the groups of user %s: %s", user,
			    strerror(errno));
	if (setresgid(gid, gid, gid) < 0)
		return fail(ret_err, -errno, "cannot switch to group %u: %s", (unsigned)gid,
			    strerror(errno));
	if (setresuid(uid, uid, uid) < 0)
		return fail(ret_err, -errno, "cannot switch to user %s: %s", user,
			    strerror(errno));
	if (prctl(PR_SET_KEEPCAPS, 0L, 0L, 0L, 0L) < 0)
		return fail(ret_err, -errno, "PR_SET_KEEPCAPS: %s", strerror(errno));
	return 0;
}

int caps_restrict(const char *user, char **ret_err)
{
	struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
	struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3];
	const size_t eff = offsetof(struct __user_cap_data_struct, effective);
	const size_t prm = offsetof(struct __user_cap_data_struct, permitted);
	bool keep;
	int r;

	if (ret_err)
		*ret_err = NULL;
	r = capget_sets(data);
	if (r < 0)
		return fail(ret_err, r, "capget: %s", strerror(-r));

	if (has_cap(data, eff, CAP_SETPCAP)) {
		for (int c = 0; c < 64; c++) {
			if (c == CAP_NET_ADMIN)
				continue;
			r = prctl(PR_CAPBSET_READ, (unsigned long)c, 0, 0, 0);
			if (r < 0)
				break; /* EINVAL: past the kernel's last capability */
			if (r == 1 && prctl(PR_CAPBSET_DROP, (unsigned long)c, 0, 0, 0) < 0)
				return fail(ret_err, -errno, "PR_CAPBSET_DROP %d: %s", c,
					    strerror(errno));
		}
		/* uid 0 gains nothing by execve; locked so it stays that way */
		if (prctl(PR_SET_SECUREBITS,
			  (unsigned long)(SECBIT_NOROOT | SECBIT_NOROOT_LOCKED), 0, 0, 0) < 0)
			return fail(ret_err, -errno, "PR_SET_SECUREBITS: %s", strerror(errno));
	}
	/* EINVAL before Linux 4.3, which has no ambient set to clear */
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0L, 0L, 0L) < 0 && errno != EINVAL)
		return fail(ret_err, -errno, "PR_CAP_AMBIENT_CLEAR_ALL: %s", strerror(errno));

	if (user) {
		if (!has_cap(data, eff, CAP_SETUID) || !has_cap(data, eff, CAP_SETGID))
			return fail(ret_err, -EPERM,
				    "switching to user %s needs CAP_SETUID and CAP_SETGID "
				    "(start netpold as root)",
				    user);
		r = switch_user(user, ret_err);
		if (r < 0)
			return r;
	}

	keep = has_cap(data, prm, CAP_NET_ADMIN);
	memset(data, 0, sizeof(data));
	if (keep) {
		data[CAP_TO_INDEX(CAP_NET_ADMIN)].effective = CAP_TO_MASK(CAP_NET_ADMIN);
		data[CAP_TO_INDEX(CAP_NET_ADMIN)].permitted = CAP_TO_MASK(CAP_NET_ADMIN);
	}
	if (syscall(SYS_capset, &hdr, data) < 0)
		return fail(ret_err, -errno, "capset: %s", strerror(errno));
	if (prctl(PR_SET_NO_NEW_PRIVS, 1L, 0L, 0L, 0L) < 0)
		return fail(ret_err, -errno, "PR_SET_NO_NEW_PRIVS: %s", strerror(errno));
	return keep ? 1 : 0;
}
