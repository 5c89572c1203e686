/*
 * nfs4_idmap_test.c - owner strings with nfs4_idmap_domain set, against
 * a gateway of its own: ids the gateway's user database names go out as
 * name@domain and such names come in; numeric strings still work both
 * ways; another domain, an unknown name and garbage are BADOWNER.  Uses
 * root (0) and daemon (1), which every Debian system has.
 */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "nfs4_test.h"

/* SETATTR of owner or owner_group to text on fh: the op's status. */
static int set_owner(struct v4 *s, const nfs_fh4 *fh, bool group, const char *text)
{
	static uint32_t mask_owner[2] = {0, 1u << (FATTR4_OWNER - 32)};
	static uint32_t mask_group[2] = {0, 1u << (FATTR4_OWNER_GROUP - 32)};
	uint8_t buf[128];
	uint32_t len = (uint32_t)strlen(text), nlen = htonl(len);
	memset(buf, 0, sizeof(buf));
	memcpy(buf, &nlen, 4);
	memcpy(buf + 4, text, len);
	v4_begin(s);
	v4_seq(s, 0);
	v4_putfh(s, fh);
	SETATTR4args *sa = &v4_add(s, OP_SETATTR)->nfs_argop4_u.opsetattr;
	sa->obj_attributes.attrmask.bitmap4_val = group ? mask_group : mask_owner;
	sa->obj_attributes.attrmask.bitmap4_len = 2;
	sa->obj_attributes.attr_vals.attrlist4_val = (char *)buf;
	sa->obj_attributes.attr_vals.attrlist4_len = 4 + ((len + 3) & ~3u);
	if (v4_send(s) != RPC_SUCCESS)
		return -1;
	return v4_status(s, 2);
}

TEST(owners_as_names_of_a_domain)
{
	struct gateway g;
	REQUIRE_EQ(gw_start(&g, "nfs4_idmap_domain = lab.example\n/hf 127.0.0.1(rw,insecure,no_root_squash)\n"), 0);
	struct v4 s;
	nfs_fh4 hf, f;
	stateid4 sid;
	REQUIRE_EQ(v4_open_session(&s, g.nfs_port, 0, 0, "idmap"), 0);
	REQUIRE(v4_export_fh(&s, "hf", &hf) == 0);
	REQUIRE_EQ(v4_open(&s, &hf, "o1", "owned", OPEN4_SHARE_ACCESS_BOTH, 0, true, &sid, &f), 0);
	struct v4_attrs a;
	REQUIRE_EQ(v4_attrs_of(&s, &f, &a), 0);
	CHECK_STR(a.owner, "root@lab.example");
	CHECK_STR(a.group, "root@lab.example");

	CHECK_EQ(set_owner(&s, &f, false, "daemon@lab.example"), NFS4_OK);
	CHECK_EQ(set_owner(&s, &f, true, "daemon@LAB.example"), NFS4_OK); /* domains compare without case */
	REQUIRE_EQ(v4_attrs_of(&s, &f, &a), 0);
	CHECK_STR(a.owner, "daemon@lab.example");
	CHECK_STR(a.group, "daemon@lab.example");
	/* numeric strings still work, and an id with no name goes out as a number */
	CHECK_EQ(set_owner(&s, &f, false, "0"), NFS4_OK);
	CHECK_EQ(set_owner(&s, &f, true, "4242"), NFS4_OK);
	REQUIRE_EQ(v4_attrs_of(&s, &f, &a), 0);
	CHECK_STR(a.owner, "root@lab.example");
	CHECK_STR(a.group, "4242");
	/* what cannot be mapped */
	CHECK_EQ(set_owner(&s, &f, false, "daemon@other.example"), NFS4ERR_BADOWNER);
	CHECK_EQ(set_owner(&s, &f, false, "no-such-user-here@lab.example"), NFS4ERR_BADOWNER);
	CHECK_EQ(set_owner(&s, &f, false, "daemon"), NFS4ERR_BADOWNER);
	CHECK_EQ(set_owner(&s, &f, false, "@lab.example"), NFS4ERR_BADOWNER);
	CHECK_EQ(set_owner(&s, &f, false, "12x"), NFS4ERR_BADOWNER);
	REQUIRE_EQ(v4_attrs_of(&s, &f, &a), 0);
	CHECK_STR(a.owner, "root@lab.example"); /* unchanged */

	CHECK_EQ(v4_close_file(&s, &f, &sid), NFS4_OK);
	free(f.nfs_fh4_val);
	free(hf.nfs_fh4_val);
	v4_close(&s);
	CHECK_EQ(gw_stop(&g), 0);
}

/* Without the domain, a name is BADOWNER and owners are numbers. */
TEST(owners_are_numbers_by_default)
{
	struct v4 s;
	nfs_fh4 hf, f;
	stateid4 sid;
	REQUIRE(v4_root_session(&s, "idmap-none") == 0);
	REQUIRE(v4_export_fh(&s, "hf", &hf) == 0);
	REQUIRE_EQ(v4_open(&s, &hf, "o1", "numbers", OPEN4_SHARE_ACCESS_BOTH, 0, true, &sid, &f), 0);
	CHECK_EQ(set_owner(&s, &f, false, "daemon@lab.example"), NFS4ERR_BADOWNER);
	CHECK_EQ(set_owner(&s, &f, false, "1"), NFS4_OK);
	struct v4_attrs a;
	REQUIRE_EQ(v4_attrs_of(&s, &f, &a), 0);
	CHECK_STR(a.owner, "1");
	CHECK_EQ(v4_close_file(&s, &f, &sid), NFS4_OK);
	free(f.nfs_fh4_val);
	free(hf.nfs_fh4_val);
	v4_close(&s);
}
