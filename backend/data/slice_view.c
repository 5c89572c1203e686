/*
 * slice_view.c - newest-wins resolution of a chunk's sources into segments,
 * and the object key of a block (see slice_view.h).
 *
 * Sources are painted newest first onto the still-uncovered parts of the
 * range; whatever stays uncovered is a hole.  Records per chunk are few
 * (compaction keeps them so), so the quadratic worst case does not matter.
 */
#include "slice_view.h"

#include "meta.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

struct gap {
	uint32_t start, end;
};

struct seg_list {
	struct view_seg *v;
	size_t n, cap;
};

static int seg_push(struct seg_list *l, uint32_t pos, uint32_t len, int src, uint32_t slice_off)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 8;
		struct view_seg *v = realloc(l->v, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n++] = (struct view_seg){.pos = pos, .len = len, .src = src, .slice_off = slice_off};
	return 0;
}

static int seg_cmp(const void *a, const void *b)
{
	const struct view_seg *x = a, *y = b;
	return x->pos < y->pos ? -1 : x->pos > y->pos;
}

/* Paints source s over the gaps it intersects; the gaps array is rewritten
 * in place (a gap split in two needs one extra slot, hence the cap). */
static int paint(const struct view_src *s, int idx, struct gap **gaps, size_t *ngaps, size_t *cap,
		 struct seg_list *segs)
{
	uint32_t s_start = s->pos, s_end = s->pos + s->len;
	for (size_t g = 0; g < *ngaps; g++) {
		struct gap *gp = &(*gaps)[g];
		uint32_t a = gp->start > s_start ? gp->start : s_start;
		uint32_t b = gp->end < s_end ? gp->end : s_end;
		if (a >= b)
			continue;
		int src = (s->id == 0 && !s->pending) ? -1 : idx;
		int rc = seg_push(segs, a, b - a, src, s->off + (a - s->pos));
		if (rc)
			return rc;
		if (a == gp->start && b == gp->end) {
			/* gap fully covered: drop it */
			for (size_t k = g + 1; k < *ngaps; k++)
				(*gaps)[k - 1] = (*gaps)[k];
			(*ngaps)--;
			g--;
		} else if (a == gp->start) {
			gp->start = b;
		} else if (b == gp->end) {
			gp->end = a;
		} else {
			if (*ngaps == *cap) {
				size_t ncap = *cap * 2;
				struct gap *ng = realloc(*gaps, ncap * sizeof(*ng));
				if (!ng)
					return -ENOMEM;
				*gaps = ng;
				*cap = ncap;
				gp = &(*gaps)[g];
			}
			for (size_t k = *ngaps; k > g + 1; k--)
				(*gaps)[k] = (*gaps)[k - 1];
			(*gaps)[g + 1] = (struct gap){b, gp->end};
			gp->end = a;
			(*ngaps)++;
			g++;
		}
	}
	return 0;
}

int slice_view(const struct view_src *srcs, size_t nsrcs, uint32_t start, uint32_t end, struct view_seg **out,
	       size_t *nout)
{
	if (start > end)
		return -EINVAL;
	struct seg_list segs = {0};
	size_t cap = 8, ngaps = start < end ? 1 : 0;
	struct gap *gaps = malloc(cap * sizeof(*gaps));
	if (!gaps)
		return -ENOMEM;
	gaps[0] = (struct gap){start, end};
	int rc = 0;
	for (size_t i = nsrcs; i-- > 0 && ngaps > 0 && rc == 0;) {
		if (srcs[i].len > 0)
			rc = paint(&srcs[i], (int)i, &gaps, &ngaps, &cap, &segs);
	}
	for (size_t g = 0; g < ngaps && rc == 0; g++)
		rc = seg_push(&segs, gaps[g].start, gaps[g].end - gaps[g].start, -1, 0);
	free(gaps);
	if (rc) {
		free(segs.v);
		return rc;
	}
	if (segs.n > 1)
		qsort(segs.v, segs.n, sizeof(*segs.v), seg_cmp);
	*out = segs.v;
	*nout = segs.n;
	return 0;
}

int slice_block_key(char *buf, size_t buflen, const char *uuid, uint64_t id, uint32_t idx, uint32_t blen)
{
	/* The directories follow the counter, not the tag, so that a batch's
	 * objects stay together and listings stay short (docs/FORMAT.md). */
	uint64_t dir = meta_slice_counter(id);
	int n = snprintf(buf, buflen, "%s/chunks/%llu/%llu/%llu_%u_%u", uuid, (unsigned long long)(dir / 1000000),
			 (unsigned long long)(dir / 1000), (unsigned long long)id, idx, blen);
	if (n < 0 || (size_t)n >= buflen)
		return -ENAMETOOLONG;
	return n;
}
