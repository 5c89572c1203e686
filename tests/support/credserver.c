/*
 * credserver.c - the credentials endpoint of credserver.h: one thread,
 * one request per connection, JSON as the AWS container endpoint sends.
 */
#include "credserver.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct credserver {
	int fd, port, stop;
	pthread_t thread;
	pthread_mutex_t lock;
	char access[256], secret[256], token[1024];
	int expires_in;
	uint64_t requests;
	char url[64];
};

static void answer(struct credserver *s, int c)
{
	char req[8192];
	size_t len = 0;
	while (len < sizeof(req) - 1) {
		struct pollfd p = {.fd = c, .events = POLLIN};
		if (poll(&p, 1, 2000) <= 0)
			return;
		ssize_t n = recv(c, req + len, sizeof(req) - 1 - len, 0);
		if (n <= 0)
			return;
		len += (size_t)n;
		req[len] = '\0';
		if (strstr(req, "\r\n\r\n"))
			break;
	}
	char body[2048], expiration[64] = "";
	pthread_mutex_lock(&s->lock);
	s->requests++;
	if (s->expires_in) {
		time_t t = time(NULL) + s->expires_in;
		struct tm tm;
		gmtime_r(&t, &tm);
		strftime(expiration, sizeof(expiration), ",\"Expiration\":\"%Y-%m-%dT%H:%M:%SZ\"", &tm);
	}
	int n = snprintf(body, sizeof(body), "{\"AccessKeyId\":\"%s\",\"SecretAccessKey\":\"%s\"%s%s%s%s}", s->access,
			 s->secret, s->token[0] ? ",\"Token\":\"" : "", s->token, s->token[0] ? "\"" : "", expiration);
	pthread_mutex_unlock(&s->lock);
	char resp[2300];
	int m = snprintf(resp, sizeof(resp),
			 "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\nConnection: "
			 "close\r\n\r\n%s",
			 n, body);
	if (send(c, resp, (size_t)m, MSG_NOSIGNAL) < 0)
		return;
}

static void *serve(void *arg)
{
	struct credserver *s = arg;
	for (;;) {
		pthread_mutex_lock(&s->lock);
		int stop = s->stop;
		pthread_mutex_unlock(&s->lock);
		if (stop)
			break;
		struct pollfd p = {.fd = s->fd, .events = POLLIN};
		if (poll(&p, 1, 50) <= 0)
			continue;
		int c = accept(s->fd, NULL, NULL);
		if (c < 0)
			continue;
		answer(s, c);
		close(c);
	}
	return NULL;
}

int credserver_start(struct credserver **out)
{
	struct credserver *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	pthread_mutex_init(&s->lock, NULL);
	s->fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t slen = sizeof(sa);
	if (s->fd < 0 || bind(s->fd, (struct sockaddr *)&sa, sizeof(sa)) || listen(s->fd, 16) ||
	    getsockname(s->fd, (struct sockaddr *)&sa, &slen) || pthread_create(&s->thread, NULL, serve, s)) {
		if (s->fd >= 0)
			close(s->fd);
		free(s);
		return -EIO;
	}
	s->port = ntohs(sa.sin_port);
	snprintf(s->url, sizeof(s->url), "http://127.0.0.1:%d/creds", s->port);
	*out = s;
	return 0;
}

const char *credserver_url(const struct credserver *s)
{
	return s->url;
}

void credserver_set(struct credserver *s, const char *access, const char *secret, const char *token, int expires_in_sec)
{
	pthread_mutex_lock(&s->lock);
	snprintf(s->access, sizeof(s->access), "%s", access);
	snprintf(s->secret, sizeof(s->secret), "%s", secret);
	snprintf(s->token, sizeof(s->token), "%s", token ? token : "");
	s->expires_in = expires_in_sec;
	pthread_mutex_unlock(&s->lock);
}

uint64_t credserver_requests(struct credserver *s)
{
	pthread_mutex_lock(&s->lock);
	uint64_t n = s->requests;
	pthread_mutex_unlock(&s->lock);
	return n;
}

void credserver_stop(struct credserver *s)
{
	pthread_mutex_lock(&s->lock);
	s->stop = 1;
	pthread_mutex_unlock(&s->lock);
	pthread_join(s->thread, NULL);
	close(s->fd);
	pthread_mutex_destroy(&s->lock);
	free(s);
}
