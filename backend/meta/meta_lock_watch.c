/*
 * meta_lock_watch.c - "a lock on inode X was released" events from every
 * gateway of the volume: lock.lua PUBLISHes the inode on the channel
 * <prefix>unlocked whenever it removes a lock (unlock, an owner's or a
 * client's release, an expired holder's locks dropped); this file
 * SUBSCRIBEs on a connection of its own, on a thread of its own, and
 * hands each inode to the caller's function.
 *
 * The events are a hint that makes blocked lockers quick, not a guarantee:
 * Redis pub/sub drops what is published while the connection is down, so
 * the caller must still find releases on its own (front ends test their
 * waiters periodically).  A lost connection is therefore simply made
 * again, once a second, and the caller is told nothing is known (ino 0)
 * after each reconnection.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "meta.h"
#include "meta_internal.h"

struct meta_lock_watch {
	struct meta *m;
	void (*released)(void *arg, gfs_ino_t ino);
	void *arg;
	pthread_t thread;
	atomic_int stopping;
	char channel[META_PREFIX_MAX + 16];
};

static redisContext *subscribe(struct meta_lock_watch *w)
{
	char why[256] = "";
	redisContext *c = meta_connect(w->m, why, sizeof(why));
	if (!c)
		return NULL;
	redisReply *r = redisCommand(c, "SUBSCRIBE %s", w->channel);
	bool ok = r && r->type == REDIS_REPLY_ARRAY;
	if (r)
		freeReplyObject(r);
	if (!ok) {
		redisFree(c);
		return NULL;
	}
	return c;
}

/* A message reply: ["message", channel, payload]. */
static void deliver(struct meta_lock_watch *w, redisReply *r)
{
	if (r->type != REDIS_REPLY_ARRAY || r->elements != 3 || r->element[0]->type != REDIS_REPLY_STRING ||
	    strcmp(r->element[0]->str, "message") != 0 || r->element[2]->type != REDIS_REPLY_STRING)
		return;
	char *end = NULL;
	unsigned long long ino = strtoull(r->element[2]->str, &end, 10);
	if (end && *end == 0 && ino != 0)
		w->released(w->arg, (gfs_ino_t)ino);
}

static void *watch_main(void *arg)
{
	struct meta_lock_watch *w = arg;
	redisContext *c = NULL;
	bool warned = false;
	while (!atomic_load(&w->stopping)) {
		if (!c) {
			c = subscribe(w);
			if (!c) {
				if (!warned)
					log_warn("meta: cannot subscribe to lock releases; blocked lockers are told "
						 "within their periodic check; retrying every second");
				warned = true;
				sleep(1);
				continue;
			}
			warned = false;
			w->released(w->arg, 0); /* whatever was published meanwhile is lost */
		}
		/* (Replies hiredis read along with SUBSCRIBE's are in its reader
		 * already: drained below whatever poll says.) */
		struct pollfd p = {c->fd, POLLIN, 0};
		bool broken = false;
		if (poll(&p, 1, 250) > 0) {
			char buf[4096];
			ssize_t got = recv(c->fd, buf, sizeof(buf), MSG_DONTWAIT);
			broken = got == 0 || (got < 0 && errno != EAGAIN && errno != EINTR);
			if (got > 0 && redisReaderFeed(c->reader, buf, (size_t)got) != REDIS_OK)
				broken = true;
		}
		for (;;) {
			void *reply = NULL;
			if (broken || redisReaderGetReply(c->reader, &reply) != REDIS_OK) {
				broken = true;
				break;
			}
			if (!reply)
				break;
			deliver(w, reply);
			freeReplyObject(reply);
		}
		if (broken) {
			redisFree(c);
			c = NULL;
		}
	}
	if (c)
		redisFree(c);
	return NULL;
}

int meta_lock_watch_start(struct meta *m, void (*released)(void *arg, gfs_ino_t ino), void *arg,
			  struct meta_lock_watch **out)
{
	struct meta_lock_watch *w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->m = m;
	w->released = released;
	w->arg = arg;
	snprintf(w->channel, sizeof(w->channel), "%sunlocked", m->prefix);
	int rc = pthread_create(&w->thread, NULL, watch_main, w);
	if (rc != 0) {
		free(w);
		return -rc;
	}
	*out = w;
	return 0;
}

void meta_lock_watch_stop(struct meta_lock_watch *w)
{
	if (!w)
		return;
	atomic_store(&w->stopping, 1);
	pthread_join(w->thread, NULL);
	free(w);
}
