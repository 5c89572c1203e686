/*
 * pmap_client.c - registration with the system's rpcbind.  PMAP v2 SET and
 * UNSET are four integers each way, so the calls are encoded here by hand
 * over UDP instead of through libntirpc's rpcb_set, which needs netconfig
 * databases and a client stack we do not otherwise use.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "pmap.h"

#define PMAP_PROG 100000
#define PMAP_VERS 2
#define PMAP_NULL 0
#define PMAP_SET 1
#define PMAP_UNSET 2

static uint32_t next_xid(void)
{
	static uint32_t xid;

	if (!xid)
		xid = (uint32_t)time(NULL) ^ ((uint32_t)getpid() << 16);
	return ++xid;
}

/* One call; *result receives the first result word (bool for SET/UNSET). */
static int pmap_call(int port, uint32_t proc, const struct pmap_mapping *m, uint32_t *result)
{
	uint32_t msg[14], reply[16];
	size_t n = 0;
	uint32_t xid = next_xid();

	msg[n++] = htonl(xid);
	msg[n++] = htonl(0); /* CALL */
	msg[n++] = htonl(2); /* RPC version */
	msg[n++] = htonl(PMAP_PROG);
	msg[n++] = htonl(PMAP_VERS);
	msg[n++] = htonl(proc);
	msg[n++] = 0; /* cred AUTH_NONE, length 0 */
	msg[n++] = 0;
	msg[n++] = 0; /* verifier AUTH_NONE, length 0 */
	msg[n++] = 0;
	if (m) {
		msg[n++] = htonl(m->prog);
		msg[n++] = htonl(m->vers);
		msg[n++] = htonl(m->proto);
		msg[n++] = htonl(m->port);
	}

	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0) {
		int err = -errno;
		close(fd);
		return err;
	}
	int rc = -ETIMEDOUT;
	for (int attempt = 0; attempt < 3 && rc == -ETIMEDOUT; attempt++) {
		if (send(fd, msg, n * 4, 0) < 0) {
			rc = -errno;
			break;
		}
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		while (poll(&pfd, 1, 500) == 1) {
			ssize_t got = recv(fd, reply, sizeof(reply), 0);
			if (got < 0) {
				rc = -errno; /* ECONNREFUSED: nobody listens */
				break;
			}
			/* xid, REPLY, MSG_ACCEPTED, verf flavor, verf len 0, SUCCESS, result */
			if (got < 24 || ntohl(reply[0]) != xid)
				continue;
			if (ntohl(reply[1]) != 1 || ntohl(reply[2]) != 0 || ntohl(reply[4]) != 0 ||
			    ntohl(reply[5]) != 0) {
				rc = -EPROTO;
				break;
			}
			*result = got >= 28 ? ntohl(reply[6]) : 0;
			rc = 0;
			break;
		}
	}
	close(fd);
	return rc;
}

bool pmap_rpcbind_running(int port)
{
	uint32_t ignored;

	return pmap_call(port, PMAP_NULL, NULL, &ignored) == 0;
}

int pmap_rpcbind_register(int port, const struct pmap_mapping *maps, size_t n, bool set)
{
	int accepted = 0;

	for (size_t i = 0; i < n; i++) {
		uint32_t ok = 0;
		struct pmap_mapping m = maps[i];
		if (!set)
			m.port = 0;
		int rc = pmap_call(port, set ? PMAP_SET : PMAP_UNSET, &m, &ok);
		if (rc < 0)
			return rc;
		accepted += ok ? 1 : 0;
	}
	return accepted;
}
