/*
 * metrics_http.h - the Prometheus endpoint of a running gateway: GET
 * /metrics answers metrics_render() (every layer's metrics, metrics.h) in
 * the text format, served by libevent's evhttp on a thread of its own, so
 * a slow scraper never holds up an RPC thread.
 */
#ifndef GATEFS_METRICS_HTTP_H
#define GATEFS_METRICS_HTTP_H

#include <stddef.h>

struct metrics_http;

/* Listens on "ADDR:PORT" ("127.0.0.1:9100", "[::1]:9100", ":9100" for every
 * IPv4 address; port 0 picks a free port, see *bound_port).  On failure
 * returns a negative errno with the reason in err. */
int metrics_http_start(const char *listen, struct metrics_http **out, int *bound_port, char *err, size_t errlen);
/* Stops the thread and closes the socket; NULL is fine. */
void metrics_http_stop(struct metrics_http *h);

#endif
