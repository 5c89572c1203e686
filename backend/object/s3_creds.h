/*
 * s3_creds.h - where the S3 driver's credentials come from, and their
 * refresh.  Private to the object layer.  Sources, first that applies:
 *   1. the config's access_key/secret_key (static);
 *   2. AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN (static);
 *   3. the shared credentials file (AWS_SHARED_CREDENTIALS_FILE, else
 *      ~/.aws/credentials; profile AWS_PROFILE, else "default"), read
 *      again when it changes;
 *   4. the container credentials endpoint (AWS_CONTAINER_CREDENTIALS_FULL_URI,
 *      with AWS_CONTAINER_AUTHORIZATION_TOKEN when set);
 *   5. IMDSv2 (AWS_EC2_METADATA_SERVICE_ENDPOINT, else http://169.254.169.254;
 *      skipped when AWS_EC2_METADATA_DISABLED=true).
 * Credentials that expire are fetched again when less than half their
 * lifetime (at most 5 minutes) is left, and at once when the store says
 * they expired or are unknown (s3_creds_get with force).
 */
#ifndef GATEFS_S3_CREDS_H
#define GATEFS_S3_CREDS_H

#include <pthread.h>
#include <stdint.h>

#include "object.h"

enum s3_creds_source { CREDS_CONFIG, CREDS_ENV, CREDS_FILE, CREDS_CONTAINER, CREDS_IMDS };

struct s3_creds {
	pthread_mutex_t lock;
	enum s3_creds_source source;
	char access[256], secret[256], token[4096];
	int64_t expires;	 /* unix seconds; 0: does not expire */
	int64_t lifetime;	 /* seconds between fetch and expiry */
	uint64_t last_forced_ms; /* monotonic; forced refreshes are one a second at most */
	char file[1024], profile[128];
	int64_t file_mtime_ns;
	char url[1024], auth[1024]; /* container endpoint and its token */
	char imds[256];		    /* IMDS base URL */
	uint64_t refreshes;
};

/* One consistent set, copied out for one request. */
struct s3_cred_set {
	char access[256], secret[256], token[4096];
};

int s3_creds_init(struct s3_creds *c, const struct object_credentials *cred, char *err, size_t errlen);
void s3_creds_fini(struct s3_creds *c);
/* Current credentials, refreshed first when due (or when force says the
 * store refused them); an error only if there are none. */
int s3_creds_get(struct s3_creds *c, int force, struct s3_cred_set *out);
/* Whether the source can give other credentials than it gave. */
int s3_creds_refreshable(const struct s3_creds *c);

#endif
