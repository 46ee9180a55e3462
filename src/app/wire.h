/* SPDX-License-Identifier: MIT */
/*
 * The daemon <-> worker protocol: typed binary messages over a stream
 * socketpair, OpenBSD imsg style. A frame is an 8-byte header (type,
 * payload length, both 32-bit native order: both ends are the same
 * binary) and a payload of fixed-width integers, length-prefixed strings
 * and arrays. No JSON, no environment variables.
 *
 *   daemon -> worker  WIRE_JOB     seq, settings (engine.h), job, warm_ok
 *   worker -> daemon  WIRE_RESULT  seq, engine_result
 *
 * Decoding is bounds-checked and validates every enum, count and string
 * against its cap: a worker that crashed halfway, or sends garbage, gives
 * an error naming the message, never an overread or a huge allocation.
 */
#ifndef SEMVER_TAGGER_WIRE_H
#define SEMVER_TAGGER_WIRE_H

#include "engine.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WIRE_MSG_MAX (64u * 1024 * 1024) /* bytes of one payload */
#define WIRE_STR_MAX (1u * 1024 * 1024)  /* bytes of one string */

enum wire_type {
	WIRE_JOB = 0x4a4f4231,    /* "JOB1" */
	WIRE_RESULT = 0x52455331, /* "RES1" */
};

/* A growable payload being built. */
struct wire_buf {
	unsigned char *p;
	size_t len, cap;
	bool failed;      /* out of memory or past WIRE_MSG_MAX */
};

void wire_buf_init(struct wire_buf *b);
void wire_buf_release(struct wire_buf *b);

/* Encoders: 0 or ST_ENOMEM / ST_ETOOBIG. b is reset first. */
int wire_put_job(struct wire_buf *b, uint64_t seq,
		 const struct engine_settings *s, const struct engine_job *j,
		 bool warm_ok);
int wire_put_result(struct wire_buf *b, uint64_t seq,
		    const struct engine_result *r);

/* Decoders into initialised outputs. ST_EINVAL naming the field. */
int wire_get_job(const void *p, size_t n, uint64_t *seq,
		 struct engine_settings *s, struct engine_job *j,
		 bool *warm_ok, struct st_error *err);
int wire_get_result(const void *p, size_t n, uint64_t *seq,
		    struct engine_result *r, struct st_error *err);

/* Write one frame (blocking, EINTR-safe). 0, or -1 with errno. */
int wire_send(int fd, uint32_t type, const struct wire_buf *b);

/* Reading one frame, possibly in several calls (non-blocking fds). */
struct wire_rx {
	unsigned char hdr[8];
	size_t got;        /* bytes of header + payload received */
	uint32_t type, len;
	struct wire_buf body;
};

void wire_rx_init(struct wire_rx *rx);
void wire_rx_release(struct wire_rx *rx);
/* Read what is there: 1 when a whole frame is in rx (type, body), 0 when
 * more is needed (EAGAIN), -1 on EOF (errno 0) or error (errno set), or a
 * frame over WIRE_MSG_MAX (errno EMSGSIZE). Call wire_rx_init (after
 * release) before the next frame. */
int wire_rx_read(int fd, struct wire_rx *rx);

#endif
