/*
 * meta_engine.c - opening and closing the metadata engine: checks that the
 * Redis it is given will not lose metadata (eviction policy, persistence),
 * builds and loads the scripts, and on close stops the attribute cache
 * before it frees the connections.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "meta_cache.h"
#include "meta_internal.h"
#include "meta_metrics.h"

/* CONFIG GET name -> value copied to out; 1 if CONFIG is unavailable. */
static int config_get(struct meta *m, const char *name, char *out, size_t outlen, int *err)
{
	redisContext *c = meta_ctx(m, err);
	if (!c)
		return -1;
	redisReply *r = redisCommand(c, "CONFIG GET %s", name);
	if (!r) {
		meta_conn_failed(m, c);
		*err = -EAGAIN;
		return -1;
	}
	int rc = 1;
	if (r->type == REDIS_REPLY_ARRAY && r->elements == 2 && r->element[1]->type == REDIS_REPLY_STRING) {
		snprintf(out, outlen, "%s", r->element[1]->str);
		rc = 0;
	}
	freeReplyObject(r);
	return rc;
}

static int check_redis(struct meta *m, char *err, size_t errlen)
{
	int e = 0;
	char policy[64] = "", aof[16] = "", save[128] = "";
	int rc = config_get(m, "maxmemory-policy", policy, sizeof(policy), &e);
	if (rc < 0) {
		snprintf(err, errlen, "cannot reach redis at %s", m->url_for_log);
		return e;
	}
	if (rc == 1) {
		log_warn("meta: CONFIG is not available on %s; cannot check that maxmemory-policy is noeviction and "
			 "that persistence is on",
			 m->url_for_log);
		return 0;
	}
	if (strcmp(policy, "noeviction") != 0) {
		snprintf(err, errlen,
			 "redis at %s has maxmemory-policy '%s', which may evict (lose) metadata; run "
			 "'CONFIG SET maxmemory-policy noeviction' and set 'maxmemory-policy noeviction' in redis.conf",
			 m->url_for_log, policy);
		return -EPERM;
	}
	if (config_get(m, "appendonly", aof, sizeof(aof), &e) == 0 &&
	    config_get(m, "save", save, sizeof(save), &e) == 0 && strcmp(aof, "yes") != 0 && save[0] == 0)
		log_warn("meta: redis at %s has neither AOF (appendonly) nor RDB (save) persistence: a restart loses "
			 "all metadata; set 'appendonly yes' in redis.conf",
			 m->url_for_log);
	else if (strcmp(aof, "yes") != 0)
		log_warn("meta: redis at %s has no AOF (appendonly no): a crash loses the changes since the last "
			 "snapshot",
			 m->url_for_log);
	return 0;
}

int meta_open(const char *url, struct meta **out, char *err, size_t errlen)
{
	meta_metrics_register();
	struct meta *m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	int rc = meta_parse_url(m, url, err, errlen);
	if (rc == 0)
		rc = meta_build_scripts(m, err, errlen);
	if (rc < 0) {
		for (int i = 0; i < MS_COUNT; i++)
			free(m->scripts[i].source);
		free(m->library);
		free(m);
		return rc;
	}
	meta_conns_init(m);
	rc = check_redis(m, err, errlen);
	if (rc < 0) {
		meta_close(m);
		return rc;
	}
	meta_choose_runner(m);
	*out = m;
	return 0;
}

int meta_probe_url(const char *url, char *err, size_t errlen)
{
	struct meta *m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	int rc = meta_parse_url(m, url, err, errlen);
	redisContext *c = rc == 0 ? meta_connect(m, err, errlen) : NULL;
	if (rc == 0 && !c)
		rc = -EAGAIN;
	if (c) {
		redisReply *r = redisCommand(c, "PING");
		if (!r || r->type != REDIS_REPLY_STATUS || strcmp(r->str, "PONG") != 0) {
			snprintf(err, errlen, "PING: %s",
				 !r				? c->errstr
				 : r->type == REDIS_REPLY_ERROR ? r->str
								: "unexpected reply");
			rc = r ? -EIO : -EAGAIN;
		}
		if (r)
			freeReplyObject(r);
		redisFree(c);
	}
	free(m);
	return rc;
}

void meta_close(struct meta *m)
{
	if (!m)
		return;
	meta_dentries_stop(m);
	meta_cache_stop(m);
	meta_conns_fini(m);
	for (int i = 0; i < MS_COUNT; i++)
		free(m->scripts[i].source);
	free(m->library);
	free(m);
}

int meta_cache_start(struct meta *m, uint32_t max_entries, char *err, size_t errlen)
{
	int rc = meta_attr_cache_start(m, max_entries, err, errlen);
	if (rc == 0 && (rc = meta_dentries_start(m, max_entries)) < 0) {
		snprintf(err, errlen, "out of memory");
		meta_cache_stop(m);
	}
	return rc;
}
