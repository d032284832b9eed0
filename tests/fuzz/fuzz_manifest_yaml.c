/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * decode_manifest() on YAML. An input that would be taken for JSON gets a
 * "---\n" in front, so the YAML front end (anchors, aliases, flow style,
 * multi-document streams, duplicate keys) sees every input.
 * Seeds: corpus/fuzz_manifest_yaml.
 */
#include "fuzz_sink.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_sink_state st = {.source = "fuzz.yaml", .any_kind = true};
	struct decode_sink sink = fuzz_sink(&st);
	size_t i = 0;
	char *buf;
	int r;

	while (i < size && data[i] && strchr(" \t\r\n", data[i]))
		i++;
	if (i < size && (data[i] == '{' || data[i] == '[')) {
		/* An exact-size copy, so ASan catches reads past the end. */
		buf = malloc(size + 4);
		if (!buf)
			return 0;
		memcpy(buf, "---\n", 4);
		memcpy(buf + 4, data, size);
		r = decode_manifest(buf, size + 4, st.source, &sink);
		free(buf);
	} else {
		r = decode_manifest((const char *)data, size, st.source, &sink);
	}
	fuzz_check_manifest_result(r, &st);
	return 0;
}
