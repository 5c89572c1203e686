/*
 * data_pool.c - the worker pool of data_pool.h: two mutex-protected FIFOs
 * (urgent, normal), threads sleep on a condition variable while both are
 * empty.
 */
#include "data_pool.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

struct job {
	data_job_fn fn;
	void *arg;
	struct job *next;
};

struct data_pool {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct job *head, *tail;	       /* normal */
	struct job *urgent_head, *urgent_tail; /* taken first */
	size_t queued;
	int stopping;
	unsigned nthreads;
	pthread_t *threads;
};

static void *pool_main(void *arg)
{
	struct data_pool *p = arg;
	pthread_mutex_lock(&p->lock);
	for (;;) {
		while (!p->head && !p->urgent_head && !p->stopping)
			pthread_cond_wait(&p->cond, &p->lock);
		struct job *j;
		if (p->urgent_head) {
			j = p->urgent_head;
			p->urgent_head = j->next;
			if (!p->urgent_head)
				p->urgent_tail = NULL;
		} else if (p->head) {
			j = p->head;
			p->head = j->next;
			if (!p->head)
				p->tail = NULL;
		} else {
			break; /* stopping and drained */
		}
		p->queued--;
		pthread_mutex_unlock(&p->lock);
		j->fn(j->arg);
		free(j);
		pthread_mutex_lock(&p->lock);
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

int data_pool_create(const char *name, unsigned nthreads, struct data_pool **out)
{
	struct data_pool *p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->threads = calloc(nthreads, sizeof(*p->threads));
	if (!p->threads) {
		free(p);
		return -ENOMEM;
	}
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->cond, NULL);
	for (unsigned i = 0; i < nthreads; i++) {
		int rc = pthread_create(&p->threads[i], NULL, pool_main, p);
		if (rc) {
			log_error("%s pool: cannot start thread: %s", name, strerror(rc));
			p->nthreads = i;
			data_pool_destroy(p);
			return -rc;
		}
		p->nthreads = i + 1;
	}
	*out = p;
	return 0;
}

static int submit(struct data_pool *p, data_job_fn fn, void *arg, int urgent, size_t max_queued)
{
	struct job *j = malloc(sizeof(*j));
	if (!j)
		return -ENOMEM;
	*j = (struct job){.fn = fn, .arg = arg};
	pthread_mutex_lock(&p->lock);
	int rc = p->stopping ? -ESHUTDOWN : p->queued >= max_queued ? -EBUSY : 0;
	if (rc) {
		pthread_mutex_unlock(&p->lock);
		free(j);
		return rc;
	}
	struct job **head = urgent ? &p->urgent_head : &p->head, **tail = urgent ? &p->urgent_tail : &p->tail;
	if (*tail)
		(*tail)->next = j;
	else
		*head = j;
	*tail = j;
	p->queued++;
	pthread_cond_signal(&p->cond);
	pthread_mutex_unlock(&p->lock);
	return 0;
}

int data_pool_submit(struct data_pool *p, data_job_fn fn, void *arg)
{
	return submit(p, fn, arg, 0, SIZE_MAX);
}

int data_pool_submit_urgent(struct data_pool *p, data_job_fn fn, void *arg)
{
	return submit(p, fn, arg, 1, SIZE_MAX);
}

int data_pool_submit_bounded(struct data_pool *p, data_job_fn fn, void *arg, size_t max_queued)
{
	return submit(p, fn, arg, 0, max_queued);
}

size_t data_pool_queued(struct data_pool *p)
{
	pthread_mutex_lock(&p->lock);
	size_t n = p->queued;
	pthread_mutex_unlock(&p->lock);
	return n;
}

void data_pool_destroy(struct data_pool *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	p->stopping = 1;
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
	for (unsigned i = 0; i < p->nthreads; i++)
		pthread_join(p->threads[i], NULL);
	pthread_mutex_destroy(&p->lock);
	pthread_cond_destroy(&p->cond);
	free(p->threads);
	free(p);
}
