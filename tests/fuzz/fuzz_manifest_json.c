/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * decode_manifest() on JSON: the input goes to the decoder as is (the JSON
 * front end is chosen when it opens with '{' or '['; anything else still
 * exercises the detection and the YAML path). Seeds: corpus/fuzz_manifest_json.
 */
#include "fuzz_sink.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_sink_state st = {.source = "fuzz.json", .any_kind = true};
	struct decode_sink sink = fuzz_sink(&st);
	int r;

	r = decode_manifest((const char *)data, size, st.source, &sink);
	fuzz_check_manifest_result(r, &st);
	return 0;
}
