# Stand-in for coturn/coturn:4.6.3: Debian's coturn 4.6.1 (turnserver, turnutils_*), as nobody.
FROM candor-offline/debian:bookworm
RUN apt-get update \
    && apt-get install -y --no-install-recommends coturn \
    && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/cache/apt/archives/*.deb
COPY coturn-entrypoint.sh /usr/local/bin/docker-entrypoint.sh
USER nobody:nogroup
EXPOSE 3478 3478/udp
ENTRYPOINT ["docker-entrypoint.sh"]
CMD ["--log-file=stdout"]
