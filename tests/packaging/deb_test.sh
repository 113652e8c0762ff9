#!/bin/sh
# ctest: the Debian package of this build (cpack -G DEB), unpacked into a throwaway root
# with dpkg -x: every file where it belongs, the units pointing at /usr/bin, the
# dependencies dpkg-shlibdeps found, the maintainer scripts, man pages made from --help,
# a binary that runs; lintian finds no error. Then `cmake --install --prefix` elsewhere:
# the units follow that prefix. Usage: deb_test.sh BUILD_DIR VERSION
set -eu
build=$1
version=$2
# systemd-sysusers and systemd-tmpfiles --root, and the files' owners, need root.
if [ "$(id -u)" != 0 ]; then
  echo "skipped: needs root"
  exit 77
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() {
  echo "FAIL: $*" >&2
  exit 1
}

(cd "$build" && cpack -G DEB -B "$work/out" >"$work/cpack.log" 2>&1) ||
  { cat "$work/cpack.log" >&2; fail "cpack"; }
deb=$work/out/syncd_${version}_$(dpkg --print-architecture).deb
[ -f "$deb" ] || fail "no $deb"
dpkg -x "$deb" "$work/root"
root=$work/root
for f in usr/bin/syncd usr/bin/syncctl \
  usr/lib/systemd/system/syncd.service usr/lib/systemd/system/syncd.socket \
  usr/lib/sysusers.d/syncd.conf usr/lib/tmpfiles.d/syncd.conf usr/share/syncd/syncd.json \
  usr/share/man/man8/syncd.8.gz usr/share/man/man1/syncctl.1.gz \
  usr/share/doc/syncd/copyright usr/share/doc/syncd/changelog.gz \
  usr/share/doc/syncd/OPERATIONS.md usr/share/doc/syncd/examples/remote.conf.example; do
  [ -f "$root/$f" ] || fail "missing /$f"
done
# Nothing outside /usr: /etc/syncd comes from tmpfiles at install time.
extra=$(cd "$root" && find . -mindepth 1 -maxdepth 1 ! -name usr)
[ -z "$extra" ] || fail "files outside /usr: $extra"
grep -q '^ExecStart=/usr/bin/syncd ' "$root/usr/lib/systemd/system/syncd.service" ||
  fail "the service does not start /usr/bin/syncd"
grep -q '^C /etc/syncd/syncd.json - - - - /usr/share/syncd/syncd.json$' \
  "$root/usr/lib/tmpfiles.d/syncd.conf" || fail "tmpfiles does not copy the example config"
[ "$("$root/usr/bin/syncd" --version)" = "syncd $version" ] || fail "syncd --version"
"$root/usr/bin/syncd" --config "$root/usr/share/syncd/syncd.json" --check-config >/dev/null ||
  fail "the example config is refused"
zcat "$root/usr/share/man/man8/syncd.8.gz" | grep -q 'state\\-dir' || fail "syncd(8) lacks --state-dir"
zcat "$root/usr/share/man/man1/syncctl.1.gz" | grep -q 'resolve' || fail "syncctl(1) lacks resolve"
depends=$(dpkg-deb -f "$deb" Depends)
for d in systemd libsqlite3-0 libcurl4 libuv1 libsystemd0; do
  echo "$depends" | grep -q "$d" || fail "Depends lacks $d: $depends"
done
dpkg-deb -e "$deb" "$work/control"
for s in postinst prerm postrm; do
  [ -x "$work/control/$s" ] || fail "no executable $s"
done
grep -q 'systemd-sysusers /usr/lib/sysusers.d/syncd.conf' "$work/control/postinst" ||
  fail "postinst does not create the account"
# What postinst does, into the throwaway root: the account, then /etc/syncd and the
# example config in it (0640 root:syncd), left alone when it exists.
mkdir -p "$root/etc"
: >"$root/etc/passwd"
: >"$root/etc/group"
systemd-sysusers --root="$root" "$root/usr/lib/sysusers.d/syncd.conf" || fail "systemd-sysusers"
grep -q '^syncd:' "$root/etc/passwd" || fail "no syncd user"
systemd-tmpfiles --root="$root" --create "$root/usr/lib/tmpfiles.d/syncd.conf" ||
  fail "systemd-tmpfiles"
cmp -s "$root/etc/syncd/syncd.json" "$root/usr/share/syncd/syncd.json" ||
  fail "/etc/syncd/syncd.json is not the example config"
[ "$(stat -c %a "$root/etc/syncd/syncd.json")" = 640 ] || fail "/etc/syncd/syncd.json not 0640"
[ "$(stat -c %a "$root/etc/syncd")" = 750 ] || fail "/etc/syncd not 0750"
echo '{"log_level": "debug"}' >"$root/etc/syncd/syncd.json"
systemd-tmpfiles --root="$root" --create "$root/usr/lib/tmpfiles.d/syncd.conf"
grep -q debug "$root/etc/syncd/syncd.json" || fail "an edited config was replaced"
lintian --fail-on error "$deb" >"$work/lintian.log" 2>&1 || { cat "$work/lintian.log" >&2; fail "lintian"; }

DESTDIR="$work/staged" cmake --install "$build" --prefix /opt/syncd >"$work/install.log" 2>&1 ||
  { cat "$work/install.log" >&2; fail "cmake --install"; }
grep -q '^ExecStart=/opt/syncd/bin/syncd ' "$work/staged/opt/syncd/lib/systemd/system/syncd.service" ||
  fail "the installed service does not follow the prefix"
grep -q '/opt/syncd/share/syncd/syncd.json' "$work/staged/opt/syncd/lib/tmpfiles.d/syncd.conf" ||
  fail "the installed tmpfiles snippet does not follow the prefix"
[ -x "$work/staged/opt/syncd/bin/syncctl" ] || fail "syncctl not installed"
echo "deb: ok ($(dpkg-deb -f "$deb" Installed-Size) KiB installed)"
