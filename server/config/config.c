/*
 * config.c - the "key = value" part of the configuration file, table
 * driven: each key names its field and its kind.  Export lines (starting
 * with '/') are handed to config_exports.c.  docs/CONFIG.md documents every
 * key; keep the two in step.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "config.h"

enum key_kind { KEY_STRING, KEY_SIZE, KEY_PORT, KEY_UINT, KEY_BOOL, KEY_LOG_LEVEL, KEY_LOG_FORMAT, KEY_PORTMAPPER };

struct config_key {
	const char *name;
	enum key_kind kind;
	size_t offset;
	size_t size; /* of the field, for strings */
};

#define STR_KEY(n, f)                                                                                                  \
	{                                                                                                              \
		n, KEY_STRING, offsetof(struct gfs_config, f), sizeof(((struct gfs_config *)0)->f)                     \
	}
#define KEY(n, k, f)                                                                                                   \
	{                                                                                                              \
		n, k, offsetof(struct gfs_config, f), sizeof(((struct gfs_config *)0)->f)                              \
	}

static const struct config_key config_keys[] = {
    STR_KEY("meta_url", meta_url),
    STR_KEY("storage_url", storage_url),
    STR_KEY("access_key", access_key),
    STR_KEY("secret_key", secret_key),
    STR_KEY("region", region),
    STR_KEY("data_dir", data_dir),
    KEY("buffer_size", KEY_SIZE, buffer_bytes),
    KEY("cache_mem", KEY_SIZE, cache_mem_bytes),
    STR_KEY("cache_dir", cache_dir),
    KEY("cache_disk", KEY_SIZE, cache_disk_bytes),
    KEY("cache_disk_free", KEY_SIZE, cache_disk_free_bytes),
    KEY("upload_threads", KEY_UINT, upload_threads),
    KEY("attr_cache", KEY_UINT, attr_cache_entries),
    KEY("log_level", KEY_LOG_LEVEL, log_level),
    KEY("log_format", KEY_LOG_FORMAT, log_format),
    STR_KEY("metrics_listen", metrics_listen),
    STR_KEY("listen", listen_addr),
    KEY("nfs_port", KEY_PORT, nfs_port),
    KEY("mount_port", KEY_PORT, mount_port),
    KEY("portmap_port", KEY_PORT, portmap_port),
    KEY("portmapper", KEY_PORTMAPPER, portmapper),
    KEY("threads", KEY_UINT, threads),
    KEY("auth_none", KEY_BOOL, allow_auth_none),
    KEY("nfs4", KEY_BOOL, nfs4),
    KEY("nfs4_lease_time", KEY_UINT, nfs4_lease_seconds),
    STR_KEY("nfs4_idmap_domain", nfs4_idmap_domain),
    KEY("drc_entries", KEY_UINT, drc_entries),
    KEY("drc_size", KEY_SIZE, drc_bytes),
    KEY("drc_retention", KEY_UINT, drc_retention_s),
};

static const char *const portmapper_names[] = {"auto", "builtin", "rpcbind", "off"};

void config_defaults(struct gfs_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	const char *data_dir = getenv("GATEFS_DATA_DIR");
	snprintf(cfg->data_dir, sizeof(cfg->data_dir), "%s", data_dir && *data_dir ? data_dir : "/var/lib/gatefs");
	cfg->log_level = LOG_INFO;
	snprintf(cfg->listen_addr, sizeof(cfg->listen_addr), "0.0.0.0");
	cfg->nfs_port = 2049;
	cfg->mount_port = 20048;
	cfg->portmap_port = 111;
	cfg->portmapper = PORTMAPPER_AUTO;
	cfg->threads = 0; /* chosen from the CPU count (cmd_serve.c) */
	cfg->attr_cache_entries = 262144;
	cfg->nfs4 = true; /* what `mount gw:/hf` asks for first: v4.2, locks included */
	cfg->nfs4_lease_seconds = 90;
	/* 10k non-idempotent calls a second kept for 120 s (twice a TCP
	 * client's 60 s retransmission timeout), CREATE-sized replies: 1.2M
	 * entries of drc_footprint(264) = 336 bytes (docs/architecture/server.md). */
	cfg->drc_entries = 1200000;
	cfg->drc_bytes = 400ull << 20;
	cfg->drc_retention_s = 120;
}

void config_free(struct gfs_config *cfg)
{
	for (size_t i = 0; i < cfg->nexports; i++)
		free(cfg->exports[i].clients);
	free(cfg->exports);
	cfg->exports = NULL;
	cfg->nexports = 0;
}

int config_parse_size(const char *text, uint64_t *out)
{
	char *end;
	uint64_t mult = 1;

	if (!isdigit((unsigned char)*text))
		return -EINVAL;
	errno = 0;
	unsigned long long v = strtoull(text, &end, 10);
	if (errno)
		return -EINVAL;
	switch (toupper((unsigned char)*end)) {
	case 0:
		break;
	case 'K':
		mult = 1ull << 10;
		break;
	case 'M':
		mult = 1ull << 20;
		break;
	case 'G':
		mult = 1ull << 30;
		break;
	case 'T':
		mult = 1ull << 40;
		break;
	default:
		return -EINVAL;
	}
	if (*end && end[1] && !(toupper((unsigned char)end[1]) == 'B' && !end[2]) &&
	    !(toupper((unsigned char)end[1]) == 'I' && toupper((unsigned char)end[2]) == 'B' && !end[3]))
		return -EINVAL;
	if (v > UINT64_MAX / mult)
		return -EINVAL;
	*out = v * mult;
	return 0;
}

static int parse_uint(const char *text, unsigned long max, unsigned long *out)
{
	char *end;

	if (!isdigit((unsigned char)*text))
		return -EINVAL;
	errno = 0;
	unsigned long v = strtoul(text, &end, 10);
	if (errno || *end || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

static int set_key(struct gfs_config *cfg, const struct config_key *k, const char *value, char *problem,
		   size_t problemlen)
{
	void *field = (char *)cfg + k->offset;
	unsigned long u;
	uint64_t size;
	int level;

	switch (k->kind) {
	case KEY_STRING:
		if (strlen(value) >= k->size) {
			snprintf(problem, problemlen, "value of %s is longer than %zu bytes", k->name, k->size - 1);
			return -EINVAL;
		}
		memcpy(field, value, strlen(value) + 1);
		return 0;
	case KEY_SIZE:
		if (config_parse_size(value, &size) < 0) {
			snprintf(problem, problemlen, "%s: '%s' is not a size (like 4096, 64K, 256M, 10G)", k->name,
				 value);
			return -EINVAL;
		}
		*(uint64_t *)field = size;
		return 0;
	case KEY_PORT:
		if (parse_uint(value, 65535, &u) < 0) {
			snprintf(problem, problemlen, "%s: '%s' is not a port number (0-65535)", k->name, value);
			return -EINVAL;
		}
		*(int *)field = (int)u;
		return 0;
	case KEY_UINT:
		if (parse_uint(value, UINT32_MAX, &u) < 0) {
			snprintf(problem, problemlen, "%s: '%s' is not a number", k->name, value);
			return -EINVAL;
		}
		*(uint32_t *)field = (uint32_t)u;
		return 0;
	case KEY_BOOL:
		if (!strcmp(value, "yes") || !strcmp(value, "true") || !strcmp(value, "on") || !strcmp(value, "1"))
			*(bool *)field = true;
		else if (!strcmp(value, "no") || !strcmp(value, "false") || !strcmp(value, "off") ||
			 !strcmp(value, "0"))
			*(bool *)field = false;
		else {
			snprintf(problem, problemlen, "%s: '%s' is not yes or no", k->name, value);
			return -EINVAL;
		}
		return 0;
	case KEY_LOG_LEVEL:
		level = log_level_parse(value);
		if (level < 0) {
			snprintf(problem, problemlen, "%s: '%s' is not one of error, warn, info, debug", k->name,
				 value);
			return -EINVAL;
		}
		*(int *)field = level;
		return 0;
	case KEY_LOG_FORMAT:
		level = log_format_parse(value);
		if (level < 0) {
			snprintf(problem, problemlen, "%s: '%s' is not one of text, json", k->name, value);
			return -EINVAL;
		}
		*(int *)field = level;
		return 0;
	case KEY_PORTMAPPER:
		for (size_t i = 0; i < sizeof(portmapper_names) / sizeof(portmapper_names[0]); i++) {
			if (strcmp(value, portmapper_names[i]) == 0) {
				*(enum portmapper_mode *)field = (enum portmapper_mode)i;
				return 0;
			}
		}
		snprintf(problem, problemlen, "%s: '%s' is not one of auto, builtin, rpcbind, off", k->name, value);
		return -EINVAL;
	}
	return -EINVAL;
}

static char *trim(char *s)
{
	while (isspace((unsigned char)*s))
		s++;
	char *end = s + strlen(s);
	while (end > s && isspace((unsigned char)end[-1]))
		*--end = 0;
	return s;
}

/* Cuts the line at the first '#' outside double quotes: a password or a URL
 * fragment in quotes may contain one. */
static void strip_comment(char *line)
{
	bool quoted = false;

	for (char *p = line; *p; p++) {
		if (*p == '"')
			quoted = !quoted;
		else if (*p == '#' && !quoted) {
			*p = 0;
			return;
		}
	}
}

#define NKEYS (sizeof(config_keys) / sizeof(config_keys[0]))

/* seen[i] records the line that set config_keys[i]: a key given twice is a
 * mistake (which one did the author mean?), not a silent override. */
static int parse_line(struct gfs_config *cfg, char *line, int lineno, int seen[NKEYS], char *problem, size_t problemlen)
{
	strip_comment(line);
	line = trim(line);
	if (!*line)
		return 0;
	if (*line == '/')
		return config_parse_export_line(cfg, line, problem, problemlen);

	char *eq = strchr(line, '=');
	if (!eq) {
		snprintf(problem, problemlen, "expected 'key = value' or an export line starting with '/'");
		return -EINVAL;
	}
	*eq = 0;
	char *key = trim(line), *value = trim(eq + 1);
	if (value[0] == '"' && strlen(value) >= 2 && value[strlen(value) - 1] == '"') {
		value[strlen(value) - 1] = 0;
		value++;
	}
	for (size_t i = 0; i < NKEYS; i++) {
		if (strcmp(key, config_keys[i].name) != 0)
			continue;
		if (seen[i]) {
			snprintf(problem, problemlen, "%s is set twice (first on line %d)", key, seen[i]);
			return -EINVAL;
		}
		seen[i] = lineno;
		return set_key(cfg, &config_keys[i], value, problem, problemlen);
	}
	snprintf(problem, problemlen, "unknown key '%s'", key);
	return -EINVAL;
}

int config_parse_string(struct gfs_config *cfg, const char *text, const char *name, char *err, size_t errlen)
{
	char *copy = strdup(text);
	char problem[512];
	int lineno = 0, rc = 0;
	int seen[NKEYS] = {0};

	if (!copy)
		return -ENOMEM;
	for (char *line = copy, *next; line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = 0;
		lineno++;
		problem[0] = 0;
		rc = parse_line(cfg, line, lineno, seen, problem, sizeof(problem));
		if (rc < 0) {
			snprintf(err, errlen, "%s:%d: %s", name, lineno, problem);
			break;
		}
	}
	free(copy);
	return rc;
}

int config_parse_file(struct gfs_config *cfg, const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	char *text = NULL;
	size_t len = 0;
	int rc;

	if (!f) {
		rc = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return rc;
	}
	FILE *mem = open_memstream(&text, &len);
	if (!mem) {
		fclose(f);
		return -ENOMEM;
	}
	char buf[4096];
	size_t n;
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		fwrite(buf, 1, n, mem);
	rc = ferror(f) ? -EIO : 0;
	fclose(f);
	fclose(mem);
	if (rc == 0)
		rc = config_parse_string(cfg, text, path, err, errlen);
	else
		snprintf(err, errlen, "%s: read error", path);
	free(text);
	return rc;
}
