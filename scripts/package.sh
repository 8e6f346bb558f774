#!/usr/bin/env bash
# Builds dutyd's Debian package from this checkout: out/deb/dutyd_VERSION_ARCH.deb (and its
# debug symbols, dutyd-dbgsym_VERSION_ARCH.deb). Needs no root (Rules-Requires-Root: no).
#
#   bash scripts/package.sh
#
# The tree is copied to out/deb/build/dutyd-VERSION/ first (the files git knows, with
# uncommitted changes, and new files git does not ignore; never build directories), so earlier
# builds in the checkout do not leak in. Missing build dependencies (debian/control) are
# installed when run as root, else listed. ccache is used when installed (the copy's path is
# always the same, so unchanged files are not compiled again). lintian is run by
# scripts/test-package.sh; the package's layout and behaviour: docs/operations.md.
set -euo pipefail
cd "$(dirname "$0")/.."
src=$PWD
SECONDS=0

die() { echo "package: $*" >&2; exit 1; }

version=$(sed -n 's/^project(dutyd VERSION \([0-9.]*\).*/\1/p' CMakeLists.txt)
[[ -n $version ]] || die "no project(dutyd VERSION x.y.z) line in CMakeLists.txt"
changelog=$(dpkg-parsechangelog -l debian/changelog -S Version)
[[ $changelog == "$version" ]] ||
  die "debian/changelog says $changelog, CMakeLists.txt $version: add a debian/changelog entry for $version (dch -v $version)"

if ! missing=$(dpkg-checkbuilddeps debian/control 2>&1); then
  deps=$(sed -n 's/.*Unmet build dependencies: //p' <<<"$missing" | sed 's/([^)]*)//g')
  [[ -n $deps ]] || die "dpkg-checkbuilddeps: $missing"
  if [[ $(id -u) -eq 0 ]]; then
    echo "== installing build dependencies: $deps"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $deps >/dev/null
  else
    die "missing build dependencies; as root: apt-get install $deps"
  fi
fi

out=$src/out/deb
stage=$out/build/dutyd-$version
rm -rf "$out/build"
mkdir -p "$stage"
git ls-files -z --cached --others --exclude-standard |
  while IFS= read -r -d '' f; do [[ -e $f || -L $f ]] && printf '%s\0' "$f"; done |
  tar --null -T - -cf - | tar -x -C "$stage"

if command -v ccache >/dev/null; then export CMAKE_CXX_COMPILER_LAUNCHER=ccache; fi
jobs=$(nproc 2>/dev/null || echo 2)
echo "== dpkg-buildpackage (dutyd $version, $jobs jobs)"
(cd "$stage" && DEB_BUILD_OPTIONS="parallel=$jobs ${DEB_BUILD_OPTIONS:-}" \
  dpkg-buildpackage -b -us -uc >"$out/build/build.log" 2>&1) ||
  { tail -40 "$out/build/build.log" >&2; die "the build failed; the whole log: $out/build/build.log"; }

rm -f "$out"/dutyd_*.deb "$out"/dutyd-dbgsym_*.deb
mv "$out"/build/dutyd_*.deb "$out"/build/dutyd-dbgsym_*.deb "$out"/ 2>/dev/null || true
deb=$(ls "$out"/dutyd_"$version"_*.deb 2>/dev/null | head -1)
[[ -f $deb ]] || die "no package in $out/build (log: $out/build/build.log)"
echo "== $deb ($(du -k "$deb" | cut -f1) KiB, installed size $(dpkg-deb -f "$deb" Installed-Size) KiB) in ${SECONDS}s"
