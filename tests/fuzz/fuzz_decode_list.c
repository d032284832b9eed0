/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * decode_list() for every kind: the first byte picks the kind, the rest is
 * a LIST response body (items, metadata.resourceVersion and .continue, or a
 * Status). Items reach the sink like decode_manifest's objects.
 * Seeds: corpus/fuzz_decode_list.
 */
#include "fuzz_sink.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_sink_state st = {.source = "fuzz-list"};
	struct decode_sink sink = fuzz_sink(&st);
	char *rv = (char *)1, *cont = (char *)1; /* must be overwritten */
	int r;

	if (size < 1)
		return 0;
	st.kind = (enum obj_kind)(data[0] % 4);
	r = decode_list((const char *)data + 1, size - 1, st.kind, st.source, &sink, &rv, &cont);
	if (r >= 0) {
		FUZZ_CHECK(r == st.objects, "returned %d, delivered %d", r, st.objects);
		FUZZ_CHECK(!rv || *rv, "empty resourceVersion returned");
		FUZZ_CHECK(!cont || *cont, "empty continue returned");
	} else {
		FUZZ_CHECK(r == -EINVAL || r == -E2BIG || r == -ENOMEM, "returned %d", r);
		FUZZ_CHECK(r != -EINVAL || st.errors > 0, "-EINVAL without a diagnostic");
		FUZZ_CHECK(rv != (char *)1 && cont != (char *)1, "outputs left unset");
	}
	free(rv);
	free(cont);
	return 0;
}
