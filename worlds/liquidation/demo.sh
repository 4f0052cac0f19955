#!/usr/bin/env bash
# The liquidation demo (worlds/liquidation/README.md): a world watches an ETH position through a
# local price feed; host A is killed during the drawdown; the price crosses the liquidation price
# while no host runs; the world is exported with its key and imported as host B, which resumes,
# journals the gap, fetches the prices it missed and records the breach with the time it
# happened; `world verify` shows one unbroken lineage across both hosts.
#
# Usage: worlds/liquidation/demo.sh [--short]
#   WORLD, PRICE_SERVER: the binaries (built with cargo when unset).
#   DEMO_DIR: where the worlds and logs go (a fresh temporary folder when unset; kept).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
SHORT=0
for arg in "$@"; do
    case "$arg" in
        --short) SHORT=1 ;;
        *) echo "usage: $0 [--short]" >&2; exit 2 ;;
    esac
done

if [[ -z "${WORLD:-}" || -z "${PRICE_SERVER:-}" ]]; then
    echo "== building world and price-server"
    cargo build --quiet --manifest-path "$ROOT/Cargo.toml" -p worldline-cli --bins
    BIN="${CARGO_TARGET_DIR:-$ROOT/target}/debug"
    WORLD="${WORLD:-$BIN/world}"
    PRICE_SERVER="${PRICE_SERVER:-$BIN/price-server}"
fi

# The position: 10 ETH against $12,600 of debt at a 150% minimum collateral ratio, so it is
# liquidated at $1,890.00. The price starts at $2,000.00 and falls linearly.
START_CENTS=200000
LIQUIDATION_CENTS=189000
if [[ $SHORT == 1 ]]; then
    DROP_CENTS_PER_S=2500 # crosses after 4.4 s
    POLL_MS=500
    HOST_A_S=2
    GAP_MIN_MS=1500
    HOST_B_MS=3000
else
    DROP_CENTS_PER_S=500 # crosses after 22 s
    POLL_MS=1000
    HOST_A_S=12
    GAP_MIN_MS=5000
    HOST_B_MS=6000
fi

DEMO_DIR="${DEMO_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/liquidation-demo.XXXXXX")}"
mkdir -p "$DEMO_DIR"
A="$DEMO_DIR/host-a/world"
B="$DEMO_DIR/host-b/world"
BUNDLE="$DEMO_DIR/liquidation.wlb"
mkdir -p "$DEMO_DIR/host-a" "$DEMO_DIR/host-b"

SERVER_PID=""
A_PID=""
cleanup() {
    [[ -n "$A_PID" ]] && kill -9 "$A_PID" 2>/dev/null || true
    [[ -n "$SERVER_PID" ]] && kill "$SERVER_PID" 2>/dev/null || true
}
trap cleanup EXIT

T_START_MS=$(date +%s%3N)
step() {
    local ms=$(($(date +%s%3N) - T_START_MS))
    printf '\n== [%3d.%ds] %s\n' $((ms / 1000)) $((ms % 1000 / 100)) "$*"
}
dollars() { printf '$%d.%02d' $(($1 / 100)) $(($1 % 100)); }

# The feed's current price in cents, asked over bash's /dev/tcp (no curl needed).
price_now() {
    local body
    exec 3<>"/dev/tcp/127.0.0.1/$PORT"
    printf 'GET /price HTTP/1.1\r\nhost: prices.demo\r\nconnection: close\r\n\r\n' >&3
    body="$(cat <&3)"
    exec 3<&-
    echo "$body" | grep -o '"price_cents":[0-9]*' | cut -d: -f2
}

step "world new: the liquidation world on host A ($A)"
"$WORLD" new "$A" --air "$ROOT/worlds/liquidation" --json >"$DEMO_DIR/new.json"
DID="$(grep -o 'did:key:z[1-9A-HJ-NP-Za-km-z]*' "$DEMO_DIR/new.json" | head -1)"
echo "did $DID"

step "price server: \$2,000.00 falling $(dollars $DROP_CENTS_PER_S)/s; liquidation at $(dollars $LIQUIDATION_CENTS)"
"$PRICE_SERVER" --start-cents "$START_CENTS" --drop-cents-per-s "$DROP_CENTS_PER_S" \
    >"$DEMO_DIR/price-server.out" 2>"$DEMO_DIR/price-server.err" &
SERVER_PID=$!
for _ in $(seq 100); do
    PORT="$(head -1 "$DEMO_DIR/price-server.out" 2>/dev/null || true)"
    [[ -n "$PORT" ]] && break
    sleep 0.05
done
[[ -n "${PORT:-}" ]] || { echo "the price server did not start" >&2; exit 1; }
echo "listening on 127.0.0.1:$PORT (the world asks http://prices.demo, mapped here)"
HOST=(--http-map "http://prices.demo=http://127.0.0.1:$PORT" --gap-min-ms "$GAP_MIN_MS")

step "world send: watch 10 ETH against \$12,600 of debt (150% minimum ratio), poll every ${POLL_MS} ms"
START="{\"Start\": {\"collateral_milli_eth\": 10000, \"debt_cents\": 1260000, \"min_collateral_ratio_pct\": 150, \"feed\": \"http://prices.demo\", \"poll_every_ms\": $POLL_MS}}"
"$WORLD" send "$A" demo/LiqEvent@1 "$START" --timeout-ms 0 "${HOST[@]}" 2>/dev/null

step "host A: world run (polling the price for ${HOST_A_S} s)"
"$WORLD" run "$A" "${HOST[@]}" >"$DEMO_DIR/host-a.log" 2>&1 &
A_PID=$!
sleep "$HOST_A_S"
PRICE="$(price_now)"
if ((PRICE <= LIQUIDATION_CENTS)); then
    echo "the price already crossed before host A was killed; is the machine too slow?" >&2
    exit 1
fi
step "kill -9 host A during the drawdown: price $(dollars "$PRICE"), still above $(dollars $LIQUIDATION_CENTS)"
kill -9 "$A_PID"
wait "$A_PID" 2>/dev/null || true
A_PID=""
grep -c 'receipt http.request ok' "$DEMO_DIR/host-a.log" | xargs echo "host A journaled price fetches:"
"$WORLD" state "$A" demo/Liquidation@1 | grep -E 'last_price_cents|polls|breach' || true

step "no host runs: waiting for the price to cross $(dollars $LIQUIDATION_CENTS)"
while PRICE="$(price_now)" && ((PRICE > LIQUIDATION_CENTS)); do sleep 0.2; done
echo "price $(dollars "$PRICE"): the position is under water, and no host saw it"
sleep 1

step "world export --with-key on host A, world import on host B"
"$WORLD" export "$A" "$BUNDLE" --with-key
"$WORLD" import "$BUNDLE" "$B"

step "host B: world run for $((HOST_B_MS / 1000)) s: it resumes, journals the gap, fetches the missed prices"
"$WORLD" run "$B" "${HOST[@]}" --stop-after-ms "$HOST_B_MS" | tee "$DEMO_DIR/host-b.log" | grep -E 'gap|running|stopped|checkpoint' || true

step "the breach, as host B recorded it"
"$WORLD" state "$B" demo/Liquidation@1 --json >"$DEMO_DIR/state-b.json"
BREACH="$(grep -o '"breach":{[^}]*}' "$DEMO_DIR/state-b.json" || true)"
[[ -n "$BREACH" ]] || { echo "no breach recorded" >&2; cat "$DEMO_DIR/state-b.json" >&2; exit 1; }
echo "$BREACH"
echo "$BREACH" | grep -q '"via":"history"' || { echo "the breach was not found in the history" >&2; exit 1; }

step "world log: the gap between the two hosts, and the checkpoints both signed"
"$WORLD" log "$B" --limit 100000 | awk '$2 == "gap" || $2 == "checkpoint"' 

step "world verify: one unbroken lineage across both hosts"
"$WORLD" verify "$B" --did "$DID"
"$WORLD" replay "$B" >/dev/null
echo "replay ok"

step "done (worlds and logs in $DEMO_DIR)"
