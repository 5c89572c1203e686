# redis.Dockerfile - a Redis image for the container test, where the
# official redis image cannot be pulled: Debian's redis-server on the same
# local base image.  docker/compose.yml passes the whole command line.
ARG BASE_IMAGE=localhost/debian:bookworm
FROM ${BASE_IMAGE}
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends redis-server \
 && rm -rf /var/lib/apt/lists/* \
 && mkdir -p /data && chown redis:redis /data
USER redis
VOLUME ["/data"]
CMD ["redis-server", "--protected-mode", "no", "--dir", "/data"]
