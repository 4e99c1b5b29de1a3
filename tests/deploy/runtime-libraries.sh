#!/usr/bin/env bash
# The Dockerfile's runtime stage installs exactly the Debian packages that
# own the libraries the operator binary links: none missing (the image
# would not start), none extra. Run on this Debian 12 machine, whose
# packages are the ones the builder stage links against.
#   tests/deploy/runtime-libraries.sh SOURCE_DIR BINARY
set -euo pipefail
src="${1:?source dir}" bin="${2:?operator binary}"
# Packages of debian:12-slim itself that the binary links.
base="libc6 libgcc-s1 libstdc++6"

listed=$(sed -n 's/^ARG RUNTIME_LIBRARIES="\(.*\)"$/\1/p' "$src/Dockerfile" | tr ' ' '\n' | sort -u)
[ -n "$listed" ] || { echo "no ARG RUNTIME_LIBRARIES in $src/Dockerfile"; exit 1; }

if ldd "$bin" | grep -q "not found"; then
  echo "unresolved libraries:"; ldd "$bin" | grep "not found"; exit 1
fi

owner() { # package owning a library path, usrmerge or not
  local p="$1" r
  for q in "$p" "$(readlink -f "$p")" "/usr$p" "${p#/usr}"; do
    r=$(dpkg -S "$q" 2>/dev/null | head -1 | cut -d: -f1) && [ -n "$r" ] && { echo "$r"; return; }
  done
  echo "?"
}

needed=$(readelf -d "$bin" | sed -n 's/.*Shared library: \[\(.*\)\]/\1/p')
owners=""
fail=0
for lib in $needed; do
  path=$(ldd "$bin" | awk -v l="$lib" '$1 == l { print $3 }')
  pkg=$(owner "$path")
  owners+="$pkg"$'\n'
  if ! grep -qx "$pkg" <<<"$listed" && ! grep -qw "$pkg" <<<"$base"; then
    echo "MISSING: $lib ($path) is in package $pkg, not in the Dockerfile's RUNTIME_LIBRARIES"
    fail=1
  fi
done
for pkg in $listed; do
  grep -qx "$pkg" <<<"$owners" || { echo "EXTRA: $pkg is in RUNTIME_LIBRARIES but owns no library the binary links"; fail=1; }
done
[ "$fail" = 0 ] && echo "ok: $(wc -w <<<"$needed") libraries, all from $(wc -w <<<"$listed") listed packages and debian:12-slim's $base"
exit "$fail"
