/*
 * data_admin.c - fsck of block objects and the sweep of leaked objects
 * (data_admin.h).  Object keys are made and read by slice_view.c alone.
 */
#include "data_admin.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "slice_view.h"

struct object_check {
	struct object_store *store;
	const struct gfs_volume_settings *settings;
	data_report_fn report;
	void *arg;
	uint64_t slices, problems;
};

static int check_slice_objects(void *arg, uint64_t id, uint32_t size)
{
	struct object_check *oc = arg;
	uint32_t bs = oc->settings->block_size;
	char line[512];
	oc->slices++;
	for (uint32_t i = 0; i < slice_nblocks(size, bs); i++) {
		uint32_t len = slice_block_len(size, bs, i);
		char key[256];
		if (slice_block_key(key, sizeof(key), oc->settings->uuid, id, i, len) < 0)
			return -ENAMETOOLONG;
		uint64_t have = 0;
		int rc = oc->store->ops->head(oc->store, key, &have);
		if (rc == -ENOENT) {
			snprintf(line, sizeof(line), "slice %" PRIu64 ": block %u missing (%s)", id, i, key);
			oc->problems++;
		} else if (rc < 0) {
			snprintf(line, sizeof(line), "slice %" PRIu64 ": block %u unreadable (%s): %s", id, i, key,
				 strerror(-rc));
			oc->report(oc->arg, line);
			return rc;
		} else if (have != len) {
			snprintf(line, sizeof(line), "slice %" PRIu64 ": block %u has %" PRIu64 " bytes, expected %u",
				 id, i, have, len);
			oc->problems++;
		} else {
			continue;
		}
		oc->report(oc->arg, line);
	}
	return 0;
}

int data_check_objects(struct meta *m, struct object_store *store, const struct gfs_volume_settings *s,
		       data_report_fn report, void *arg, uint64_t *slices, uint64_t *problems)
{
	struct object_check oc = {.store = store, .settings = s, .report = report, .arg = arg};
	int rc = meta_scan_slices(m, check_slice_objects, &oc);
	*slices = oc.slices;
	*problems = oc.problems;
	return rc;
}

/* The set of referenced slice ids, sorted for binary search. */
struct id_set {
	uint64_t *ids;
	size_t n, cap;
};

static int collect_id(void *arg, uint64_t id, uint32_t size)
{
	(void)size;
	struct id_set *set = arg;
	if (set->n == set->cap) {
		size_t cap = set->cap ? set->cap * 2 : 1024;
		uint64_t *ids = realloc(set->ids, cap * sizeof(*ids));
		if (!ids)
			return -ENOMEM;
		set->ids = ids;
		set->cap = cap;
	}
	set->ids[set->n++] = id;
	return 0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

struct leak_walk {
	struct object_store *store;
	const struct id_set *live;
	uint64_t last_id_before_scan;
	int64_t now_sec;
	struct data_leak_sweep *sweep;
	data_report_fn report;
	void *arg;
};

/*
 * An unreferenced object is leaked only if it provably belongs to no slice
 * that may still be committed: its counter was handed out before the scan
 * began (a later one may belong to an upload or a compaction whose commit
 * the scan missed), and it is older than the minimum age (an id reserved
 * before the scan may still be uploading, or committing just after the
 * scan passed its chunk).
 */
static bool may_take(const struct leak_walk *w, uint64_t id, const struct object_info *info)
{
	if (meta_slice_counter(id) >= w->last_id_before_scan) /* ids carry a tag (meta.h) */
		return false;
	if (w->sweep->min_age_sec == 0)
		return true;
	return info->mtime_sec > 0 && w->now_sec - info->mtime_sec >= w->sweep->min_age_sec;
}

static int visit(void *arg, const struct object_info *info)
{
	struct leak_walk *w = arg;
	struct data_leak_sweep *sw = w->sweep;
	sw->objects++;
	const char *base = strrchr(info->key, '/');
	base = base ? base + 1 : info->key;
	char *end;
	uint64_t id = strtoull(base, &end, 10);
	if (end == base || *end != '_')
		return 0; /* not a block object; gc never touches it */
	if (w->live->n && bsearch(&id, w->live->ids, w->live->n, sizeof(uint64_t), cmp_u64))
		return 0;
	if (!may_take(w, id, info)) {
		sw->too_new++;
		return 0;
	}
	sw->leaked++;
	sw->leaked_bytes += info->size;
	char line[512];
	snprintf(line, sizeof(line), "leaked: %s (%" PRIu64 " bytes)", info->key, info->size);
	w->report(w->arg, line);
	if (sw->delete) {
		int rc = w->store->ops->del(w->store, info->key);
		if (rc < 0) {
			snprintf(line, sizeof(line), "cannot delete %s: %s", info->key, strerror(-rc));
			w->report(w->arg, line);
			return rc;
		}
		sw->deleted++;
	}
	return 0;
}

int data_sweep_leaks(struct meta *m, struct object_store *store, const struct gfs_volume_settings *s,
		     struct data_leak_sweep *sweep, data_report_fn report, void *arg)
{
	struct id_set live = {0};
	struct leak_walk w = {.store = store, .live = &live, .sweep = sweep, .report = report, .arg = arg};
	/* Read before the scan: see may_take. */
	int rc = meta_last_slice_id(m, &w.last_id_before_scan);
	/* Slices queued for delayed deletion are still owned by the deleter;
	 * they count as live so that the sweep and the deleter never race. */
	if (rc == 0)
		rc = meta_scan_slices(m, collect_id, &live);
	struct meta_dead_slice *dead = NULL;
	size_t ndead = 0;
	if (rc == 0)
		rc = meta_dead_slices(m, META_DEAD_ANY_AGE, SIZE_MAX, &dead, &ndead);
	for (size_t i = 0; rc == 0 && i < ndead; i++)
		rc = collect_id(&live, dead[i].id, dead[i].size);
	free(dead);
	if (rc == 0) {
		if (live.n) /* qsort wants a real array even for none */
			qsort(live.ids, live.n, sizeof(uint64_t), cmp_u64);
		char prefix[128];
		snprintf(prefix, sizeof(prefix), "%s/chunks/", s->uuid);
		w.now_sec = (int64_t)time(NULL);
		rc = store->ops->list(store, prefix, NULL, visit, &w);
	}
	free(live.ids);
	return rc;
}
