#!/bin/sh
# entrypoint.sh - starts gatefs in the appliance container (docs/DOCKER.md).
#
# The configuration is /etc/gatefs/gatefs.conf when one is mounted there,
# else it is written from the environment:
#   GATEFS_META_URL       Redis of the volume      (redis://redis:6379/0)
#   GATEFS_STORAGE_URL    object store, used only to format the volume
#                         (file:///var/lib/gatefs/objects; or s3://... with
#                         AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION)
#   GATEFS_VOLUME_NAME    name given at format time (gatefs)
#   GATEFS_EXPORTS        export lines separated by ';' (/hf *(rw,insecure))
#   GATEFS_METRICS_LISTEN Prometheus endpoint (0.0.0.0:9100; "off" for none)
#   GATEFS_LOG_FORMAT     text or json (text);  GATEFS_LOG_LEVEL (info)
#   GATEFS_EXTRA_CONFIG   more "key = value" lines, separated by ';'
# It formats the volume the first time only: when Redis answers and holds
# no volume.  A volume that exists is never formatted again, whatever the
# environment says.  Every log line goes to stdout.
set -eu
exec 2>&1

conf=/run/gatefs/gatefs.conf
meta=${GATEFS_META_URL:-redis://redis:6379/0}
storage=${GATEFS_STORAGE_URL:-file:///var/lib/gatefs/objects}

if [ -f /etc/gatefs/gatefs.conf ]; then
	cp /etc/gatefs/gatefs.conf "$conf"
	from_file=$(sed -n 's/^[[:space:]]*meta_url[[:space:]]*=[[:space:]]*//p' "$conf" | tail -n 1)
	[ -n "$from_file" ] && meta=$from_file
else
	metrics=${GATEFS_METRICS_LISTEN:-0.0.0.0:9100}
	{
		echo "# written by gatefs-entrypoint from the environment"
		echo "meta_url = $meta"
		echo "data_dir = /var/lib/gatefs"
		echo "listen = 0.0.0.0"
		echo "portmapper = builtin"
		echo "log_level = ${GATEFS_LOG_LEVEL:-info}"
		echo "log_format = ${GATEFS_LOG_FORMAT:-text}"
		[ "$metrics" != off ] && echo "metrics_listen = $metrics"
		[ -n "${GATEFS_EXTRA_CONFIG:-}" ] && echo "$GATEFS_EXTRA_CONFIG" | tr ';' '\n'
		echo "${GATEFS_EXPORTS:-/hf *(rw,insecure)}" | tr ';' '\n'
	} >"$conf"
fi

log() { echo "$(date -u +%Y-%m-%dT%H:%M:%S.000Z) info  entrypoint: $*"; }

# First start: format once Redis answers and holds no volume.  Another
# gateway starting at the same moment may format first; its volume is used.
tries=0
while :; do
	if out=$(gatefs status --meta "$meta" 2>&1); then
		break
	fi
	case "$out" in
	*"no volume here"*)
		case "$storage" in file://*) mkdir -p "${storage#file://}" ;; esac
		log "no volume in Redis yet: formatting ${GATEFS_VOLUME_NAME:-gatefs} on $storage"
		if ! gatefs format --meta "$meta" --storage "$storage" "${GATEFS_VOLUME_NAME:-gatefs}"; then
			tries=$((tries + 10))
			[ "$tries" -ge 60 ] && { log "giving up: the volume could not be formatted"; exit 1; }
			sleep 1
		fi
		;;
	*)
		tries=$((tries + 1))
		if [ "$tries" -ge 60 ]; then
			log "giving up: $out"
			exit 1
		fi
		[ "$tries" = 1 ] && log "waiting for Redis: $out"
		sleep 1
		;;
	esac
done

if [ "${1:-serve}" = serve ]; then
	shift || true
	exec gatefs serve --config "$conf" "$@"
fi
exec "$@"
