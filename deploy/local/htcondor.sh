#!/usr/bin/env bash
# HTCondor's own Python bindings (PyPI `htcondor`: modules htcondor2 and
# classad2), in a virtual environment of the tools cache. No HTCondor daemon
# runs here; the bindings are HTCondor's parser of submit descriptions and its
# ClassAd library, which the job-executor's tests use to check every submit
# description autocal writes and which the HTCondor stand-in
# (services/job-executor/test/stand-ins/condor) uses to read submit files,
# evaluate constraints and print ClassAds. About 20 s once.
#
#   deploy/local/htcondor.sh path      # installs when missing, prints the environment's python
#
# Environment: AUTOCAL_TOOLS (default ~/.cache/autocal/tools).
set -euo pipefail
HTCONDOR_VERSION=25.14.1
TOOLS="${AUTOCAL_TOOLS:-$HOME/.cache/autocal/tools}"
VENV="$TOOLS/htcondor-$HTCONDOR_VERSION"
PY="$VENV/bin/python"

install() {
  if [ -x "$PY" ] && "$PY" -c 'import htcondor2, classad2' 2>/dev/null; then return; fi
  echo "htcondor: installing HTCondor's Python bindings $HTCONDOR_VERSION into $VENV" >&2
  rm -rf "$VENV"
  python3 -m venv "$VENV" >&2
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "htcondor==$HTCONDOR_VERSION" >&2
  "$PY" -c 'import htcondor2, classad2' >&2
}

case "${1:-}" in
  path) install; echo "$PY" ;;
  *) echo "usage: $0 path" >&2; exit 2 ;;
esac
