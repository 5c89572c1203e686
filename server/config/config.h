/*
 * config.h - the gatefs configuration file (docs/CONFIG.md): volume and
 * cache settings as "key = value" lines, and exports as exports(5)-like
 * lines that start with '/'.  Parsing never touches the network or the
 * volume; errors name FILE:LINE and the problem.
 */
#ifndef GATEFS_CONFIG_H
#define GATEFS_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "export.h"

enum portmapper_mode {
	PORTMAPPER_AUTO = 0, /* register with rpcbind if it runs, else builtin if port is free */
	PORTMAPPER_BUILTIN = 1,
	PORTMAPPER_RPCBIND = 2,
	PORTMAPPER_OFF = 3,
};

struct gfs_config {
	/* volume */
	char meta_url[1024];	/* empty: embedded redis-server under data_dir */
	char storage_url[1024]; /* empty: the volume's own */
	char access_key[256];
	char secret_key[256];
	char region[64];
	char data_dir[1024];
	uint64_t buffer_bytes;
	uint64_t cache_mem_bytes;
	char cache_dir[1024];
	uint64_t cache_disk_bytes;
	uint64_t cache_disk_free_bytes;
	uint32_t upload_threads;
	uint32_t attr_cache_entries; /* inodes in the attribute cache; 0 = none */
	int log_level;		     /* enum log_level */
	int log_format;		     /* enum log_format */

	/* network */
	char listen_addr[64]; /* IPv4 or IPv6 literal; default 0.0.0.0 */
	int nfs_port;
	int mount_port;
	int portmap_port;
	enum portmapper_mode portmapper;
	uint32_t threads;     /* RPC worker threads; 0: from the CPU count */
	bool allow_auth_none; /* offer AUTH_NONE in MNT replies and accept it */
	bool nfs4;	      /* serve NFSv4.1/4.2 (default on) */
	uint32_t nfs4_lease_seconds;
	char nfs4_idmap_domain[256]; /* empty: owners are numeric strings */
	char metrics_listen[128];    /* "ADDR:PORT" of the Prometheus endpoint; empty: off */

	/* duplicate request cache */
	uint32_t drc_entries;
	uint64_t drc_bytes;
	uint32_t drc_retention_s;

	struct export *exports;
	size_t nexports;
};

/* Fills cfg with defaults (no exports). */
void config_defaults(struct gfs_config *cfg);
/* Parses text as if read from a file called name.  On error returns
 * -EINVAL with "name:line: problem" in err; cfg then holds what was parsed
 * so far and must still be freed with config_free. */
int config_parse_string(struct gfs_config *cfg, const char *text, const char *name, char *err, size_t errlen);
int config_parse_file(struct gfs_config *cfg, const char *path, char *err, size_t errlen);
void config_free(struct gfs_config *cfg);

/* "4096", "64K", "256M", "10G", "1T" -> bytes; -EINVAL if malformed. */
int config_parse_size(const char *text, uint64_t *out);

/* Parses one exports line ("/path [-defaults] client(opts) ...") and appends
 * the export to cfg.  config_exports.c. */
int config_parse_export_line(struct gfs_config *cfg, char *line, char *problem, size_t problemlen);

#endif
