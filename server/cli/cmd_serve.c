/*
 * cmd_serve.c - "gatefs serve": reads the configuration, opens the volume
 * (starting the embedded redis-server if no meta_url is set), resolves the
 * exports, starts the RPC transport with NFSv3, NFSv4.1/4.2 (unless
 * nfs4 = off), MOUNT and the portmapper,
 * and runs in the foreground until SIGTERM or SIGINT.  Then it stops
 * accepting, flushes everything buffered (gfs_vfs_close) and exits 0.
 */
#include <errno.h>
#include <malloc.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "commands.h"
#include "config.h"
#include "data_dir.h"
#include "drc.h"
#include "metrics_http.h"
#include "mount.h"
#include "pmap.h"
#include "rpc_transport.h"
#include "serve_embedded.h"
#include "server.h"
#ifdef GATEFS_HAVE_NFS3
#include "nfs3.h"
#endif
#include "nfs4.h"

#define NFS_PROGRAM 100003
#define MOUNT_PROGRAM_NUMBER 100005
#define PMAP_PROGRAM 100000

/* Used when the configuration has no export line. */
static const char default_export[] = "/hf 127.0.0.1(rw,insecure) ::1(rw,insecure)";

static const char serve_help[] = "NAME\n"
				 "    gatefs serve - run the NFS gateway in the foreground\n"
				 "\n"
				 "SYNOPSIS\n"
				 "    gatefs serve [--config FILE] [--data-dir DIR] [--log-level LEVEL]\n"
				 "                 [--listen ADDR] [--nfs-port N] [--mount-port N]\n"
				 "                 [--portmap-port N] [--portmapper auto|builtin|rpcbind|off]\n"
				 "                 [--metrics-listen ADDR:PORT] [--log-format text|json]\n"
				 "\n"
				 "DESCRIPTION\n"
				 "    Serves NFSv3, NFSv4.1/4.2 (unless nfs4 = off) and MOUNTv3 over TCP\n"
				 "    (MOUNT also over UDP) for the volume named in FILE (docs/CONFIG.md);\n"
				 "    NFSv4 byte-range locks and share reservations are kept in Redis,\n"
				 "    shared by every gateway of the volume.  Without a meta_url, runs\n"
				 "    the embedded default: a private redis-server under the data\n"
				 "    directory, objects in DATA/objects, the volume formatted on first\n"
				 "    start, and /hf exported read-write to 127.0.0.1 and ::1 only.  One\n"
				 "    gatefs at a time runs on a data directory (it holds DATA/lock); a\n"
				 "    second one exits 1.\n"
				 "\n"
				 "    SIGTERM or SIGINT stops accepting calls, uploads everything buffered\n"
				 "    and exits 0.\n"
				 "\n"
				 "OPTIONS\n"
				 "    --config FILE        configuration file (default: none, all defaults)\n"
				 "    --data-dir DIR       embedded redis and objects (default $GATEFS_DATA_DIR\n"
				 "                         or /var/lib/gatefs)\n"
				 "    --log-level LEVEL    error, warn, info (default) or debug\n"
				 "    --listen ADDR        address to bind (default 0.0.0.0)\n"
				 "    --nfs-port N         NFS port (default 2049; 0 = any free port)\n"
				 "    --mount-port N       MOUNT port (default 20048)\n"
				 "    --portmap-port N     builtin portmapper port (default 111)\n"
				 "    --portmapper MODE    auto (default): register with rpcbind if it runs,\n"
				 "                         else answer on the portmap port if it is free;\n"
				 "                         builtin, rpcbind or off force one behaviour\n"
				 "    --metrics-listen ADDR:PORT  serve Prometheus metrics at /metrics there\n"
				 "                         (default: off)\n"
				 "    --log-format FORMAT  text (default) or json, one object per line\n"
				 "    -h, --help           this text\n"
				 "\n"
				 "EXIT STATUS\n"
				 "    0 after a clean stop, 1 if the server could not start, 2 on bad usage\n"
				 "    or a bad configuration file.\n";

struct serve_state {
	struct gfs_config cfg;
	struct embedded_redis redis;
	struct gfs_vfs *vfs;
	struct server srv;
	struct rpc_service svc;
	int nfs_port, mount_port, portmap_port; /* as bound */
	struct pmap_mapping maps[16];
	size_t nmaps;
	bool registered_with_rpcbind;
	bool transport_started;
	struct metrics_http *metrics;
	int data_dir_lock; /* -1, or held while the embedded redis may run */
};

static int parse_port_arg(const char *text, int *out)
{
	char *end;
	long v = strtol(text, &end, 10);

	if (!*text || *end || v < 0 || v > 65535)
		return -EINVAL;
	*out = (int)v;
	return 0;
}

/* Command-line options, applied over the configuration file. */
static int parse_args(int argc, char **argv, struct gfs_config *cfg)
{
	static const struct option options[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"data-dir", required_argument, NULL, 'd'},
	    {"log-level", required_argument, NULL, 'l'},
	    {"listen", required_argument, NULL, 'L'},
	    {"nfs-port", required_argument, NULL, 'n'},
	    {"mount-port", required_argument, NULL, 'm'},
	    {"portmap-port", required_argument, NULL, 'p'},
	    {"portmapper", required_argument, NULL, 'P'},
	    {"metrics-listen", required_argument, NULL, 'M'},
	    {"log-format", required_argument, NULL, 'F'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *config_path = NULL;
	char err[1024];
	int opt;

	config_defaults(cfg);
	/* First pass: only --config and --help, so that later flags override
	 * the file whatever their order. */
	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "c:h", options, NULL)) != -1) {
		if (opt == 'c')
			config_path = optarg;
		else if (opt == 'h') {
			fputs(serve_help, stdout);
			return 1;
		}
	}
	if (config_path && config_parse_file(cfg, config_path, err, sizeof(err)) < 0) {
		fprintf(stderr, "gatefs serve: %s\n", err);
		return -EINVAL;
	}

	optind = 1;
	opterr = 1;
	while ((opt = getopt_long(argc, argv, "c:h", options, NULL)) != -1) {
		int bad = 0;
		switch (opt) {
		case 'c':
			break;
		case 'd':
			snprintf(cfg->data_dir, sizeof(cfg->data_dir), "%s", optarg);
			break;
		case 'l':
			cfg->log_level = log_level_parse(optarg);
			bad = cfg->log_level < 0;
			break;
		case 'L':
			snprintf(cfg->listen_addr, sizeof(cfg->listen_addr), "%s", optarg);
			break;
		case 'n':
			bad = parse_port_arg(optarg, &cfg->nfs_port) < 0;
			break;
		case 'm':
			bad = parse_port_arg(optarg, &cfg->mount_port) < 0;
			break;
		case 'p':
			bad = parse_port_arg(optarg, &cfg->portmap_port) < 0;
			break;
		case 'P':
			bad = 1;
			for (int i = 0; i < 4; i++) {
				static const char *const modes[] = {"auto", "builtin", "rpcbind", "off"};
				if (!strcmp(optarg, modes[i])) {
					cfg->portmapper = (enum portmapper_mode)i;
					bad = 0;
				}
			}
			break;
		case 'M':
			bad = strlen(optarg) >= sizeof(cfg->metrics_listen);
			if (!bad)
				snprintf(cfg->metrics_listen, sizeof(cfg->metrics_listen), "%s", optarg);
			break;
		case 'F':
			cfg->log_format = log_format_parse(optarg);
			bad = cfg->log_format < 0;
			break;
		default:
			bad = 1;
		}
		if (bad) {
			fprintf(stderr, "gatefs serve: bad option (see gatefs serve --help)\n");
			return -EINVAL;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "gatefs serve: unexpected argument '%s'\n", argv[optind]);
		return -EINVAL;
	}
	if (cfg->nexports == 0) {
		char line[sizeof(default_export)];
		memcpy(line, default_export, sizeof(line));
		if (config_parse_export_line(cfg, line, err, sizeof(err)) < 0) {
			fprintf(stderr, "gatefs serve: default export: %s\n", err);
			return -EINVAL;
		}
	}
	return 0;
}

/* Finds or creates each export's directory.  Missing parents are made
 * owned by root with mode 0755.  A missing export directory itself is made
 * 01777 (like /tmp): a shared cache such as ~/.cache/huggingface must be
 * writable by every user of every client, while the sticky bit keeps users
 * from removing each other's entries.  An existing directory is left as it
 * is, so an administrator's chown/chmod stays in force. */
static int resolve_exports(struct serve_state *st)
{
	const struct gfs_cred root = {0};

	for (size_t i = 0; i < st->cfg.nexports; i++) {
		struct export *ex = &st->cfg.exports[i];
		struct gfs_attr attr;
		char path[sizeof(ex->volume_dir)];
		int rc = gfs_getattr(st->vfs, (struct gfs_ref){GFS_ROOT_INO, 0}, &attr);

		snprintf(path, sizeof(path), "%s", ex->volume_dir);
		for (char *save = NULL, *comp = strtok_r(path, "/", &save); rc == 0 && comp;
		     comp = strtok_r(NULL, "/", &save)) {
			struct gfs_ref dir = {attr.ino, attr.gen};
			rc = gfs_lookup(st->vfs, &root, dir, comp, &attr);
			if (rc == -ENOENT) {
				struct gfs_wcc wcc;
				int last = save == NULL || *save == '\0';
				rc = gfs_mkdir(st->vfs, &root, dir, comp, last ? 01777 : 0755, &attr, &wcc);
				if (rc == -EEXIST)
					rc = gfs_lookup(st->vfs, &root, dir, comp, &attr);
				if (rc == 0)
					log_info("created %s in the volume for export %s", ex->volume_dir, ex->path);
			}
			if (rc == 0 && attr.type != GFS_DIR)
				rc = -ENOTDIR;
		}
		if (rc < 0) {
			log_error("export %s: cannot use %s in the volume: %s", ex->path, ex->volume_dir,
				  gfs_strerror(rc));
			return rc;
		}
		ex->root.ino = attr.ino;
		ex->root.gen = attr.gen;
	}
	st->srv.exports = st->cfg.exports;
	st->srv.nexports = st->cfg.nexports;
	return 0;
}

static void add_mapping(struct serve_state *st, uint32_t prog, uint32_t vers, uint32_t proto, int port)
{
	if (st->nmaps < sizeof(st->maps) / sizeof(st->maps[0]))
		st->maps[st->nmaps++] = (struct pmap_mapping){prog, vers, proto, (uint32_t)port};
}

static int start_portmapper(struct serve_state *st)
{
	struct gfs_config *cfg = &st->cfg;
	enum portmapper_mode mode = cfg->portmapper;

	if (mode == PORTMAPPER_OFF)
		return 0;
	if (mode == PORTMAPPER_AUTO || mode == PORTMAPPER_RPCBIND) {
		if (pmap_rpcbind_running(111)) {
			/* Drop stale registrations of a previous run first. */
			pmap_rpcbind_register(111, st->maps, st->nmaps, false);
			int n = pmap_rpcbind_register(111, st->maps, st->nmaps, true);
			if (n < (int)st->nmaps)
				log_warn("rpcbind accepted %d of %zu registrations", n < 0 ? 0 : n, st->nmaps);
			st->registered_with_rpcbind = n > 0;
			log_info("registered with rpcbind on 127.0.0.1:111");
			return 0;
		}
		if (mode == PORTMAPPER_RPCBIND) {
			log_error("portmapper = rpcbind, but no rpcbind answers on 127.0.0.1:111");
			return -ECONNREFUSED;
		}
	}

	int port = 0;
	int rc = rpc_listen(cfg->listen_addr, cfg->portmap_port, true, &port);
	if (rc < 0) {
		if (mode == PORTMAPPER_AUTO) {
			log_warn("builtin portmapper not started: port %d: %s (clients need -o port=,mountport=)",
				 cfg->portmap_port, strerror(-rc));
			return 0;
		}
		log_error("cannot listen on portmapper port %d: %s", cfg->portmap_port, strerror(-rc));
		return rc;
	}
	st->portmap_port = port;
	for (uint32_t vers = 2; vers <= 4; vers++) {
		add_mapping(st, PMAP_PROGRAM, vers, PMAP_PROTO_TCP, port);
		add_mapping(st, PMAP_PROGRAM, vers, PMAP_PROTO_UDP, port);
	}
	pmap_set_table(st->maps, st->nmaps);
	rpc_service_add(&st->svc, &pmap2_program);
	rpc_service_add(&st->svc, &rpcb3_program);
	rpc_service_add(&st->svc, &rpcb4_program);
	return 0;
}

/*
 * RPC threads when the configuration names no count.  Every idle thread is
 * one that ntirpc wakes (a futex hand-off, 65-90 us on a 2-core VM) for the
 * next call, while only as many threads as there are CPUs run at once; the
 * others are there for calls that wait on Redis or the object store.  With
 * 16 threads on 2 CPUs a CREATE at QD16 cost 2.9 context switches and
 * 45-60 us of gatefs CPU, with 8 about 1.5 and 37-41 us
 * (docs/PERFORMANCE.md, "Cost per RPC").  Four per CPU, from 8 to 16.
 */
static uint32_t default_rpc_threads(void)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	uint32_t threads = cpus > 0 ? (uint32_t)(4 * cpus) : 8;
	return threads < 8 ? 8 : threads > 16 ? 16 : threads;
}

static int start(struct serve_state *st)
{
	struct gfs_config *cfg = &st->cfg;
	char err[1024] = "";
	int rc;

	if (!cfg->meta_url[0]) {
		char abs[sizeof(cfg->data_dir)];
		int holder;
		/* The volume records DATA/objects, and redis runs with its own
		 * working directory: a relative path would name other places. */
		rc = data_dir_absolute(cfg->data_dir, abs, sizeof(abs));
		if (rc < 0) {
			log_error("data directory %s: %s", cfg->data_dir, strerror(-rc));
			return rc;
		}
		memcpy(cfg->data_dir, abs, sizeof(abs));
		/* Before the socket, the redis-server or an object is touched:
		 * two gateways on one directory would run two redis-servers on
		 * one AOF and hand out the same slice ids. */
		rc = data_dir_lock(cfg->data_dir, &holder, err, sizeof(err));
		if (rc == -EBUSY) {
			log_error("%s; refusing to start a second instance on it", err);
			return rc;
		}
		if (rc < 0) {
			log_error("%s", err);
			return rc;
		}
		st->data_dir_lock = rc;
		rc = embedded_redis_start(cfg->data_dir, st->data_dir_lock, &st->redis, err, sizeof(err));
		if (rc == 0)
			rc = embedded_volume_prepare(st->redis.meta_url, cfg->data_dir, err, sizeof(err));
		if (rc < 0) {
			log_error("embedded volume under %s: %s", cfg->data_dir, err);
			return rc;
		}
		snprintf(cfg->meta_url, sizeof(cfg->meta_url), "%s", st->redis.meta_url);
	}

	struct gfs_vfs_config vc = {
	    .meta_url = cfg->meta_url,
	    .storage_url = cfg->storage_url[0] ? cfg->storage_url : NULL,
	    .access_key = cfg->access_key[0] ? cfg->access_key : NULL,
	    .secret_key = cfg->secret_key[0] ? cfg->secret_key : NULL,
	    .region = cfg->region[0] ? cfg->region : NULL,
	    .buffer_bytes = cfg->buffer_bytes,
	    .cache_mem_bytes = cfg->cache_mem_bytes,
	    .cache_dir = cfg->cache_dir[0] ? cfg->cache_dir : NULL,
	    .cache_disk_bytes = cfg->cache_disk_bytes,
	    .cache_disk_free_bytes = cfg->cache_disk_free_bytes,
	    .upload_threads = cfg->upload_threads,
	    .attr_cache_entries = cfg->attr_cache_entries,
	};
	rc = gfs_vfs_open(&vc, &st->vfs, err, sizeof(err));
	if (rc < 0) {
		log_error("cannot open the volume: %s", err);
		return rc;
	}
	st->srv.vfs = st->vfs;
	st->srv.vol = gfs_vfs_info(st->vfs);
	st->srv.allow_auth_none = cfg->allow_auth_none;
	st->svc.nfs_auth_none = cfg->allow_auth_none;
	st->svc.vfs = st->vfs;
	st->svc.server = &st->srv;
	rc = resolve_exports(st);
	if (rc < 0)
		return rc;

	st->svc.drc = drc_create(cfg->drc_entries, cfg->drc_bytes, cfg->drc_retention_s);
	st->srv.mounts = mount_list_create();
	if (!st->svc.drc || !st->srv.mounts)
		return -ENOMEM;
#ifdef GATEFS_HAVE_NFS3
	rpc_service_add(&st->svc, &nfs3_program);
#else
	log_warn("this build has no NFSv3 program; serving MOUNT only");
#endif
	if (cfg->nfs4) {
		rc = nfs4_start(&st->srv, cfg->nfs4_lease_seconds, cfg->nfs4_idmap_domain);
		if (rc < 0)
			return rc;
		rpc_service_add(&st->svc, &nfs4_program);
		log_info("serving NFSv4.1 and 4.2 (byte-range locks and share reservations in Redis, shared by "
			 "every gateway; sessions and stateids per gateway, reclaimed after a restart)");
	}
	rpc_service_add(&st->svc, &mount3_program);

	rc = rpc_transport_start(&st->svc, cfg->threads ? cfg->threads : default_rpc_threads());
	if (rc < 0)
		return rc;
	st->transport_started = true;
	rc = rpc_listen(cfg->listen_addr, cfg->nfs_port, false, &st->nfs_port);
	if (rc < 0) {
		log_error("cannot listen on %s port %d (nfs): %s", cfg->listen_addr, cfg->nfs_port, strerror(-rc));
		return rc;
	}
	rc = rpc_listen(cfg->listen_addr, cfg->mount_port, true, &st->mount_port);
	if (rc < 0) {
		log_error("cannot listen on %s port %d (mount): %s", cfg->listen_addr, cfg->mount_port, strerror(-rc));
		return rc;
	}
	if (cfg->metrics_listen[0]) {
		int port = 0;
		rc = metrics_http_start(cfg->metrics_listen, &st->metrics, &port, err, sizeof(err));
		if (rc < 0) {
			log_error("%s", err);
			return rc;
		}
		log_info("metrics served at /metrics on port %d (metrics_listen %s)", port, cfg->metrics_listen);
	}
	add_mapping(st, NFS_PROGRAM, 3, PMAP_PROTO_TCP, st->nfs_port);
	if (cfg->nfs4)
		add_mapping(st, NFS_PROGRAM, 4, PMAP_PROTO_TCP, st->nfs_port);
	add_mapping(st, MOUNT_PROGRAM_NUMBER, 3, PMAP_PROTO_TCP, st->mount_port);
	add_mapping(st, MOUNT_PROGRAM_NUMBER, 3, PMAP_PROTO_UDP, st->mount_port);
	return start_portmapper(st);
}

static void stop(struct serve_state *st)
{
	if (st->registered_with_rpcbind)
		pmap_rpcbind_register(111, st->maps, st->nmaps, false);
	metrics_http_stop(st->metrics);
	nfs4_quiesce(&st->srv);
	if (st->transport_started)
		rpc_transport_stop();
	if (st->vfs) {
		int rc = gfs_vfs_close(st->vfs);
		if (rc < 0)
			log_error("flushing the volume at stop failed: %s", gfs_strerror(rc));
	}
	nfs4_stop(&st->srv);
	drc_destroy(st->svc.drc);
	mount_list_destroy(st->srv.mounts);
	embedded_redis_stop(&st->redis);
	if (st->data_dir_lock >= 0)
		close(st->data_dir_lock);
	config_free(&st->cfg);
}

int cmd_serve(int argc, char **argv)
{
	struct serve_state *st = calloc(1, sizeof(*st));
	sigset_t stop_signals;
	int sig = 0, rc;

	if (!st)
		return 1;
	st->redis.pid = -1;
	st->data_dir_lock = -1;
	rc = parse_args(argc, argv, &st->cfg);
	if (rc != 0) {
		config_free(&st->cfg);
		free(st);
		return rc > 0 ? 0 : 2;
	}
	log_set_level((enum log_level)st->cfg.log_level);
	log_set_format((enum log_format)st->cfg.log_format);

	/* Write buffers and cached blocks are allocated and freed in pieces of
	 * 64 KiB to 4 MiB by many threads.  glibc gives each thread its own
	 * arena and keeps freed memory there, so with the default arena count
	 * RSS drifted to twice buffer_size + cache_mem.  Two arenas keep it
	 * near the budgets; mapping each large buffer on its own instead
	 * (a fixed mmap threshold) bounded RSS too but cost half of the
	 * sequential throughput in page faults (docs/PERFORMANCE.md). */
	mallopt(M_ARENA_MAX, 2);

	/* Blocked before any thread exists, so that every ntirpc thread
	 * inherits the mask and only sigwait below sees them. */
	sigemptyset(&stop_signals);
	sigaddset(&stop_signals, SIGINT);
	sigaddset(&stop_signals, SIGTERM);
	sigaddset(&stop_signals, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);
	sigdelset(&stop_signals, SIGPIPE);

	rc = start(st);
	if (rc < 0) {
		log_error("gatefs not started: %s", strerror(-rc));
		stop(st);
		free(st);
		return 1;
	}
	char pmap_desc[64];
	if (st->registered_with_rpcbind)
		snprintf(pmap_desc, sizeof(pmap_desc), "registered with rpcbind");
	else if (st->portmap_port)
		snprintf(pmap_desc, sizeof(pmap_desc), "builtin on port %d", st->portmap_port);
	else
		snprintf(pmap_desc, sizeof(pmap_desc), "off");
	log_info("gatefs serving volume %s (%s) on %s: nfs port %d, mount port %d, portmapper %s, %zu export(s)",
		 st->srv.vol->name, st->srv.vol->uuid, st->cfg.listen_addr, st->nfs_port, st->mount_port, pmap_desc,
		 st->srv.nexports);

	sigwait(&stop_signals, &sig);
	log_info("gatefs stopping on %s: flushing buffered data", strsignal(sig));
	stop(st);
	log_info("gatefs stopped");
	free(st);
	return 0;
}
