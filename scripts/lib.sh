# Shared by scripts/test and scripts/run: Debian packages and the build.
# shellcheck shell=bash

SYNCD_PACKAGES=(g++ cmake pkg-config libsqlite3-dev libcurl4-openssl-dev zlib1g-dev rapidjson-dev
                libuv1-dev libgtest-dev libsystemd-dev python3)

# Installs what is missing when root; otherwise prints the apt-get line and exits 2.
ensure_packages() {
  local missing=()
  local p
  for p in "$@"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
      missing+=("$p")
    fi
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" -ne 0 ]; then
    echo "missing Debian packages; install them with:" >&2
    echo "  sudo apt-get install -y ${missing[*]}" >&2
    exit 2
  fi
  echo "installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >/dev/null
  apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
}

# build DIR [cmake args...]: configure and build syncd, syncctl, tests and benchmarks.
build() {
  local dir=$1
  shift
  cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE="${BUILD_TYPE:-RelWithDebInfo}" "$@" >/dev/null
  cmake --build "$dir" -j "$(nproc)"
}
