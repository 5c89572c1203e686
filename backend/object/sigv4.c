/*
 * sigv4.c - AWS Signature Version 4 (see sigv4.h).  Owns the exact text of
 * the canonical request: any byte that differs from what the server builds
 * gives SignatureDoesNotMatch, so every rule here follows the AWS
 * "Create a signed AWS API request" page and is checked against AWS's
 * published examples in tests/object/test_sigv4.c.
 */
#include "sigv4.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

/* A growable string; on allocation failure it sets failed and stops. */
struct strbuf {
	char *s;
	size_t len, cap;
	int failed;
};

static void sb_grow(struct strbuf *b, size_t extra)
{
	if (b->failed || b->len + extra + 1 <= b->cap)
		return;
	size_t cap = b->cap ? b->cap : 256;
	while (cap < b->len + extra + 1)
		cap *= 2;
	char *s = realloc(b->s, cap);
	if (!s) {
		b->failed = 1;
		return;
	}
	b->s = s;
	b->cap = cap;
}

static void sb_add(struct strbuf *b, const char *s, size_t n)
{
	sb_grow(b, n);
	if (b->failed)
		return;
	memcpy(b->s + b->len, s, n);
	b->len += n;
	b->s[b->len] = '\0';
}

static void sb_str(struct strbuf *b, const char *s)
{
	sb_add(b, s, strlen(s));
}

static void sb_chr(struct strbuf *b, char c)
{
	sb_add(b, &c, 1);
}

static char *sb_finish(struct strbuf *b)
{
	if (b->failed || !b->s) {
		free(b->s);
		return b->failed ? NULL : strdup("");
	}
	return b->s;
}

static int is_unreserved(unsigned char c)
{
	return isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~';
}

static void sb_uri_encode(struct strbuf *b, const char *in, int keep_slash)
{
	static const char hex[] = "0123456789ABCDEF";
	for (const unsigned char *p = (const unsigned char *)in; *p; p++) {
		if (is_unreserved(*p) || (keep_slash && *p == '/')) {
			sb_chr(b, (char)*p);
		} else {
			char esc[3] = {'%', hex[*p >> 4], hex[*p & 15]};
			sb_add(b, esc, 3);
		}
	}
}

int sigv4_uri_encode(const char *in, int keep_slash, char *out, size_t outlen)
{
	struct strbuf b = {0};
	sb_uri_encode(&b, in, keep_slash);
	if (b.failed)
		return -ENOMEM;
	int rc = -ENAMETOOLONG;
	if (b.len < outlen) {
		memcpy(out, b.s ? b.s : "", b.len + 1);
		rc = (int)b.len;
	}
	free(b.s);
	return rc;
}

/* An encoded query parameter, for sorting. */
struct encoded_pair {
	char *name;
	char *value;
};

static int encoded_pair_cmp(const void *a, const void *b)
{
	const struct encoded_pair *x = a, *y = b;
	int c = strcmp(x->name, y->name);
	return c ? c : strcmp(x->value, y->value);
}

static char *encode_dup(const char *s)
{
	struct strbuf b = {0};
	sb_uri_encode(&b, s ? s : "", 0);
	return sb_finish(&b);
}

char *sigv4_canonical_query(const struct sigv4_pair *query, size_t n)
{
	struct encoded_pair *pairs = calloc(n ? n : 1, sizeof(*pairs));
	if (!pairs)
		return NULL;
	int failed = 0;
	for (size_t i = 0; i < n; i++) {
		pairs[i].name = encode_dup(query[i].name);
		pairs[i].value = encode_dup(query[i].value);
		failed |= !pairs[i].name || !pairs[i].value;
	}
	struct strbuf b = {0};
	if (!failed) {
		qsort(pairs, n, sizeof(*pairs), encoded_pair_cmp);
		for (size_t i = 0; i < n; i++) {
			if (i)
				sb_chr(&b, '&');
			sb_str(&b, pairs[i].name);
			sb_chr(&b, '=');
			sb_str(&b, pairs[i].value);
		}
	}
	for (size_t i = 0; i < n; i++) {
		free(pairs[i].name);
		free(pairs[i].value);
	}
	free(pairs);
	if (failed) {
		free(b.s);
		return NULL;
	}
	return sb_finish(&b);
}

/* A header in canonical form: lowercased name, value trimmed with inner
 * runs of spaces collapsed to one. */
struct canonical_header {
	char *name;
	char *value;
	size_t order; /* keeps repeated headers in the order given */
};

static int canonical_header_cmp(const void *a, const void *b)
{
	const struct canonical_header *x = a, *y = b;
	int c = strcmp(x->name, y->name);
	if (c)
		return c;
	return x->order < y->order ? -1 : x->order > y->order;
}

static char *lower_dup(const char *s)
{
	char *d = strdup(s);
	for (char *p = d; p && *p; p++)
		*p = (char)tolower((unsigned char)*p);
	return d;
}

static char *trim_collapse_dup(const char *s)
{
	struct strbuf b = {0};
	while (*s == ' ' || *s == '\t')
		s++;
	int pending_space = 0;
	for (; *s; s++) {
		if (*s == ' ' || *s == '\t') {
			pending_space = 1;
			continue;
		}
		if (pending_space && b.len)
			sb_chr(&b, ' ');
		pending_space = 0;
		sb_chr(&b, *s);
	}
	return sb_finish(&b);
}

static void free_headers(struct canonical_header *h, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(h[i].name);
		free(h[i].value);
	}
	free(h);
}

/* Appends the canonical headers block and fills signed_headers. */
static int build_headers(const struct sigv4_request *req, struct strbuf *canon, struct strbuf *signed_headers)
{
	size_t n = req->nheaders;
	struct canonical_header *h = calloc(n ? n : 1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		h[i].name = lower_dup(req->headers[i].name);
		h[i].value = trim_collapse_dup(req->headers[i].value ? req->headers[i].value : "");
		h[i].order = i;
		if (!h[i].name || !h[i].value) {
			free_headers(h, n);
			return -ENOMEM;
		}
	}
	qsort(h, n, sizeof(*h), canonical_header_cmp);
	for (size_t i = 0; i < n; i++) {
		int repeat = i > 0 && strcmp(h[i].name, h[i - 1].name) == 0;
		if (repeat) {
			/* Repeated headers: one line, values joined by commas. */
			canon->len--; /* drop the previous '\n' */
			sb_chr(canon, ',');
		} else {
			if (signed_headers->len)
				sb_chr(signed_headers, ';');
			sb_str(signed_headers, h[i].name);
			sb_str(canon, h[i].name);
			sb_chr(canon, ':');
		}
		sb_str(canon, h[i].value);
		sb_chr(canon, '\n');
	}
	free_headers(h, n);
	return canon->failed || signed_headers->failed ? -ENOMEM : 0;
}

static char *canonical_request(const struct sigv4_request *req, char **signed_headers_out)
{
	struct strbuf b = {0}, sh = {0};
	char *query = sigv4_canonical_query(req->query, req->nquery);
	if (!query)
		return NULL;
	sb_str(&b, req->method);
	sb_chr(&b, '\n');
	sb_str(&b, req->canonical_uri && *req->canonical_uri ? req->canonical_uri : "/");
	sb_chr(&b, '\n');
	sb_str(&b, query);
	sb_chr(&b, '\n');
	free(query);
	if (build_headers(req, &b, &sh) < 0) {
		free(b.s);
		free(sh.s);
		return NULL;
	}
	sb_chr(&b, '\n');
	sb_str(&b, sh.s ? sh.s : "");
	sb_chr(&b, '\n');
	sb_str(&b, req->payload_sha256 ? req->payload_sha256 : SIGV4_EMPTY_SHA256);
	char *signed_headers = sb_finish(&sh);
	char *out = sb_finish(&b);
	if (!out || !signed_headers) {
		free(out);
		free(signed_headers);
		return NULL;
	}
	if (signed_headers_out)
		*signed_headers_out = signed_headers;
	else
		free(signed_headers);
	return out;
}

char *sigv4_canonical_request(const struct sigv4_request *req)
{
	return canonical_request(req, NULL);
}

static void to_hex(const unsigned char *in, size_t n, char *out)
{
	static const char hex[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = hex[in[i] >> 4];
		out[2 * i + 1] = hex[in[i] & 15];
	}
	out[2 * n] = '\0';
}

void sigv4_sha256_hex(const void *data, size_t len, char out[SIGV4_SHA256_HEX_LEN + 1])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	if (EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen != 32) {
		out[0] = '\0';
		return;
	}
	to_hex(md, 32, out);
}

void sigv4_amz_date(long long t, char out[SIGV4_AMZ_DATE_LEN + 1])
{
	time_t tt = (time_t)t;
	struct tm tm;
	gmtime_r(&tt, &tm);
	strftime(out, SIGV4_AMZ_DATE_LEN + 1, "%Y%m%dT%H%M%SZ", &tm);
}

static int hmac(const void *key, size_t keylen, const char *msg, unsigned char out[32])
{
	unsigned int len = 0;
	if (!HMAC(EVP_sha256(), key, (int)keylen, (const unsigned char *)msg, strlen(msg), out, &len) || len != 32)
		return -ENOMEM;
	return 0;
}

static int amz_date_valid(const char *d)
{
	if (!d || strlen(d) != SIGV4_AMZ_DATE_LEN || d[8] != 'T' || d[15] != 'Z')
		return 0;
	for (int i = 0; i < 15; i++)
		if (i != 8 && !isdigit((unsigned char)d[i]))
			return 0;
	return 1;
}

int sigv4_authorization(const struct sigv4_request *req, const struct sigv4_credentials *cred, const char *amz_date,
			char *out, size_t outlen, char signature[SIGV4_SHA256_HEX_LEN + 1])
{
	if (!amz_date_valid(amz_date) || !cred->secret_key || !cred->access_key)
		return -EINVAL;
	char date[9];
	memcpy(date, amz_date, 8);
	date[8] = '\0';

	char *signed_headers = NULL;
	char *creq = canonical_request(req, &signed_headers);
	if (!creq)
		return -ENOMEM;
	char creq_hash[SIGV4_SHA256_HEX_LEN + 1];
	sigv4_sha256_hex(creq, strlen(creq), creq_hash);
	free(creq);

	char scope[256];
	snprintf(scope, sizeof(scope), "%s/%s/%s/aws4_request", date, cred->region, cred->service);
	char to_sign[512];
	snprintf(to_sign, sizeof(to_sign), "AWS4-HMAC-SHA256\n%s\n%s\n%s", amz_date, scope, creq_hash);

	/* The signing key: HMAC chain over date, region, service, "aws4_request". */
	size_t seclen = strlen(cred->secret_key);
	char *k0 = malloc(seclen + 5);
	if (!k0) {
		free(signed_headers);
		return -ENOMEM;
	}
	memcpy(k0, "AWS4", 4);
	memcpy(k0 + 4, cred->secret_key, seclen + 1);
	unsigned char k_date[32], k_region[32], k_service[32], k_signing[32], sig[32];
	int rc = hmac(k0, seclen + 4, date, k_date);
	free(k0);
	if (!rc)
		rc = hmac(k_date, 32, cred->region, k_region);
	if (!rc)
		rc = hmac(k_region, 32, cred->service, k_service);
	if (!rc)
		rc = hmac(k_service, 32, "aws4_request", k_signing);
	if (!rc)
		rc = hmac(k_signing, 32, to_sign, sig);
	if (rc) {
		free(signed_headers);
		return rc;
	}
	char sig_hex[SIGV4_SHA256_HEX_LEN + 1];
	to_hex(sig, 32, sig_hex);
	if (signature)
		memcpy(signature, sig_hex, sizeof(sig_hex));
	int n = snprintf(out, outlen, "AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%s, Signature=%s",
			 cred->access_key, scope, signed_headers, sig_hex);
	free(signed_headers);
	return n < 0 || (size_t)n >= outlen ? -ENAMETOOLONG : 0;
}
