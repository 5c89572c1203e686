/*
 * rpc_recordcap.c - bounds the size of RPC records on TCP.
 *
 * libntirpc 4.3 reads a record mark and at once allocates one buffer of the
 * announced fragment size (up to 2 GiB), then waits for the data; it never
 * checks the size it was given with SVCSET_CONNMAXREC.  So one client could
 * make the server reserve gigabytes per connection.
 *
 * ntirpc reads each record mark with recv(fd, &mark, 4, MSG_WAITALL).  This
 * file defines recv(), which the dynamic linker binds ahead of libc's for
 * the whole process, and looks at exactly those reads on the descriptors of
 * accepted RPC connections (rpc_recordcap_track).  When the fragment, or
 * the record it belongs to, would exceed the bound, it shuts the socket
 * down and reports end-of-file, so ntirpc destroys the connection before it
 * allocates anything.  Every other recv passes straight to the kernel.
 */
#include <arpa/inet.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "log.h"
#include "rpc_transport.h"

#define RECORDCAP_MAX_FDS 65536
#define LAST_FRAGMENT 0x80000000u

/* Per descriptor: the record bound (0 = not an RPC connection) and the bytes
 * of the record seen so far.  ntirpc runs one receive per connection at a
 * time, so the two never race for one fd. */
static _Atomic uint32_t cap_of_fd[RECORDCAP_MAX_FDS];
static uint32_t record_so_far[RECORDCAP_MAX_FDS];
static _Atomic uint64_t rejected;

void rpc_recordcap_track(int fd, uint32_t max_record)
{
	if (fd < 0 || fd >= RECORDCAP_MAX_FDS)
		return;
	record_so_far[fd] = 0;
	atomic_store(&cap_of_fd[fd], max_record);
}

void rpc_recordcap_untrack(int fd)
{
	if (fd >= 0 && fd < RECORDCAP_MAX_FDS)
		atomic_store(&cap_of_fd[fd], 0);
}

uint64_t rpc_recordcap_rejected(void)
{
	return atomic_load(&rejected);
}

ssize_t recv(int fd, void *buf, size_t len, int flags)
{
	ssize_t n = syscall(SYS_recvfrom, fd, buf, len, flags, NULL, NULL);

	if (n != 4 || len != 4 || !(flags & MSG_WAITALL) || fd < 0 || fd >= RECORDCAP_MAX_FDS)
		return n;
	uint32_t cap = atomic_load(&cap_of_fd[fd]);
	if (!cap)
		return n;

	uint32_t mark;
	memcpy(&mark, buf, 4);
	mark = ntohl(mark);
	uint64_t total = (uint64_t)record_so_far[fd] + (mark & ~LAST_FRAGMENT);
	if (total > cap) {
		atomic_fetch_add(&rejected, 1);
		log_warn("rpc: fd %d announced a record of %llu bytes (limit %u); closing the connection", fd,
			 (unsigned long long)total, cap);
		record_so_far[fd] = 0;
		shutdown(fd, SHUT_RDWR);
		return 0;
	}
	record_so_far[fd] = (mark & LAST_FRAGMENT) ? 0 : (uint32_t)total;
	return n;
}
