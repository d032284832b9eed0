/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * decode_object_json() for every kind: the first byte picks the kind
 * (Namespace, Pod, NetworkPolicy, Service), the rest is the JSON text of a
 * GET response. A success must satisfy model.h; a failure must come with a
 * message. Seeds: corpus/fuzz_object_json (first byte 0-3).
 */
#include "fuzz_sink.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct k8s_object obj = {0};
	enum obj_kind kind;
	char *err = NULL;
	int r;

	if (size < 1)
		return 0;
	kind = (enum obj_kind)(data[0] % 4);
	r = decode_object_json((const char *)data + 1, size - 1, kind, &obj, &err);
	if (r == 0) {
		FUZZ_CHECK(!err, "success with a message: %s", err);
		fuzz_check_object(&obj, kind);
		k8s_object_clear(&obj);
	} else {
		FUZZ_CHECK(r == -EINVAL || r == -E2BIG || r == -ENOMEM, "returned %d", r);
		FUZZ_CHECK(err && *err, "failure %d without a message", r);
		free(err);
	}
	return 0;
}
