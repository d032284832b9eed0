/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Privileges: netpold needs CAP_NET_ADMIN and nothing else. caps_restrict()
 * runs right after the command line is parsed, before any input is read, and
 * leaves the process with at most CAP_NET_ADMIN (optionally as another user).
 * Raw capget/capset/prctl system calls; no libcap. Never logs.
 */
#pragma once

/*
 * Lower the process's privileges, never raise them:
 *  - with CAP_SETPCAP (started as root): drop every capability but
 *    CAP_NET_ADMIN from the bounding set and lock SECBIT_NOROOT, so nothing
 *    netpold executes (a kubeconfig exec plugin) regains root's capabilities;
 *  - user (a name or a number, NULL for none): switch to it with its groups
 *    (setresgid/setresuid under PR_SET_KEEPCAPS; needs CAP_SETUID/CAP_SETGID);
 *  - clear the ambient and inheritable sets, keep CAP_NET_ADMIN alone in the
 *    permitted and effective sets when it was permitted;
 *  - set PR_SET_NO_NEW_PRIVS.
 * Returns 1 when CAP_NET_ADMIN is held afterwards, 0 when it is not (the
 * process could not program nftables), or -errno with *ret_err (may be NULL)
 * set to an allocated message. A failure may leave privileges partly lowered.
 */
int caps_restrict(const char *user, char **ret_err);
