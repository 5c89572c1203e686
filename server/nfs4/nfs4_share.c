/*
 * nfs4_share.c - share reservations (RFC 8881 section 9.7) for OPEN, CLOSE
 * and OPEN_DOWNGRADE, in Redis behind vfs.h gfs_share_*, so that an
 * OPEN's deny holds against the clients of every gateway of the volume.
 * The opens themselves (stateids, seqids) stay in nfs4_state.h, which also
 * checks the reservations of this gateway's own clients.
 *
 * The order keeps Redis never less strict than the opens it stands for:
 * OPEN takes the shared reservation before the open (and gives back what
 * the open did not get); CLOSE and OPEN_DOWNGRADE narrow it after the open
 * changed.  A failure to narrow leaves it stricter than the open until the
 * owner's next open of the file or the end of the client.
 */
#include "log.h"
#include "nfs4_impl.h"

nfsstat4 nfs4_share_acquire(struct nfs4_compound *c, const void *owner, size_t owner_len, uint64_t ino, uint32_t access,
			    uint32_t deny)
{
	char key[NFS4_CLIENT_KEY_LEN + 1];
	nfsstat4 st = nfs4_client_key(c->nfs4->state, c->clientid, key);
	if (st != NFS4_OK)
		return st;
	int rc = gfs_share_acquire(c->call->vfs, ino, key, owner, owner_len, access, deny, nfs4_redis_lease_ms(c));
	return rc == -EACCES ? NFS4ERR_SHARE_DENIED : nfs4_status(rc);
}

void nfs4_share_undo(struct nfs4_compound *c, const void *owner, size_t owner_len, uint64_t ino)
{
	char key[NFS4_CLIENT_KEY_LEN + 1];
	uint32_t access, deny;
	if (nfs4_client_key(c->nfs4->state, c->clientid, key) != NFS4_OK)
		return; /* the client is gone: its reservations go with its lease */
	nfs4_open_reservation(c->nfs4->state, c->clientid, owner, owner_len, ino, &access, &deny);
	int rc = gfs_share_set(c->call->vfs, ino, key, owner, owner_len, access, deny);
	if (rc < 0)
		log_warn("nfs4: undoing the share reservation of client %s on inode %" PRIu64
			 ": %s; it stays until the owner opens the file again or the client ends",
			 key, ino, gfs_strerror(rc));
}

void nfs4_share_narrow(struct nfs4_compound *c, uint64_t ino, const struct nfs4_open_owner *who)
{
	int rc = gfs_share_set(c->call->vfs, ino, who->key, who->owner, who->owner_len, who->access, who->deny);
	if (rc < 0)
		log_warn("nfs4: narrowing the share reservation of client %s on inode %" PRIu64
			 ": %s; it stays until the owner opens the file again or the client ends",
			 who->key, ino, gfs_strerror(rc));
}
