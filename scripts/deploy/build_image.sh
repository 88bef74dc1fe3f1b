#!/usr/bin/env bash
# Builds the container image: a static (musl) release binary, then an image FROM scratch holding
# only it (Containerfile). Installs what it needs (rustup's musl target; Debian's musl-tools, podman
# and runc) when missing.
#
# Usage: bash scripts/deploy/build_image.sh [--variant default|encoder|otel] [--tag NAME]
#   default: the default features, tagged localhost/sentiment-api:latest
#   encoder: --features encoder, MODEL_DIR=/models (mount the model files there), tagged
#            localhost/sentiment-api:encoder
#   otel:    --features otel (traces to OTEL_EXPORTER_OTLP_ENDPOINT), tagged localhost/sentiment-api:otel
# Prints the binary's path and the image's size. CONTAINER_ENGINE=docker builds with docker instead.
set -euo pipefail
cd "$(dirname "$0")/../.."

variant=default
tag=""
while [[ $# -gt 0 ]]; do
    case $1 in
        --variant) variant=$2; shift 2 ;;
        --tag) tag=$2; shift 2 ;;
        *) echo "usage: $0 [--variant default|encoder|otel] [--tag NAME]" >&2; exit 2 ;;
    esac
done
case $variant in
    default) features=(); model_dir=""; tag=${tag:-localhost/sentiment-api:latest} ;;
    encoder) features=(--features encoder); model_dir=/models; tag=${tag:-localhost/sentiment-api:encoder} ;;
    otel) features=(--features otel); model_dir=""; tag=${tag:-localhost/sentiment-api:otel} ;;
    *) echo "unknown variant $variant (default, encoder or otel)" >&2; exit 2 ;;
esac
engine=${CONTAINER_ENGINE:-podman}
target=x86_64-unknown-linux-musl

# What the build needs: the musl target, a musl C compiler for the crates with C parts (ring), and
# the container engine.
missing=()
command -v musl-gcc >/dev/null || missing+=(musl-tools)
if [[ $engine == podman ]]; then
    command -v podman >/dev/null || missing+=(podman)
    command -v runc >/dev/null || missing+=(runc)
fi
if [[ ${#missing[@]} -gt 0 ]]; then
    echo "installing ${missing[*]} (Debian)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
rustup target list --installed | grep -qx "$target" || rustup target add "$target"

# A target directory of its own: the musl release build (fat LTO, minutes) neither waits for nor
# invalidates the usual builds in target/. Symbols are stripped (not needed to run; ~30% of the file).
export CARGO_TARGET_DIR=$PWD/target/musl
CARGO_PROFILE_RELEASE_STRIP=symbols cargo build --locked --release --target "$target" \
    --bin sentiment-api "${features[@]}"
binary=$CARGO_TARGET_DIR/$target/release/sentiment-api

# Static: no interpreter, no shared library (a scratch image has neither).
if readelf --program-headers --dynamic "$binary" | grep -q -e 'program interpreter' -e '(NEEDED)'; then
    echo "$binary is dynamically linked; a scratch image cannot run it" >&2
    exit 1
fi

# The build context holds only the binary (and the Containerfile): not the repository, not target/.
context=$(mktemp -d)
trap 'rm -rf "$context"' EXIT
install -m 0555 "$binary" "$context/sentiment-api"
cp Containerfile "$context/Containerfile"
"$engine" build --quiet --build-arg "MODEL_DIR=$model_dir" -t "$tag" -f "$context/Containerfile" "$context"

size=$("$engine" image inspect --format '{{.Size}}' "$tag")
echo "binary: $binary ($(stat -c %s "$binary") bytes)"
echo "image: $tag ($size bytes)"
