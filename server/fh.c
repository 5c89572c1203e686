/*
 * fh.c - NFS file handles (see fh.h): a fixed 44-byte layout, big-endian,
 *
 *   [0]      format version (FH_VERSION)
 *   [1..3]   zero
 *   [4..7]   export id
 *   [8..15]  volume id
 *   [16..23] inode
 *   [24..27] generation
 *   [28..43] HMAC-SHA256(volume secret, bytes 0..27), first 16 bytes
 *
 * The layout depends only on the volume, so every gateway of a volume hands
 * out identical handles and accepts each other's.
 */
#include <errno.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "fh.h"

#define FH_VERSION 1
#define FH_BODY_LEN 28
#define FH_MAC_LEN 16
#define FH_LEN (FH_BODY_LEN + FH_MAC_LEN)

static void put_be32(uint8_t *p, uint32_t v)
{
	for (int i = 3; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

static void put_be64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

static uint32_t get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint64_t get_be64(const uint8_t *p)
{
	return (uint64_t)get_be32(p) << 32 | get_be32(p + 4);
}

static void fh_mac(const struct gfs_volume_info *vol, const uint8_t *body, uint8_t out[FH_MAC_LEN])
{
	uint8_t full[EVP_MAX_MD_SIZE];
	unsigned int full_len = 0;

	HMAC(EVP_sha256(), vol->secret, sizeof(vol->secret), body, FH_BODY_LEN, full, &full_len);
	memcpy(out, full, FH_MAC_LEN);
}

void fh_encode(const struct gfs_volume_info *vol, uint32_t export_id, struct gfs_ref ref, struct fh *out)
{
	memset(out, 0, sizeof(*out));
	out->data[0] = FH_VERSION;
	put_be32(out->data + 4, export_id);
	put_be64(out->data + 8, vol->volume_id);
	put_be64(out->data + 16, ref.ino);
	put_be32(out->data + 24, ref.gen);
	fh_mac(vol, out->data, out->data + FH_BODY_LEN);
	out->len = FH_LEN;
}

int fh_decode(const struct gfs_volume_info *vol, const void *data, size_t len, uint32_t *export_id, struct gfs_ref *ref)
{
	const uint8_t *p = data;
	uint8_t mac[FH_MAC_LEN];

	if (len != FH_LEN || p[0] != FH_VERSION || p[1] || p[2] || p[3])
		return -EBADMSG;
	if (get_be64(p + 8) != vol->volume_id)
		return -ESTALE;
	fh_mac(vol, p, mac);
	/* Constant time, so that response timing cannot be used to forge a MAC
	 * byte by byte. */
	if (CRYPTO_memcmp(mac, p + FH_BODY_LEN, FH_MAC_LEN) != 0)
		return -ESTALE;
	*export_id = get_be32(p + 4);
	ref->ino = get_be64(p + 16);
	ref->gen = get_be32(p + 24);
	return 0;
}
