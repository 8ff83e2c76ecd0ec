#!/usr/bin/env bash
# The healthd story, end to end, on a fresh throw-away local chain with a vault:
# register, escrow, consent, put, denied get, grant, get, receipts, revoke,
# denied, break-glass with the custodians' key shares, erase. Every refusal is
# checked. Run with `make demo`.
#
# It builds its own chain in a temporary folder (your .localnet is not touched),
# on the default localnet ports: stop `make localnet` first.
#
# VAULT_STORE=s3 (`make demo VAULT_STORE=s3`) runs the vault on a SeaweedFS
# bucket instead of a directory (SeaweedFS is built once by
# scripts/install-seaweedfs.sh, ports 18333, 18888, 19333, 18080).
set -euo pipefail
cd "$(dirname "$0")/.."

H=build/healthd
[ -x "$H" ] && [ -x build/localnet ] || make build >/dev/null

VAULT_STORE=${VAULT_STORE:-disk}
case "$VAULT_STORE" in
  disk) ports="26657 26656 1317 9090 8800" ;;
  s3) ports="26657 26656 1317 9090 8800 18333 18888 19333 18080" ;;
  *) echo "VAULT_STORE=$VAULT_STORE: want disk or s3" >&2; exit 1 ;;
esac
for port in $ports; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    echo "port $port is in use (is \`make localnet\` running?): stop it and run the demo again" >&2
    exit 1
  fi
done

home=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$home"
}
trap cleanup EXIT

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
ok() { printf '   \033[32mok\033[0m %s\n' "$*"; }
refused() { # refused DESCRIPTION EXPECTED-TEXT CMD...: the command must fail saying EXPECTED-TEXT
  local what=$1 want=$2; shift 2
  local out
  if out=$("$@" 2>&1); then echo "   UNEXPECTED: $what succeeded" >&2; exit 1; fi
  grep -q -- "$want" <<<"$out" || { echo "   UNEXPECTED: $what failed without '$want':" >&2; echo "$out" >&2; exit 1; }
  printf '   \033[33mrefused\033[0m %s (%s)\n' "$what" "$want"
}

step "a fresh local chain and a vault"
build/localnet -config config.yml -home "$home/chain" -binary "$H" init >/dev/null
"$H" start --home "$home/chain" >"$home/node.log" 2>&1 & pids+=($!)
for _ in $(seq 1 60); do curl -sf http://127.0.0.1:1317/cosmos/base/tendermint/v1beta1/node_info >/dev/null && break; sleep 1; done
vault_flags=()
if [ "$VAULT_STORE" = s3 ]; then
  weed=$(bash scripts/install-seaweedfs.sh)
  mkdir -p "$home/weed"
  "$weed" server -dir "$home/weed" -ip 127.0.0.1 -ip.bind 127.0.0.1 -master.port 19333 -volume.port 18080 \
    -filer -filer.port 18888 -s3 -s3.port 18333 -master.volumeSizeLimitMB 64 -volume.max 8 >"$home/weed.log" 2>&1 & pids+=($!)
  # no identities configured: the gateway accepts any credentials, and creates the bucket for an unsigned PUT
  for _ in $(seq 1 60); do curl -sf -X PUT http://127.0.0.1:18333/demo-vault >/dev/null && break; sleep 1; done
  export HEALTHD_S3_ACCESS_KEY=demo HEALTHD_S3_SECRET_KEY=demo
  vault_flags=(--store s3 --s3-endpoint 127.0.0.1:18333 --s3-bucket demo-vault --s3-prefix demo/ --s3-tls=false)
fi
"$H" vault start --home "$home/chain" --data "$home/vault" "${vault_flags[@]}" >"$home/vault.log" 2>&1 & pids+=($!)
for _ in $(seq 1 30); do curl -sf http://127.0.0.1:8800/healthz >/dev/null && break; sleep 1; done
curl -sf http://127.0.0.1:8800/healthz >/dev/null || { echo "the vault did not start:" >&2; tail -5 "$home/vault.log" >&2; exit 1; }
export HEALTHD_HOME="$home/chain"
ALICE=$("$H" keys show alice -a); HOSPITAL=$("$H" keys show hospital -a); LAB=$("$H" keys show lab -a)
ok "chain healthd-local-1 and vault at http://127.0.0.1:8800 (store: $VAULT_STORE)"
# two of the three emergency key custodians run (2 of 3 must release); custodian3 is down
for c in custodian1 custodian2; do
  "$H" custodian start --from "$c" >"$home/$c.log" 2>&1 & pids+=($!)
done
ok "custodians 1 and 2 running (custodian3 down: 2 of 3 are enough)"

step "register: carol joins as a patient (alice and bob are registered at genesis)"
"$H" keys add carol --keyring-backend test >/dev/null 2>&1
"$H" tx bank send validator "$("$H" keys show carol -a)" 1000000uhealth --yes >/dev/null
"$H" consent register --from carol | grep -q '"threshold":2' && ok "carol registered with the encryption key her account derives, her emergency keys escrowed 2-of-3"

step "escrow: alice escrows her emergency class keys with the custodians"
"$H" consent escrow --from alice | grep -q '"custodians":3' && ok "allergy, prescription, diagnosis, immunization, vital-signs, lab-result: split 2-of-3, one sealed share set per custodian"

step "consent: alice lets hospital read and write her lab results, with the key"
"$H" consent grant "$HOSPITAL" --classes lab-result --purposes TREAT --permissions read,write --expires 720h --from alice >/dev/null
ok "consent granted"

step "put: hospital files an encrypted lab result for alice"
printf '{"resourceType":"Observation","status":"final","code":{"text":"HbA1c"},"valueQuantity":{"value":5.4,"unit":"%%"}}' >"$home/result.json"
put=$("$H" records put "$home/result.json" --patient "$ALICE" --class lab-result --purpose TREAT --fhir-type Observation --from hospital)
ID=$(sed -E 's/.*"record_id":([0-9]+).*/\1/' <<<"$put")
ok "record $ID committed: $put"

step "denied get: lab has no consent"
refused "lab reads record $ID" ACCESS_REASON_NO_CONSENT "$H" records get "$ID" --purpose TREAT --out "$home/lab.json" --from lab

step "grant: alice lets lab read her lab results, with the key"
"$H" consent grant "$LAB" --classes lab-result --purposes TREAT --permissions read --expires 720h --from alice >/dev/null
LAB_CONSENT=$("$H" query consent consents-by-grantee lab --status active | sed -nE 's/.*"id": "([0-9]+)".*/\1/p' | tail -1)
ok "consent $LAB_CONSENT granted"

step "get: lab reads the record (receipt on chain, download, verify, decrypt)"
"$H" records get "$ID" --purpose TREAT --out "$home/lab.json" --from lab >/dev/null
cmp -s "$home/result.json" "$home/lab.json" && ok "lab's decrypted file is byte-identical to hospital's"

step "receipts: alice sees who read what, when, and why"
"$H" query records receipts-by-patient alice | sed -nE 's/.*"(accessor|purpose|consent_id|time)": "?([^",]*)"?,?/   \1: \2/p'

step "revoke: alice withdraws lab's consent (and rotates the lab-result key)"
revoked=$("$H" consent revoke "$LAB_CONSENT" --from alice)
grep -q '"new_epochs":{"lab-result":2}' <<<"$revoked" && ok "lab-result moved to key epoch 2; hospital got the new key"
grep -q '"escrow":' <<<"$revoked" && ok "and the new lab-result key is escrowed with the custodians"
refused "lab reads record $ID again" ACCESS_REASON_REVOKED "$H" records get "$ID" --purpose TREAT --out "$home/lab2.json" --from lab
ID2=$("$H" records put "$home/result.json" --patient "$ALICE" --class lab-result --purpose TREAT --fhir-type Observation \
  --from hospital | sed -E 's/.*"record_id":([0-9]+).*/\1/')
"$H" query records record "$ID2" | grep -q '"key_epoch": "2"' && ok "hospital files record $ID2 under the new key, which lab never had"

step "break-glass: clinic opens emergency access to alice's records"
"$H" tx consent break-glass "$ALICE" unconscious-patient "ED admission" --duration 1h --from clinic --yes >/dev/null
"$H" query consent check-access alice clinic lab-result read ETREAT | grep -q '"allowed": true' && ok "clinic may read for ETREAT"
"$H" query consent check-access alice clinic lab-result read TREAT | grep -q '"allowed": false' && ok "but not for TREAT"
"$H" query consent emergency-accesses alice | grep -q REVIEW_STATE_PENDING && ok "listed for alice, pending review"
for _ in $(seq 1 30); do
  [ "$("$H" query consent key-releases alice | grep -o '"custodian":' | wc -l)" -ge 2 ] && break; sleep 1
done
[ "$("$H" query consent key-releases alice | grep -o '"custodian":' | wc -l)" -ge 2 ] || { echo "   UNEXPECTED: the custodians did not release" >&2; exit 1; }
ok "custodians 1 and 2 released their shares of alice's escrowed keys to clinic, on chain (query consent key-releases alice)"
"$H" records get "$ID2" --purpose ETREAT --out "$home/clinic.json" --from clinic >/dev/null
cmp -s "$home/result.json" "$home/clinic.json" || { echo "   UNEXPECTED: clinic's decrypted record differs" >&2; exit 1; }
ok "clinic, which alice never gave a key, decrypts record $ID2 with 2 of 3 shares"

step "erase: alice erases the record"
"$H" tx records erase "$ID" --from alice --yes >/dev/null
refused "hospital reads the erased record" "was erased" "$H" records get "$ID" --purpose TREAT --out "$home/h.json" --from hospital
ok "the record is a tombstone; the vault answers 410 for its blob and its sweep deletes it (tests/e2e)"

step "privacy: the plaintext is nowhere in the node's or the vault's data"
data=("$home/chain" "$home/vault")
[ "$VAULT_STORE" = s3 ] && data+=("$home/weed")
if grep -rq HbA1c "${data[@]}"; then echo "   UNEXPECTED: plaintext found" >&2; exit 1; fi
ok "no plaintext on the chain or in the vault's store ($VAULT_STORE)"

printf '\n\033[1mdemo complete\033[0m\n'
