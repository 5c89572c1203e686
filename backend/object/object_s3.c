/*
 * object_s3.c - the S3 object driver: PUT, ranged GET, HEAD, DELETE,
 * DeleteObjects and ListObjectsV2 over libcurl, signed with SigV4.
 *
 * Connections: each thread gets its own curl easy handle per store (kept in
 * a pthread key and freed at thread exit or store close), because an easy
 * handle must not be used by two threads at once.  Each handle keeps its
 * own connection cache: libcurl does not support sharing a connection
 * cache (CURL_LOCK_DATA_CONNECT) between threads that run transfers at the
 * same time.  Only the DNS cache is shared (a CURLSH, which is supported).
 * A PUT body can be rewound (seek callback), so curl's own resend of a
 * request that met a dead keep-alive connection works.
 *
 * Payload hash: PUT and POST sign the real SHA-256 of the body (GET, HEAD
 * and DELETE sign the hash of the empty body).  UNSIGNED-PAYLOAD would save
 * one pass over the data, but a signed hash makes the server reject a body
 * corrupted between our buffer and its disk, over plain http too; the
 * bodies are at most a few MiB, which SHA-256 hashes in milliseconds.
 *
 * Failures: 5xx, 429, S3 "SlowDown"/"RequestTimeout", timeouts, refused or
 * reset connections are retried with exponential backoff and full jitter
 * until the store's retry budget is spent; then one log_error line names
 * the endpoint, the key and the last cause and the call returns -EIO.
 * 403 is -EACCES at once, 404 is -ENOENT.  A connect timeout, a low-speed
 * limit ("stall_ms") and a per-attempt limit ("attempt_ms") make a server
 * that accepts and then says nothing, or trickles, count as a failed
 * attempt instead of hanging the caller; a zero retry budget cannot switch
 * them off.
 */
#include "object_driver.h"

#include "log.h"
#include "s3_creds.h"
#include "sigv4.h"

#include <curl/curl.h>
#include <errno.h>
#include <inttypes.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define DELETE_BATCH 1000
#define ERROR_BODY_MAX 16384
#define SINK_MAX (64u << 20)
#define BACKOFF_BASE_MS 50
#define BACKOFF_CAP_MS 2000
#define CONNECT_TIMEOUT_MS 5000u
#define STALL_DEFAULT_MS 20000u
#define STALL_MIN_MS 1000u
#define ATTEMPT_DEFAULT_MS 60000u
#define LOW_SPEED_BYTES 1024L /* per second, averaged over stall_ms */

struct s3_handle {
	CURL *easy;
	struct s3_store *st;
	struct s3_handle *prev, *next;
};

struct s3_store {
	struct object_store base;
	struct object_s3_config cfg;
	struct s3_creds creds;
	char host[300];	     /* Host header, signed as sent */
	char base_url[320];  /* scheme://host */
	char path_base[140]; /* "/bucket" (path style) or "" (virtual host) */
	CURLSH *share;
	pthread_mutex_t share_locks[CURL_LOCK_DATA_LAST];
	pthread_key_t handle_key;
	pthread_mutex_t handles_lock;
	struct s3_handle *handles;
};

/* A growable byte buffer for response bodies. */
struct buf {
	char *data;
	size_t len, cap, max;
	int overflow;
};

static int buf_add(struct buf *b, const void *p, size_t n)
{
	if (b->len + n + 1 > b->max) {
		b->overflow = 1;
		n = b->max > b->len + 1 ? b->max - b->len - 1 : 0;
	}
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		while (cap < b->len + n + 1)
			cap *= 2;
		char *d = realloc(b->data, cap);
		if (!d)
			return -ENOMEM;
		b->data = d;
		b->cap = cap;
	}
	memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

static void buf_reset(struct buf *b)
{
	b->len = 0;
	b->overflow = 0;
	if (b->data)
		b->data[0] = '\0';
}

/* One S3 operation, possibly attempted several times. */
struct s3_call {
	const char *op; /* for logs: "put", "get", ... */
	const char *method;
	const char *key; /* full key (prefix included), or NULL for the bucket */
	const struct sigv4_pair *query;
	size_t nquery;
	const void *body;
	size_t body_len;
	const char *content_md5;
	int has_range;
	uint64_t range_off;
	size_t range_len;
	int allow_416; /* a range past the end is an empty read, not an error */
	void *out;     /* fixed buffer for a GET body */
	size_t out_cap;
	struct buf *sink; /* growable buffer for list/delete bodies */
	/* per attempt */
	CURL *easy;
	size_t read_pos;
	int body_started;
	uint64_t skip;
	long status;
	size_t out_len;
	uint64_t content_length;
	struct buf errbody;
	struct s3_cred_set cred; /* taken before each attempt */
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;

static void curl_init_once(void)
{
	curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static struct s3_store *s3_of(struct object_store *st)
{
	return (struct s3_store *)st;
}

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static uint64_t jitter_rand(void)
{
	static __thread uint64_t state;
	if (!state) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		state = ((uint64_t)ts.tv_nsec << 20) ^ (uint64_t)(uintptr_t)&state ^ (uint64_t)getpid();
		state |= 1;
	}
	state ^= state << 13;
	state ^= state >> 7;
	state ^= state << 17;
	return state;
}

/* ---- shared DNS cache ------------------------------------------------ */

static void share_lock(CURL *easy, curl_lock_data data, curl_lock_access access, void *arg)
{
	(void)easy;
	(void)access;
	struct s3_store *st = arg;
	pthread_mutex_lock(&st->share_locks[data]);
}

static void share_unlock(CURL *easy, curl_lock_data data, void *arg)
{
	(void)easy;
	struct s3_store *st = arg;
	pthread_mutex_unlock(&st->share_locks[data]);
}

static void handle_free(struct s3_handle *h)
{
	struct s3_store *st = h->st;
	pthread_mutex_lock(&st->handles_lock);
	if (h->prev)
		h->prev->next = h->next;
	else
		st->handles = h->next;
	if (h->next)
		h->next->prev = h->prev;
	pthread_mutex_unlock(&st->handles_lock);
	curl_easy_cleanup(h->easy);
	free(h);
}

/* Thread exit: the thread's handle goes back to nobody. */
static void handle_destructor(void *arg)
{
	handle_free(arg);
}

static CURL *thread_handle(struct s3_store *st)
{
	struct s3_handle *h = pthread_getspecific(st->handle_key);
	if (h)
		return h->easy;
	h = calloc(1, sizeof(*h));
	if (!h)
		return NULL;
	h->easy = curl_easy_init();
	if (!h->easy) {
		free(h);
		return NULL;
	}
	/* The share holds the DNS cache only; curl_easy_reset() keeps it. */
	curl_easy_setopt(h->easy, CURLOPT_SHARE, st->share);
	h->st = st;
	pthread_mutex_lock(&st->handles_lock);
	h->next = st->handles;
	if (h->next)
		h->next->prev = h;
	st->handles = h;
	pthread_mutex_unlock(&st->handles_lock);
	pthread_setspecific(st->handle_key, h);
	return h->easy;
}

/* ---- one HTTP exchange ------------------------------------------------ */

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *arg)
{
	struct s3_call *c = arg;
	size_t n = size * nmemb;
	if (!c->body_started) {
		curl_easy_getinfo(c->easy, CURLINFO_RESPONSE_CODE, &c->status);
		/* A server that ignores Range answers 200 with the whole object. */
		c->skip = c->status == 200 && c->has_range ? c->range_off : 0;
		c->body_started = 1;
	}
	if (c->status < 200 || c->status >= 300)
		return buf_add(&c->errbody, ptr, n) ? 0 : n;
	if (c->skip) {
		size_t s = c->skip < n ? (size_t)c->skip : n;
		c->skip -= s;
		ptr += s;
		n -= s;
		if (!n)
			return size * nmemb;
	}
	if (c->out) {
		size_t room = c->out_cap - c->out_len;
		size_t take = n < room ? n : room;
		memcpy((char *)c->out + c->out_len, ptr, take);
		c->out_len += take;
	} else if (c->sink) {
		if (buf_add(c->sink, ptr, n) || c->sink->overflow)
			return 0;
	}
	return size * nmemb;
}

/* curl rewinds the body when it resends a request on a fresh connection. */
static int on_seek(void *arg, curl_off_t offset, int origin)
{
	struct s3_call *c = arg;
	if (origin != SEEK_SET || offset < 0 || (uint64_t)offset > c->body_len)
		return CURL_SEEKFUNC_CANTSEEK;
	c->read_pos = (size_t)offset;
	return CURL_SEEKFUNC_OK;
}

static size_t on_read(char *ptr, size_t size, size_t nmemb, void *arg)
{
	struct s3_call *c = arg;
	size_t room = size * nmemb, left = c->body_len - c->read_pos;
	size_t n = left < room ? left : room;
	memcpy(ptr, (const char *)c->body + c->read_pos, n);
	c->read_pos += n;
	return n;
}

static struct curl_slist *add_header(struct curl_slist *list, int *failed, const char *name, const char *value)
{
	char line[4096];
	snprintf(line, sizeof(line), "%s: %s", name, value);
	struct curl_slist *l = curl_slist_append(list, line);
	if (!l) {
		*failed = 1;
		return list;
	}
	return l;
}

/* The URL path of a key (or of the bucket when key is NULL), URI-encoded:
 * it is both what we send and the canonical URI we sign. */
static int build_path(struct s3_store *st, const char *key, char **out)
{
	size_t cap = strlen(st->path_base) + (key ? strlen(key) * 3 : 0) + 3;
	char *p = malloc(cap);
	if (!p)
		return -ENOMEM;
	int n = snprintf(p, cap, "%s/", st->path_base);
	if (key) {
		int rc = sigv4_uri_encode(key, 1, p + n, cap - (size_t)n);
		if (rc < 0) {
			free(p);
			return rc;
		}
	} else if (st->path_base[0]) {
		p[n - 1] = '\0'; /* "/bucket", not "/bucket/" */
	}
	*out = p;
	return 0;
}

/* Runs one attempt; returns the curl code (status in c->status). */
static CURLcode attempt(struct s3_store *st, struct s3_call *c, const char *path, const char *query,
			const char *payload_hash, char *errbuf)
{
	CURL *e = c->easy;
	curl_easy_reset(e);
	c->read_pos = 0;
	c->body_started = 0;
	c->skip = 0;
	c->status = 0;
	c->out_len = 0;
	c->content_length = 0;
	buf_reset(&c->errbody);
	if (c->sink)
		buf_reset(c->sink);

	char amz_date[SIGV4_AMZ_DATE_LEN + 1], range[64];
	sigv4_amz_date((long long)time(NULL), amz_date);
	struct sigv4_pair headers[6];
	size_t nh = 0;
	headers[nh++] = (struct sigv4_pair){"host", st->host};
	headers[nh++] = (struct sigv4_pair){"x-amz-content-sha256", payload_hash};
	headers[nh++] = (struct sigv4_pair){"x-amz-date", amz_date};
	if (c->has_range) {
		snprintf(range, sizeof(range), "bytes=%" PRIu64 "-%" PRIu64, c->range_off,
			 c->range_off + (uint64_t)c->range_len - 1);
		headers[nh++] = (struct sigv4_pair){"range", range};
	}
	if (c->content_md5)
		headers[nh++] = (struct sigv4_pair){"content-md5", c->content_md5};
	if (c->cred.token[0])
		headers[nh++] = (struct sigv4_pair){"x-amz-security-token", c->cred.token};

	struct sigv4_request req = {.method = c->method,
				    .canonical_uri = path,
				    .query = c->query,
				    .nquery = c->nquery,
				    .headers = headers,
				    .nheaders = nh,
				    .payload_sha256 = payload_hash};
	struct sigv4_credentials cred = {c->cred.access, c->cred.secret, st->cfg.region, "s3"};
	char auth[1024];
	if (sigv4_authorization(&req, &cred, amz_date, auth, sizeof(auth), NULL) < 0)
		return CURLE_OUT_OF_MEMORY;

	int failed = 0;
	struct curl_slist *hl = NULL;
	for (size_t i = 0; i < nh; i++)
		hl = add_header(hl, &failed, headers[i].name, headers[i].value);
	hl = add_header(hl, &failed, "Authorization", auth);
	struct curl_slist *with_expect = curl_slist_append(hl, "Expect:"); /* no 100-continue round trip */
	if (with_expect)
		hl = with_expect;
	else
		failed = 1;
	if (strcmp(c->method, "POST") == 0)
		hl = add_header(hl, &failed, "Content-Type", "application/xml");
	if (failed) {
		curl_slist_free_all(hl);
		return CURLE_OUT_OF_MEMORY;
	}

	size_t url_len = strlen(st->base_url) + strlen(path) + strlen(query) + 2;
	char *url = malloc(url_len);
	if (!url) {
		curl_slist_free_all(hl);
		return CURLE_OUT_OF_MEMORY;
	}
	snprintf(url, url_len, "%s%s%s%s", st->base_url, path, *query ? "?" : "", query);

	uint32_t stall_ms = st->cfg.stall_ms;
	uint32_t connect_ms = st->cfg.retry_ms < CONNECT_TIMEOUT_MS ? st->cfg.retry_ms : CONNECT_TIMEOUT_MS;
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, hl);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)(connect_ms < 200 ? 200 : connect_ms));
	curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, LOW_SPEED_BYTES);
	curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, (long)((stall_ms + 999) / 1000));
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)st->cfg.attempt_ms);
	curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, c);
	if (strcmp(c->method, "HEAD") == 0) {
		curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
	} else if (strcmp(c->method, "PUT") == 0) {
		curl_easy_setopt(e, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(e, CURLOPT_READFUNCTION, on_read);
		curl_easy_setopt(e, CURLOPT_READDATA, c);
		curl_easy_setopt(e, CURLOPT_SEEKFUNCTION, on_seek);
		curl_easy_setopt(e, CURLOPT_SEEKDATA, c);
		curl_easy_setopt(e, CURLOPT_INFILESIZE_LARGE, (curl_off_t)c->body_len);
	} else if (strcmp(c->method, "POST") == 0) {
		curl_easy_setopt(e, CURLOPT_POST, 1L);
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, c->body);
		curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)c->body_len);
	} else if (strcmp(c->method, "GET") != 0) {
		curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, c->method);
	}
	errbuf[0] = '\0';
	CURLcode rc = curl_easy_perform(e);
	if (rc == CURLE_OK) {
		curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &c->status);
		curl_off_t cl = -1;
		curl_easy_getinfo(e, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &cl);
		c->content_length = cl > 0 ? (uint64_t)cl : 0;
	}
	curl_slist_free_all(hl);
	free(url);
	return rc;
}

/* The S3 <Code> of an error body, or "" (copied into code). */
static void error_code(const struct buf *b, char *code, size_t cap)
{
	code[0] = '\0';
	const char *s = b->data ? strstr(b->data, "<Code>") : NULL;
	if (!s)
		return;
	s += 6;
	const char *end = strstr(s, "</Code>");
	if (!end)
		return;
	snprintf(code, cap, "%.*s", (int)(end - s), s);
}

static int curl_retryable(CURLcode rc)
{
	switch (rc) {
	case CURLE_COULDNT_CONNECT:
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
	case CURLE_SEND_FAIL_REWIND:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
		return 1;
	default:
		return 0;
	}
}

enum verdict { DONE, RETRY, FAIL, REFRESH };

/* S3 codes that mean "these credentials are not (or no longer) good":
 * worth fetching new ones from a source that rotates them. */
static int credentials_refused(const char *code)
{
	static const char *const codes[] = {"ExpiredToken", "InvalidToken", "TokenRefreshRequired",
					    "InvalidAccessKeyId", "SignatureDoesNotMatch"};
	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
		if (strcmp(code, codes[i]) == 0)
			return 1;
	return 0;
}

/* Classifies a finished attempt; fills cause and *rc for DONE/FAIL. */
static enum verdict classify(struct s3_call *c, CURLcode crc, const char *errbuf, char *cause, size_t cap, int *rc)
{
	if (crc != CURLE_OK) {
		snprintf(cause, cap, "curl: %s%s%s", curl_easy_strerror(crc), *errbuf ? ": " : "", errbuf);
		*rc = -EIO;
		return curl_retryable(crc) ? RETRY : FAIL;
	}
	char code[128];
	error_code(&c->errbody, code, sizeof(code));
	long s = c->status;
	if (s >= 200 && s < 300) {
		*rc = 0;
		return DONE;
	}
	snprintf(cause, cap, "HTTP %ld%s%s%s", s, *code ? " (" : "", code, *code ? ")" : "");
	if (s == 416 && c->allow_416) {
		*rc = 0;
		return DONE;
	}
	if (s == 404) {
		*rc = -ENOENT;
		return DONE;
	}
	if ((s == 400 || s == 403) && credentials_refused(code)) {
		snprintf(cause, cap, "access denied (%s)", code);
		*rc = -EACCES;
		return REFRESH;
	}
	if (s == 403) {
		snprintf(cause, cap, "access denied (%s)", *code ? code : "HTTP 403");
		*rc = -EACCES;
		return FAIL;
	}
	*rc = -EIO;
	if (s >= 500 || s == 429 || strcmp(code, "SlowDown") == 0 || strcmp(code, "RequestTimeout") == 0)
		return RETRY;
	return FAIL;
}

/* Whether this attempt must fetch new credentials first: after a refusal
 * (*refreshed == -1), once. */
static int force_refresh(int *refreshed)
{
	if (*refreshed == -1) {
		*refreshed = 1;
		return 1;
	}
	return 0;
}

static int s3_perform(struct s3_store *st, struct s3_call *c)
{
	const char *key_for_log = c->key ? c->key : "(bucket)";
	c->easy = thread_handle(st);
	if (!c->easy)
		return -ENOMEM;
	c->errbody.max = ERROR_BODY_MAX;
	char *path = NULL, *query = NULL;
	int rc = build_path(st, c->key, &path);
	if (rc)
		return rc;
	query = sigv4_canonical_query(c->query, c->nquery);
	if (!query) {
		free(path);
		return -ENOMEM;
	}
	char payload_hash[SIGV4_SHA256_HEX_LEN + 1];
	sigv4_sha256_hex(c->body ? c->body : "", c->body ? c->body_len : 0, payload_hash);

	uint64_t start = now_ms(), elapsed = 0;
	char cause[512] = "", errbuf[CURL_ERROR_SIZE];
	int attempts = 0;
	enum verdict v;
	int refreshed = 0;
	for (;;) {
		attempts++;
		s3_creds_get(&st->creds, force_refresh(&refreshed), &c->cred);
		CURLcode crc = attempt(st, c, path, query, payload_hash, errbuf);
		v = classify(c, crc, errbuf, cause, sizeof(cause), &rc);
		elapsed = now_ms() - start;
		if (v == REFRESH) {
			/* Rotated or expired credentials: fetch new ones and try
			 * again at once, once per call. */
			if (!s3_creds_refreshable(&st->creds) || refreshed) {
				v = FAIL;
				break;
			}
			refreshed = -1; /* the next s3_creds_get forces a fetch */
			continue;
		}
		if (v != RETRY || elapsed >= st->cfg.retry_ms)
			break;
		object_metrics_retry(c->op);
		uint64_t ceiling = BACKOFF_BASE_MS << (attempts < 16 ? attempts : 16);
		if (ceiling > BACKOFF_CAP_MS)
			ceiling = BACKOFF_CAP_MS;
		uint64_t sleep_ms = jitter_rand() % (ceiling + 1);
		if (elapsed + sleep_ms > st->cfg.retry_ms)
			sleep_ms = st->cfg.retry_ms - elapsed;
		log_debug("%s: %s %s: attempt %d failed (%s); retrying in %" PRIu64 " ms", st->base.description, c->op,
			  key_for_log, attempts, cause, sleep_ms);
		usleep((useconds_t)(sleep_ms * 1000));
	}
	free(path);
	free(query);
	if (v == RETRY) {
		object_set_cause("gave up after %d attempts in %" PRIu64 " ms: %s", attempts, elapsed, cause);
		log_error("%s: %s %s: giving up after %d attempts in %" PRIu64 " ms: %s", st->base.description, c->op,
			  key_for_log, attempts, elapsed, cause);
		rc = -EIO;
	} else if (v == FAIL) {
		object_set_cause("%s", cause);
		log_error("%s: %s %s: %s", st->base.description, c->op, key_for_log, cause);
	} else if (rc == -ENOENT) {
		object_set_cause("not found: %s", cause);
	}
	free(c->errbody.data);
	c->errbody.data = NULL;
	memset(&c->cred, 0, sizeof(c->cred));
	return rc;
}

/* ---- operations -------------------------------------------------------- */

/* prefix + key in a malloc'd string. */
static char *full_key(struct s3_store *st, const char *key)
{
	size_t a = strlen(st->cfg.prefix), b = strlen(key);
	char *k = malloc(a + b + 1);
	if (k) {
		memcpy(k, st->cfg.prefix, a);
		memcpy(k + a, key, b + 1);
	}
	return k;
}

static int key_ok(const char *key)
{
	return key && *key && strlen(key) <= 1024;
}

static int s3_put(struct object_store *os, const char *key, const void *data, size_t len)
{
	struct s3_store *st = s3_of(os);
	if (!key_ok(key))
		return -EINVAL;
	char *k = full_key(st, key);
	if (!k)
		return -ENOMEM;
	struct s3_call c = {.op = "put", .method = "PUT", .key = k, .body = data ? data : "", .body_len = len};
	int rc = s3_perform(st, &c);
	free(k);
	return rc;
}

static int s3_head(struct object_store *os, const char *key, uint64_t *size)
{
	struct s3_store *st = s3_of(os);
	if (!key_ok(key))
		return -EINVAL;
	char *k = full_key(st, key);
	if (!k)
		return -ENOMEM;
	struct s3_call c = {.op = "head", .method = "HEAD", .key = k};
	int rc = s3_perform(st, &c);
	if (!rc)
		*size = c.content_length;
	free(k);
	return rc;
}

static int s3_get(struct object_store *os, const char *key, uint64_t offset, size_t len, void *buf, size_t *got)
{
	struct s3_store *st = s3_of(os);
	*got = 0;
	if (!key_ok(key))
		return -EINVAL;
	if (len == 0) {
		uint64_t size;
		return s3_head(os, key, &size); /* still says whether the key exists */
	}
	char *k = full_key(st, key);
	if (!k)
		return -ENOMEM;
	struct s3_call c = {.op = "get",
			    .method = "GET",
			    .key = k,
			    .has_range = 1,
			    .range_off = offset,
			    .range_len = len,
			    .allow_416 = 1,
			    .out = buf,
			    .out_cap = len};
	int rc = s3_perform(st, &c);
	if (!rc && c.status != 416)
		*got = c.out_len;
	free(k);
	return rc;
}

static int s3_del(struct object_store *os, const char *key)
{
	struct s3_store *st = s3_of(os);
	if (!key_ok(key))
		return -EINVAL;
	char *k = full_key(st, key);
	if (!k)
		return -ENOMEM;
	struct s3_call c = {.op = "delete", .method = "DELETE", .key = k};
	int rc = s3_perform(st, &c);
	free(k);
	return rc == -ENOENT ? 0 : rc;
}

static void xml_escape(struct buf *b, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '&':
			buf_add(b, "&amp;", 5);
			break;
		case '<':
			buf_add(b, "&lt;", 4);
			break;
		case '>':
			buf_add(b, "&gt;", 4);
			break;
		case '"':
			buf_add(b, "&quot;", 6);
			break;
		case '\'':
			buf_add(b, "&apos;", 6);
			break;
		default:
			buf_add(b, s, 1);
		}
	}
}

static int content_md5(const void *data, size_t len, char out[32])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	if (EVP_Digest(data, len, md, &mdlen, EVP_md5(), NULL) != 1 || mdlen != 16)
		return -EIO;
	EVP_EncodeBlock((unsigned char *)out, md, 16);
	return 0;
}

/* Copies the text of the first <tag>...</tag> in [s, end) into a malloc'd
 * string with XML entities decoded; NULL if absent. */
static char *xml_text(const char *s, const char *end, const char *tag);

/* Marks the keys named by the <Error> entries of a DeleteObjects reply
 * (quiet mode lists only failures); returns how many there were. */
static size_t delete_errors(struct s3_store *st, const struct buf *reply, const char *const *keys, size_t n,
			    int *results)
{
	size_t plen = strlen(st->cfg.prefix), failed = 0;
	const char *s = reply->data, *end = reply->data + reply->len;
	while ((s = memmem(s, (size_t)(end - s), "<Error>", 7)) != NULL) {
		const char *e = memmem(s, (size_t)(end - s), "</Error>", 8);
		e = e ? e : end;
		char *key = xml_text(s, e, "Key"), *code = xml_text(s, e, "Code");
		const char *rel = key && strncmp(key, st->cfg.prefix, plen) == 0 ? key + plen : NULL;
		int found = 0;
		for (size_t i = 0; rel && i < n; i++) {
			if (strcmp(keys[i], rel) == 0) {
				results[i] = -EIO;
				found = 1;
			}
		}
		object_set_cause("delete %s refused (%s)", key ? key : "?", code ? code : "?");
		log_error("%s: delete-objects: %s", st->base.description, object_last_cause());
		if (!found) /* a key we did not send: cannot tell which failed */
			for (size_t i = 0; i < n; i++)
				results[i] = -EIO;
		free(key);
		free(code);
		failed++;
		s = e;
	}
	return failed;
}

static int delete_batch(struct s3_store *st, const char *const *keys, size_t n, int *results)
{
	for (size_t i = 0; i < n; i++)
		results[i] = 0;
	struct buf body = {.max = SIZE_MAX};
	static const char head[] = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Delete><Quiet>true</Quiet>";
	buf_add(&body, head, sizeof(head) - 1);
	for (size_t i = 0; i < n; i++) {
		buf_add(&body, "<Object><Key>", 13);
		xml_escape(&body, st->cfg.prefix);
		xml_escape(&body, keys[i]);
		buf_add(&body, "</Key></Object>", 15);
	}
	buf_add(&body, "</Delete>", 9);
	int rc = !body.data || body.overflow ? -ENOMEM : 0;
	char md5[32];
	if (!rc && content_md5(body.data, body.len, md5))
		rc = -EIO;
	struct buf result = {.max = SINK_MAX};
	if (!rc) {
		struct sigv4_pair q[] = {{"delete", ""}};
		struct s3_call c = {.op = "delete-objects",
				    .method = "POST",
				    .query = q,
				    .nquery = 1,
				    .body = body.data,
				    .body_len = body.len,
				    .content_md5 = md5,
				    .sink = &result};
		rc = s3_perform(st, &c);
	}
	if (!rc && result.data && delete_errors(st, &result, keys, n, results))
		rc = -EIO;
	else if (rc)
		for (size_t i = 0; i < n; i++)
			results[i] = rc;
	free(result.data);
	free(body.data);
	return rc;
}

static int s3_del_many(struct object_store *os, const char *const *keys, size_t n, int *results)
{
	struct s3_store *st = s3_of(os);
	for (size_t i = 0; i < n; i++)
		if (!key_ok(keys[i]))
			return -EINVAL;
	int *own = results ? NULL : calloc(n ? n : 1, sizeof(*own));
	if (!results && !own)
		return -ENOMEM;
	int first_error = 0;
	for (size_t done = 0; done < n; done += DELETE_BATCH) {
		size_t batch = n - done < DELETE_BATCH ? n - done : DELETE_BATCH;
		int rc = delete_batch(st, keys + done, batch, (results ? results : own) + done);
		if (rc && !first_error)
			first_error = rc;
	}
	free(own);
	return first_error;
}

/* Appends code point cp as UTF-8. */
static void put_utf8(struct buf *b, unsigned long cp)
{
	char u[4];
	size_t n;
	if (cp < 0x80) {
		u[0] = (char)cp;
		n = 1;
	} else if (cp < 0x800) {
		u[0] = (char)(0xC0 | (cp >> 6));
		u[1] = (char)(0x80 | (cp & 0x3F));
		n = 2;
	} else if (cp < 0x10000) {
		u[0] = (char)(0xE0 | (cp >> 12));
		u[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
		u[2] = (char)(0x80 | (cp & 0x3F));
		n = 3;
	} else {
		u[0] = (char)(0xF0 | (cp >> 18));
		u[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
		u[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
		u[3] = (char)(0x80 | (cp & 0x3F));
		n = 4;
	}
	buf_add(b, u, n);
}

static const struct {
	const char *name;
	char c;
} xml_entities[] = {{"amp", '&'}, {"lt", '<'}, {"gt", '>'}, {"quot", '"'}, {"apos", '\''}};

static char *xml_unescape(const char *s, size_t n)
{
	struct buf b = {.max = SIZE_MAX};
	buf_add(&b, "", 0);
	for (size_t i = 0; i < n; i++) {
		const char *semi = s[i] == '&' ? memchr(s + i, ';', n - i) : NULL;
		if (!semi) {
			buf_add(&b, s + i, 1);
			continue;
		}
		const char *ent = s + i + 1;
		size_t elen = (size_t)(semi - ent);
		int done = 0;
		if (elen >= 2 && ent[0] == '#') {
			char *endp;
			unsigned long cp = ent[1] == 'x' ? strtoul(ent + 2, &endp, 16) : strtoul(ent + 1, &endp, 10);
			if (endp == semi && cp > 0 && cp <= 0x10FFFF) {
				put_utf8(&b, cp);
				done = 1;
			}
		}
		for (size_t k = 0; !done && k < sizeof(xml_entities) / sizeof(xml_entities[0]); k++) {
			if (strlen(xml_entities[k].name) == elen && memcmp(ent, xml_entities[k].name, elen) == 0) {
				buf_add(&b, &xml_entities[k].c, 1);
				done = 1;
			}
		}
		if (!done) {
			buf_add(&b, s + i, 1);
			continue;
		}
		i += elen + 1;
	}
	return b.data;
}

static char *xml_text(const char *s, const char *end, const char *tag)
{
	char open[64], close[64];
	snprintf(open, sizeof(open), "<%s>", tag);
	snprintf(close, sizeof(close), "</%s>", tag);
	const char *a = memmem(s, (size_t)(end - s), open, strlen(open));
	if (!a)
		return NULL;
	a += strlen(open);
	const char *z = memmem(a, (size_t)(end - a), close, strlen(close));
	if (!z)
		return NULL;
	return xml_unescape(a, (size_t)(z - a));
}

/* "2026-12-04T15:59:33.000Z" (ISO 8601, UTC) -> seconds; 0 if absent or
 * malformed, which callers treat as "age unknown". */
static int64_t s3_parse_time(const char *text)
{
	struct tm tm = {0};
	if (!text)
		return 0;
	const char *end = strptime(text, "%Y-%m-%dT%H:%M:%S", &tm);
	if (!end || (*end && *end != '.' && *end != 'Z'))
		return 0;
	time_t t = timegm(&tm);
	return t < 0 ? 0 : (int64_t)t;
}

/* Calls cb for each <Contents> of one ListObjectsV2 page; sets *token to
 * the next continuation token (malloc'd) or NULL at the last page. */
static int list_page_parse(struct s3_store *st, const struct buf *page, object_list_cb cb, void *arg, char **token)
{
	*token = NULL;
	const char *s = page->data ? page->data : "", *end = s + page->len;
	size_t plen = strlen(st->cfg.prefix);
	int rc = 0;
	const char *p = s;
	while (!rc && (p = memmem(p, (size_t)(end - p), "<Contents>", 10)) != NULL) {
		const char *ce = memmem(p, (size_t)(end - p), "</Contents>", 11);
		if (!ce)
			return -EIO;
		char *key = xml_text(p, ce, "Key"), *size = xml_text(p, ce, "Size");
		if (!key || !size) {
			free(key);
			free(size);
			return -EIO;
		}
		char *modified = xml_text(p, ce, "LastModified");
		if (strncmp(key, st->cfg.prefix, plen) == 0) {
			struct object_info info = {
			    .key = key + plen, .size = strtoull(size, NULL, 10), .mtime_sec = s3_parse_time(modified)};
			rc = cb(arg, &info);
		}
		free(key);
		free(size);
		free(modified);
		p = ce + 11;
	}
	if (rc)
		return rc;
	/* IsTruncated and the token follow the last <Contents> in practice, but
	 * search the whole page outside entries to be order-independent. */
	char *truncated = xml_text(s, end, "IsTruncated");
	int more = truncated && strcmp(truncated, "true") == 0;
	free(truncated);
	if (more) {
		*token = xml_text(s, end, "NextContinuationToken");
		if (!*token || !**token) {
			free(*token);
			*token = NULL;
			object_set_cause("truncated listing without NextContinuationToken");
			log_error("%s: list: %s", st->base.description, object_last_cause());
			return -EIO;
		}
	}
	return 0;
}

static int s3_list(struct object_store *os, const char *prefix, const char *start_after, object_list_cb cb, void *arg)
{
	struct s3_store *st = s3_of(os);
	char *full_prefix = full_key(st, prefix ? prefix : "");
	char *full_after = start_after ? full_key(st, start_after) : NULL;
	char max_keys[16];
	snprintf(max_keys, sizeof(max_keys), "%u", st->cfg.list_page);
	struct buf page = {.max = SINK_MAX};
	char *token = NULL;
	int rc = full_prefix && (full_after || !start_after) ? 0 : -ENOMEM;
	while (!rc) {
		struct sigv4_pair q[5];
		size_t nq = 0;
		q[nq++] = (struct sigv4_pair){"list-type", "2"};
		q[nq++] = (struct sigv4_pair){"prefix", full_prefix};
		if (st->cfg.list_page)
			q[nq++] = (struct sigv4_pair){"max-keys", max_keys};
		if (token)
			q[nq++] = (struct sigv4_pair){"continuation-token", token};
		else if (full_after)
			q[nq++] = (struct sigv4_pair){"start-after", full_after};
		struct s3_call c = {.op = "list", .method = "GET", .query = q, .nquery = nq, .sink = &page};
		rc = s3_perform(st, &c);
		free(token);
		token = NULL;
		if (rc)
			break;
		rc = list_page_parse(st, &page, cb, arg, &token);
		if (!token)
			break;
	}
	free(token);
	free(page.data);
	free(full_prefix);
	free(full_after);
	return rc;
}

static void s3_destroy(struct object_store *os)
{
	struct s3_store *st = s3_of(os);
	/* The calling thread's handle is in the list too; free them all, then
	 * forget the key so no thread destructor runs on freed handles. */
	pthread_setspecific(st->handle_key, NULL);
	pthread_key_delete(st->handle_key);
	while (st->handles)
		handle_free(st->handles);
	curl_share_cleanup(st->share);
	for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
		pthread_mutex_destroy(&st->share_locks[i]);
	pthread_mutex_destroy(&st->handles_lock);
	s3_creds_fini(&st->creds);
	free(st);
}

static const struct object_ops s3_ops = {
    .scheme = "s3",
    .put = s3_put,
    .get = s3_get,
    .head = s3_head,
    .del = s3_del,
    .del_many = s3_del_many,
    .list = s3_list,
    .destroy = s3_destroy,
};

int object_s3_open(const struct object_s3_config *cfg, const struct object_credentials *cred, struct object_store **out,
		   char *err, size_t errlen)
{
	pthread_once(&curl_once, curl_init_once);
	if (curl_init_rc != CURLE_OK) {
		snprintf(err, errlen, "curl_global_init failed: %s", curl_easy_strerror(curl_init_rc));
		return -EIO;
	}
	struct s3_store *st = calloc(1, sizeof(*st));
	if (!st)
		return -ENOMEM;
	st->cfg = *cfg;
	if (!st->cfg.stall_ms)
		st->cfg.stall_ms = cfg->retry_ms < STALL_DEFAULT_MS ? cfg->retry_ms : STALL_DEFAULT_MS;
	if (st->cfg.stall_ms < STALL_MIN_MS)
		st->cfg.stall_ms = STALL_MIN_MS;
	if (!st->cfg.attempt_ms)
		st->cfg.attempt_ms = ATTEMPT_DEFAULT_MS;
	char why[400];
	if (s3_creds_init(&st->creds, cred, why, sizeof(why)) < 0) {
		snprintf(err, errlen, "s3 %s bucket %s: %s", cfg->endpoint, cfg->bucket, why);
		free(st);
		return -EINVAL;
	}

	const char *hostport = strstr(cfg->endpoint, "://") + 3;
	size_t scheme_len = (size_t)(hostport - cfg->endpoint);
	if (cfg->path_style) {
		snprintf(st->host, sizeof(st->host), "%s", hostport);
		snprintf(st->path_base, sizeof(st->path_base), "/%s", cfg->bucket);
	} else {
		snprintf(st->host, sizeof(st->host), "%s.%s", cfg->bucket, hostport);
		st->path_base[0] = '\0';
	}
	snprintf(st->base_url, sizeof(st->base_url), "%.*s%s", (int)scheme_len, cfg->endpoint, st->host);
	snprintf(st->base.description, sizeof(st->base.description), "s3 %.120s bucket %.63s%s%.50s", cfg->endpoint,
		 cfg->bucket, cfg->prefix[0] ? " prefix " : "", cfg->prefix);

	for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
		pthread_mutex_init(&st->share_locks[i], NULL);
	pthread_mutex_init(&st->handles_lock, NULL);
	int rc = pthread_key_create(&st->handle_key, handle_destructor);
	st->share = rc ? NULL : curl_share_init();
	if (!st->share) {
		if (!rc)
			pthread_key_delete(st->handle_key);
		snprintf(err, errlen, "s3: out of memory");
		for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
			pthread_mutex_destroy(&st->share_locks[i]);
		pthread_mutex_destroy(&st->handles_lock);
		s3_creds_fini(&st->creds);
		free(st);
		return -ENOMEM;
	}
	curl_share_setopt(st->share, CURLSHOPT_LOCKFUNC, share_lock);
	curl_share_setopt(st->share, CURLSHOPT_UNLOCKFUNC, share_unlock);
	curl_share_setopt(st->share, CURLSHOPT_USERDATA, st);
	curl_share_setopt(st->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
	st->base.ops = &s3_ops;
	*out = &st->base;
	return 0;
}
