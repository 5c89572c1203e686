/*
 * sigv4.h - AWS Signature Version 4, as pure functions: URI encoding, the
 * canonical request, the string to sign and the Authorization header.
 * Nothing here does I/O or reads the clock; the S3 driver supplies the date.
 */
#ifndef GATEFS_SIGV4_H
#define GATEFS_SIGV4_H

#include <stddef.h>

#define SIGV4_SHA256_HEX_LEN 64
#define SIGV4_AMZ_DATE_LEN 16 /* "YYYYMMDDTHHMMSSZ" */
/* SHA-256 of the empty string: the payload hash of GET, HEAD and DELETE. */
#define SIGV4_EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

/* A header or query parameter, not yet encoded. Header names are lowercased
 * and values trimmed by the signer; the caller sends them as given. */
struct sigv4_pair {
	const char *name;
	const char *value;
};

struct sigv4_request {
	const char *method;
	const char *canonical_uri;	/* already URI-encoded path, e.g. "/bucket/a%20b" */
	const struct sigv4_pair *query; /* raw names and values, any order */
	size_t nquery;
	const struct sigv4_pair *headers; /* must include host and x-amz-date */
	size_t nheaders;
	const char *payload_sha256; /* hex, or "UNSIGNED-PAYLOAD" */
};

struct sigv4_credentials {
	const char *access_key;
	const char *secret_key;
	const char *region;
	const char *service; /* "s3" */
};

/*
 * URI-encodes in per AWS rules: every byte but A-Z a-z 0-9 - . _ ~ becomes
 * %XX (upper-case hex); '/' is kept when keep_slash.  Returns the length
 * written (NUL-terminated) or -ENAMETOOLONG if out is too small.
 */
int sigv4_uri_encode(const char *in, int keep_slash, char *out, size_t outlen);

/* The canonical query string: names and values encoded, sorted by name then
 * value, joined with '&'.  Returns a malloc'd string or NULL on ENOMEM. */
char *sigv4_canonical_query(const struct sigv4_pair *query, size_t n);

/* The canonical request (the text whose hash is signed). malloc'd or NULL. */
char *sigv4_canonical_request(const struct sigv4_request *req);

/* Hex SHA-256 of data into out[65]. */
void sigv4_sha256_hex(const void *data, size_t len, char out[SIGV4_SHA256_HEX_LEN + 1]);

/* Formats t (seconds since the epoch, UTC) as an x-amz-date into out[17]. */
void sigv4_amz_date(long long t, char out[SIGV4_AMZ_DATE_LEN + 1]);

/*
 * Signs req at amz_date ("YYYYMMDDTHHMMSSZ", which must equal the request's
 * x-amz-date header) and writes the full Authorization header value
 * ("AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...") into
 * out.  If signature is non-NULL it also receives the bare hex signature.
 * Returns 0, -ENOMEM, -EINVAL (bad date) or -ENAMETOOLONG (out too small).
 */
int sigv4_authorization(const struct sigv4_request *req, const struct sigv4_credentials *cred, const char *amz_date,
			char *out, size_t outlen, char signature[SIGV4_SHA256_HEX_LEN + 1]);

#endif
