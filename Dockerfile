# smtpcheck: the Slack app (`python -m bot`, the default) and the terminal command (`smtpcheck`).
#
#   docker build -t smtpcheck .
#   podman build --format docker -t smtpcheck .    # podman's default OCI format drops HEALTHCHECK
#
# Two stages: the first builds smtpcheck's wheel and installs it, with the dependencies pinned
# in requirements.lock (every download checked against its hash), into a virtual environment;
# the final stage receives only that environment, so it holds the installed package and never
# the source tree, build tools or pip's caches.
ARG PYTHON_IMAGE=python:3.11-slim

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore
WORKDIR /src
COPY requirements-build.lock requirements.lock ./
# Pinned pip and setuptools build every wheel (pyspf ships only a source archive), so the
# build does not depend on whatever pip the base image carries.
RUN python3 -m venv /opt/build \
    && /opt/build/bin/pip install --require-hashes --no-deps -r requirements-build.lock \
    && /opt/build/bin/pip wheel --require-hashes --no-deps --no-build-isolation \
       --wheel-dir /wheels -r requirements.lock
COPY pyproject.toml README.md ./
COPY handlers ./handlers
COPY bot ./bot
# The runtime environment has no pip of its own: the build stage's pip installs into it.
RUN /opt/build/bin/pip wheel --no-deps --no-build-isolation --wheel-dir /wheels . \
    && python3 -m venv --without-pip /opt/smtpcheck \
    && /opt/build/bin/pip --python /opt/smtpcheck/bin/python install \
       --no-index --no-deps --compile /wheels/*.whl

FROM ${PYTHON_IMAGE}
ENV PATH=/opt/smtpcheck/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PORT=3000 \
    SMTPCHECK_DATABASE_URL=sqlite:////data/smtpcheck.db
# A fixed uid and gid (10001) so a bind mount or a volume can be given to them on the host;
# not a --system account: system ids stop at 999 and 10001 would only draw a warning.
RUN groupadd --gid 10001 smtpcheck \
    && useradd --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
       --shell /usr/sbin/nologin --no-log-init smtpcheck \
    && mkdir /data \
    && chown 10001:10001 /data \
    && chmod 0755 /data
COPY --from=build /opt/smtpcheck /opt/smtpcheck

USER 10001:10001
# Not the source tree: `python -m bot` imports the installed package from here.
WORKDIR /data
# SQLite history and watches when SMTPCHECK_DATABASE_URL stays at its default.
VOLUME ["/data"]
EXPOSE 3000

# /healthz answers in both modes: in HTTP mode on the app's port, in Socket Mode on a small
# listener on the same port that says whether the Slack connection is up.
HEALTHCHECK --interval=30s --timeout=5s --start-period=15s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('PORT', '3000'), timeout=4)"]

CMD ["python", "-m", "bot"]
