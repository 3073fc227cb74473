#!/usr/bin/env bash
# Builds auditd, auditctl, ausearch, aureport, libaudit and libauparse of each audit-userspace version whose source
# tree scripts/audit-sources.sh unpacked (Debian's patches applied), each into a prefix of its own, so that the live
# suite tests/live/test_audit_versions.py can run every version's own auditd and tools in turn (issue 20). Nothing is
# installed over the system's audit packages.
#
# Usage (as root): scripts/audit-builds.sh [UPSTREAM_VERSION...]   default: every tree audit-sources.sh unpacked
# Environment:
#   CHANGEAUDIT_AUDIT_SOURCES  where audit-sources.sh keeps its trees (default /var/cache/changeaudit/audit-sources)
#   CHANGEAUDIT_AUDIT_BUILDS   where the prefixes are kept between runs (default /var/cache/changeaudit/audit-builds;
#                              outside the clone): <upstream version>/ with bin/ sbin/ lib/ and BUILT (what was
#                              built, from which tree). A prefix whose BUILT names the same tree and flags is reused.
#   MAKEFLAGS                  default -j<cores>
# Prints one line per version: built (seconds), reused, or not built and why (kept in <version>.why for
# scripts/test.sh); exits non-zero when a build failed, not when the mirror served no sources for a version.
set -uo pipefail

sources=${CHANGEAUDIT_AUDIT_SOURCES:-/var/cache/changeaudit/audit-sources}
builds=${CHANGEAUDIT_AUDIT_BUILDS:-/var/cache/changeaudit/audit-builds}
export MAKEFLAGS=${MAKEFLAGS:--j$(nproc)}
# Only what the tests run: no Python or Go bindings (the tests load libauparse with ctypes), no plugins that need
# LDAP or Kerberos, no network listener. Options a version does not know are ignored by its configure.
flags=(--without-python --without-python3 --without-golang --disable-zos-remote --disable-gssapi-krb5
  --disable-listener --without-libcap-ng --without-libwrap --without-io_uring --disable-experimental
  --without-warn)

mkdir -p "$builds"
failed=0

# tree_of VERSION: the unpacked tree of upstream VERSION (audit-<version>-<debian revision>), newest revision.
tree_of() {
  find "$sources/trees" -maxdepth 1 -type d -name "audit-$1-*" | sort -V | tail -n 1
}

if [ "$#" -gt 0 ]; then
  versions=("$@")
else
  mapfile -t versions < <(find "$sources/trees" -maxdepth 1 \( -type d -o -name '*.unavailable' \) -name 'audit-*' \
    ! -name '*.part' -printf '%f\n' | sed -E 's/\.unavailable$//; s/^audit-(.*)-[^-]+$/\1/' | sort -uV)
fi
[ "${#versions[@]}" -gt 0 ] || { echo "audit-builds: no source trees in $sources/trees; run scripts/audit-sources.sh"; exit 1; }

for version in "${versions[@]}"; do
  tree=$(tree_of "$version")
  prefix=$builds/$version
  rm -f "$builds/$version.why"
  if [ -z "$tree" ] || [ ! -f "$tree.origin" ]; then
    why=$(cat "$sources/trees/audit-$version"-*.unavailable 2>/dev/null | head -n 1)
    if [ -n "$why" ]; then
      echo "audit $version: not built: $why" | tee "$builds/$version.why"
    else
      echo "audit $version: not built: no source tree (scripts/audit-sources.sh could not unpack it)" | tee "$builds/$version.why"
      failed=1
    fi
    continue
  fi
  # Every path a version writes at run time is under its prefix (4.x takes its run directory from runstatedir, which
  # is otherwise the literal text ${localstatedir}/run).
  configure=(--prefix="$prefix" --sysconfdir="$prefix/etc" --localstatedir="$prefix/var" --runstatedir="$prefix/run"
    "${flags[@]}")
  want="tree $(basename "$tree"): $(cat "$tree.origin"); configure ${configure[*]}"
  if [ -x "$prefix/sbin/auditd" ] && [ "$(cat "$prefix/BUILT" 2>/dev/null)" = "$want" ]; then
    echo "audit $version: reused $prefix"
    continue
  fi
  started=$SECONDS
  work=$builds/.work-$version
  rm -rf "$work" "$prefix"
  cp -a "$tree" "$work"
  log=$builds/$version.log
  if (
    set -e
    cd "$work"
    # Releases from GitHub (4.x) come without a configure script, and Debian's patches touch Makefile.am in others
    # (make would then rerun the automake the tarball was made with): generated here, by this machine's autotools.
    autoreconf -fi
    # audit 3.0 includes <linux/ipx.h>, which kernel headers dropped with IPX (Linux 5.15); it only needs the
    # sockaddr_ipx layout to print an IPX address. The header as it was, for this build only.
    mkdir -p compat/linux
    if ! echo '#include <linux/ipx.h>' | gcc -E -x c - >/dev/null 2>&1; then
      cat >compat/linux/ipx.h <<'IPX'
#ifndef _IPX_H_
#define _IPX_H_
#include <linux/types.h>
#include <linux/socket.h>
#define IPX_NODE_LEN 6
struct sockaddr_ipx {
	__kernel_sa_family_t sipx_family;
	__be16 sipx_port;
	__be32 sipx_network;
	unsigned char sipx_node[IPX_NODE_LEN];
	__u8 sipx_type;
	unsigned char sipx_zero;
};
#endif
IPX
    fi
    ./configure "${configure[@]}" CPPFLAGS="-I$PWD/compat"
    make
    make install
    # auditd makes its run directory, but not the one above it.
    mkdir -p "$prefix/run"
  ) >"$log" 2>&1; then
    echo "$want" >"$prefix/BUILT"
    rm -rf "$work"
    echo "audit $version: built in $((SECONDS - started)) s into $prefix"
  else
    echo "audit $version: build failed; see $log" >"$builds/$version.why"
    echo "audit $version: build failed after $((SECONDS - started)) s; the end of $log:"
    tail -n 30 "$log" | sed 's/^/    /'
    rm -rf "$prefix"
    failed=1
  fi
done
exit "$failed"
