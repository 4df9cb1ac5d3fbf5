#!/usr/bin/env bash
# The fault suite's soak variant (not part of the tests: about 30-40 minutes on
# a 2-core machine): scenario 1 over 1,041 real 2022 runs (355100-357200) with
# 30 kills, then the other scenarios over 1,041 runs each. Servers: the shared
# local Kafka + Redis must run (deploy/local/servers.sh ensure); the scenarios
# that stop or wipe a server start their own. Figures go to stdout and, line
# by line, to $FAULTS_LOG_FILE (default /tmp/autocal-faults-soak.log).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
. deploy/local/toolchain.sh
export FAULTS_TIMEOUT_MS="${FAULTS_TIMEOUT_MS:-3600000}" FAULTS_DRAIN_MS="${FAULTS_DRAIN_MS:-1800000}"
export FAULTS_LOG_FILE="${FAULTS_LOG_FILE:-/tmp/autocal-faults-soak.log}"
first="${FAULTS_SOAK_FIRST:-355100}" last="${FAULTS_SOAK_LAST:-357200}"
export FAULTS_KILL_FIRST="$first" FAULTS_KILL_LAST="$last" FAULTS_KILLS="${FAULTS_SOAK_KILLS:-30}"
export FAULTS_FLUSH_FIRST="$first" FAULTS_FLUSH_LAST="$last"
export FAULTS_REDIS_FIRST="$first" FAULTS_REDIS_LAST="$last"
export FAULTS_STOP_FIRST="$first" FAULTS_STOP_LAST="$last"
export FAULTS_BROKER_FIRST="$first" FAULTS_BROKER_LAST="$last"
exec node --test --test-concurrency=1 --test-timeout=3600000 \
  test/faults/kill.test.ts test/faults/flushall.test.ts test/faults/redis-outage.test.ts \
  test/faults/stop-executor.test.ts test/faults/broker-restart.test.ts
