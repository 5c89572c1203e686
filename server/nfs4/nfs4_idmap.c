/*
 * nfs4_idmap.c - owner and owner_group strings (RFC 8881 section 5.9).
 * Numeric strings ("1000") both ways by default: what the Linux client
 * sends with sec=sys, and needs no user database.  With nfs4_idmap_domain
 * set, ids that this gateway's user database names go out as
 * "name@domain" and such names are taken in; numeric strings are always
 * accepted, and a name of another domain or one the database does not
 * know is NFS4ERR_BADOWNER.  The domain is process-wide, set once at start.
 */
#include <grp.h>
#include <inttypes.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nfs4_impl.h"

static char idmap_domain[256];

void nfs4_idmap_set_domain(const char *domain)
{
	snprintf(idmap_domain, sizeof(idmap_domain), "%s", domain ? domain : "");
}

/* The database's name of id: 0, or -1 if it has none (or no room). */
static int name_of(uint32_t id, bool group, char *out, size_t cap)
{
	char buf[4096];
	const char *name = NULL;
	if (group) {
		struct group g, *gp = NULL;
		if (getgrgid_r((gid_t)id, &g, buf, sizeof(buf), &gp) == 0 && gp)
			name = gp->gr_name;
	} else {
		struct passwd p, *pp = NULL;
		if (getpwuid_r((uid_t)id, &p, buf, sizeof(buf), &pp) == 0 && pp)
			name = pp->pw_name;
	}
	if (!name)
		return -1;
	int n = snprintf(out, cap, "%s@%s", name, idmap_domain);
	return n > 0 && (size_t)n < cap ? 0 : -1;
}

size_t nfs4_idmap_string(uint32_t id, bool group, char *out, size_t cap)
{
	if (idmap_domain[0] && name_of(id, group, out, cap) == 0)
		return strlen(out);
	int n = snprintf(out, cap, "%" PRIu32, id);
	return n > 0 ? (size_t)n : 0;
}

nfsstat4 nfs4_idmap_id(const char *text, size_t len, bool group, uint32_t *out)
{
	char s[512];
	if (len == 0 || len >= sizeof(s))
		return NFS4ERR_BADOWNER;
	memcpy(s, text, len);
	s[len] = '\0';
	if (memchr(s, '\0', len))
		return NFS4ERR_BADOWNER;
	if (s[0] >= '0' && s[0] <= '9') {
		char *end;
		unsigned long long v = strtoull(s, &end, 10);
		if (*end || v > UINT32_MAX)
			return NFS4ERR_BADOWNER;
		*out = (uint32_t)v;
		return NFS4_OK;
	}
	char *at = strrchr(s, '@');
	if (!idmap_domain[0] || !at || at == s || strcasecmp(at + 1, idmap_domain) != 0)
		return NFS4ERR_BADOWNER;
	*at = '\0';
	char buf[4096];
	if (group) {
		struct group g, *gp = NULL;
		if (getgrnam_r(s, &g, buf, sizeof(buf), &gp) != 0 || !gp)
			return NFS4ERR_BADOWNER;
		*out = (uint32_t)gp->gr_gid;
	} else {
		struct passwd p, *pp = NULL;
		if (getpwnam_r(s, &p, buf, sizeof(buf), &pp) != 0 || !pp)
			return NFS4ERR_BADOWNER;
		*out = (uint32_t)pp->pw_uid;
	}
	return NFS4_OK;
}
