/*
 * object_cause.c - the per-thread "last failure cause" that the drivers
 * fill and object_store_probe reads (object_driver.h).  It sits below both,
 * so that a driver never calls up into the front of the layer.
 */
#include <stdarg.h>
#include <stdio.h>

#include "object_driver.h"

static __thread char last_cause[512];

void object_set_cause(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(last_cause, sizeof(last_cause), fmt, ap);
	va_end(ap);
}

const char *object_last_cause(void)
{
	return last_cause;
}
