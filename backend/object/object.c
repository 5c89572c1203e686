/*
 * object.c - the front of the object layer: parses store URLs, opens the
 * right driver, and probes a store end to end (object_store_probe) so that a
 * misconfiguration is reported at startup in words, not as the first failed
 * write.  The drivers sit below it: each fills a struct object_ops table
 * (object.h), and every call goes through that table.
 */
#include "object_driver.h"

#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void set_err(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
	if (!err || !errlen)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Copies [s, s+n) into dst (of size cap) with %XX decoded; -EINVAL if too long or malformed. */
static int pct_decode(const char *s, size_t n, char *dst, size_t cap)
{
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (c == '%') {
			int hi = i + 2 < n ? hex_value(s[i + 1]) : -1;
			int lo = i + 2 < n ? hex_value(s[i + 2]) : -1;
			if (hi < 0 || lo < 0)
				return -EINVAL;
			c = (char)(hi * 16 + lo);
			i += 2;
		}
		if (o + 1 >= cap)
			return -EINVAL;
		dst[o++] = c;
	}
	dst[o] = '\0';
	return 0;
}

static int parse_u32(const char *s, uint32_t *out)
{
	char *end;
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (errno || end == s || *end || v > UINT32_MAX)
		return -EINVAL;
	*out = (uint32_t)v;
	return 0;
}

/* Splits "https://host:port" off the front of url into endpoint; returns the rest ("/bucket/..."). */
static const char *split_endpoint(const char *url, char *endpoint, size_t cap)
{
	const char *host = strstr(url, "://");
	if (!host)
		return NULL;
	host += 3;
	size_t n = strcspn(host, "/?");
	size_t total = (size_t)(host - url) + n;
	if (n == 0 || total >= cap)
		return NULL;
	memcpy(endpoint, url, total);
	endpoint[total] = '\0';
	return host + n;
}

/* Applies one "name=value" URL parameter to cfg. */
static int apply_param(struct object_s3_config *cfg, const char *name, const char *value, int *path_style_set)
{
	if (strcmp(name, "endpoint") == 0) {
		if (strncmp(value, "http://", 7) != 0 && strncmp(value, "https://", 8) != 0)
			return -EINVAL;
		size_t n = strlen(value);
		while (n && value[n - 1] == '/')
			n--;
		/* Only scheme://host[:port]: a path would be sent but not signed. */
		const char *host = strstr(value, "://") + 3;
		size_t host_len = n - (size_t)(host - value);
		if (n >= sizeof(cfg->endpoint) || host_len == 0 || strcspn(host, "/?#@") < host_len)
			return -EINVAL;
		memcpy(cfg->endpoint, value, n);
		cfg->endpoint[n] = '\0';
		return 0;
	}
	if (strcmp(name, "region") == 0) {
		if (!*value || strlen(value) >= sizeof(cfg->region))
			return -EINVAL;
		strcpy(cfg->region, value);
		return 0;
	}
	if (strcmp(name, "path_style") == 0) {
		if (strcmp(value, "0") && strcmp(value, "1"))
			return -EINVAL;
		cfg->path_style = value[0] == '1';
		*path_style_set = 1;
		return 0;
	}
	if (strcmp(name, "retry_ms") == 0)
		return parse_u32(value, &cfg->retry_ms);
	if (strcmp(name, "list_page") == 0) {
		int rc = parse_u32(value, &cfg->list_page);
		return rc ? rc : cfg->list_page > 1000 ? -EINVAL : 0;
	}
	if (strcmp(name, "stall_ms") == 0)
		return parse_u32(value, &cfg->stall_ms);
	if (strcmp(name, "attempt_ms") == 0) {
		int rc = parse_u32(value, &cfg->attempt_ms);
		return rc ? rc : cfg->attempt_ms < 100 ? -EINVAL : 0;
	}
	return -EINVAL;
}

static int parse_params(struct object_s3_config *cfg, const char *q, int *path_style_set, char *err, size_t errlen)
{
	while (q && *q) {
		size_t n = strcspn(q, "&");
		const char *eq = memchr(q, '=', n);
		char name[64], value[512];
		if (!eq || pct_decode(q, (size_t)(eq - q), name, sizeof(name)) ||
		    pct_decode(eq + 1, n - (size_t)(eq - q) - 1, value, sizeof(value))) {
			set_err(err, errlen, "bad URL parameter \"%.*s\"", (int)n, q);
			return -EINVAL;
		}
		if (apply_param(cfg, name, value, path_style_set)) {
			set_err(err, errlen,
				"bad URL parameter \"%s=%s\" (known: endpoint, region, path_style=0|1, retry_ms, "
				"list_page<=1000, stall_ms, attempt_ms>=100)",
				name, value);
			return -EINVAL;
		}
		q += n;
		if (*q == '&')
			q++;
	}
	return 0;
}

/* "/BUCKET/PREFIX" into cfg->bucket and cfg->prefix (with a trailing '/'). */
static int parse_bucket_path(struct object_s3_config *cfg, const char *path, size_t n, char *err, size_t errlen)
{
	while (n && *path == '/')
		path++, n--;
	size_t b = 0;
	while (b < n && path[b] != '/')
		b++;
	if (b == 0 || b >= sizeof(cfg->bucket)) {
		set_err(err, errlen, "missing or too long bucket name in the URL");
		return -EINVAL;
	}
	memcpy(cfg->bucket, path, b);
	cfg->bucket[b] = '\0';
	const char *prefix = path + b;
	size_t plen = n - b;
	while (plen && *prefix == '/')
		prefix++, plen--;
	if (pct_decode(prefix, plen, cfg->prefix, sizeof(cfg->prefix) - 1)) {
		set_err(err, errlen, "bad or too long prefix in the URL");
		return -EINVAL;
	}
	size_t len = strlen(cfg->prefix);
	if (len && cfg->prefix[len - 1] != '/')
		strcat(cfg->prefix, "/");
	return 0;
}

static void resolve_region(struct object_s3_config *cfg, const struct object_credentials *cred)
{
	if (cfg->region[0])
		return;
	const char *candidates[] = {cred ? cred->region : NULL, getenv("AWS_REGION"), getenv("AWS_DEFAULT_REGION"),
				    "us-east-1"};
	for (size_t i = 0; i < sizeof(candidates) / sizeof(candidates[0]); i++) {
		if (candidates[i] && *candidates[i] && strlen(candidates[i]) < sizeof(cfg->region)) {
			strcpy(cfg->region, candidates[i]);
			return;
		}
	}
}

static int open_s3_url(const char *url, const struct object_credentials *cred, struct object_store **out, char *err,
		       size_t errlen)
{
	struct object_s3_config cfg = {0};
	cfg.retry_ms = cred && cred->max_retry_ms ? cred->max_retry_ms : OBJECT_DEFAULT_RETRY_MS;
	const char *q = strchr(url, '?');
	size_t before_q = q ? (size_t)(q - url) : strlen(url);
	int path_style_set = 0;
	const char *path;
	if (strncmp(url, "s3://", 5) == 0) {
		path = url + 5;
	} else {
		path = split_endpoint(url, cfg.endpoint, sizeof(cfg.endpoint));
		if (!path || path > url + before_q) {
			set_err(err, errlen, "bad endpoint in URL %s", url);
			return -EINVAL;
		}
	}
	if (parse_bucket_path(&cfg, path, before_q - (size_t)(path - url), err, errlen))
		return -EINVAL;
	if (q && parse_params(&cfg, q + 1, &path_style_set, err, errlen))
		return -EINVAL;
	resolve_region(&cfg, cred);
	if (!cfg.endpoint[0]) {
		/* AWS itself: virtual-hosted style unless told otherwise. */
		snprintf(cfg.endpoint, sizeof(cfg.endpoint), "https://s3.%s.amazonaws.com", cfg.region);
		if (!path_style_set)
			cfg.path_style = 0;
	} else if (!path_style_set) {
		cfg.path_style = 1;
	}
	return object_s3_open(&cfg, cred, out, err, errlen);
}

static int open_driver(const char *url, const struct object_credentials *cred, struct object_store **out, char *err,
		       size_t errlen)
{
	*out = NULL;
	if (err && errlen)
		err[0] = '\0';
	if (!url) {
		set_err(err, errlen, "no object store URL");
		return -EINVAL;
	}
	if (strncmp(url, "file://", 7) == 0) {
		if (url[7] != '/') {
			set_err(err, errlen, "file URL must hold an absolute path: file:///dir");
			return -EINVAL;
		}
		return object_file_open(url + 7, out, err, errlen);
	}
	if (strncmp(url, "s3://", 5) == 0 || strncmp(url, "http://", 7) == 0 || strncmp(url, "https://", 8) == 0)
		return open_s3_url(url, cred, out, err, errlen);
	set_err(err, errlen,
		"unknown object store URL \"%s\" (file:///dir, s3://bucket/prefix?endpoint=..., "
		"http(s)://host:port/bucket/prefix)",
		url);
	return -EINVAL;
}

static const char *hint_for(int rc)
{
	switch (rc) {
	case -EACCES:
		return "check the access key and secret";
	case -ENOENT:
		return "check that the bucket exists";
	case -EIO:
		return "check that the endpoint is up and reachable";
	default:
		return "check the store URL and its permissions";
	}
}

static int probe_failed(struct object_store *st, const char *step, const char *key, int rc, char *err, size_t errlen)
{
	const char *cause = object_last_cause();
	set_err(err, errlen, "%s: %s %s failed: %s: %s", st->description, step, key, *cause ? cause : strerror(-rc),
		hint_for(rc));
	return rc;
}

int object_store_probe(struct object_store *st, char *err, size_t errlen)
{
	char key[128], host[64] = "host";
	gethostname(host, sizeof(host) - 1);
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	snprintf(key, sizeof(key), "probe/%s-%d-%lld%09ld", host, (int)getpid(), (long long)now.tv_sec, now.tv_nsec);

	char data[256], back[sizeof(data) + 16];
	int len = snprintf(data, sizeof(data), "gatefs probe %s\n", key);
	object_set_cause("%s", "");
	int rc = st->ops->put(st, key, data, (size_t)len);
	if (rc)
		return probe_failed(st, "put", key, rc, err, errlen);
	size_t got = 0;
	rc = st->ops->get(st, key, 0, sizeof(back), back, &got);
	if (rc)
		return probe_failed(st, "get", key, rc, err, errlen);
	if (got != (size_t)len || memcmp(back, data, got) != 0) {
		set_err(err, errlen,
			"%s: probe object %s read back differs from what was written (%zu bytes, %d expected)",
			st->description, key, got, len);
		st->ops->del(st, key);
		return -EIO;
	}
	rc = st->ops->del(st, key);
	if (rc)
		return probe_failed(st, "delete", key, rc, err, errlen);
	return 0;
}

int object_store_open(const char *url, const struct object_credentials *cred, struct object_store **out, char *err,
		      size_t errlen)
{
	int rc = open_driver(url, cred, out, err, errlen);
	if (rc == 0)
		rc = object_metered(out);
	if (rc == -ENOMEM)
		set_err(err, errlen, "out of memory");
	return rc;
}
