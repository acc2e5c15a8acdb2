#!/bin/sh
# As the official image: a bare `redis-server` listens on every interface of the container
# without protected mode (the official build changes that default), as user redis.
set -e
if [ "${1#-}" != "$1" ]; then set -- redis-server "$@"; fi
if [ "$1" = redis-server ]; then
    shift
    set -- redis-server --bind '* -::*' --protected-mode no --dir /data "$@"
    exec setpriv --reuid=redis --regid=redis --init-groups "$@"
fi
exec "$@"
