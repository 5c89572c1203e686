/*
 * metrics_http.c - the /metrics endpoint of metrics_http.h on libevent's
 * evhttp: one event base on one thread; stopping breaks its loop from the
 * caller's thread, which libevent allows once evthread_use_pthreads ran.
 */
#include "metrics_http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/thread.h>

#include "log.h"
#include "metrics.h"

struct metrics_http {
	struct event_base *base;
	struct evhttp *http;
	pthread_t thread;
};

static void free_rendered(const void *data, size_t len, void *arg)
{
	(void)len;
	(void)arg;
	free((void *)data);
}

static void answer_metrics(struct evhttp_request *req, void *arg)
{
	(void)arg;
	enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
	if (cmd != EVHTTP_REQ_GET && cmd != EVHTTP_REQ_HEAD) {
		evhttp_send_error(req, 405, "only GET");
		return;
	}
	size_t len = 0;
	char *text = metrics_render(&len);
	struct evbuffer *body = evbuffer_new();
	if (!text || !body || evbuffer_add_reference(body, text, len, free_rendered, NULL) < 0) {
		if (body)
			evbuffer_free(body);
		free(text);
		evhttp_send_error(req, 500, "out of memory");
		return;
	}
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
			  "text/plain; version=0.0.4; charset=utf-8");
	evhttp_send_reply(req, 200, "OK", body);
	evbuffer_free(body);
}

static void answer_other(struct evhttp_request *req, void *arg)
{
	(void)arg;
	evhttp_send_error(req, 404, "see /metrics");
}

/* "ADDR:PORT", "[V6]:PORT" or ":PORT" into host and port. */
static int split_listen(const char *listen, char *host, size_t hostlen, int *port)
{
	const char *colon = strrchr(listen, ':');
	const char *h = listen;
	size_t n;
	char *end;

	if (!colon)
		return -EINVAL;
	n = (size_t)(colon - listen);
	if (n >= 2 && listen[0] == '[' && listen[n - 1] == ']') {
		h = listen + 1;
		n -= 2;
	}
	if (n == 0) {
		h = "0.0.0.0";
		n = 7;
	}
	if (n >= hostlen)
		return -EINVAL;
	memcpy(host, h, n);
	host[n] = '\0';
	long v = strtol(colon + 1, &end, 10);
	if (!colon[1] || *end || v < 0 || v > 65535)
		return -EINVAL;
	*port = (int)v;
	return 0;
}

static void *serve_thread(void *arg)
{
	struct metrics_http *h = arg;
	event_base_dispatch(h->base);
	return NULL;
}

static int bound_port_of(struct evhttp_bound_socket *sock)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	if (getsockname(evhttp_bound_socket_get_fd(sock), (struct sockaddr *)&ss, &len) < 0)
		return -1;
	return ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
					      : ((struct sockaddr_in *)&ss)->sin_port);
}

/* Lets metrics_http_stop break the loop from another thread. */
static void use_pthreads(void)
{
	if (evthread_use_pthreads() < 0)
		log_warn("metrics: libevent has no pthreads support; stopping may wait for the next request");
}

int metrics_http_start(const char *listen, struct metrics_http **out, int *bound_port, char *err, size_t errlen)
{
	static pthread_once_t threads_once = PTHREAD_ONCE_INIT;
	char host[64];
	int port;

	*out = NULL;
	if (split_listen(listen, host, sizeof(host), &port) < 0) {
		snprintf(err, errlen, "metrics_listen '%s' is not ADDR:PORT", listen);
		return -EINVAL;
	}
	pthread_once(&threads_once, use_pthreads);
	struct metrics_http *h = calloc(1, sizeof(*h));
	if (!h || !(h->base = event_base_new()) || !(h->http = evhttp_new(h->base))) {
		snprintf(err, errlen, "out of memory");
		metrics_http_stop(h);
		return -ENOMEM;
	}
	evhttp_set_allowed_methods(h->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD);
	evhttp_set_cb(h->http, "/metrics", answer_metrics, NULL);
	evhttp_set_gencb(h->http, answer_other, NULL);
	evhttp_set_timeout(h->http, 10);
	struct evhttp_bound_socket *sock = evhttp_bind_socket_with_handle(h->http, host, (uint16_t)port);
	if (!sock) {
		int e = errno ? errno : EADDRNOTAVAIL;
		snprintf(err, errlen, "cannot listen on %s port %d for metrics: %s", host, port, strerror(e));
		metrics_http_stop(h);
		return -e;
	}
	*bound_port = bound_port_of(sock);
	int rc = pthread_create(&h->thread, NULL, serve_thread, h);
	if (rc) {
		snprintf(err, errlen, "cannot start the metrics thread: %s", strerror(rc));
		metrics_http_stop(h);
		return -rc;
	}
	*out = h;
	return 0;
}

void metrics_http_stop(struct metrics_http *h)
{
	if (!h)
		return;
	if (h->thread) {
		event_base_loopbreak(h->base);
		pthread_join(h->thread, NULL);
	}
	if (h->http)
		evhttp_free(h->http);
	if (h->base)
		event_base_free(h->base);
	free(h);
}
