/*
 * s3proxy.c - the fault-injecting S3 proxy of s3proxy.h.  One thread
 * accepts; each client connection gets a thread that reads requests
 * (keep-alive), applies the armed fault and forwards the request to the
 * upstream on a connection of its own ("Connection: close", which is not
 * a signed header), reading the whole reply before answering.  The reply
 * is re-sent with a Content-Length, chunked bodies decoded, so a fault can
 * cut it at a known place.  Every blocking call polls in 50 ms steps so a
 * stop or a cleared fault is seen promptly.
 */
#include "s3proxy.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define HEAD_MAX 65536

struct s3proxy {
	int listen_fd, port, upstream_port;
	pthread_t acceptor;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int stopping;
	int active; /* connection threads alive */
	struct s3proxy_fault fault;
	char method[16], match[512], code[128];
	uint64_t generation; /* bumped by every set_fault: stalled requests watch it */
	struct s3proxy_stats stats;
};

struct bytes {
	char *p;
	size_t n, cap;
};

static int bytes_add(struct bytes *b, const void *p, size_t n)
{
	if (b->n + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 8192;
		while (cap < b->n + n + 1)
			cap *= 2;
		char *q = realloc(b->p, cap);
		if (!q)
			return -1;
		b->p = q;
		b->cap = cap;
	}
	memcpy(b->p + b->n, p, n);
	b->n += n;
	b->p[b->n] = '\0';
	return 0;
}

static int stopping(struct s3proxy *p)
{
	pthread_mutex_lock(&p->lock);
	int s = p->stopping;
	pthread_mutex_unlock(&p->lock);
	return s;
}

/* Waits for fd to be readable; 1 ready, 0 stopping, -1 error. */
static int wait_readable(struct s3proxy *p, int fd)
{
	for (;;) {
		if (stopping(p))
			return 0;
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		int r = poll(&pfd, 1, 50);
		if (r > 0)
			return 1;
		if (r < 0 && errno != EINTR)
			return -1;
	}
}

static int write_all(int fd, const void *buf, size_t n)
{
	const char *s = buf;
	while (n > 0) {
		ssize_t w = send(fd, s, n, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		s += w;
		n -= (size_t)w;
	}
	return 0;
}

static void reset_close(int fd)
{
	struct linger lg = {.l_onoff = 1, .l_linger = 0};
	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close(fd);
}

/* The value of header `name` in a request/response head, copied; "" if absent. */
static void header_value(const char *head, const char *name, char *out, size_t cap)
{
	out[0] = '\0';
	size_t nl = strlen(name);
	for (const char *l = strstr(head, "\r\n"); l && l[2] != '\r'; l = strstr(l + 2, "\r\n")) {
		const char *line = l + 2;
		if (strncasecmp(line, name, nl) == 0 && line[nl] == ':') {
			const char *v = line + nl + 1;
			while (*v == ' ')
				v++;
			size_t len = strcspn(v, "\r");
			snprintf(out, cap, "%.*s", (int)len, v);
			return;
		}
	}
}

struct request {
	struct bytes head; /* through the blank line */
	struct bytes body;
	char method[16], target[2048];
};

/* Reads one request; 1 read, 0 closed or stopping, -1 error.  `pending`
 * holds bytes read past the previous request. */
static int read_request(struct s3proxy *p, int fd, struct bytes *pending, struct request *r)
{
	memset(r, 0, sizeof(*r));
	for (;;) {
		char *end = pending->p ? strstr(pending->p, "\r\n\r\n") : NULL;
		if (end) {
			size_t hlen = (size_t)(end + 4 - pending->p);
			bytes_add(&r->head, pending->p, hlen);
			memmove(pending->p, pending->p + hlen, pending->n - hlen + 1);
			pending->n -= hlen;
			break;
		}
		if (pending->n > HEAD_MAX)
			return -1;
		int w = wait_readable(p, fd);
		if (w <= 0)
			return w;
		char buf[16384];
		ssize_t got = recv(fd, buf, sizeof(buf), 0);
		if (got <= 0)
			return 0;
		bytes_add(pending, buf, (size_t)got);
	}
	if (sscanf(r->head.p, "%15s %2047s", r->method, r->target) != 2)
		return -1;
	char cl[32];
	header_value(r->head.p, "content-length", cl, sizeof(cl));
	size_t want = strtoul(cl, NULL, 10);
	while (pending->n < want) {
		int w = wait_readable(p, fd);
		if (w <= 0)
			return w;
		char buf[65536];
		ssize_t got = recv(fd, buf, sizeof(buf), 0);
		if (got <= 0)
			return 0;
		bytes_add(pending, buf, (size_t)got);
	}
	bytes_add(&r->body, pending->p ? pending->p : "", want);
	if (pending->n) {
		memmove(pending->p, pending->p + want, pending->n - want + 1);
		pending->n -= want;
	}
	return 1;
}

struct response {
	int status;
	struct bytes
	    head; /* status line and headers, without Content-Length/Connection/Transfer-Encoding, no blank line */
	struct bytes body;
	char content_length[32]; /* upstream's, kept for HEAD */
};

/* Decodes a chunked body in place; -1 if malformed. */
static int dechunk(struct bytes *b)
{
	struct bytes out = {0};
	size_t i = 0;
	for (;;) {
		char *eol = b->p ? strstr(b->p + i, "\r\n") : NULL;
		if (!eol)
			return -1;
		size_t len = strtoul(b->p + i, NULL, 16);
		i = (size_t)(eol + 2 - b->p);
		if (len == 0)
			break;
		if (i + len > b->n) {
			free(out.p);
			return -1;
		}
		bytes_add(&out, b->p + i, len);
		i += len + 2;
	}
	free(b->p);
	*b = out;
	if (!b->p)
		bytes_add(b, "", 0);
	return 0;
}

/* Sends r to the upstream and reads its whole reply. */
static int forward(struct s3proxy *p, const struct request *r, struct response *resp)
{
	memset(resp, 0, sizeof(*resp));
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET,
				 .sin_port = htons((uint16_t)p->upstream_port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	struct bytes out = {0};
	const char *line = r->head.p;
	for (const char *next; (next = strstr(line, "\r\n")) != NULL; line = next + 2) {
		size_t len = (size_t)(next - line);
		if (len == 0)
			break;
		if (strncasecmp(line, "connection:", 11) == 0)
			continue;
		bytes_add(&out, line, len);
		bytes_add(&out, "\r\n", 2);
	}
	bytes_add(&out, "Connection: close\r\n\r\n", 21);
	int rc = write_all(fd, out.p, out.n);
	if (rc == 0 && r->body.n)
		rc = write_all(fd, r->body.p, r->body.n);
	free(out.p);
	struct bytes all = {0};
	while (rc == 0) {
		int w = wait_readable(p, fd);
		if (w <= 0) {
			rc = -1;
			break;
		}
		char buf[65536];
		ssize_t got = recv(fd, buf, sizeof(buf), 0);
		if (got < 0)
			rc = -1;
		if (got <= 0)
			break;
		bytes_add(&all, buf, (size_t)got);
	}
	close(fd);
	char *end = all.p ? strstr(all.p, "\r\n\r\n") : NULL;
	if (rc || !end || sscanf(all.p, "HTTP/%*s %d", &resp->status) != 1) {
		free(all.p);
		return -1;
	}
	*end = '\0';
	char te[64];
	header_value(all.p, "transfer-encoding", te, sizeof(te));
	header_value(all.p, "content-length", resp->content_length, sizeof(resp->content_length));
	line = all.p;
	for (const char *next;; line = next + 2) {
		next = strstr(line, "\r\n");
		size_t len = next ? (size_t)(next - line) : strlen(line);
		if (strncasecmp(line, "connection:", 11) && strncasecmp(line, "content-length:", 15) &&
		    strncasecmp(line, "transfer-encoding:", 18)) {
			bytes_add(&resp->head, line, len);
			bytes_add(&resp->head, "\r\n", 2);
		}
		if (!next)
			break;
	}
	size_t blen = all.n - (size_t)(end + 4 - all.p);
	bytes_add(&resp->body, end + 4, blen);
	free(all.p);
	if (strcmp(r->method, "HEAD") == 0) {
		resp->body.n = 0;
		return 0;
	}
	if (strcasestr(te, "chunked") && dechunk(&resp->body) < 0)
		return -1;
	return 0;
}

/* The armed fault if it applies to r (and counts it); kind S3F_NONE otherwise. */
static struct s3proxy_fault take_fault(struct s3proxy *p, const struct request *r, char *match, size_t cap,
				       uint64_t *generation)
{
	struct s3proxy_fault f = {.kind = S3F_NONE};
	pthread_mutex_lock(&p->lock);
	p->stats.requests++;
	*generation = p->generation;
	const struct s3proxy_fault *a = &p->fault;
	int hit = a->kind != S3F_NONE && (!a->method || strcmp(a->method, r->method) == 0);
	if (hit && a->match && a->kind != S3F_DELETE_KEY_ERROR)
		hit = strstr(r->target, a->match) != NULL;
	if (hit && a->kind == S3F_DELETE_KEY_ERROR)
		hit = strstr(r->target, "delete") && r->body.p && strstr(r->body.p, a->match);
	if (hit) {
		f = *a;
		snprintf(match, cap, "%s", a->match ? a->match : "");
		p->stats.faulted++;
		if (p->fault.count > 0 && --p->fault.count == 0)
			p->fault.kind = S3F_NONE;
	}
	pthread_mutex_unlock(&p->lock);
	return f;
}

/* Holds a stalled request until the fault changes or the proxy stops. */
static void hold(struct s3proxy *p, uint64_t generation, int client)
{
	pthread_mutex_lock(&p->lock);
	p->stats.held++;
	pthread_cond_broadcast(&p->cond);
	while (!p->stopping && p->generation == generation) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 50 * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&p->cond, &p->lock, &ts);
		pthread_mutex_unlock(&p->lock);
		/* A client that gave up has closed: stop holding. */
		char c;
		ssize_t n = recv(client, &c, 1, MSG_PEEK | MSG_DONTWAIT);
		pthread_mutex_lock(&p->lock);
		if (n == 0)
			break;
	}
	p->stats.held--;
	pthread_mutex_unlock(&p->lock);
}

static void error_reply(struct response *resp, int status, const char *code)
{
	memset(resp, 0, sizeof(*resp));
	resp->status = status;
	char line[128];
	snprintf(line, sizeof(line), "HTTP/1.1 %d Injected\r\nContent-Type: application/xml\r\n", status);
	bytes_add(&resp->head, line, strlen(line));
	char body[512];
	snprintf(body, sizeof(body),
		 "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>%s</Code><Message>injected by "
		 "s3proxy</Message></Error>",
		 code);
	bytes_add(&resp->body, body, strlen(body));
}

/* 206 with "Content-Range: bytes a-b/total" becomes a 200 of total bytes
 * whose bytes outside [a, b] are filler: a client that does not skip to
 * its offset reads the filler. */
static void ignore_range(struct response *resp)
{
	if (resp->status != 206)
		return;
	char cr[128];
	header_value(resp->head.p, "content-range", cr, sizeof(cr));
	unsigned long long a, b, total;
	if (sscanf(cr, "bytes %llu-%llu/%llu", &a, &b, &total) != 3 || b - a + 1 != resp->body.n)
		return;
	struct bytes body = {0};
	char *fill = malloc(total ? total : 1);
	memset(fill, 0xEE, total);
	memcpy(fill + a, resp->body.p, resp->body.n);
	bytes_add(&body, fill, total);
	free(fill);
	free(resp->body.p);
	resp->body = body;
	struct bytes head = {0};
	bytes_add(&head, "HTTP/1.1 200 OK\r\n", 17);
	const char *first = strstr(resp->head.p, "\r\n") + 2;
	for (const char *line = first, *next; (next = strstr(line, "\r\n")) != NULL; line = next + 2)
		if (strncasecmp(line, "content-range:", 14))
			bytes_add(&head, line, (size_t)(next - line + 2));
	free(resp->head.p);
	resp->head = head;
	resp->status = 200;
}

/* Adds an <Error> for each key of the request body containing match. */
static void delete_key_errors(const struct request *r, struct response *resp, const char *match)
{
	char *end = resp->body.p ? strstr(resp->body.p, "</DeleteResult>") : NULL;
	if (!end)
		return;
	struct bytes body = {0};
	bytes_add(&body, resp->body.p, (size_t)(end - resp->body.p));
	for (const char *k = r->body.p; (k = strstr(k, "<Key>")) != NULL;) {
		k += 5;
		const char *ke = strstr(k, "</Key>");
		if (!ke)
			break;
		char key[1100];
		snprintf(key, sizeof(key), "%.*s", (int)(ke - k), k);
		if (strstr(key, match)) {
			char err[1400];
			snprintf(err, sizeof(err),
				 "<Error><Key>%s</Key><Code>InternalError</Code><Message>injected</Message></Error>",
				 key);
			bytes_add(&body, err, strlen(err));
		}
		k = ke;
	}
	bytes_add(&body, end, strlen(end));
	free(resp->body.p);
	resp->body = body;
}

/* Sends a response; how: 0 whole, 1 half then RST, 2 half then FIN, 3 trickle. */
static int send_response(struct s3proxy *p, int fd, const struct request *r, const struct response *resp, int how)
{
	struct bytes out = {0};
	bytes_add(&out, resp->head.p, resp->head.n);
	char cl[64];
	if (strcmp(r->method, "HEAD") == 0 && resp->content_length[0])
		snprintf(cl, sizeof(cl), "Content-Length: %s\r\n\r\n", resp->content_length);
	else
		snprintf(cl, sizeof(cl), "Content-Length: %zu\r\n\r\n", resp->body.n);
	bytes_add(&out, cl, strlen(cl));
	size_t head_len = out.n;
	bytes_add(&out, resp->body.p ? resp->body.p : "", resp->body.n);
	int rc = 0;
	if (how == 0) {
		rc = write_all(fd, out.p, out.n);
	} else if (how == 1 || how == 2) {
		rc = write_all(fd, out.p, head_len + resp->body.n / 2);
		rc = -1; /* the connection ends here */
	} else {
		for (size_t i = 0; i < out.n && !stopping(p); i++) {
			if (write_all(fd, out.p + i, 1) < 0) {
				rc = -1;
				break;
			}
			for (int t = 0; t < 20 && !stopping(p); t++)
				usleep(50 * 1000);
		}
	}
	free(out.p);
	return rc;
}

struct conn {
	struct s3proxy *p;
	int fd;
};

static void *conn_main(void *arg)
{
	struct conn *c = arg;
	struct s3proxy *p = c->p;
	int fd = c->fd, reset = 0;
	free(c);
	struct bytes pending = {0};
	for (;;) {
		struct request r;
		int got = read_request(p, fd, &pending, &r);
		if (got <= 0) {
			free(r.head.p);
			free(r.body.p);
			break;
		}
		char match[512];
		uint64_t gen;
		struct s3proxy_fault f = take_fault(p, &r, match, sizeof(match), &gen);
		struct response resp;
		int ok = 1, how = 0;
		if (f.kind == S3F_RESET_BEFORE) {
			reset = 1;
			ok = 0;
		} else if (f.kind == S3F_STATUS) {
			error_reply(&resp, f.status, f.code ? f.code : "InternalError");
		} else if (f.kind == S3F_EXPIRED_TOKEN) {
			error_reply(&resp, 400, "ExpiredToken");
		} else {
			if (f.kind == S3F_STALL)
				hold(p, gen, fd);
			if (!p->upstream_port) {
				memset(&resp, 0, sizeof(resp));
				resp.status = 200;
				bytes_add(&resp.head, "HTTP/1.1 200 OK\r\n", 17);
			} else if (forward(p, &r, &resp) < 0) {
				ok = 0;
				reset = 1;
			}
			if (ok && f.kind == S3F_IGNORE_RANGE)
				ignore_range(&resp);
			if (ok && f.kind == S3F_DELETE_KEY_ERROR)
				delete_key_errors(&r, &resp, match);
			how = f.kind == S3F_RESET_MID ? 1 : f.kind == S3F_TRUNCATE ? 2 : f.kind == S3F_TRICKLE ? 3 : 0;
		}
		free(r.head.p);
		free(r.body.p);
		if (!ok)
			break;
		int rc = send_response(p, fd, &r, &resp, how);
		free(resp.head.p);
		free(resp.body.p);
		if (rc < 0) {
			reset = how == 1;
			break;
		}
	}
	free(pending.p);
	if (reset)
		reset_close(fd);
	else
		close(fd);
	pthread_mutex_lock(&p->lock);
	p->active--;
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

static void *accept_main(void *arg)
{
	struct s3proxy *p = arg;
	for (;;) {
		int w = wait_readable(p, p->listen_fd);
		if (w == 0)
			break;
		int fd = accept(p->listen_fd, NULL, NULL);
		if (fd < 0)
			continue;
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		struct conn *c = malloc(sizeof(*c));
		pthread_t t;
		pthread_attr_t attr;
		pthread_attr_init(&attr);
		pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
		pthread_mutex_lock(&p->lock);
		p->active++;
		p->stats.connections++;
		pthread_mutex_unlock(&p->lock);
		if (c)
			*c = (struct conn){p, fd};
		if (!c || pthread_create(&t, &attr, conn_main, c) != 0) {
			free(c);
			close(fd);
			pthread_mutex_lock(&p->lock);
			p->active--;
			pthread_mutex_unlock(&p->lock);
		}
		pthread_attr_destroy(&attr);
	}
	return NULL;
}

int s3proxy_start(int upstream_port, struct s3proxy **out)
{
	struct s3proxy *p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->upstream_port = upstream_port;
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->cond, NULL);
	p->listen_fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t slen = sizeof(sa);
	if (p->listen_fd < 0 || bind(p->listen_fd, (struct sockaddr *)&sa, sizeof(sa)) || listen(p->listen_fd, 128) ||
	    getsockname(p->listen_fd, (struct sockaddr *)&sa, &slen)) {
		int rc = -errno;
		if (p->listen_fd >= 0)
			close(p->listen_fd);
		free(p);
		return rc;
	}
	p->port = ntohs(sa.sin_port);
	if (pthread_create(&p->acceptor, NULL, accept_main, p)) {
		close(p->listen_fd);
		free(p);
		return -EAGAIN;
	}
	*out = p;
	return 0;
}

int s3proxy_port(const struct s3proxy *p)
{
	return p->port;
}

void s3proxy_set_fault(struct s3proxy *p, const struct s3proxy_fault *f)
{
	pthread_mutex_lock(&p->lock);
	p->fault = f ? *f : (struct s3proxy_fault){.kind = S3F_NONE};
	if (f && f->method) {
		snprintf(p->method, sizeof(p->method), "%s", f->method);
		p->fault.method = p->method;
	}
	if (f && f->match) {
		snprintf(p->match, sizeof(p->match), "%s", f->match);
		p->fault.match = p->match;
	}
	if (f && f->code) {
		snprintf(p->code, sizeof(p->code), "%s", f->code);
		p->fault.code = p->code;
	}
	p->generation++;
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
}

void s3proxy_get_stats(struct s3proxy *p, struct s3proxy_stats *out)
{
	pthread_mutex_lock(&p->lock);
	*out = p->stats;
	pthread_mutex_unlock(&p->lock);
}

int s3proxy_wait_held(struct s3proxy *p, uint64_t n, int timeout_ms)
{
	struct timespec end;
	clock_gettime(CLOCK_REALTIME, &end);
	end.tv_sec += timeout_ms / 1000;
	end.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (end.tv_nsec >= 1000000000L) {
		end.tv_sec++;
		end.tv_nsec -= 1000000000L;
	}
	int rc = 0;
	pthread_mutex_lock(&p->lock);
	while (p->stats.held < n && rc == 0)
		rc = pthread_cond_timedwait(&p->cond, &p->lock, &end);
	int ok = p->stats.held >= n;
	pthread_mutex_unlock(&p->lock);
	return ok ? 0 : -1;
}

void s3proxy_stop(struct s3proxy *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	p->stopping = 1;
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
	pthread_join(p->acceptor, NULL);
	close(p->listen_fd);
	pthread_mutex_lock(&p->lock);
	while (p->active > 0)
		pthread_cond_wait(&p->cond, &p->lock);
	pthread_mutex_unlock(&p->lock);
	pthread_mutex_destroy(&p->lock);
	pthread_cond_destroy(&p->cond);
	free(p);
}
