/*
 * test_config.c - the configuration file parser (every kind of bad line
 * names file:line and the problem) and the export decisions made from it:
 * client matching, secure ports, squashing, handles bound to exports.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "drc.h"
#include "fh.h"
#include "server.h"
#include "testlib.h"

static const char good_config[] = "# a full configuration\n"
				  "meta_url = redis://127.0.0.1:6379/2\n"
				  "storage_url = \"s3://bucket/prefix?endpoint=http://127.0.0.1:7480\"\n"
				  "access_key = AK\n"
				  "secret_key = SK   # trailing comment\n"
				  "region = eu-west-1\n"
				  "data_dir = /srv/gatefs\n"
				  "buffer_size = 512M\n"
				  "cache_mem = 1G\n"
				  "cache_dir = /var/cache/gatefs\n"
				  "cache_disk = 20GiB\n"
				  "upload_threads = 8\n"
				  "log_level = debug\n"
				  "listen = 127.0.0.1\n"
				  "nfs_port = 12049\n"
				  "mount_port = 0\n"
				  "portmap_port = 10111\n"
				  "portmapper = builtin\n"
				  "threads = 32\n"
				  "auth_none = yes\n"
				  "drc_entries = 100\n"
				  "drc_size = 1M\n"
				  "drc_retention = 90\n"
				  "\n"
				  "/hf  10.0.0.0/8(rw,root_squash) 127.0.0.1(rw,no_root_squash,insecure) *(ro)\n"
				  "/data -dir=/volumes/data,rw,anonuid=1000,anongid=1001 192.168.1.0/24 "
				  "fd00::/8(all_squash)\n";

TEST(config_good_file)
{
	struct gfs_config cfg;
	char err[512] = "";

	config_defaults(&cfg);
	REQUIRE_EQ(config_parse_string(&cfg, good_config, "good.conf", err, sizeof(err)), 0);
	CHECK_STR(cfg.meta_url, "redis://127.0.0.1:6379/2");
	CHECK_STR(cfg.storage_url, "s3://bucket/prefix?endpoint=http://127.0.0.1:7480");
	CHECK_STR(cfg.secret_key, "SK");
	CHECK_STR(cfg.region, "eu-west-1");
	CHECK_EQ(cfg.buffer_bytes, 512ull << 20);
	CHECK_EQ(cfg.cache_mem_bytes, 1ull << 30);
	CHECK_EQ(cfg.cache_disk_bytes, 20ull << 30);
	CHECK_EQ(cfg.upload_threads, 8);
	CHECK_EQ(cfg.log_level, 3);
	CHECK_EQ(cfg.nfs_port, 12049);
	CHECK_EQ(cfg.mount_port, 0);
	CHECK_EQ(cfg.portmap_port, 10111);
	CHECK_EQ(cfg.portmapper, PORTMAPPER_BUILTIN);
	CHECK_EQ(cfg.threads, 32);
	CHECK(cfg.allow_auth_none);
	CHECK_EQ(cfg.drc_entries, 100);
	CHECK_EQ(cfg.drc_bytes, 1 << 20);
	CHECK_EQ(cfg.drc_retention_s, 90);
	REQUIRE_EQ(cfg.nexports, 2);

	const struct export *hf = &cfg.exports[0];
	CHECK_STR(hf->path, "/hf");
	CHECK_STR(hf->volume_dir, "/hf");
	CHECK_EQ(hf->id, export_id_for_path("/hf"));
	REQUIRE_EQ(hf->nclients, 3);
	CHECK_STR(hf->clients[0].spec, "10.0.0.0/8");
	CHECK_EQ(hf->clients[0].family, AF_INET);
	CHECK_EQ(hf->clients[0].prefix_len, 8);
	CHECK(!hf->clients[0].read_only);
	CHECK_EQ(hf->clients[0].squash, EXPORT_ROOT_SQUASH);
	CHECK(hf->clients[0].secure);
	CHECK_EQ(hf->clients[1].squash, EXPORT_NO_ROOT_SQUASH);
	CHECK(!hf->clients[1].secure);
	CHECK_EQ(hf->clients[1].prefix_len, 32);
	CHECK_EQ(hf->clients[2].family, AF_UNSPEC);
	CHECK(hf->clients[2].read_only);
	CHECK_EQ(hf->clients[2].anonuid, 65534);

	const struct export *data = &cfg.exports[1];
	CHECK_STR(data->volume_dir, "/volumes/data");
	REQUIRE_EQ(data->nclients, 2);
	CHECK(!data->clients[0].read_only); /* from the -defaults */
	CHECK_EQ(data->clients[0].anonuid, 1000);
	CHECK_EQ(data->clients[0].anongid, 1001);
	CHECK_EQ(data->clients[1].family, AF_INET6);
	CHECK_EQ(data->clients[1].squash, EXPORT_ALL_SQUASH);
	config_free(&cfg);
}

TEST(config_defaults_are_documented_values)
{
	struct gfs_config cfg;

	config_defaults(&cfg);
	CHECK_EQ(cfg.nfs_port, 2049);
	CHECK_EQ(cfg.mount_port, 20048);
	CHECK_EQ(cfg.portmap_port, 111);
	CHECK_EQ(cfg.portmapper, PORTMAPPER_AUTO);
	CHECK_STR(cfg.listen_addr, "0.0.0.0");
	CHECK(!cfg.allow_auth_none);
	CHECK_EQ(cfg.nexports, 0);
}

/* Each bad line, placed on line 3 after two good ones, must fail with
 * "bad.conf:3: " and a message containing the expected words. */
static const struct {
	const char *line;
	const char *message;
} bad_lines[] = {
    {"no equals sign here", "expected 'key = value'"},
    {"colour = blue", "unknown key 'colour'"},
    {"nfs_port = 70000", "not a port number"},
    {"nfs_port = -1", "not a port number"},
    {"mount_port = 20x", "not a port number"},
    {"buffer_size = lots", "is not a size"},
    {"cache_mem = 12Q", "is not a size"},
    {"threads = many", "is not a number"},
    {"log_level = loud", "not one of error, warn, info, debug"},
    {"portmapper = maybe", "not one of auto, builtin, rpcbind, off"},
    {"auth_none = perhaps", "is not yes or no"},
    {"hf *(rw)", "expected 'key = value'"},
    {"/hf", "names no clients"},
    {"/hf -rw", "names no clients"},
    {"/a/../b *(rw)", "must be absolute"},
    {"/hf *(rw,fast)", "unknown export option 'fast'"},
    {"/hf *(rw", "unbalanced parentheses"},
    {"/hf *rw)", "unbalanced parentheses"},
    {"/hf host.example.com(rw)", "host names are not supported"},
    {"/hf 10.0.0.0/33(rw)", "bad prefix length"},
    {"/hf 10.0.0.0/(rw)", "bad prefix length"},
    {"/hf ::ffff:0:0/80(rw)", "only in part"},
    {"/hf ::/0(rw)", "only in part"},
    {"/hf *(anonuid=x)", "bad anonuid"},
    {"/hf *(anongid=-5)", "bad anongid"},
    {"/hf *(dir=/x)", "dir= applies to the whole export"},
    {"/hf -dir=relative *(rw)", "absolute path"},
    {"/ok *(rw)", "defined twice"},
    {"drc_entries = 11", "drc_entries is set twice (first on line 1)"},
};

TEST(config_bad_lines_name_file_and_line)
{
	for (size_t i = 0; i < sizeof(bad_lines) / sizeof(bad_lines[0]); i++) {
		struct gfs_config cfg;
		char text[512], err[512] = "";

		snprintf(text, sizeof(text), "drc_entries = 10\n/ok *(rw)\n%s\nthreads = 4\n", bad_lines[i].line);
		config_defaults(&cfg);
		int rc = config_parse_string(&cfg, text, "bad.conf", err, sizeof(err));
		CHECK_EQ(rc, -EINVAL);
		if (strncmp(err, "bad.conf:3: ", 12) != 0 || !strstr(err, bad_lines[i].message)) {
			tl_fail(__FILE__, __LINE__, "line '%s': got '%s', want 'bad.conf:3: ...%s...'",
				bad_lines[i].line, err, bad_lines[i].message);
		}
		config_free(&cfg);
	}
}

/* A '#' inside double quotes belongs to the value (a password, a URL
 * fragment); outside them it starts a comment, also right after the quote. */
TEST(config_hash_inside_quotes_is_not_a_comment)
{
	struct gfs_config cfg;
	char err[512] = "";

	config_defaults(&cfg);
	REQUIRE_EQ(config_parse_string(&cfg,
				       "secret_key = \"ab#cd\"\n"
				       "meta_url = \"redis://:p#ss@127.0.0.1:6379/0\"# a comment \"#\n"
				       "access_key = AK # a comment\n",
				       "q.conf", err, sizeof(err)),
		   0);
	CHECK_STR(cfg.secret_key, "ab#cd");
	CHECK_STR(cfg.meta_url, "redis://:p#ss@127.0.0.1:6379/0");
	CHECK_STR(cfg.access_key, "AK");
	config_free(&cfg);
}

TEST(config_file_errors)
{
	struct gfs_config cfg;
	char dir[256], path[512], err[512] = "";

	config_defaults(&cfg);
	CHECK(config_parse_file(&cfg, "/nonexistent/gatefs.conf", err, sizeof(err)) < 0);
	CHECK(strstr(err, "/nonexistent/gatefs.conf") != NULL);

	REQUIRE_EQ(tl_tmpdir("cfg", dir, sizeof(dir)), 0);
	snprintf(path, sizeof(path), "%s/gatefs.conf", dir);
	FILE *f = fopen(path, "w");
	REQUIRE(f);
	fputs("# comment\n\nlog_level = warn\nbogus\n", f);
	fclose(f);
	CHECK_EQ(config_parse_file(&cfg, path, err, sizeof(err)), -EINVAL);
	char want[600];
	snprintf(want, sizeof(want), "%s:4: ", path);
	CHECK(strncmp(err, want, strlen(want)) == 0);
	config_free(&cfg);
	tl_rm_rf(dir);
}

TEST(config_sizes)
{
	uint64_t v;

	CHECK(config_parse_size("4096", &v) == 0 && v == 4096);
	CHECK(config_parse_size("64K", &v) == 0 && v == 65536);
	CHECK(config_parse_size("3m", &v) == 0 && v == 3ull << 20);
	CHECK(config_parse_size("2GB", &v) == 0 && v == 2ull << 30);
	CHECK(config_parse_size("1TiB", &v) == 0 && v == 1ull << 40);
	CHECK(config_parse_size("", &v) < 0);
	CHECK(config_parse_size("K", &v) < 0);
	CHECK(config_parse_size("1KX", &v) < 0);
	CHECK(config_parse_size("99999999999T", &v) < 0);
}

/* Export decisions, with calls made up as the transport would fill them. */
static struct rpc_call make_call(const char *ip, int port, uint32_t uid, uint32_t gid)
{
	struct rpc_call call;

	memset(&call, 0, sizeof(call));
	if (strchr(ip, ':')) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&call.peer;
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
		inet_pton(AF_INET6, ip, &sin6->sin6_addr);
	} else {
		struct sockaddr_in *sin = (struct sockaddr_in *)&call.peer;
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
		inet_pton(AF_INET, ip, &sin->sin_addr);
	}
	call.auth_flavor = 1;
	call.have_unix_cred = true;
	call.raw_cred.uid = uid;
	call.raw_cred.gid = gid;
	call.raw_cred.ngroups = 2;
	call.raw_cred.groups[0] = 0;
	call.raw_cred.groups[1] = 50;
	return call;
}

TEST(export_admission_and_squashing)
{
	struct gfs_config cfg;
	char err[512];
	struct export_access acc;

	config_defaults(&cfg);
	REQUIRE_EQ(config_parse_string(&cfg, good_config, "good.conf", err, sizeof(err)), 0);
	const struct export *hf = &cfg.exports[0], *data = &cfg.exports[1];

	/* 10/8 with a privileged port: rw, root squashed (groups too). */
	struct rpc_call c = make_call("10.1.2.3", 700, 0, 0);
	REQUIRE_EQ(export_admit_export(&c, hf, &acc), 0);
	CHECK(!acc.read_only);
	CHECK_EQ(acc.cred.uid, 65534);
	CHECK_EQ(acc.cred.gid, 65534);
	CHECK_EQ(acc.cred.groups[0], 65534);
	CHECK_EQ(acc.cred.groups[1], 50);
	/* Same client from an unprivileged port: "secure" refuses it. */
	c = make_call("10.1.2.3", 40000, 1000, 1000);
	CHECK_EQ(export_admit_export(&c, hf, &acc), -EACCES);
	/* 127.0.0.1 is insecure and no_root_squash; also as IPv4-mapped. */
	c = make_call("127.0.0.1", 40000, 0, 0);
	REQUIRE_EQ(export_admit_export(&c, hf, &acc), 0);
	CHECK_EQ(acc.cred.uid, 0);
	c = make_call("::ffff:127.0.0.1", 40000, 0, 0);
	REQUIRE_EQ(export_admit_export(&c, hf, &acc), 0);
	CHECK_EQ(acc.cred.uid, 0);
	/* Anyone else: '*' read-only. */
	c = make_call("192.0.2.9", 600, 1000, 1000);
	REQUIRE_EQ(export_admit_export(&c, hf, &acc), 0);
	CHECK(acc.read_only);
	CHECK_EQ(acc.cred.uid, 1000);
	/* AUTH_NONE is the anonymous user. */
	c.have_unix_cred = false;
	REQUIRE_EQ(export_admit_export(&c, hf, &acc), 0);
	CHECK_EQ(acc.cred.uid, 65534);

	/* /data: only 192.168.1/24 and fd00::/8. */
	c = make_call("192.168.2.1", 600, 1000, 1000);
	CHECK_EQ(export_admit_export(&c, data, &acc), -EACCES);
	c = make_call("192.168.1.77", 600, 0, 0);
	REQUIRE_EQ(export_admit_export(&c, data, &acc), 0);
	CHECK_EQ(acc.cred.uid, 1000); /* anonuid from the defaults */
	c = make_call("fd12::1", 600, 1234, 1234);
	REQUIRE_EQ(export_admit_export(&c, data, &acc), 0);
	CHECK_EQ(acc.cred.uid, 1000); /* all_squash */
	CHECK_EQ(acc.cred.gid, 1001);
	CHECK_EQ(acc.cred.ngroups, 0);
	c = make_call("fe80::1", 600, 1234, 1234);
	CHECK_EQ(export_admit_export(&c, data, &acc), -EACCES);
	config_free(&cfg);
}

/* A client written as an IPv4-mapped IPv6 range means those IPv4 peers,
 * however they arrive (AF_INET, or ::ffff:a.b.c.d on a dual-stack socket). */
TEST(export_ipv4_mapped_client_spec_matches_ipv4_peers)
{
	struct gfs_config cfg;
	char err[512] = "";
	struct export_access acc;

	config_defaults(&cfg);
	REQUIRE_EQ(config_parse_string(&cfg, "/m ::ffff:10.1.0.0/112(rw,insecure) ::ffff:127.0.0.1(ro,insecure)\n",
				       "m.conf", err, sizeof(err)),
		   0);
	const struct export *m = &cfg.exports[0];
	CHECK_STR(m->clients[0].spec, "::ffff:10.1.0.0/112"); /* shown as written */
	struct rpc_call c = make_call("10.1.2.3", 40000, 1000, 1000);
	REQUIRE_EQ(export_admit_export(&c, m, &acc), 0);
	CHECK(!acc.read_only);
	c = make_call("::ffff:10.1.200.7", 40000, 1000, 1000);
	REQUIRE_EQ(export_admit_export(&c, m, &acc), 0);
	c = make_call("127.0.0.1", 40000, 1000, 1000);
	REQUIRE_EQ(export_admit_export(&c, m, &acc), 0);
	CHECK(acc.read_only);
	c = make_call("10.2.0.1", 40000, 1000, 1000);
	CHECK_EQ(export_admit_export(&c, m, &acc), -EACCES);
	c = make_call("::a01:203", 40000, 1000, 1000); /* the same bits, not mapped: IPv6 */
	CHECK_EQ(export_admit_export(&c, m, &acc), -EACCES);
	config_free(&cfg);
}

TEST(export_admit_checks_handles)
{
	struct gfs_config cfg;
	struct server srv;
	struct gfs_volume_info vol;
	char err[512];
	struct export_access acc;
	struct fh fh;

	config_defaults(&cfg);
	REQUIRE_EQ(config_parse_string(&cfg, good_config, "good.conf", err, sizeof(err)), 0);
	memset(&vol, 0, sizeof(vol));
	vol.volume_id = 1;
	memset(vol.secret, 0x5a, sizeof(vol.secret));
	memset(&srv, 0, sizeof(srv));
	srv.vol = &vol;
	srv.exports = cfg.exports;
	srv.nexports = cfg.nexports;
	cfg.exports[0].root = (struct gfs_ref){10, 1};

	struct rpc_call c = make_call("127.0.0.1", 40000, 1000, 1000);
	c.server = &srv;
	fh_encode(&vol, cfg.exports[0].id, (struct gfs_ref){77, 3}, &fh);
	REQUIRE_EQ(export_admit(&c, fh.data, fh.len, &acc), 0);
	CHECK(acc.export == &cfg.exports[0]);
	CHECK_EQ(acc.ref.ino, 77);
	CHECK_EQ(acc.ref.gen, 3);
	CHECK(!export_is_root(acc.export, acc.ref));
	CHECK(export_is_root(acc.export, (struct gfs_ref){10, 1}));

	/* Every refusal leaves *out defined: no export, no inode (the nfs3
	 * handlers decide from out->export whether to show attributes).  The
	 * stale bytes stand for what the caller's stack held. */
#define REFUSED(call_rc, want)                                                                                         \
	do {                                                                                                           \
		memset(&acc, 0xAA, sizeof(acc));                                                                       \
		CHECK_EQ((call_rc), (want));                                                                           \
		CHECK(acc.export == NULL);                                                                             \
		CHECK_EQ(acc.ref.ino, 0);                                                                              \
		CHECK_EQ(acc.ref.gen, 0);                                                                              \
	} while (0)
	/* The same inode through /data, which 127.0.0.1 may not use. */
	fh_encode(&vol, cfg.exports[1].id, (struct gfs_ref){77, 3}, &fh);
	REFUSED(export_admit(&c, fh.data, fh.len, &acc), -EACCES);
	/* An export id that no export has (removed from the config). */
	fh_encode(&vol, 12345, (struct gfs_ref){77, 3}, &fh);
	REFUSED(export_admit(&c, fh.data, fh.len, &acc), -ESTALE);
	fh.data[20] ^= 1;
	REFUSED(export_admit(&c, fh.data, fh.len, &acc), -ESTALE);
	REFUSED(export_admit(&c, fh.data, 10, &acc), -EBADMSG);
#undef REFUSED
	config_free(&cfg);
}

/* The default DRC keeps every reply a TCP client could still ask for again
 * (it retransmits after 60 s; knfsd keeps 120 s) at 10k non-idempotent
 * calls a second, CREATE-sized replies (264 bytes, the largest common). */
TEST(config_default_drc_holds_two_minutes_at_10k_calls_per_second)
{
	struct gfs_config cfg;

	config_defaults(&cfg);
	uint64_t calls = 10000ull * 120;
	CHECK(cfg.drc_retention_s >= 120);
	CHECK(cfg.drc_entries >= calls);
	CHECK(cfg.drc_bytes >= calls * drc_footprint(264));
	config_free(&cfg);
}

TEST_MAIN()
