/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * k8s_exec_parse(): the ExecCredential JSON a credential plugin prints on
 * stdout (outside input: any program the kubeconfig names). Byte 0 picks
 * the expected apiVersion (client.authentication.k8s.io/v1 or v1beta1).
 * A success must hold a usable token or a certificate with its key.
 * Seeds: corpus/fuzz_exec_credential.
 */
#include "fuzz_common.h"
#include "k8s_exec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/*
 * Known bug, tests/fuzz/crashes/fuzz_exec_credential-*: an empty
 * clientCertificateData/clientKeyData is accepted as a certificate. With
 * NETPOLD_FUZZ_MASK_KNOWN=1 that outcome is tolerated; run.sh does not set it.
 */
static bool mask_known(void)
{
	static int v = -1;
	const char *s;

	if (v < 0) {
		s = getenv("NETPOLD_FUZZ_MASK_KNOWN");
		v = s && !strcmp(s, "1");
	}
	return v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const versions[] = {"client.authentication.k8s.io/v1",
					       "client.authentication.k8s.io/v1beta1"};
	struct k8s_exec_credential c;
	char *err = (char *)1, *buf;
	int r;

	if (size < 1)
		return 0;
	/* An exact-size copy, so ASan catches reads past the end. */
	buf = malloc(size - 1 ? size - 1 : 1);
	FUZZ_CHECK(buf, "out of memory");
	memcpy(buf, data + 1, size - 1);
	r = k8s_exec_parse(buf, size - 1, versions[data[0] & 1], &c, &err);
	free(buf);
	if (r == 0 && mask_known() && !c.token && c.cert.data && (!c.cert.len || !c.key.len)) {
		k8s_exec_credential_clear(&c);
		return 0;
	}
	if (r == 0) {
		FUZZ_CHECK(!err, "success with a message");
		FUZZ_CHECK(c.token || c.cert.len, "neither token nor certificate");
		FUZZ_CHECK(!c.cert.len == !c.key.len, "certificate and key apart");
		if (c.token) {
			FUZZ_CHECK(*c.token, "empty token");
			for (const char *p = c.token; *p; p++)
				FUZZ_CHECK(*p > 0x20 && *p < 0x7f, "token byte 0x%02x",
					   (unsigned char)*p);
		}
		if (c.cert.len)
			FUZZ_CHECK(c.cert.data[c.cert.len] == '\0' && c.key.data[c.key.len] == '\0',
				   "PEM not NUL-terminated");
	} else {
		FUZZ_CHECK(r == -EINVAL || r == -ENOMEM, "returned %d", r);
		FUZZ_CHECK(err != (char *)1, "message left unset");
		FUZZ_CHECK(r == -ENOMEM || (err && *err), "failure without a message");
		free(err);
	}
	k8s_exec_credential_clear(&c);
	return 0;
}
