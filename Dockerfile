# Device Readings in a container: built with the official Swift image, run on its slim variant
# (the Swift runtime libraries without the compiler) as a non-root user.
#
#   docker build -t device-readings .
#   docker run -p 3000:3000 -v readings-data:/data device-readings
#
# Flags and environment variables are the binary's own (`device-readings serve --help`); the
# defaults below listen on every interface of the container and keep a journal in /data.

# ---- build ---------------------------------------------------------------------------------
FROM swift:6.3-bookworm AS build
WORKDIR /src
COPY . .
# The README's release build, exactly what `make release` runs. Then stage the binary and any
# resource bundle SwiftPM puts next to it (this package embeds its files in code, so normally none).
RUN swift build -c release \
 && mkdir /staging \
 && cp .build/release/device-readings /staging/ \
 && find -L .build/release/ -maxdepth 1 -name '*.resources' -exec cp -R {} /staging/ \;

# ---- run -----------------------------------------------------------------------------------
FROM swift:6.3-bookworm-slim
# curl only for the HEALTHCHECK: the slim image has none. A real HTTP client that checks the
# status code is clearer and more robust than hand-writing a request to bash's /dev/tcp.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends curl \
 && rm -rf /var/lib/apt/lists/*
RUN useradd --system --uid 10001 --user-group --no-create-home --home-dir /data readings \
 && mkdir -p /data \
 && chown readings:readings /data
COPY --from=build /staging/ /app/
# The server reads ./.env from its working directory: /app holds none and is not writable.
WORKDIR /app
ENV HOST=0.0.0.0 \
    PORT=3000 \
    DATA_DIR=/data
VOLUME ["/data"]
EXPOSE 3000
USER readings:readings
# Liveness only: /health answers 200 while the process serves (/ready would also wait for
# recovery or for PostgreSQL). Checks loopback, so it assumes HOST stays 0.0.0.0 or 127.0.0.1.
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD curl -fsS -o /dev/null "http://127.0.0.1:${PORT:-3000}/health" || exit 1
# SIGTERM (docker stop) makes the server stop accepting, finish in-flight requests and flush
# storage; the binary is PID 1 (exec form), so it receives the signal itself.
STOPSIGNAL SIGTERM
ENTRYPOINT ["/app/device-readings"]
CMD ["serve"]
