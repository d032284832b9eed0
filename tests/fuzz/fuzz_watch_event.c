/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * decode_watch_event() for every kind: the first byte picks the resource's
 * kind, the rest is one event line ({"type":..., "object":{...}}), including
 * BOOKMARK and ERROR (Status 410). Seeds: corpus/fuzz_watch_event.
 */
#include "fuzz_sink.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct watch_event ev;
	enum obj_kind kind;
	int r;

	if (size < 1)
		return 0;
	kind = (enum obj_kind)(data[0] % 4);
	memset(&ev, 0xa5, sizeof(ev)); /* the decoder must initialise all of it */
	r = decode_watch_event((const char *)data + 1, size - 1, kind, &ev);
	if (r < 0) {
		FUZZ_CHECK(r == -EINVAL || r == -E2BIG || r == -ENOMEM, "returned %d", r);
		/* A failed decode must still leave ev safe to clear. */
		watch_event_clear(&ev);
		return 0;
	}
	FUZZ_CHECK(r == 0, "returned %d", r);
	FUZZ_CHECK(ev.type <= WATCH_ERROR, "type %d", (int)ev.type);
	if (ev.obj_valid) {
		FUZZ_CHECK(ev.type == WATCH_ADDED || ev.type == WATCH_MODIFIED ||
				   ev.type == WATCH_DELETED,
			   "object on a type %d event", (int)ev.type);
		fuzz_check_object(&ev.obj, kind);
	}
	if (ev.resource_version)
		(void)strlen(ev.resource_version);
	if (ev.ns)
		(void)strlen(ev.ns);
	if (ev.name)
		(void)strlen(ev.name);
	if (ev.message)
		(void)strlen(ev.message);
	if (ev.type != WATCH_ERROR)
		FUZZ_CHECK(ev.status_code == 0, "status_code %d on type %d", ev.status_code,
			   (int)ev.type);
	watch_event_clear(&ev);
	return 0;
}
