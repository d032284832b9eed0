/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * netpolctl's renderings of the status socket's JSON answers: aligned
 * tables and key/value blocks for people, or the document pretty-printed
 * (human = false). Each takes the raw answer; the JSON stays inside this
 * module. Returns 0, -EINVAL when the answer is not what the API documents
 * (err says why), -EIO on write errors. Never logs.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

typedef int (*ctl_render_fn)(const char *body, size_t len, bool human, FILE *f, char *err,
			     size_t errlen);

int ctl_render_status(const char *body, size_t len, bool human, FILE *f, char *err,
		      size_t errlen);
int ctl_render_policies(const char *body, size_t len, bool human, FILE *f, char *err,
			size_t errlen);
int ctl_render_policy(const char *body, size_t len, bool human, FILE *f, char *err,
		      size_t errlen);
int ctl_render_pods(const char *body, size_t len, bool human, FILE *f, char *err, size_t errlen);
int ctl_render_pod(const char *body, size_t len, bool human, FILE *f, char *err, size_t errlen);

/* One /v1/events line for people: time, action, direction, src -> dst, proto/port, policies. */
int ctl_render_event(const char *line, size_t len, FILE *f);

/* The "error" member of an error answer into msg. 0, or -EINVAL when there is none. */
int ctl_render_error(const char *body, size_t len, char *msg, size_t msglen);
