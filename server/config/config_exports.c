/*
 * config_exports.c - export lines of the configuration file, in the syntax
 * of exports(5):
 *
 *   /hf  -dir=/data/hf  10.0.0.0/8(rw,root_squash) 127.0.0.1(rw,insecure) *(ro)
 *
 * The path is what clients mount.  An optional "-opts" list right after it
 * sets defaults for every client on the line, and is the only place for
 * dir= (the directory inside the volume; default: the same path).  Clients
 * are matched in order, first match wins.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

#define ANON_ID_DEFAULT 65534

static void client_defaults(struct export_client *c)
{
	memset(c, 0, sizeof(*c));
	c->read_only = true;
	c->squash = EXPORT_ROOT_SQUASH;
	c->anonuid = ANON_ID_DEFAULT;
	c->anongid = ANON_ID_DEFAULT;
	c->secure = true;
}

static int parse_id(const char *text, uint32_t *out)
{
	char *end;

	if (!isdigit((unsigned char)*text))
		return -EINVAL;
	errno = 0;
	unsigned long v = strtoul(text, &end, 10);
	if (errno || *end || v > UINT32_MAX)
		return -EINVAL;
	*out = (uint32_t)v;
	return 0;
}

/* Applies a comma-separated option list to c; dir (may be NULL) receives
 * dir= when allowed. */
static int apply_options(struct export_client *c, char *opts, char *dir, size_t dirlen, char *problem,
			 size_t problemlen)
{
	for (char *save = NULL, *opt = strtok_r(opts, ",", &save); opt; opt = strtok_r(NULL, ",", &save)) {
		if (!strcmp(opt, "rw"))
			c->read_only = false;
		else if (!strcmp(opt, "ro"))
			c->read_only = true;
		else if (!strcmp(opt, "root_squash"))
			c->squash = EXPORT_ROOT_SQUASH;
		else if (!strcmp(opt, "no_root_squash"))
			c->squash = EXPORT_NO_ROOT_SQUASH;
		else if (!strcmp(opt, "all_squash"))
			c->squash = EXPORT_ALL_SQUASH;
		else if (!strcmp(opt, "secure"))
			c->secure = true;
		else if (!strcmp(opt, "insecure"))
			c->secure = false;
		else if (!strncmp(opt, "anonuid=", 8)) {
			if (parse_id(opt + 8, &c->anonuid) < 0) {
				snprintf(problem, problemlen, "bad anonuid '%s'", opt + 8);
				return -EINVAL;
			}
		} else if (!strncmp(opt, "anongid=", 8)) {
			if (parse_id(opt + 8, &c->anongid) < 0) {
				snprintf(problem, problemlen, "bad anongid '%s'", opt + 8);
				return -EINVAL;
			}
		} else if (!strncmp(opt, "dir=", 4)) {
			if (!dir) {
				snprintf(problem, problemlen,
					 "dir= applies to the whole export: write it as -dir=... after the path");
				return -EINVAL;
			}
			if (opt[4] != '/' || strlen(opt + 4) >= dirlen) {
				snprintf(problem, problemlen, "dir= needs an absolute path inside the volume");
				return -EINVAL;
			}
			snprintf(dir, dirlen, "%s", opt + 4);
		} else {
			snprintf(problem, problemlen, "unknown export option '%s'", opt);
			return -EINVAL;
		}
	}
	return 0;
}

/* Peers that reach a dual-stack socket as ::ffff:a.b.c.d are matched as
 * IPv4 (export.c), so an IPv6 spec of that space is turned into the IPv4
 * range it means; one that covers it only in part (::/0, ::ffff:0:0/80)
 * could never match such a peer and is refused rather than silently dead. */
static int ipv4_mapped_as_ipv4(struct export_client *c, char *problem, size_t problemlen)
{
	static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
	if (c->family != AF_INET6)
		return 0;
	unsigned whole = c->prefix_len < 96 ? c->prefix_len / 8 : 12, rest = c->prefix_len < 96 ? c->prefix_len % 8 : 0;
	int in_mapped = memcmp(c->addr, mapped, whole) == 0 &&
			(rest == 0 || ((c->addr[whole] ^ mapped[whole]) & (uint8_t)(0xff << (8 - rest))) == 0);
	if (!in_mapped)
		return 0;
	if (c->prefix_len < 96) {
		snprintf(problem, problemlen,
			 "client '%s' covers IPv4-mapped addresses (::ffff:0:0/96) only in part: write the IPv4 "
			 "range as a.b.c.d/n, or use '*'",
			 c->spec);
		return -EINVAL;
	}
	c->family = AF_INET;
	memmove(c->addr, c->addr + 12, 4);
	memset(c->addr + 4, 0, 12);
	c->prefix_len -= 96;
	return 0;
}

static int parse_client_address(struct export_client *c, const char *spec, char *problem, size_t problemlen)
{
	char addr[64];
	const char *slash = strchr(spec, '/');
	size_t addrlen = slash ? (size_t)(slash - spec) : strlen(spec);

	snprintf(c->spec, sizeof(c->spec), "%s", spec);
	if (!strcmp(spec, "*")) {
		c->family = AF_UNSPEC;
		return 0;
	}
	if (addrlen == 0 || addrlen >= sizeof(addr)) {
		snprintf(problem, problemlen, "bad client '%s'", spec);
		return -EINVAL;
	}
	memcpy(addr, spec, addrlen);
	addr[addrlen] = 0;
	unsigned max_prefix;
	if (inet_pton(AF_INET, addr, c->addr) == 1) {
		c->family = AF_INET;
		max_prefix = 32;
	} else if (inet_pton(AF_INET6, addr, c->addr) == 1) {
		c->family = AF_INET6;
		max_prefix = 128;
	} else {
		snprintf(problem, problemlen,
			 "client '%s' is not '*', an IP address or a CIDR (host names are not supported)", spec);
		return -EINVAL;
	}
	c->prefix_len = max_prefix;
	if (slash) {
		char *end;
		unsigned long bits = strtoul(slash + 1, &end, 10);
		if (!isdigit((unsigned char)slash[1]) || *end || bits > max_prefix) {
			snprintf(problem, problemlen, "bad prefix length in '%s'", spec);
			return -EINVAL;
		}
		c->prefix_len = (unsigned)bits;
	}
	return ipv4_mapped_as_ipv4(c, problem, problemlen);
}

static bool path_is_clean(const char *p)
{
	if (p[0] != '/')
		return false;
	return !strstr(p, "/../") && !strstr(p, "/./") && !strstr(p, "//") &&
	       (strlen(p) < 3 || strcmp(p + strlen(p) - 3, "/..") != 0) &&
	       (strlen(p) < 2 || strcmp(p + strlen(p) - 2, "/.") != 0);
}

static int parse_clients(struct export *ex, char **tokens, size_t ntokens, const struct export_client *defaults,
			 char *problem, size_t problemlen)
{
	ex->clients = calloc(ntokens, sizeof(*ex->clients));
	if (!ex->clients)
		return -ENOMEM;
	for (size_t i = 0; i < ntokens; i++) {
		struct export_client *c = &ex->clients[ex->nclients];
		char *tok = tokens[i], *paren = strchr(tok, '(');

		*c = *defaults;
		if (paren) {
			size_t len = strlen(tok);
			if (tok[len - 1] != ')' || strchr(paren + 1, '(')) {
				snprintf(problem, problemlen, "unbalanced parentheses in '%s'", tok);
				return -EINVAL;
			}
			tok[len - 1] = 0;
			*paren = 0;
		} else if (strchr(tok, ')')) {
			snprintf(problem, problemlen, "unbalanced parentheses in '%s'", tok);
			return -EINVAL;
		}
		if (parse_client_address(c, tok, problem, problemlen) < 0)
			return -EINVAL;
		if (paren && apply_options(c, paren + 1, NULL, 0, problem, problemlen) < 0)
			return -EINVAL;
		ex->nclients++;
	}
	return 0;
}

int config_parse_export_line(struct gfs_config *cfg, char *line, char *problem, size_t problemlen)
{
	char *tokens[64];
	size_t ntokens = 0;
	struct export_client defaults;
	struct export ex;
	int rc;

	for (char *save = NULL, *t = strtok_r(line, " \t", &save); t; t = strtok_r(NULL, " \t", &save)) {
		if (ntokens == sizeof(tokens) / sizeof(tokens[0])) {
			snprintf(problem, problemlen, "too many clients on one export line (max 63)");
			return -EINVAL;
		}
		tokens[ntokens++] = t;
	}
	memset(&ex, 0, sizeof(ex));
	if (strlen(tokens[0]) >= sizeof(ex.path) || !path_is_clean(tokens[0])) {
		snprintf(problem, problemlen, "export path '%s' must be absolute, without '.', '..' or '//'",
			 tokens[0]);
		return -EINVAL;
	}
	snprintf(ex.path, sizeof(ex.path), "%s", tokens[0]);
	if (strlen(ex.path) > 1 && ex.path[strlen(ex.path) - 1] == '/')
		ex.path[strlen(ex.path) - 1] = 0;
	snprintf(ex.volume_dir, sizeof(ex.volume_dir), "%s", ex.path);
	ex.id = export_id_for_path(ex.path);

	client_defaults(&defaults);
	size_t first_client = 1;
	if (ntokens > 1 && tokens[1][0] == '-') {
		if (apply_options(&defaults, tokens[1] + 1, ex.volume_dir, sizeof(ex.volume_dir), problem, problemlen) <
		    0)
			return -EINVAL;
		if (!path_is_clean(ex.volume_dir)) {
			snprintf(problem, problemlen, "dir '%s' must be absolute, without '.', '..' or '//'",
				 ex.volume_dir);
			return -EINVAL;
		}
		first_client = 2;
	}
	if (ntokens <= first_client) {
		snprintf(problem, problemlen, "export %s names no clients (use '*' for everyone)", ex.path);
		return -EINVAL;
	}
	for (size_t i = 0; i < cfg->nexports; i++) {
		if (strcmp(cfg->exports[i].path, ex.path) == 0) {
			snprintf(problem, problemlen, "export %s is defined twice", ex.path);
			return -EINVAL;
		}
		if (cfg->exports[i].id == ex.id) {
			snprintf(problem, problemlen, "export %s has the same id as %s; rename one", ex.path,
				 cfg->exports[i].path);
			return -EINVAL;
		}
	}
	rc = parse_clients(&ex, tokens + first_client, ntokens - first_client, &defaults, problem, problemlen);
	if (rc < 0) {
		free(ex.clients);
		return rc;
	}
	struct export *grown = realloc(cfg->exports, (cfg->nexports + 1) * sizeof(*grown));
	if (!grown) {
		free(ex.clients);
		return -ENOMEM;
	}
	cfg->exports = grown;
	cfg->exports[cfg->nexports++] = ex;
	return 0;
}
