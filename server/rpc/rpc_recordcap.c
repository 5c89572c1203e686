/*
 * rpc_recordcap.c - owns ntirpc's reads of TCP record marks: bounds the
 * record size and never lets a mark that arrives in pieces block a thread.
 *
 * Why it exists.  libntirpc 4.3 reads each record mark with
 * recv(fd, &mark, 4, MSG_WAITALL) on a blocking socket, and then
 *  - at once allocates one buffer of the announced fragment size (up to
 *    2 GiB) without looking at SVCSET_CONNMAXREC, so one client could make
 *    the server reserve gigabytes per connection;
 *  - blocks the pool thread until all four bytes are there, so a client
 *    that sends one byte of a mark and stops pins a thread for as long as
 *    it likes (a few such clients stop the whole server);
 *  - takes a short read (1-3 bytes: the peer sent part of a mark and
 *    closed, or a signal) for a whole mark, with the missing bytes zero.
 * None of this can be changed through ntirpc's API, so this file defines
 * recv(), which the dynamic linker binds ahead of libc's for the whole
 * process.
 *
 * Confinement.  Only a recv that libntirpc itself makes (its return
 * address lies in libntirpc's code, found once with dl_iterate_phdr) on a
 * descriptor registered as an accepted RPC connection
 * (rpc_recordcap_track, from ntirpc's rendezvous callback), asking for
 * exactly 4 bytes with MSG_WAITALL, is handled here.  Everything else,
 * hiredis and libcurl included, goes straight to the kernel: even a
 * descriptor number that an RPC connection used and that a Redis or S3
 * socket now holds is never touched, however late the untrack comes.
 *
 * Handling.  The mark is read without waiting; the bytes of an incomplete
 * mark are kept per descriptor and EAGAIN is returned, so ntirpc re-arms
 * the socket in epoll and asks again when more arrives.  A complete mark
 * whose fragment, or the record it belongs to, would exceed the bound
 * shuts the socket down and reports end-of-file, so ntirpc destroys the
 * connection before it allocates anything.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <link.h>
#include <pthread.h>
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
#define MARK_BYTES 4

/* Per descriptor: the record bound (0 = not an RPC connection), the bytes
 * of the record seen so far and the part of a mark read so far.  ntirpc
 * runs one receive per connection at a time, so none of it races for one
 * fd. */
static _Atomic uint32_t cap_of_fd[RECORDCAP_MAX_FDS];
static uint32_t record_so_far[RECORDCAP_MAX_FDS];
static uint8_t mark_part[RECORDCAP_MAX_FDS][MARK_BYTES];
static uint8_t mark_have[RECORDCAP_MAX_FDS];
static _Atomic uint64_t rejected;

/* Where libntirpc's code is mapped: [lo, hi), both 0 if not found. */
static uintptr_t ntirpc_text_lo, ntirpc_text_hi;
static pthread_once_t ntirpc_text_once = PTHREAD_ONCE_INIT;

static int find_ntirpc_text(struct dl_phdr_info *info, size_t size, void *data)
{
	(void)size;
	(void)data;
	if (!info->dlpi_name || !strstr(info->dlpi_name, "libntirpc"))
		return 0;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X))
			continue;
		uintptr_t lo = info->dlpi_addr + ph->p_vaddr, hi = lo + ph->p_memsz;
		if (!ntirpc_text_lo || lo < ntirpc_text_lo)
			ntirpc_text_lo = lo;
		if (hi > ntirpc_text_hi)
			ntirpc_text_hi = hi;
	}
	return 1;
}

static void locate_ntirpc(void)
{
	dl_iterate_phdr(find_ntirpc_text, NULL);
	if (!ntirpc_text_hi)
		log_warn("rpc: libntirpc's code not found; record marks are checked on tracked descriptors only");
}

void rpc_recordcap_track(int fd, uint32_t max_record)
{
	if (fd < 0 || fd >= RECORDCAP_MAX_FDS)
		return;
	pthread_once(&ntirpc_text_once, locate_ntirpc);
	record_so_far[fd] = 0;
	mark_have[fd] = 0;
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

bool rpc_recordcap_confined(void)
{
	pthread_once(&ntirpc_text_once, locate_ntirpc);
	return ntirpc_text_hi != 0;
}

static bool called_by_ntirpc(uintptr_t caller)
{
	/* Without the range (a static ntirpc), the descriptor check alone. */
	return !ntirpc_text_hi || (caller >= ntirpc_text_lo && caller < ntirpc_text_hi);
}

/* A whole mark is in mark: 4, or 0 (end-of-file) when it breaks the bound. */
static ssize_t admit_mark(int fd, uint32_t cap, const uint8_t mark_bytes[MARK_BYTES])
{
	uint32_t mark;

	memcpy(&mark, mark_bytes, MARK_BYTES);
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
	return MARK_BYTES;
}

ssize_t recv(int fd, void *buf, size_t len, int flags)
{
	uintptr_t caller = (uintptr_t)__builtin_extract_return_addr(__builtin_return_address(0));

	if (len != MARK_BYTES || !(flags & MSG_WAITALL) || fd < 0 || fd >= RECORDCAP_MAX_FDS)
		return syscall(SYS_recvfrom, fd, buf, len, flags, NULL, NULL);
	uint32_t cap = atomic_load(&cap_of_fd[fd]);
	if (!cap || !called_by_ntirpc(caller))
		return syscall(SYS_recvfrom, fd, buf, len, flags, NULL, NULL);

	uint8_t have = mark_have[fd];
	int nowait = (flags & ~MSG_WAITALL) | MSG_DONTWAIT;
	ssize_t n = syscall(SYS_recvfrom, fd, mark_part[fd] + have, (size_t)(MARK_BYTES - have), nowait, NULL, NULL);
	if (n < 0)
		return n; /* errno set: EAGAIN makes ntirpc wait for more */
	if (n == 0) {
		mark_have[fd] = 0;
		return 0;
	}
	have += (uint8_t)n;
	if (have < MARK_BYTES) {
		mark_have[fd] = have;
		errno = EAGAIN;
		return -1;
	}
	mark_have[fd] = 0;
	memcpy(buf, mark_part[fd], MARK_BYTES);
	return admit_mark(fd, cap, mark_part[fd]);
}
