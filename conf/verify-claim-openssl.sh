#!/usr/bin/env bash
# verify-claim-openssl.sh: checks a signed huren claim bundle with the openssl command line
# only (and coreutils), as an insurer would without huren: the certificate chain in the JWS
# header (x5c) against the CA it trusts, then the ES256 signature over "header.payload".
#
# usage: conf/verify-claim-openssl.sh CLAIM.jws CA.pem [PAYLOAD_OUT.json]
# Prints openssl's "Verified OK" and exits 0, or exits non-zero at the first failing step.
set -euo pipefail
jws=${1:?usage: verify-claim-openssl.sh CLAIM.jws CA.pem [PAYLOAD_OUT]}
ca=${2:?usage: verify-claim-openssl.sh CLAIM.jws CA.pem [PAYLOAD_OUT]}
d=$(mktemp -d)
trap 'rm -rf "$d"' EXIT

# base64url (no padding) -> bytes
b64url_d() {
  local s
  s=$(tr -- '-_' '+/')
  while ((${#s} % 4)); do s="$s="; done
  printf '%s\n' "$s" | openssl base64 -d -A
}

IFS=. read -r h p s rest <"$jws" || true  # no newline at the end is fine
[ -n "$s" ] && [ -z "${rest:-}" ] || { echo "not a compact JWS" >&2; exit 1; }
printf '%s.%s' "$h" "$p" >"$d/input"                 # what was signed
printf '%s' "$h" | b64url_d >"$d/header.json"
grep -q '"alg":"ES256"' "$d/header.json" || { echo "alg is not ES256" >&2; exit 1; }
[ -z "${3:-}" ] || printf '%s' "$p" | b64url_d >"$3" # the bundle (JSON)

# x5c: standard base64 DER certificates, the signer's first, then its chain
sed 's/.*"x5c":\[\([^]]*\)\].*/\1/' "$d/header.json" | tr ',' '\n' | tr -d '"' >"$d/x5c"
: >"$d/chain.pem"
n=0
while read -r c; do
  printf '%s\n' "$c" | openssl base64 -d -A | openssl x509 -inform DER -out "$d/c$n.pem"
  [ "$n" = 0 ] || cat "$d/c$n.pem" >>"$d/chain.pem"
  n=$((n + 1))
done <"$d/x5c"
if [ -s "$d/chain.pem" ]; then
  openssl verify -CAfile "$ca" -untrusted "$d/chain.pem" "$d/c0.pem" >/dev/null
else
  openssl verify -CAfile "$ca" "$d/c0.pem" >/dev/null
fi
openssl x509 -in "$d/c0.pem" -pubkey -noout >"$d/pub.pem"

# the JWS signature is r||s (32 bytes each); openssl wants DER: SEQUENCE { INTEGER r, INTEGER s }
hex=$(printf '%s' "$s" | b64url_d | od -An -v -tx1 | tr -d ' \n')
[ ${#hex} = 128 ] || { echo "signature is not 64 bytes" >&2; exit 1; }
printf 'asn1=SEQUENCE:sig\n[sig]\nr=INTEGER:0x%s\ns=INTEGER:0x%s\n' "${hex:0:64}" "${hex:64:64}" \
  >"$d/sig.cnf"
openssl asn1parse -genconf "$d/sig.cnf" -out "$d/sig.der" -noout
openssl dgst -sha256 -verify "$d/pub.pem" -signature "$d/sig.der" "$d/input"
