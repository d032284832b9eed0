/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The file side of the manifest-directory source: which names in the folder
 * are manifests, reading one with a bounded size, and the FNV-1a fingerprint
 * that tells whether it changed since the last sync.
 */
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>

#include "decode.h"
#include "manifest_dir.h"
#include "manifest_files.h"

uint64_t manifest_fnv1a(const void *buf, size_t len)
{
	const unsigned char *p = buf;
	uint64_t h = 0xcbf29ce484222325ULL;

	for (size_t i = 0; i < len; i++) {
		h ^= p[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

int manifest_read_file_at(int dirfd, const char *name, char **ret, size_t *ret_len)
{
	_cleanup_close_ int fd = -EBADF;
	_cleanup_free_ char *buf = NULL;
	size_t len = 0, alloc;
	struct stat st;

	fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -ENOTSUP;
	if ((uint64_t)st.st_size > DECODE_MAX_DOCUMENT_BYTES)
		return -EFBIG;
	alloc = (size_t)st.st_size + 1;
	buf = malloc(alloc);
	if (!buf)
		return -ENOMEM;
	for (;;) {
		ssize_t n;

		if (len + 1 >= alloc) {
			size_t na = alloc * 2;
			char *nb;

			if (alloc > DECODE_MAX_DOCUMENT_BYTES)
				return -EFBIG; /* the file grew while we read it */
			nb = realloc(buf, na);
			if (!nb)
				return -ENOMEM;
			buf = nb;
			alloc = na;
		}
		n = read(fd, buf + len, alloc - len - 1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (len > DECODE_MAX_DOCUMENT_BYTES)
		return -EFBIG;
	buf[len] = '\0';
	*ret = TAKE_PTR(buf);
	*ret_len = len;
	return 0;
}

static bool wanted_name(const char *n)
{
	size_t l = strlen(n);

	if (n[0] == '.')
		return false;
	return (l > 5 && strcmp(n + l - 5, ".yaml") == 0) ||
	       (l > 4 && strcmp(n + l - 4, ".yml") == 0) ||
	       (l > 5 && strcmp(n + l - 5, ".json") == 0);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void manifest_strv_free(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

int manifest_list_dir(int dirfd, char ***ret, size_t *ret_n)
{
	char **v = NULL;
	size_t n = 0, alloc = 0;
	DIR *d;
	int r = 0, fd;

	fd = dup(dirfd);
	if (fd < 0)
		return -errno;
	d = fdopendir(fd);
	if (!d) {
		r = -errno;
		close(fd);
		return r;
	}
	for (;;) {
		struct dirent *de;
		struct stat st;

		errno = 0;
		de = readdir(d);
		if (!de) {
			if (errno != 0)
				r = -errno;
			break;
		}
		if (!wanted_name(de->d_name))
			continue;
		/* Follow symlinks (ConfigMap volumes are made of them); skip non-regular files. */
		if (fstatat(dirfd, de->d_name, &st, 0) < 0 || !S_ISREG(st.st_mode))
			continue;
		if (n >= MANIFEST_DIR_MAX_FILES) {
			r = -E2BIG;
			break;
		}
		if (n == alloc) {
			size_t na = alloc ? alloc * 2 : 16;
			char **nv = reallocarray(v, na, sizeof(*nv));

			if (!nv) {
				r = -ENOMEM;
				break;
			}
			v = nv;
			alloc = na;
		}
		v[n] = strdup(de->d_name);
		if (!v[n]) {
			r = -ENOMEM;
			break;
		}
		n++;
	}
	closedir(d);
	if (r < 0) {
		manifest_strv_free(v, n);
		return r;
	}
	if (n > 1)
		qsort(v, n, sizeof(*v), cmp_str);
	*ret = v;
	*ret_n = n;
	return 0;
}
