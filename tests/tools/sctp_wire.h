/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The few bits of SCTP's wire format that probe.c (sends INIT, reads ABORT) and
 * podserver.c (reads INIT, answers ABORT) craft by hand on raw sockets: big-endian
 * fields, the chunk and cause numbers, and the CRC32c checksum. Header-only, as
 * every tests/tools/ source file is its own program.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define SCTP_CHUNK_INIT 1
#define SCTP_CHUNK_ABORT 6
/* Error cause "User-Initiated Abort" (RFC 9260 3.3.10.12): marks "a listener was there". */
#define SCTP_CAUSE_USER_ABORT 12

/* CRC32c (Castagnoli), reflected, as SCTP's checksum (RFC 9260 appendix A). */
static inline uint32_t crc32c(const uint8_t *p, size_t len)
{
	uint32_t crc = 0xffffffff;

	for (size_t i = 0; i < len; i++) {
		crc ^= p[i];
		for (int k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (0x82f63b78 & -(crc & 1));
	}
	return ~crc;
}

static inline uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline void put16(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v & 0xff;
}

static inline void put32(uint8_t *p, uint32_t v)
{
	p[0] = v >> 24;
	p[1] = (v >> 16) & 0xff;
	p[2] = (v >> 8) & 0xff;
	p[3] = v & 0xff;
}

/* The checksum field carries the CRC in little-endian byte order (the kernel's cpu_to_le32). */
static inline void sctp_set_checksum(uint8_t *pkt, size_t len)
{
	uint32_t crc;

	memset(pkt + 8, 0, 4);
	crc = crc32c(pkt, len);
	pkt[8] = crc & 0xff;
	pkt[9] = (crc >> 8) & 0xff;
	pkt[10] = (crc >> 16) & 0xff;
	pkt[11] = crc >> 24;
}

static inline bool sctp_checksum_ok(uint8_t *pkt, size_t len)
{
	uint8_t saved[4];
	bool ok;

	memcpy(saved, pkt + 8, 4);
	sctp_set_checksum(pkt, len);
	ok = memcmp(saved, pkt + 8, 4) == 0;
	memcpy(pkt + 8, saved, 4);
	return ok;
}
