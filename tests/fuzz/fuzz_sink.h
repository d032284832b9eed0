/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A decode_sink for the decoder targets: checks each delivered object
 * against model.h (fuzz_common.h) and frees it, reads every diagnostic
 * string so ASan sees a dangling one, and counts both.
 */
#pragma once

#include "decode.h"
#include "fuzz_common.h"

struct fuzz_sink_state {
	const char *source;
	bool any_kind;      /* decode_manifest: objects of every kind */
	enum obj_kind kind; /* else: the kind every object must have */
	int objects, errors;
	size_t touched;
};

static void fuzz_sink_object(void *ud, struct k8s_object *obj)
{
	struct fuzz_sink_state *st = ud;

	fuzz_check_object(obj, st->any_kind ? obj->kind : st->kind);
	st->objects++;
	k8s_object_clear(obj);
}

static void fuzz_sink_error(void *ud, const struct decode_diag *d)
{
	struct fuzz_sink_state *st = ud;

	FUZZ_CHECK(d->message, "diagnostic without a message");
	FUZZ_CHECK(d->source == st->source, "diagnostic names another source");
	st->touched += strlen(d->message);
	if (d->kind)
		st->touched += strlen(d->kind);
	if (d->ns)
		st->touched += strlen(d->ns);
	if (d->name)
		st->touched += strlen(d->name);
	st->errors++;
}

static inline struct decode_sink fuzz_sink(struct fuzz_sink_state *st)
{
	return (struct decode_sink){
		.object = fuzz_sink_object, .error = fuzz_sink_error, .userdata = st};
}

/* decode_manifest's return value agrees with what reached the sink. */
static inline void fuzz_check_manifest_result(int r, const struct fuzz_sink_state *st)
{
	if (r >= 0)
		FUZZ_CHECK(r == st->objects, "returned %d, delivered %d", r, st->objects);
	else
		FUZZ_CHECK(r == -EINVAL || r == -E2BIG || r == -ENOMEM, "returned %d", r);
	if (r == -EINVAL)
		FUZZ_CHECK(st->errors > 0, "-EINVAL without a diagnostic");
}
