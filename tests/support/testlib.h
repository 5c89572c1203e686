/*
 * testlib.h - the small test framework every C test program uses, and the
 * harness that starts real services (redis-server) on free loopback ports.
 *
 * A test program defines test functions with TEST(name) and ends with
 * TEST_MAIN().  Each check that fails prints file:line and the expression,
 * and marks the current test failed; the run ends with the line
 * "N passed, N failed" that CI reads.  Exit status is 0 only if all passed.
 * Running the program with a test name as argument runs only that test.
 */
#ifndef GATEFS_TESTLIB_H
#define GATEFS_TESTLIB_H

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>

struct tl_test {
	const char *name;
	void (*fn)(void);
	struct tl_test *next;
};

void tl_register(struct tl_test *t);
void tl_fail(const char *file, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int tl_main(int argc, char **argv);
extern int tl_current_failed;

#define TEST(fname)                                                                                                    \
	static void fname(void);                                                                                       \
	static struct tl_test tl_test_##fname = {#fname, fname, NULL};                                                 \
	__attribute__((constructor)) static void tl_reg_##fname(void)                                                  \
	{                                                                                                              \
		tl_register(&tl_test_##fname);                                                                         \
	}                                                                                                              \
	static void fname(void)

#define TEST_MAIN()                                                                                                    \
	int main(int argc, char **argv)                                                                                \
	{                                                                                                              \
		return tl_main(argc, argv);                                                                            \
	}

/* CHECK records a failure and continues; REQUIRE returns from the test. */
#define CHECK(cond)                                                                                                    \
	do {                                                                                                           \
		if (!(cond))                                                                                           \
			tl_fail(__FILE__, __LINE__, "CHECK(%s)", #cond);                                               \
	} while (0)
#define REQUIRE(cond)                                                                                                  \
	do {                                                                                                           \
		if (!(cond)) {                                                                                         \
			tl_fail(__FILE__, __LINE__, "REQUIRE(%s)", #cond);                                             \
			return;                                                                                        \
		}                                                                                                      \
	} while (0)
#define CHECK_EQ(a, b)                                                                                                 \
	do {                                                                                                           \
		long long tl_a = (long long)(a), tl_b = (long long)(b);                                                \
		if (tl_a != tl_b)                                                                                      \
			tl_fail(__FILE__, __LINE__, "CHECK_EQ(%s, %s): %lld != %lld", #a, #b, tl_a, tl_b);             \
	} while (0)
#define REQUIRE_EQ(a, b)                                                                                               \
	do {                                                                                                           \
		long long tl_a = (long long)(a), tl_b = (long long)(b);                                                \
		if (tl_a != tl_b) {                                                                                    \
			tl_fail(__FILE__, __LINE__, "REQUIRE_EQ(%s, %s): %lld != %lld", #a, #b, tl_a, tl_b);           \
			return;                                                                                        \
		}                                                                                                      \
	} while (0)
#define CHECK_STR(a, b)                                                                                                \
	do {                                                                                                           \
		const char *tl_a = (a), *tl_b = (b);                                                                   \
		if (!tl_a || !tl_b || strcmp(tl_a, tl_b) != 0)                                                         \
			tl_fail(__FILE__, __LINE__, "CHECK_STR(%s, %s): \"%s\" != \"%s\"", #a, #b,                     \
				tl_a ? tl_a : "(null)", tl_b ? tl_b : "(null)");                                       \
	} while (0)

/* A free TCP port on 127.0.0.1 (bound and released; race-free enough for tests). */
int tl_free_port(void);

/* A private redis-server on a free loopback port, with its data in a
 * temporary directory, killed by tl_redis_stop (and at exit). */
struct tl_redis {
	pid_t pid;
	int port;
	char dir[256];
	char url[128]; /* redis://127.0.0.1:PORT/0 */
};
int tl_redis_start(struct tl_redis *r);
void tl_redis_stop(struct tl_redis *r);
/* Runs a redis-cli command against r, e.g. tl_redis_cmd(r, "FLUSHALL"). */
int tl_redis_cmd(const struct tl_redis *r, const char *args);
/* The integer reply of a redis-cli command (e.g. "HLEN key"), or -1. */
long long tl_redis_int(const struct tl_redis *r, const char *args);
/* Redis's count of calls of one command (INFO commandstats; 0 if never
 * called), or -1. */
long long tl_redis_calls(const struct tl_redis *r, const char *command);

/* mkdtemp under $TMPDIR (or /tmp) with the given tag; removed by tl_rm_rf. */
int tl_tmpdir(const char *tag, char *out, size_t outlen);
/* Lines of the file that contain any of the n texts; 0 if it cannot be read. */
int tl_count_lines(const char *path, const char *const *texts, size_t n);
void tl_rm_rf(const char *path);

/* Deterministic pseudo-random bytes (xorshift) for data checks. */
void tl_fill_random(void *buf, size_t len, uint64_t seed);
uint64_t tl_rand(uint64_t *state);

#endif
