/*
 * s3_creds.c - the credential sources and refresh of s3_creds.h.  The
 * endpoints (container, IMDS) are asked with a curl easy handle of the
 * call's own and short time limits; their JSON is read for the four
 * fields AWS documents (AccessKeyId, SecretAccessKey, Token, Expiration).
 */
#include "s3_creds.h"

#include "log.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define REFRESH_MAX_BEFORE_SEC 300
#define FORCED_REFRESH_MIN_MS 1000
#define ENDPOINT_TIMEOUT_MS 2000L

static uint64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void copy(char *dst, size_t cap, const char *src)
{
	snprintf(dst, cap, "%s", src ? src : "");
}

/* ---- HTTP to the credential endpoints ---------------------------------- */

struct body {
	char data[16384];
	size_t len;
};

static size_t on_data(char *p, size_t size, size_t n, void *arg)
{
	struct body *b = arg;
	size_t take = size * n;
	if (b->len + take >= sizeof(b->data))
		return 0;
	memcpy(b->data + b->len, p, take);
	b->len += take;
	b->data[b->len] = '\0';
	return size * n;
}

/* method "GET" or "PUT"; header may be NULL.  0 on a 2xx. */
static int http_call(const char *method, const char *url, const char *header, struct body *out)
{
	CURL *e = curl_easy_init();
	if (!e)
		return -ENOMEM;
	out->len = 0;
	out->data[0] = '\0';
	struct curl_slist *hl = header ? curl_slist_append(NULL, header) : NULL;
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, ENDPOINT_TIMEOUT_MS);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, ENDPOINT_TIMEOUT_MS / 2);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, out);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	if (hl)
		curl_easy_setopt(e, CURLOPT_HTTPHEADER, hl);
	if (strcmp(method, "PUT") == 0) {
		curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, "PUT");
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, "");
	}
	CURLcode rc = curl_easy_perform(e);
	long status = 0;
	curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
	curl_slist_free_all(hl);
	curl_easy_cleanup(e);
	return rc == CURLE_OK && status >= 200 && status < 300 ? 0 : -EIO;
}

/* The string value of "name" in a flat JSON object; 0 if found. */
static int json_string(const char *json, const char *name, char *out, size_t cap)
{
	char quoted[64];
	snprintf(quoted, sizeof(quoted), "\"%s\"", name);
	const char *p = strstr(json, quoted);
	if (!p)
		return -ENOENT;
	p += strlen(quoted);
	while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r' || *p == ':')
		p++;
	if (*p != '"')
		return -EINVAL;
	p++;
	size_t n = 0;
	while (*p && *p != '"' && n + 1 < cap) {
		if (*p == '\\' && p[1])
			p++;
		out[n++] = *p++;
	}
	out[n] = '\0';
	return *p == '"' ? 0 : -EINVAL;
}

/* "2026-12-04T17:00:00Z" (fractions allowed) as unix seconds; 0 if absent or bad. */
static int64_t parse_iso8601(const char *s)
{
	struct tm tm = {0};
	if (sscanf(s, "%d-%d-%dT%d:%d:%d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec) !=
	    6)
		return 0;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	return (int64_t)timegm(&tm);
}

/* Fills c from an endpoint's JSON answer (lock held). */
static int take_json(struct s3_creds *c, const char *json)
{
	char access[256], secret[256], token[4096] = "", expiration[64] = "";
	if (json_string(json, "AccessKeyId", access, sizeof(access)) ||
	    json_string(json, "SecretAccessKey", secret, sizeof(secret)))
		return -EIO;
	json_string(json, "Token", token, sizeof(token));
	json_string(json, "Expiration", expiration, sizeof(expiration));
	copy(c->access, sizeof(c->access), access);
	copy(c->secret, sizeof(c->secret), secret);
	copy(c->token, sizeof(c->token), token);
	int64_t now = (int64_t)time(NULL);
	c->expires = parse_iso8601(expiration);
	c->lifetime = c->expires > now ? c->expires - now : 0;
	return 0;
}

static int fetch_container(struct s3_creds *c)
{
	char header[1100];
	snprintf(header, sizeof(header), "Authorization: %s", c->auth);
	struct body b;
	int rc = http_call("GET", c->url, c->auth[0] ? header : NULL, &b);
	return rc ? rc : take_json(c, b.data);
}

static int fetch_imds(struct s3_creds *c)
{
	char url[600], header[600], role[256];
	struct body b;
	snprintf(url, sizeof(url), "%s/latest/api/token", c->imds);
	int rc = http_call("PUT", url, "X-aws-ec2-metadata-token-ttl-seconds: 21600", &b);
	if (rc)
		return rc;
	snprintf(header, sizeof(header), "X-aws-ec2-metadata-token: %.500s", b.data);
	snprintf(url, sizeof(url), "%s/latest/meta-data/iam/security-credentials/", c->imds);
	rc = http_call("GET", url, header, &b);
	if (rc)
		return rc;
	snprintf(role, sizeof(role), "%.*s", (int)strcspn(b.data, "\r\n"), b.data);
	if (!role[0])
		return -EIO;
	snprintf(url, sizeof(url), "%s/latest/meta-data/iam/security-credentials/%s", c->imds, role);
	rc = http_call("GET", url, header, &b);
	return rc ? rc : take_json(c, b.data);
}

/* ---- the shared credentials file --------------------------------------- */

static int64_t mtime_ns(const char *path)
{
	struct stat st;
	if (stat(path, &st) < 0)
		return -1;
	return (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
}

static void trim(char *s)
{
	size_t n = strlen(s);
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n'))
		s[--n] = '\0';
	size_t i = 0;
	while (s[i] == ' ' || s[i] == '\t')
		i++;
	memmove(s, s + i, n - i + 1);
}

/* Reads the profile's keys (lock held). */
static int read_file(struct s3_creds *c)
{
	FILE *f = fopen(c->file, "r");
	if (!f)
		return -errno;
	char line[4200], section[160] = "", access[256] = "", secret[256] = "", token[4096] = "";
	while (fgets(line, sizeof(line), f)) {
		trim(line);
		if (line[0] == '[') {
			snprintf(section, sizeof(section), "%.*s", (int)strcspn(line + 1, "]"), line + 1);
			trim(section);
			continue;
		}
		char *eq = strchr(line, '=');
		if (!eq || strcmp(section, c->profile) != 0)
			continue;
		*eq = '\0';
		char *name = line, *value = eq + 1;
		trim(name);
		trim(value);
		if (strcmp(name, "aws_access_key_id") == 0)
			copy(access, sizeof(access), value);
		else if (strcmp(name, "aws_secret_access_key") == 0)
			copy(secret, sizeof(secret), value);
		else if (strcmp(name, "aws_session_token") == 0)
			copy(token, sizeof(token), value);
	}
	fclose(f);
	if (!access[0] || !secret[0])
		return -ENOENT;
	copy(c->access, sizeof(c->access), access);
	copy(c->secret, sizeof(c->secret), secret);
	copy(c->token, sizeof(c->token), token);
	return 0;
}

/* ---- selection and refresh ---------------------------------------------- */

static int fetch(struct s3_creds *c)
{
	int rc;
	switch (c->source) {
	case CREDS_FILE:
		c->file_mtime_ns = mtime_ns(c->file);
		rc = read_file(c);
		break;
	case CREDS_CONTAINER:
		rc = fetch_container(c);
		break;
	case CREDS_IMDS:
		rc = fetch_imds(c);
		break;
	default:
		rc = 0;
	}
	if (rc == 0)
		c->refreshes++;
	return rc;
}

static const char *source_name(enum s3_creds_source s)
{
	static const char *const names[] = {"config", "environment", "shared credentials file",
					    "container credentials endpoint", "IMDSv2"};
	return names[s];
}

int s3_creds_init(struct s3_creds *c, const struct object_credentials *cred, char *err, size_t errlen)
{
	memset(c, 0, sizeof(*c));
	pthread_mutex_init(&c->lock, NULL);
	const char *home = getenv("HOME"), *file = getenv("AWS_SHARED_CREDENTIALS_FILE");
	const char *profile = getenv("AWS_PROFILE"), *container = getenv("AWS_CONTAINER_CREDENTIALS_FULL_URI");
	const char *imds = getenv("AWS_EC2_METADATA_SERVICE_ENDPOINT"), *no_imds = getenv("AWS_EC2_METADATA_DISABLED");
	if (file && *file)
		copy(c->file, sizeof(c->file), file);
	else if (home && *home)
		snprintf(c->file, sizeof(c->file), "%s/.aws/credentials", home);
	copy(c->profile, sizeof(c->profile), profile && *profile ? profile : "default");
	int rc = 0;
	const char *env_access = getenv("AWS_ACCESS_KEY_ID"), *env_secret = getenv("AWS_SECRET_ACCESS_KEY");
	if (cred && (cred->access_key || cred->secret_key)) {
		/* the config's keys; a half given there is completed from the environment */
		c->source = CREDS_CONFIG;
		copy(c->access, sizeof(c->access), cred->access_key ? cred->access_key : env_access);
		copy(c->secret, sizeof(c->secret), cred->secret_key ? cred->secret_key : env_secret);
		copy(c->token, sizeof(c->token),
		     cred->session_token ? cred->session_token : getenv("AWS_SESSION_TOKEN"));
	} else if (env_access && *env_access && env_secret && *env_secret) {
		c->source = CREDS_ENV;
		copy(c->access, sizeof(c->access), env_access);
		copy(c->secret, sizeof(c->secret), env_secret);
		copy(c->token, sizeof(c->token),
		     cred && cred->session_token ? cred->session_token : getenv("AWS_SESSION_TOKEN"));
	} else if (c->file[0] && mtime_ns(c->file) >= 0) {
		c->source = CREDS_FILE;
		rc = fetch(c);
	} else if (container && *container) {
		c->source = CREDS_CONTAINER;
		copy(c->url, sizeof(c->url), container);
		copy(c->auth, sizeof(c->auth), getenv("AWS_CONTAINER_AUTHORIZATION_TOKEN"));
		rc = fetch(c);
	} else if (!(no_imds && strcmp(no_imds, "true") == 0)) {
		c->source = CREDS_IMDS;
		copy(c->imds, sizeof(c->imds), imds && *imds ? imds : "http://169.254.169.254");
		size_t n = strlen(c->imds);
		while (n && c->imds[n - 1] == '/')
			c->imds[--n] = '\0';
		rc = fetch(c);
	} else {
		rc = -ENOENT;
	}
	if (rc || !c->access[0] || !c->secret[0]) {
		snprintf(err, errlen,
			 "no credentials (%s%s): set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, the config's keys, "
			 "a shared credentials file, AWS_CONTAINER_CREDENTIALS_FULL_URI or an instance role",
			 rc ? "tried the " : "", rc ? source_name(c->source) : "none found");
		pthread_mutex_destroy(&c->lock);
		return -EINVAL;
	}
	log_debug("s3: credentials from the %s%s", source_name(c->source), c->expires ? " (expiring, refreshed)" : "");
	return 0;
}

void s3_creds_fini(struct s3_creds *c)
{
	pthread_mutex_destroy(&c->lock);
	memset(c->secret, 0, sizeof(c->secret));
	memset(c->token, 0, sizeof(c->token));
}

int s3_creds_refreshable(const struct s3_creds *c)
{
	return c->source >= CREDS_FILE;
}

/* Whether the credentials are due for a refresh (lock held). */
static int due(struct s3_creds *c)
{
	if (c->source == CREDS_FILE)
		return mtime_ns(c->file) != c->file_mtime_ns;
	if (c->source < CREDS_CONTAINER || !c->expires)
		return 0;
	int64_t before = c->lifetime / 2 < REFRESH_MAX_BEFORE_SEC ? c->lifetime / 2 : REFRESH_MAX_BEFORE_SEC;
	return (int64_t)time(NULL) >= c->expires - before;
}

int s3_creds_get(struct s3_creds *c, int force, struct s3_cred_set *out)
{
	pthread_mutex_lock(&c->lock);
	int forced = force && (!c->last_forced_ms || mono_ms() - c->last_forced_ms >= FORCED_REFRESH_MIN_MS);
	if (forced)
		c->last_forced_ms = mono_ms();
	if (s3_creds_refreshable(c) && (due(c) || forced)) {
		int rc = fetch(c);
		if (rc) /* keep the old ones: they may still work, and the call says why not */
			log_warn("s3: refreshing credentials from the %s failed: %s", source_name(c->source),
				 strerror(-rc));
	}
	copy(out->access, sizeof(out->access), c->access);
	copy(out->secret, sizeof(out->secret), c->secret);
	copy(out->token, sizeof(out->token), c->token);
	pthread_mutex_unlock(&c->lock);
	return 0;
}
