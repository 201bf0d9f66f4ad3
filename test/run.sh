#!/usr/bin/env bash
# `npm test`: builds, type-checks, then runs every test in one node:test run — unit tests, the
# built-bundle checks, interop with real peers (baresip, sipp) and Chromium end-to-end.
#
# Browser media tests run inside a network namespace that has only loopback (see
# ../shared/TESTBED.md: on the host Chromium pairs from the external interface). That needs
# root; without it the tests run on the host network with a warning.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
command -v chromium >/dev/null || [ -x /usr/bin/chromium ] || missing+=(chromium)
command -v baresip >/dev/null || missing+=(baresip)
command -v sipp >/dev/null || missing+=(sip-tester)
command -v ip >/dev/null || missing+=(iproute2)
command -v openssl >/dev/null || missing+=(openssl)
command -v kamailio >/dev/null || missing+=(kamailio)
[ -e /usr/lib/x86_64-linux-gnu/kamailio/modules/tls.so ] || missing+=(kamailio-tls-modules)
command -v rtpengine >/dev/null || missing+=(rtpengine-daemon)
# xmllint validates the busy-lamp NOTIFY documents against RFC 4235's schema.
command -v xmllint >/dev/null || missing+=(libxml2-utils)
# nft makes packet loss in the kernel for the bad-line test (test/support/loss.ts).
command -v nft >/dev/null || missing+=(nftables)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "Installing test peers: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    echo "Missing test peers: ${missing[*]}. Install them (Debian: sudo apt-get install ${missing[*]}) and re-run." >&2
    exit 1
  fi
fi

npm run build --silent
npm run typecheck --silent
# Every public SDK member is documented (TypeDoc validation, warnings are errors).
npm run docs:check --silent
node scripts/check-imports.mjs
# The configuration reference is generated from the schema and must be current.
node scripts/config-reference.mjs --check

files=$(find protocol/src gateway/src sdk/src test -name '*.test.ts' -not -path '*/node_modules/*' | sort)
cmd=(node --import tsx --test --test-concurrency=1 --test-reporter=spec $files)
# The engine matrix: the browser end-to-end tests and the interop tests that carry audio run a
# second time with every test gateway on rtpengine (media.engine "rtpengine"; docs/media.md).
matrix=$(ls test/e2e/*.test.ts test/interop/{baresip,devices,jssip,sipp,sip-calls,trunks,refer-replaces,liveness}.test.ts)
cmd2=(env SWITCHBOARD_TEST_MEDIA=rtpengine node --import tsx --test --test-concurrency=1 --test-reporter=spec $matrix)

# test/package-gateway.test.ts installs the packed gateway globally inside the network namespace,
# which has no network: resolve its dependencies into npm's cache here first (no install
# scripts, nothing kept), so the install there is served from the cache (--prefer-offline).
# Without this, a fresh machine's npm retries the registry for minutes per package.
warm=$(mktemp -d)
npm pack --silent -w protocol -w gateway --pack-destination "$warm" >/dev/null
npm install -g --prefix "$warm/global" --ignore-scripts --no-audit --no-fund --loglevel=error "$warm"/switchboard-protocol-*.tgz "$warm"/switchboard-gateway-*.tgz >/dev/null
rm -rf "$warm"

# Everything the run prints (and every gateway process it starts) is kept, and checked below
# for passwords: none may ever be logged.
# Each leg has a generous bound (here the first takes about 19 minutes, the second 10): a test
# file that never exits (a child process left running keeps node:test waiting for it) then fails
# the run with everything it printed instead of running into CI's limit. timeout(1) signals its
# whole process group, so the test files' peers go too.
leg() {
  local limit=$1 rc=0
  shift
  timeout --kill-after=30 "$limit" "$@" || rc=$?
  [ "$rc" != 124 ] || echo "== not finished after $limit: stopped (a test file that does not exit?) =="
  return "$rc"
}

mkdir -p test/.work
log=test/.work/test-run.log
rm -f "$log" test/.work/gateway-processes.log
if [ "$(id -u)" = 0 ] && ip netns add "sbtest-$$" 2>/dev/null; then
  trap 'ip netns del "sbtest-$$" 2>/dev/null || true' EXIT
  ip netns exec "sbtest-$$" ip link set lo up
  leg 50m ip netns exec "sbtest-$$" env SWITCHBOARD_LOG_FORMAT=text "${cmd[@]}" 2>&1 | tee "$log"
  echo "== the same media tests on rtpengine =="
  leg 30m ip netns exec "sbtest-$$" env SWITCHBOARD_LOG_FORMAT=text "${cmd2[@]}" 2>&1 | tee -a "$log"
else
  echo "WARNING: cannot create a network namespace (needs root); running on the host network." >&2
  leg 50m env SWITCHBOARD_LOG_FORMAT=text "${cmd[@]}" 2>&1 | tee "$log"
  echo "== the same media tests on rtpengine =="
  leg 30m env SWITCHBOARD_LOG_FORMAT=text "${cmd2[@]}" 2>&1 | tee -a "$log"
fi
node scripts/check-log-secrets.mjs "$log" test/.work/gateway-processes.log
