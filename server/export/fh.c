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
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/params.h>

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

/*
 * Every reply carries handles and every call verifies one, and the one-shot
 * HMAC() derives the key's inner and outer pads each time.  Each thread
 * keeps one HMAC context keyed with the last secret it saw; re-initialising
 * it with no key reuses the derived pads (1.2 -> 0.2 us per handle).
 */
struct mac_cache {
	EVP_MAC_CTX *ctx;
	uint8_t secret[sizeof(((struct gfs_volume_info *)0)->secret)];
	int keyed;
};

static pthread_once_t mac_once = PTHREAD_ONCE_INIT;
static pthread_key_t mac_cache_key;
static EVP_MAC *hmac_alg;
static __thread struct mac_cache *thread_mac;

static void mac_cache_free(void *arg)
{
	struct mac_cache *c = arg;
	EVP_MAC_CTX_free(c->ctx);
	free(c);
}

static void mac_setup(void)
{
	hmac_alg = EVP_MAC_fetch(NULL, "HMAC", NULL);
	if (pthread_key_create(&mac_cache_key, mac_cache_free) != 0)
		hmac_alg = NULL; /* no per-thread cleanup: use the one-shot path */
}

static struct mac_cache *mac_cache_get(void)
{
	if (thread_mac)
		return thread_mac;
	pthread_once(&mac_once, mac_setup);
	if (!hmac_alg)
		return NULL;
	struct mac_cache *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->ctx = EVP_MAC_CTX_new(hmac_alg);
	if (!c->ctx || pthread_setspecific(mac_cache_key, c) != 0) {
		EVP_MAC_CTX_free(c->ctx);
		free(c);
		return NULL;
	}
	thread_mac = c;
	return c;
}

/* Returns 0, or -EIO if OpenSSL failed (the handle is then unusable). */
static int fh_mac(const struct gfs_volume_info *vol, const uint8_t *body, uint8_t out[FH_MAC_LEN])
{
	uint8_t full[EVP_MAX_MD_SIZE];
	struct mac_cache *c = mac_cache_get();

	if (c) {
		size_t full_len = 0;
		int rekey = !c->keyed || memcmp(c->secret, vol->secret, sizeof(c->secret)) != 0;
		char digest[] = "SHA256";
		OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string("digest", digest, 0),
				       OSSL_PARAM_construct_end()};
		int ok = rekey ? EVP_MAC_init(c->ctx, vol->secret, sizeof(vol->secret), params)
			       : EVP_MAC_init(c->ctx, NULL, 0, NULL);
		c->keyed = ok && (c->keyed || rekey);
		if (ok && rekey)
			memcpy(c->secret, vol->secret, sizeof(c->secret));
		if (ok && EVP_MAC_update(c->ctx, body, FH_BODY_LEN) &&
		    EVP_MAC_final(c->ctx, full, &full_len, sizeof(full)) && full_len >= FH_MAC_LEN) {
			memcpy(out, full, FH_MAC_LEN);
			return 0;
		}
		c->keyed = 0;
	}
	unsigned int full_len = 0;
	if (!HMAC(EVP_sha256(), vol->secret, sizeof(vol->secret), body, FH_BODY_LEN, full, &full_len) ||
	    full_len < FH_MAC_LEN)
		return -EIO;
	memcpy(out, full, FH_MAC_LEN);
	return 0;
}

void fh_encode(const struct gfs_volume_info *vol, uint32_t export_id, struct gfs_ref ref, struct fh *out)
{
	memset(out, 0, sizeof(*out));
	out->data[0] = FH_VERSION;
	put_be32(out->data + 4, export_id);
	put_be64(out->data + 8, vol->volume_id);
	put_be64(out->data + 16, ref.ino);
	put_be32(out->data + 24, ref.gen);
	/* A zero MAC never verifies, so a crypto failure costs the client a
	 * stale handle, never a forgeable one. */
	if (fh_mac(vol, out->data, out->data + FH_BODY_LEN) < 0)
		memset(out->data + FH_BODY_LEN, 0, FH_MAC_LEN);
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
	if (fh_mac(vol, p, mac) < 0)
		return -EIO;
	/* Constant time, so that response timing cannot be used to forge a MAC
	 * byte by byte. */
	if (CRYPTO_memcmp(mac, p + FH_BODY_LEN, FH_MAC_LEN) != 0)
		return -ESTALE;
	*export_id = get_be32(p + 4);
	ref->ino = get_be64(p + 16);
	ref->gen = get_be32(p + 24);
	return 0;
}
