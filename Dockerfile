# syntax=docker/dockerfile:1
#
# One image for the three services; the argument picks the service:
#   docker run IMAGE callflow_svc | voicemail_svc | config_svc
# and `kzvoice` (the operator tool) is on PATH: docker run --entrypoint kzvoice IMAGE config get ...
# k8s/README.md explains the choices.

ARG PYTHON_VERSION=3.11

# ---- build: a virtualenv with kzvoice and its dependencies -------------------------------
FROM python:${PYTHON_VERSION}-slim-bookworm AS build

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1

RUN python -m venv /opt/kzvoice

WORKDIR /src
# Only what the package build needs; tests, docs and node tools stay out (.dockerignore too).
COPY pyproject.toml README.md ./
COPY services ./services
COPY callflow_svc ./callflow_svc
COPY voicemail_svc ./voicemail_svc
COPY config_svc ./config_svc
COPY gateway_sim ./gateway_sim

# Every dependency ships manylinux wheels for CPython 3.11, so no compiler is needed.
# The `fast` extra adds uvloop.
RUN /opt/kzvoice/bin/pip install --no-compile ".[fast]" \
 && /opt/kzvoice/bin/python -m compileall -q /opt/kzvoice/lib

# ---- runtime: the virtualenv, the message schemas, an unprivileged user -------------------
FROM python:${PYTHON_VERSION}-slim-bookworm AS runtime

RUN groupadd --system --gid 10001 kzvoice \
 && useradd --system --uid 10001 --gid kzvoice --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin kzvoice \
 && install -d -o kzvoice -g kzvoice -m 0750 /var/spool/kzvoice /var/lib/kzvoice

COPY --from=build /opt/kzvoice /opt/kzvoice
# The services validate every message against these; the installed package cannot find the
# repository's schemas/ by itself, hence KZ_SCHEMA_DIR below.
COPY schemas /opt/kzvoice/share/kzvoice/schemas

ENV PATH=/opt/kzvoice/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    KZ_SCHEMA_DIR=/opt/kzvoice/share/kzvoice/schemas \
    KZ_SPOOL_DIR=/var/spool/kzvoice \
    KZ_HTTP_PORT=8080 \
    KZ_LOG_FORMAT=json

# The default store (sqlite:///./kzvoice.sqlite3) lands here when no KZ_STORE_URL is given.
WORKDIR /var/lib/kzvoice
USER 10001:10001
# 8080: /healthz /readyz /metrics (KZ_HTTP_PORT); 8090: voicemail uploads when KZ_PUBLIC_URL names it
EXPOSE 8080 8090

# For plain docker runs; Kubernetes ignores HEALTHCHECK and uses the probes in k8s/.
HEALTHCHECK --interval=30s --timeout=3s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('KZ_HTTP_PORT', '8080'), timeout=2)"]

ENTRYPOINT ["python", "-m"]
CMD ["callflow_svc"]
