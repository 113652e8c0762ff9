# Shared by scripts/test and scripts/run: Debian packages and the build.
# shellcheck shell=bash

SYNCD_PACKAGES=(g++ cmake pkg-config libsqlite3-dev libcurl4-openssl-dev zlib1g-dev rapidjson-dev
                libuv1-dev libgtest-dev libsystemd-dev python3 openssl
                python3-prometheus-client libseccomp-dev systemd help2man dpkg-dev
                lintian)

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

# PouchDB Server, the CouchDB-protocol server of the couchdb adapter's integration tests
# (tests/integration/pouch_server.h), from the npm registry. CMake looks for it where
# ensure_pouchdb_server puts it (SYNCD_POUCHDB_SERVER in tests/CMakeLists.txt).
SYNCD_POUCHDB_SERVER_VERSION=4.2.0

# ensure_pouchdb_server: installs pouchdb-server@$SYNCD_POUCHDB_SERVER_VERSION into
# .cache/pouchdb-server in the checkout (shared by every build dir: CI's three builds
# installed it three times, two minutes each) unless that exact version is already there
# (about two minutes and 60 MB the first time). Exits non-zero, saying what to do, when
# node or npm is missing or the install fails: that suite is required, never skipped.
ensure_pouchdb_server() {
  local prefix=$PWD/.cache/pouchdb-server
  local version=$SYNCD_POUCHDB_SERVER_VERSION
  local tool
  for tool in node npm; do
    if ! command -v "$tool" >/dev/null 2>&1; then
      echo "error: '$tool' not found: the PouchDB Server test suite needs Node.js and npm;" >&2
      echo "  install the Debian packages nodejs and npm: sudo apt-get install -y nodejs npm" >&2
      exit 2
    fi
  done
  local manifest=$prefix/node_modules/pouchdb-server/package.json
  if [ -f "$manifest" ] && [ -x "$prefix/node_modules/.bin/pouchdb-server" ] &&
     [ "$(node -p 'require(require("path").resolve(process.argv[1])).version' "$manifest" 2>/dev/null)" = "$version" ]; then
    return 0
  fi
  mkdir -p "$prefix"
  echo "installing pouchdb-server@$version into $prefix (npm, about a minute)" >&2
  local started=$SECONDS
  if ! npm install --prefix "$prefix" --no-audit --no-fund --save-exact \
       "pouchdb-server@$version" >"$prefix/npm-install.log" 2>&1; then
    tail -n 20 "$prefix/npm-install.log" >&2
    echo "error: 'npm install pouchdb-server@$version' failed (is the npm registry reachable?);" >&2
    echo "  the whole log is $prefix/npm-install.log" >&2
    exit 1
  fi
  if [ ! -x "$prefix/node_modules/.bin/pouchdb-server" ]; then
    echo "error: npm installed pouchdb-server@$version but $prefix/node_modules/.bin/pouchdb-server is missing" >&2
    exit 1
  fi
  echo "pouchdb-server@$version installed in $((SECONDS - started)) s" >&2
}
