#!/bin/sh
# As the official image: options alone run turnserver with them, logging to stdout.
set -e
if [ "${1#-}" != "$1" ]; then set -- turnserver --log-file=stdout "$@"; fi
exec "$@"
