#!/usr/bin/env bash
# Installs dutyd's package on a fresh Debian 12 and checks it the way an administrator meets it.
# As root (it makes a chroot):
#
#   bash scripts/test-package.sh            build with scripts/package.sh, then test
#   bash scripts/test-package.sh FILE.deb   test that package
#
#  1. builds the package (scripts/package.sh) and runs lintian on it: no errors;
#  2. unpacks a fresh Debian 12 root (debootstrap --variant=minbase bookworm, made once and kept
#     as a tarball in $DUTYD_PKGTEST_CACHE, default /var/tmp/dutyd-pkgtest) and installs the
#     package with `apt-get install ./dutyd_*.deb`, which must find every dependency;
#  3. there: `dutyd --version`, `dutyd check-config -c /etc/dutyd/dutyd.toml` as root and as an
#     unprivileged user (the service's dynamic user reads the configuration), every installed
#     path with its owner and mode, the man page, no unit enabled or started, the units'
#     ExecStart= naming the installed binary;
#  4. purges it (no data yet): nothing named dutyd may remain. Installs it again, adds data an
#     administrator would (an organisation file, a credential, a database made by `dutyd token
#     issue`), purges with the default answer: exactly that data remains, listed on the
#     terminal. Installs again, preseeds dutyd/purge_data=true, purges: nothing remains.
# Prints each step's time. The package's behaviour is described in docs/operations.md.
set -euo pipefail
cd "$(dirname "$0")/.."
src=$PWD
cache=${DUTYD_PKGTEST_CACHE:-/var/tmp/dutyd-pkgtest}
total=$SECONDS

die() { echo "test-package: FAIL: $*" >&2; exit 1; }
step() { echo "== $*"; step_start=$SECONDS; }
took() { echo "   (${1:-step}: $((SECONDS - step_start)) s)"; }

[[ $(id -u) -eq 0 ]] || die "run as root: it builds a chroot"
for tool in debootstrap lintian; do
  command -v $tool >/dev/null || die "$tool is missing: apt-get install $tool (setup.sh test installs it)"
done

# --- 1. the package and lintian --------------------------------------------------------------
if [[ $# -ge 1 ]]; then
  deb=$(realpath -e "$1") || die "$1: no such file"
else
  step "build: bash scripts/package.sh"
  bash scripts/package.sh
  deb=$(ls "$src"/out/deb/dutyd_*.deb | grep -v dbgsym | head -1)
  took build
fi
echo "   $deb: $(du -k "$deb" | cut -f1) KiB, Installed-Size $(dpkg-deb -f "$deb" Installed-Size) KiB"

step "lintian"
# lintian refuses nothing as root, but it has no reason to be: it reads the archive only.
lint_out=$(mktemp)
chmod 0644 "$lint_out"
rc=0
runuser -u nobody -- env HOME=/tmp lintian --info --display-level ">=pedantic" "$deb" >"$lint_out" 2>&1 || rc=$?
sed 's/^/   /' "$lint_out"
errors=$(grep -c '^E: ' "$lint_out" || true)
rm -f "$lint_out"
[[ $errors -eq 0 ]] || die "lintian reports $errors error(s)"
[[ $rc -eq 0 || $rc -eq 2 ]] || die "lintian exited with $rc"
echo "   lintian: no errors"
took lintian

# --- 2. a fresh Debian 12 ------------------------------------------------------------------
mkdir -p "$cache"
base=$cache/bookworm-minbase.tar
if [[ ! -f $base ]]; then
  step "debootstrap --variant=minbase bookworm (once; kept as $base)"
  rm -rf "$cache/base"
  debootstrap --variant=minbase bookworm "$cache/base" http://deb.debian.org/debian >"$cache/debootstrap.log" 2>&1 ||
    die "debootstrap failed: $cache/debootstrap.log"
  tar -C "$cache/base" -cf "$base.new" . && mv "$base.new" "$base"
  rm -rf "$cache/base"
  took debootstrap
fi

step "unpack the fresh root"
root=$(mktemp -d "$cache/root.XXXXXX")
cleanup() {
  umount "$root/proc" 2>/dev/null || true
  if ! grep -q " $root/" /proc/mounts; then rm -rf --one-file-system "$root"; fi
}
trap cleanup EXIT
tar -C "$root" -xf "$base"
mount -t proc proc "$root/proc" 2>/dev/null || echo "   (no /proc in the root: mount not permitted here)"
cp /etc/resolv.conf "$root/etc/resolv.conf"
cp "$deb" "$root/root/"
debname=$(basename "$deb")
took unpack

in_root() {
  chroot "$root" /usr/bin/env -i HOME=/root PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 \
    DEBIAN_FRONTEND=noninteractive "$@"
}
# Every path in the root but the ones that change by themselves (package manager state and
# caches, logs, pseudo file systems, the test's own files in /root).
snapshot() {
  (cd "$root" && find . -xdev \( -path ./proc -o -path ./sys -o -path ./dev -o -path ./run -o -path ./tmp \
      -o -path ./var/cache -o -path ./var/log -o -path ./var/lib/dpkg -o -path ./var/lib/apt -o -path ./root \) \
      -prune -o -print | sed 's|^\.||' | LC_ALL=C sort)
}
new_paths() { LC_ALL=C comm -13 "$1" "$2"; }

step "apt-get update in the root"
in_root apt-get update -qq
took update
snapshot >"$root.before"

# --- 3. install and look ------------------------------------------------------------------
step "apt-get install ./$debname"
in_root bash -c "cd /root && apt-get install -y -q ./$debname" >"$root.install.log" 2>&1 ||
  { cat "$root.install.log"; die "apt-get install failed"; }
grep -E '^(Setting up|Unpacking) ' "$root.install.log" | sed 's/^/   /' | head -60
in_root dpkg-query -W -f='${Status}' dutyd | grep -q "install ok installed" || die "dutyd is not installed"
took install

step "dutyd --version and check-config, in the root"
version_out=$(in_root dutyd --version) || die "dutyd --version failed: $version_out"
echo "$version_out" | sed 's/^/   /'
[[ $(head -1 <<<"$version_out") == "dutyd $(dpkg-deb -f "$deb" Version)" ]] || die "dutyd --version does not print the package's version"
grep -qx "catalogue [0-9.]* (/usr/share/dutyd/obligations.toml)" <<<"$(sed -n 2p <<<"$version_out")" ||
  die "dutyd --version does not name the installed catalogue"
in_root dutyd check-config -c /etc/dutyd/dutyd.toml 2>&1 | sed 's/^/   /'
[[ ${PIPESTATUS[0]} -eq 0 ]] || die "the installed example does not pass check-config"
# The service runs under a dynamic, unprivileged user: it must read the configuration too.
in_root setpriv --reuid=65534 --regid=65534 --clear-groups dutyd check-config -c /etc/dutyd/dutyd.toml >/dev/null 2>&1 ||
  die "check-config fails for an unprivileged user (modes of /etc/dutyd or /usr/share/dutyd)"
took check

step "installed files, owners and modes"
expect() {  # expect MODE OWNER PATH...
  local mode=$1 owner=$2; shift 2
  for p in "$@"; do
    local got
    got=$(stat -c '%a %U:%G' "$root$p" 2>/dev/null) || die "$p is missing"
    [[ $got == "$mode $owner" ]] || die "$p is $got, expected $mode $owner"
    echo "   $mode $owner $p"
  done
}
expect 755 root:root /usr/bin/dutyd /etc/dutyd /etc/dutyd/conf.d /etc/dutyd/holidays /usr/share/dutyd /usr/share/dutyd/holidays
expect 700 root:root /etc/dutyd/credentials
expect 644 root:root /etc/dutyd/dutyd.toml /usr/share/dutyd/obligations.toml /usr/share/dutyd/dutyd-alerts.yml \
  /usr/share/dutyd/implementation-rules.zh.txt /lib/systemd/system/dutyd.service /lib/systemd/system/dutyd.socket \
  /usr/share/man/man8/dutyd.8.gz /usr/share/doc/dutyd/copyright /usr/share/doc/dutyd/examples/nginx-dutyd.conf
ls "$root"/usr/share/dutyd/holidays/*.toml >/dev/null 2>&1 || die "no holiday data in /usr/share/dutyd/holidays"
in_root dpkg-query --control-show dutyd conffiles | grep -qx "/etc/dutyd/dutyd.toml" || die "/etc/dutyd/dutyd.toml is not a conffile"
grep -qx "ExecStart=/usr/bin/dutyd run -c /etc/dutyd/dutyd.toml" "$root/lib/systemd/system/dutyd.service" ||
  die "dutyd.service does not start /usr/bin/dutyd"
grep -qx "LoadCredential=dutyd:/etc/dutyd/credentials" "$root/lib/systemd/system/dutyd.service" ||
  die "dutyd.service does not load /etc/dutyd/credentials"
zcat "$root/usr/share/man/man8/dutyd.8.gz" | grep -q '^\.SH COMMANDS' || die "the man page has no COMMANDS section"
zcat "$root/usr/share/man/man8/dutyd.8.gz" | grep -q 'check\\-config \\-c FILE' || die "the man page lacks the commands from --help"
if ls "$root"/etc/systemd/system/*.wants/dutyd.* >/dev/null 2>&1; then die "a dutyd unit was enabled on install"; fi
echo "   conffile, units (not enabled), man page: ok"
took files

# --- 4. purge ---------------------------------------------------------------------------
purge() {  # purge LOGFILE
  in_root apt-get purge -y -q dutyd >"$1" 2>&1 || { cat "$1"; die "apt-get purge failed"; }
  if in_root dpkg-query -W -f='${db:Status-Status}\n' dutyd 2>/dev/null | grep -qv '^not-installed$'; then
    die "dutyd is still installed or half-removed after purge"
  fi
}
reinstall() {
  in_root dpkg -i "/root/$debname" >"$root.reinstall.log" 2>&1 || { cat "$root.reinstall.log"; die "dpkg -i failed"; }
}
# What an administrator adds: an organisation file, a credential, a database made by a state
# command (as systemd would lay it out for DynamicUser=: /var/lib/dutyd -> private/dutyd).
add_data() {
  in_root bash -c '
    set -e
    cat >/etc/dutyd/conf.d/org.toml <<EOF
[[org]]
id = "test"
name = "中共测试县委"
kind = "party-committee"
level = "county"
EOF
    (umask 077; head -c 32 /dev/urandom | base64 -w0 >/etc/dutyd/credentials/link_key)
    install -d -m 0700 /var/lib/private /var/lib/private/dutyd
    ln -sfn private/dutyd /var/lib/dutyd
    dutyd check-config -c /etc/dutyd/dutyd.toml
    dutyd token issue -c /etc/dutyd/dutyd.toml --database /var/lib/dutyd/dutyd.db --admin
    test -s /var/lib/private/dutyd/dutyd.db' >"$root.data.log" 2>&1 || { cat "$root.data.log"; die "adding data failed"; }
}

step "purge without data"
purge "$root.purge0.log"
snapshot >"$root.after0"
left=$(new_paths "$root.before" "$root.after0" | grep -i dutyd || true)
[[ -z $left ]] || die "purge left: $left"
# (What else is new belongs to the dependencies apt installed, made by their own scripts, and
# stays. The next two rounds compare against this state exactly.)
echo "   nothing of dutyd remains"
took purge0

step "install again, add data, purge with the default answer (keep the data)"
reinstall
add_data
purge "$root.purge1.log"
grep '^dutyd: kept ' "$root.purge1.log" | sed 's/^/   /'
grep -q '^dutyd: kept /var/lib/private/dutyd' "$root.purge1.log" || die "purge does not say that it kept the database"
snapshot >"$root.after1"
got=$(new_paths "$root.after0" "$root.after1")
want=$(printf '%s\n' /etc/dutyd /etc/dutyd/conf.d /etc/dutyd/conf.d/org.toml /etc/dutyd/credentials \
  /etc/dutyd/credentials/link_key /var/lib/dutyd /var/lib/private /var/lib/private/dutyd \
  /var/lib/private/dutyd/dutyd.db | LC_ALL=C sort)
# SQLite may leave its -wal and -shm files next to the database.
got=$(grep -vE '^/var/lib/private/dutyd/dutyd\.db-(wal|shm)$' <<<"$got" || true)
[[ $got == "$want" ]] || die "after purge (keep), expected exactly the data:
$want
found:
$got"
echo "   kept exactly: $(tr '\n' ' ' <<<"$want")"
took purge1

step "install again (the data is still there), preseed dutyd/purge_data=true, purge"
reinstall
in_root dutyd check-config -c /etc/dutyd/dutyd.toml 2>&1 | grep -q "ok: 1 orgs" || die "the kept organisation file is not read after reinstalling"
in_root bash -c 'echo "dutyd dutyd/purge_data boolean true" | debconf-set-selections'
purge "$root.purge2.log"
snapshot >"$root.after2"
got=$(new_paths "$root.after0" "$root.after2")
[[ $got == "/var/lib/private" ]] || die "after purge (remove), left: $got"
echo "   nothing of dutyd remains (/var/lib/private is systemd's)"
took purge2

rm -f "$root".*
echo "test-package: OK in $((SECONDS - total)) s"
