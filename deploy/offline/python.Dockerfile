# Stand-in for python:3.11.11-slim-bookworm: Debian's Python 3.11 (3.11.2) with venv and pip,
# `python` on PATH. The official image builds CPython into /usr/local; this one uses /usr.
FROM candor-offline/debian:bookworm
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
         python3 python3-venv python3-pip python-is-python3 \
    && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/cache/apt/archives/*.deb
# pip's own certificate store is certifi; point it at the system bundle (see base.Dockerfile)
ENV PIP_CERT=/etc/ssl/certs/ca-certificates.crt \
    REQUESTS_CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt
CMD ["python3"]
