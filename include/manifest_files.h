/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Files of a manifest folder (daemon/manifest_files.c), for manifest_dir.c:
 * listing the candidate manifests, reading one with a bounded size, and
 * fingerprinting contents. Never logs.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* FNV-1a 64 of buf: the fingerprint of a file's contents, and the key table's hash. */
uint64_t manifest_fnv1a(const void *buf, size_t len);

/*
 * Read a regular file relative to dirfd, at most DECODE_MAX_DOCUMENT_BYTES,
 * into an allocated, NUL-terminated *ret. Returns 0, -ENOTSUP for a
 * non-regular file, -EFBIG when too large, or -errno.
 */
int manifest_read_file_at(int dirfd, const char *name, char **ret, size_t *ret_len);

/*
 * The sorted names of the candidate files of the folder dirfd: regular files
 * (symlinks followed) named *.yaml, *.yml or *.json, not hidden; at most
 * MANIFEST_DIR_MAX_FILES (-E2BIG beyond). Returns 0 with *ret (free with
 * manifest_strv_free) and *ret_n, or -errno when the folder can't be listed.
 */
int manifest_list_dir(int dirfd, char ***ret, size_t *ret_n);
void manifest_strv_free(char **v, size_t n);
