/*
 * tcpproxy.c - see tcpproxy.h.  One thread polls every connection pair;
 * delayed bytes wait in a per-pair queue stamped with their release time,
 * so order is kept and the delay is the same for every byte.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "tcpproxy.h"

#define MAX_PAIRS 64
#define CHUNK 65536

struct held {
	int64_t release_ms;
	size_t len;
	struct held *next;
	char data[];
};

struct pair {
	int client, server; /* -1 when closed */
	bool marked;
	char seen[64]; /* tail of client bytes, to find the marker across reads */
	struct held *head, *tail;
};

struct tcpproxy {
	int listen_fd, target_port, wake[2];
	char marker[32];
	pthread_t thread;
	pthread_mutex_t lock;
	enum tcpproxy_mode mode;
	int delay_ms;
	bool reset_marked;
	atomic_bool stop;
	struct pair pairs[MAX_PAIRS];
};

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void close_pair(struct pair *p)
{
	if (p->client >= 0)
		close(p->client);
	if (p->server >= 0)
		close(p->server);
	p->client = p->server = -1;
	p->marked = false;
	p->seen[0] = 0;
	while (p->head) {
		struct held *h = p->head;
		p->head = h->next;
		free(h);
	}
	p->tail = NULL;
}

static bool write_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		buf += n;
		len -= (size_t)n;
	}
	return true;
}

static void note_client_bytes(struct tcpproxy *x, struct pair *p, const char *buf, size_t n)
{
	size_t have = strlen(p->seen), keep = sizeof(p->seen) - 1;
	char joined[sizeof(p->seen) + CHUNK + 1];
	memcpy(joined, p->seen, have);
	memcpy(joined + have, buf, n);
	joined[have + n] = 0;
	for (size_t i = 0; i < have + n; i++)
		if (joined[i] == 0)
			joined[i] = ' ';
	if (strstr(joined, x->marker))
		p->marked = true;
	size_t total = have + n, from = total > keep ? total - keep : 0;
	memcpy(p->seen, joined + from, total - from);
	p->seen[total - from] = 0;
}

static void accept_one(struct tcpproxy *x)
{
	int c = accept(x->listen_fd, NULL, NULL);
	if (c < 0)
		return;
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)x->target_port)};
	inet_pton(AF_INET, "127.0.0.1", &sin.sin_addr);
	int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s < 0 || connect(s, (struct sockaddr *)&sin, sizeof(sin)) < 0) {
		close(c);
		if (s >= 0)
			close(s);
		return;
	}
	int one = 1;
	setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	for (int i = 0; i < MAX_PAIRS; i++)
		if (x->pairs[i].client < 0) {
			x->pairs[i].client = c;
			x->pairs[i].server = s;
			return;
		}
	close(c);
	close(s);
}

static void *proxy_main(void *arg)
{
	struct tcpproxy *x = arg;
	static char buf[CHUNK];
	while (!atomic_load(&x->stop)) {
		struct pollfd fds[2 + 2 * MAX_PAIRS];
		int idx[2 + 2 * MAX_PAIRS], n = 0;
		fds[n++] = (struct pollfd){.fd = x->listen_fd, .events = POLLIN};
		fds[n++] = (struct pollfd){.fd = x->wake[0], .events = POLLIN};
		pthread_mutex_lock(&x->lock);
		enum tcpproxy_mode mode = x->mode;
		int delay = x->delay_ms;
		if (x->reset_marked) {
			for (int i = 0; i < MAX_PAIRS; i++)
				if (x->pairs[i].client >= 0 && x->pairs[i].marked)
					close_pair(&x->pairs[i]);
			x->reset_marked = false;
		}
		pthread_mutex_unlock(&x->lock);
		int64_t now = now_ms(), next_release = 0;
		for (int i = 0; i < MAX_PAIRS; i++) {
			struct pair *p = &x->pairs[i];
			if (p->client < 0)
				continue;
			/* Release what is due, in order. */
			while (p->head && p->head->release_ms <= now) {
				struct held *h = p->head;
				p->head = h->next;
				if (!p->head)
					p->tail = NULL;
				bool ok = write_all(p->client, h->data, h->len);
				free(h);
				if (!ok) {
					close_pair(p);
					break;
				}
			}
			if (p->client < 0)
				continue;
			if (p->head && (!next_release || p->head->release_ms < next_release))
				next_release = p->head->release_ms;
			fds[n] = (struct pollfd){.fd = p->client, .events = POLLIN};
			idx[n++] = i * 2;
			fds[n] = (struct pollfd){.fd = p->server, .events = POLLIN};
			idx[n++] = i * 2 + 1;
		}
		int timeout = next_release ? (int)(next_release > now ? next_release - now : 0) : 200;
		if (poll(fds, (nfds_t)n, timeout) < 0 && errno != EINTR)
			break;
		if (fds[0].revents & POLLIN)
			accept_one(x);
		if (fds[1].revents & POLLIN) {
			char drop[64];
			if (read(x->wake[0], drop, sizeof(drop)) < 0)
				continue;
		}
		for (int k = 2; k < n; k++) {
			if (!fds[k].revents)
				continue;
			struct pair *p = &x->pairs[idx[k] / 2];
			bool from_client = idx[k] % 2 == 0;
			if (p->client < 0)
				continue;
			ssize_t got = recv(fds[k].fd, buf, sizeof(buf), MSG_DONTWAIT);
			if (got < 0 && (errno == EAGAIN || errno == EINTR))
				continue;
			if (got <= 0) {
				close_pair(p);
				continue;
			}
			if (from_client)
				note_client_bytes(x, p, buf, (size_t)got);
			if (p->marked && mode == TCPPROXY_SILENCE)
				continue; /* swallowed: the peer hears nothing */
			if (from_client) {
				if (!write_all(p->server, buf, (size_t)got))
					close_pair(p);
			} else if (p->marked && mode == TCPPROXY_DELAY) {
				struct held *h = malloc(sizeof(*h) + (size_t)got);
				if (!h) {
					close_pair(p);
					continue;
				}
				h->release_ms = now_ms() + delay;
				h->len = (size_t)got;
				h->next = NULL;
				memcpy(h->data, buf, (size_t)got);
				if (p->tail)
					p->tail->next = h;
				else
					p->head = h;
				p->tail = h;
			} else if (p->head) {
				/* Still releasing delayed bytes: keep the order. */
				struct held *h = malloc(sizeof(*h) + (size_t)got);
				if (!h) {
					close_pair(p);
					continue;
				}
				h->release_ms = p->tail->release_ms;
				h->len = (size_t)got;
				h->next = NULL;
				memcpy(h->data, buf, (size_t)got);
				p->tail->next = h;
				p->tail = h;
			} else if (!write_all(p->client, buf, (size_t)got)) {
				close_pair(p);
			}
		}
	}
	return NULL;
}

struct tcpproxy *tcpproxy_start(int target_port, const char *marker, int *port)
{
	struct tcpproxy *x = calloc(1, sizeof(*x));
	if (!x)
		return NULL;
	x->target_port = target_port;
	snprintf(x->marker, sizeof(x->marker), "%s", marker);
	for (int i = 0; i < MAX_PAIRS; i++)
		x->pairs[i].client = x->pairs[i].server = -1;
	pthread_mutex_init(&x->lock, NULL);
	x->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = 0};
	inet_pton(AF_INET, "127.0.0.1", &sin.sin_addr);
	socklen_t len = sizeof(sin);
	if (x->listen_fd < 0 || bind(x->listen_fd, (struct sockaddr *)&sin, sizeof(sin)) < 0 ||
	    listen(x->listen_fd, 64) < 0 || getsockname(x->listen_fd, (struct sockaddr *)&sin, &len) < 0 ||
	    pipe(x->wake) < 0) {
		if (x->listen_fd >= 0)
			close(x->listen_fd);
		free(x);
		return NULL;
	}
	*port = ntohs(sin.sin_port);
	if (pthread_create(&x->thread, NULL, proxy_main, x) != 0) {
		close(x->listen_fd);
		close(x->wake[0]);
		close(x->wake[1]);
		free(x);
		return NULL;
	}
	return x;
}

static void wake(struct tcpproxy *x)
{
	if (write(x->wake[1], "w", 1) < 0) {
		/* the thread still looks every 200 ms */
	}
}

void tcpproxy_set(struct tcpproxy *x, enum tcpproxy_mode mode, int delay_ms)
{
	pthread_mutex_lock(&x->lock);
	x->mode = mode;
	x->delay_ms = delay_ms;
	pthread_mutex_unlock(&x->lock);
	wake(x);
}

void tcpproxy_reset_marked(struct tcpproxy *x)
{
	pthread_mutex_lock(&x->lock);
	x->reset_marked = true;
	pthread_mutex_unlock(&x->lock);
	wake(x);
}

void tcpproxy_stop(struct tcpproxy *x)
{
	if (!x)
		return;
	atomic_store(&x->stop, true);
	wake(x);
	pthread_join(x->thread, NULL);
	for (int i = 0; i < MAX_PAIRS; i++)
		close_pair(&x->pairs[i]);
	close(x->listen_fd);
	close(x->wake[0]);
	close(x->wake[1]);
	pthread_mutex_destroy(&x->lock);
	free(x);
}
