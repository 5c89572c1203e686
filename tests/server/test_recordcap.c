/*
 * test_recordcap.c - the recv() interposer of rpc_recordcap.c stays out
 * of every socket that is not ntirpc reading an RPC connection: a
 * descriptor number that an RPC connection used and that a Redis or S3
 * socket now holds (still registered, as when the untrack comes late)
 * reads exactly what the kernel has, even bytes that look like an absurd
 * record mark.  (The RPC side is driven through a real gateway in
 * test_rpc.c.)
 */
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "rpc_transport.h"
#include "testlib.h"

TEST(recordcap_leaves_a_reused_descriptor_alone)
{
	int rpc[2], other[2];

	REQUIRE_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, rpc), 0);
	rpc_recordcap_track(rpc[0], 1024);
	CHECK(rpc_recordcap_confined());
	int reused = rpc[0];
	close(rpc[0]);
	close(rpc[1]);

	/* The next socket gets the same number; its bytes look like a mark
	 * of 2 GiB, and it is read the way ntirpc reads marks. */
	REQUIRE_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, other), 0);
	REQUIRE_EQ(other[0], reused);
	REQUIRE(write(other[1], "\xff\xff\xff\xffnext", 8) == 8);
	uint8_t got[4];
	CHECK_EQ(recv(other[0], got, 4, MSG_WAITALL), 4);
	CHECK(memcmp(got, "\xff\xff\xff\xff", 4) == 0);
	CHECK_EQ(recv(other[0], got, 4, MSG_WAITALL), 4);
	CHECK(memcmp(got, "next", 4) == 0);
	CHECK_EQ(rpc_recordcap_rejected(), 0);

	/* And it was not shut down: it still carries data both ways. */
	CHECK(write(other[0], "ok", 2) == 2);
	CHECK(read(other[1], got, 2) == 2);
	rpc_recordcap_untrack(reused);
	close(other[0]);
	close(other[1]);
}

TEST(recordcap_split_read_by_others_waits_as_asked)
{
	int sv[2];

	REQUIRE_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	rpc_recordcap_track(sv[0], 1024);
	/* Not ntirpc: MSG_WAITALL keeps its meaning, no EAGAIN is made up. */
	REQUIRE(write(sv[1], "\x80", 1) == 1);
	REQUIRE(write(sv[1], "\x00\x00\x10", 3) == 3);
	uint8_t got[4];
	CHECK_EQ(recv(sv[0], got, 4, MSG_WAITALL), 4);
	CHECK(memcmp(got, "\x80\x00\x00\x10", 4) == 0);
	rpc_recordcap_untrack(sv[0]);
	close(sv[0]);
	close(sv[1]);
}

TEST_MAIN()
