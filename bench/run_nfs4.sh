#!/usr/bin/env bash
# run_nfs4.sh - the NFSv4.1 front-end benchmark: gatefs against nfs-ganesha
# (Protocols = 4, Minor_Versions = 1, Graceless, FSAL VFS on tmpfs), same
# machine, same run, driven by bench/v4bench; ratios as run_nfs.sh prints
# them. It is run_nfs.sh -4: the legs, namespaces, rounds and report are
# that script's.
#
# Usage: bench/run_nfs4.sh [-B DIR] [-o ganesha|gatefs] [-r ROUNDS] [-w seq,meta] [-k] [-- V4BENCH_ARGS]
#   e.g. bench/run_nfs4.sh -B /tmp/bb4 -r 3
#   V4BENCH_ARGS: -q threads (16), -n files (10000, also the readdir
#   directory size), -s MiB written in total by seq (512), -R listings (3)
# Needs root (unshare), nfs-ganesha and nfs-ganesha-vfs, rpcbind, redis-server.
exec "$(dirname "$0")/run_nfs.sh" -4 "$@"
