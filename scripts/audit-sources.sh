#!/usr/bin/env bash
# Regenerates tests/data/audit-userspace/<upstream version>.json from the audit source package that Debian serves in
# each suite fleets run (issue 20): what ausearch's parse_user() searches for, which fields auparse decodes under
# ausearch -i, and what auparse's normalizer does with a USYS_CONFIG record. The unit tests read those files, so they
# run everywhere without network or a checkout of audit-userspace.
#
# Usage (as root, on Debian or Ubuntu with dpkg-dev): scripts/audit-sources.sh [--trees-only] [SUITE...]
#   SUITE defaults to: bullseye bookworm trixie sid. --trees-only fetches and unpacks the trees (for
#   scripts/audit-builds.sh) without rewriting tests/data/audit-userspace.
# A version whose files the mirror does not serve is reported as unavailable (the reason in
# <cache>/trees/audit-<version>.unavailable) and does not fail the run; anything else that goes wrong does.
# Environment:
#   CHANGEAUDIT_AUDIT_SOURCES  where downloads, apt lists and extracted trees are kept between runs
#                              (default /var/cache/changeaudit/audit-sources; outside the clone)
#   CHANGEAUDIT_AUDIT_SOURCES_MAX_AGE  minutes a suite's apt lists are used before they are refreshed (default 720)
#   CHANGEAUDIT_AUDIT_UPSTREAM_GIT  a git directory of linux-audit/audit-userspace: only used when the mirror serves
#                              no orig tarball for a version, whose tag v<upstream version> then stands in for it
#   PYTHON                     the interpreter for scripts/audit_extract.py (default python3)
#
# The machine's own apt configuration is not changed: each suite has its own sources, lists and caches under the
# cache directory, passed to apt-get with -o. A second run reuses the lists, the downloaded files and the trees.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(dirname "$here")
out=$repo/tests/data/audit-userspace
cache=${CHANGEAUDIT_AUDIT_SOURCES:-/var/cache/changeaudit/audit-sources}
max_age=${CHANGEAUDIT_AUDIT_SOURCES_MAX_AGE:-720}
python=${PYTHON:-python3}
mirror=http://deb.debian.org/debian
keyring=/usr/share/keyrings/debian-archive-keyring.gpg

trees_only=false
if [ "${1:-}" = --trees-only ]; then
  trees_only=true
  shift
fi
if [ "$#" -gt 0 ]; then
  suites=("$@")
else
  suites=(bullseye bookworm trixie sid)
fi

die() {
  echo "audit-sources: $*" >&2
  exit 1
}


[ "$(id -u)" -eq 0 ] || die "run as root (apt-get update needs it, even with private lists)"
command -v apt-get >/dev/null || die "apt-get not found: this script runs on Debian or Ubuntu"
command -v dpkg-source >/dev/null || die "dpkg-source not found: apt-get install dpkg-dev"
[ -r "$keyring" ] || die "$keyring not found: apt-get install debian-archive-keyring"

mkdir -p "$cache/downloads" "$cache/trees" "$out"
# apt downloads as _apt when it can: let it write the downloads directory, or it warns and downloads as root.
if id _apt >/dev/null 2>&1; then
  chown _apt "$cache/downloads"
fi

# apt_opts SUITE: fills the array apt_opts with options giving apt a private configuration for SUITE.
apt_opts=()
apt_opts() {
  local dir=$cache/apt/$1
  mkdir -p "$dir/sources.list.d" "$dir/preferences.d" "$dir/lists/partial" "$dir/cache/archives/partial"
  cat >"$dir/sources.list.d/debian.sources" <<EOF
Types: deb-src
URIs: $mirror
Suites: $1
Components: main
Signed-By: $keyring
EOF
  apt_opts=(
    -o "Dir::Etc::SourceList=/dev/null"
    -o "Dir::Etc::SourceParts=$dir/sources.list.d"
    -o "Dir::Etc::Preferences=/dev/null"
    -o "Dir::Etc::PreferencesParts=$dir/preferences.d"
    -o "Dir::State::Lists=$dir/lists"
    -o "Dir::Cache=$dir/cache"
    -o "Acquire::Languages=none"
    -o "APT::Get::List-Cleanup=true"
  )
}

# served_versions: the Debian versions of the audit source package the suite lists (Extra-Source-Only entries, kept
# only for other packages' binaries, left out), one a line.
served_versions() {
  apt-cache "${apt_opts[@]}" showsrc --only-source audit | awk '
    /^Package: /            { ver = ""; extra = 0 }
    /^Version: /            { ver = $2 }
    /^Extra-Source-Only: yes/ { extra = 1 }
    /^$/                    { if (ver != "" && !extra) print ver; ver = "" }
    END                     { if (ver != "" && !extra) print ver }
  ' | sort -u
}

# download VERSION: the audit source package VERSION into the downloads directory.
download() {
  (cd "$cache/downloads" && apt-get "${apt_opts[@]}" -q source --download-only "audit=$1" >/dev/null)
}

# all_files_present DSC: true when DSC and every file it lists are in the downloads directory.
all_files_present() {
  local dsc=$1 name
  [ -f "$dsc" ] || return 1
  while read -r name; do
    [ -f "$cache/downloads/$name" ] || return 1
  done < <(awk '/^Files:/ { on = 1; next } /^[^ ]/ { on = 0 } on && NF == 3 { print $3 }' "$dsc")
}

# index_checksums VERSION: "sha256  name" of each file of the audit source package VERSION, from the suite's Sources
# index (which apt checked against the signed InRelease).
index_checksums() {
  apt-cache "${apt_opts[@]}" showsrc --only-source audit | awk -v want="$1" '
    function flush() { if (ver == want) printf "%s", sums; ver = ""; sums = ""; on = 0 }
    /^$/                  { flush(); next }
    /^Version: /          { ver = $2 }
    /^Checksums-Sha256:/  { on = 1; next }
    /^[^ ]/               { on = 0 }
    on && NF == 3         { sums = sums $1 "  " $3 "\n" }
    END                   { flush() }
  '
}

# unpack_by_hand VERSION PART: the tree of VERSION in PART without a .dsc (the mirror did not serve it, or not the
# upstream tarball): the files that were downloaded are checked against the Sources index, the upstream sources come
# from the orig tarball or, when that is missing too, from the upstream git tag (CHANGEAUDIT_AUDIT_UPSTREAM_GIT), and
# Debian's patches are applied in the order of debian/patches/series. Sets origin.
unpack_by_hand() {
  local version=$1 part=$2 upstream sum name orig="" debian="" entry patch level
  upstream=${version#*:}
  upstream=${upstream%-*}
  mkdir -p "$part"
  while read -r sum name; do
    case $name in
      *.dsc | *.asc) continue ;;
      *.orig.tar.*) [ -f "$cache/downloads/$name" ] && orig=$name ;;
      *.debian.tar.*) debian=$name ;;
      *) die "audit $version: $name is neither an orig nor a debian tarball; cannot unpack it by hand" ;;
    esac
    [ ! -f "$cache/downloads/$name" ] || echo "$sum  $name" | (cd "$cache/downloads" && sha256sum --quiet -c -) ||
      die "audit $version: $name does not match the Sources index"
  done < <(index_checksums "$version")
  if [ -z "$debian" ] || [ ! -f "$cache/downloads/$debian" ]; then
    die "audit $version: the mirror served no debian tarball"
  fi
  if [ -n "$orig" ]; then
    tar -xf "$cache/downloads/$orig" -C "$part" --strip-components=1
    origin="Debian source package audit $version from $mirror (the mirror served no .dsc): $orig and $debian checked"
    origin+=" against the signed Sources index, Debian's patches applied in series order"
  elif [ -n "${CHANGEAUDIT_AUDIT_UPSTREAM_GIT:-}" ]; then
    git --git-dir="$CHANGEAUDIT_AUDIT_UPSTREAM_GIT" archive --format=tar "refs/tags/v$upstream" | tar -x -C "$part" ||
      die "audit $version: no tag v$upstream in $CHANGEAUDIT_AUDIT_UPSTREAM_GIT"
    origin="upstream git tag v$upstream (commit $(git --git-dir="$CHANGEAUDIT_AUDIT_UPSTREAM_GIT" rev-parse "refs/tags/v$upstream^{commit}"))"
    origin+=" with $debian of Debian audit $version checked against the signed Sources index and its patches applied"
    origin+=" in series order (the mirror served no orig tarball)"
  else
    die "audit $version: the mirror served no orig tarball; set CHANGEAUDIT_AUDIT_UPSTREAM_GIT to a clone of linux-audit/audit-userspace to use its tag v$upstream"
  fi
  tar -xf "$cache/downloads/$debian" -C "$part"
  if [ -f "$part/debian/patches/series" ]; then
    while read -r entry level _; do
      case $entry in '' | '#'*) continue ;; esac
      patch=$part/debian/patches/$entry
      (cd "$part" && patch "${level:--p1}" -s -f -N -F 0 --no-backup-if-mismatch -i "$patch") ||
        die "audit $version: debian/patches/$entry does not apply"
    done <"$part/debian/patches/series"
  fi
}

# why_unavailable VERSION DSC: prints why the tree of VERSION cannot be made from what the mirror served (nothing when
# it can): no .dsc set and no debian tarball, or no upstream sources (no orig tarball and no
# CHANGEAUDIT_AUDIT_UPSTREAM_GIT).
why_unavailable() {
  local version=$1 dsc=$2 sum name orig=no debian=no
  all_files_present "$dsc" && return 0
  while read -r sum name; do
    [ -f "$cache/downloads/$name" ] || continue
    case $name in
      *.orig.tar.*) orig=yes ;;
      *.debian.tar.*) debian=yes ;;
    esac
  done < <(index_checksums "$version")
  if [ "$debian" = no ]; then
    echo "audit $version: the mirror served no debian tarball"
  elif [ "$orig" = no ] && [ -z "${CHANGEAUDIT_AUDIT_UPSTREAM_GIT:-}" ]; then
    echo "audit $version: the mirror served no orig tarball (set CHANGEAUDIT_AUDIT_UPSTREAM_GIT to a clone of linux-audit/audit-userspace to use its tag instead)"
  fi
}

download_seconds=0
# timed COMMAND...: runs COMMAND and adds the seconds it took to download_seconds; returns COMMAND's status.
timed() {
  local started=$EPOCHREALTIME rc=0
  "$@" || rc=$?
  download_seconds=$(awk -v sum="$download_seconds" -v a="$started" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.3f", sum + b - a }')
  return "$rc"
}

sources=()
for suite in "${suites[@]}"; do
  apt_opts "$suite"
  lists=$cache/apt/$suite/lists
  if [ -z "$(find "$lists" -maxdepth 1 -name '*_Sources*' -mmin "-$max_age" -print -quit)" ]; then
    echo "== $suite: apt-get update (private lists in $lists)"
    timed apt-get "${apt_opts[@]}" -q update >/dev/null
  else
    echo "== $suite: apt lists younger than $max_age min, not refreshed"
  fi
  mapfile -t versions < <(served_versions)
  [ "${#versions[@]}" -gt 0 ] || die "$suite serves no audit source package"
  for version in "${versions[@]}"; do
    plain=${version#*:}  # file names carry no epoch
    dsc=$cache/downloads/audit_$plain.dsc
    tree=$cache/trees/audit-$plain
    if [ -d "$tree" ] && [ -f "$tree.origin" ]; then
      echo "   $suite: audit $version already downloaded and unpacked"
    else
      if all_files_present "$dsc"; then
        echo "   $suite: audit $version already downloaded"
      else
        echo "   $suite: downloading audit $version"
        timed download "$version" || echo "   $suite: apt-get source did not get every file of audit $version"
      fi
      rm -rf "$tree" "$tree.part" "$tree.unavailable"
      reason=$(why_unavailable "$version" "$dsc")
      if [ -n "$reason" ]; then
        echo "   $suite: $reason" >&2
        echo "$reason" >"$tree.unavailable"
        continue
      fi
      if all_files_present "$dsc"; then
        # Debian's patches applied: the code fleets run. apt checked the files against the signed Sources index;
        # without debian-keyring, dpkg-source can only warn that it cannot check the .dsc's own signature.
        dpkg-source --no-copy -x "$dsc" "$tree.part" >/dev/null 2>"$tree.log" || { cat "$tree.log" >&2; exit 1; }
        rm -f "$tree.log"
        origin="Debian source package audit $version from $mirror, unpacked by dpkg-source"
      else
        unpack_by_hand "$version" "$tree.part"
      fi
      echo "$origin" >"$tree.origin"
      mv "$tree.part" "$tree"
    fi
    sources+=(--source "$suite" "$version" "$tree" "$(cat "$tree.origin")")
  done
done

echo "download time (apt-get update and apt-get source): $download_seconds s"
if ! $trees_only; then
  "$python" "$here/audit_extract.py" --out "$out" "${sources[@]}"
fi
