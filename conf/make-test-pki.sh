#!/usr/bin/env bash
# make-test-pki.sh: a throw-away PKI for trying out and testing huren's HTTPS access control,
# made with the openssl command line only. NOT for production: keys are unencrypted, and the
# CA key lies next to the certificates it signed.
#
# usage: conf/make-test-pki.sh OUTDIR [INSTITUTION...]
#
# OUTDIR receives (PEM):
#   ca.crt ca.key                the test CA (what [http] tls_client_ca and clients trust)
#   server.crt server.key        the node: SAN 127.0.0.1, ::1 and localhost, serverAuth
#   clinician.crt/.key           CN=clinician, O=Hospital A      (role clinician)
#   peer.crt/.key                CN=gw.hospital-b, O=Hospital B  (role peer)
#   insurer.crt/.key             CN=claims, O=Insurer Z          (role insurer)
#   admin.crt/.key               CN=admin, O=Hospital A          (role admin)
#   operator.crt/.key            CN=operator, O=Province Platform (role operator, at the directory)
#   expired.crt/.key             CN=clinician, O=Hospital A, valid Jan 2020 only
#   wrongpurpose.crt/.key        CN=admin, O=Hospital A, but serverAuth only (not a client)
#   unmapped.crt/.key            CN=stranger, O=Hospital A: valid, yet in no [client] section
#   otherca.crt/.key             a second, untrusted CA
#   otherca-client.crt/.key      CN=clinician, O=Hospital A, signed by the other CA
#   insurer2.crt/.key            CN=claims, O=Insurer Y          (a second insurer)
#   claims-signer.crt/.key       CN=claims signing, O=Hospital A: signs claim bundles
#                                ([claims] key/cert; chain = ca.crt)
#   subjects.txt                 each client's subject as huren compares it (RFC 4514)
#   directory.crt/.key           CN=directory, O=huren test region: the regional directory's
#                                HTTPS certificate (SAN as server.crt, serverAuth)
# With hospitals (a test region), each named by its institution code and, optionally, its name
# after a colon (`make-test-pki.sh DIR H37010001:山东省立医院 H37020002:青岛市立医院 H37030003`),
# each hospital also gets a folder OUTDIR/CODE of its own, all signed by the same CA:
#   ca.crt                       a copy of the CA, for tools that take one folder
#   gateway.crt gateway.key      CN=gw.CODE, O=Hospital CODE, OU=CODE, serverAuth AND clientAuth,
#                                SAN 127.0.0.1, ::1, localhost: the one certificate of its node,
#                                for [http] tls_cert, [dicom] tls_cert and [directory] tls_cert
#                                (what it presents to the directory and the other hospitals)
#   server.crt server.key        its node (SAN as above), O=Hospital CODE, OU=CODE, serverAuth
#   peer.crt/.key                CN=gw.CODE, O=Hospital CODE, OU=CODE, clientAuth only (the
#                                same subject as gateway.crt: role peer at the others)
#   clinician.crt/.key admin.crt/.key   its staff (CN=clinician / CN=admin, OU=CODE)
#   insurer.crt/.key             CN=claims, O=Insurer Z, OU=CODE: the insurer its claims go to
#   claims-signer.crt/.key       CN=claims signing, O=NAME (or Hospital CODE without a name),
#                                OU=CODE: signs its claim bundles, naming the hospital
#   subjects.txt                 as above, for its clients (gateway, peer, clinician, admin,
#                                insurer)
# Client and gateway subjects stay ASCII (O=Hospital CODE): they are compared as text with
# [client] subject, and DICOM TLS prints non-ASCII bytes escaped. Only the claims signer, which
# insurers read, carries the hospital's name (UTF-8).
# Subjects are printed with `openssl x509 -noout -subject -nameopt RFC2253 -in FILE`, which is
# the form to paste into `subject =` of a [client "NAME"] section.
set -euo pipefail

out=${1:?usage: make-test-pki.sh OUTDIR [CODE[:NAME]...]}
shift
codes=() names=()
for arg in "$@"; do
  inst=${arg%%:*} name=""
  [[ $arg == *:* ]] && name=${arg#*:}
  # a folder and a subject component each: letters, digits, '-' and '_' only
  [[ $inst =~ ^[A-Za-z0-9_-]{1,64}$ ]] || {
    echo "make-test-pki.sh: not an institution code: $inst" >&2
    exit 2
  }
  # the name goes into a subject: no separators, escapes or control characters
  if [[ $arg == *: || $name == *[/\\,=+\;\<\>\"#]* || $name =~ [[:cntrl:]] || ${#name} -gt 64 ]]; then
    echo "make-test-pki.sh: not a hospital name (1-64 characters, none of / \\ , = + ; < > \" #): $name" >&2
    exit 2
  fi
  codes+=("$inst")
  names+=("${name:-Hospital $inst}")
done
mkdir -p "$out"
cd "$out"
umask 077

key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1.key" 2>/dev/null; }

# ca NAME SUBJECT
ca() {
  key "$1"
  openssl req -x509 -new -key "$1.key" -out "$1.crt" -days 3650 -subj "$2" \
    -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
}

# cert NAME SUBJECT CA EXTENSIONS [openssl ca dates...]
cert() {
  local name=$1 subj=$2 ca=$3 ext=$4
  shift 4
  key "$name"
  openssl req -new -utf8 -key "$name.key" -out "$name.csr" -subj "$subj" 2>/dev/null
  printf '%s\n' "$ext" >"$name.ext"
  if (($#)); then
    # explicit validity dates need `openssl ca` (x509 -req only counts days from now)
    mkdir -p "$ca.db"
    : >"$ca.db/index.txt"
    cat >"$ca.db/ca.cnf" <<EOF
[ca]
default_ca = test
[test]
database = $ca.db/index.txt
new_certs_dir = $ca.db
serial = $ca.db/serial
default_md = sha256
policy = anything
copy_extensions = none
[anything]
commonName = supplied
[ext]
$ext
EOF
    openssl rand -hex 8 >"$ca.db/serial"
    openssl ca -batch -notext -config "$ca.db/ca.cnf" -cert "$ca.crt" -keyfile "$ca.key" \
      -in "$name.csr" -out "$name.crt" -extensions ext -preserveDN "$@" 2>/dev/null
  else
    openssl x509 -req -in "$name.csr" -CA "$ca.crt" -CAkey "$ca.key" -CAcreateserial \
      -days 825 -sha256 -extfile "$name.ext" -out "$name.crt" 2>/dev/null
  fi
  rm -f "$name.csr" "$name.ext"
}

client_ext="basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=clientAuth"
server_ext="basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=serverAuth
subjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost"
gateway_ext="${server_ext/extendedKeyUsage=serverAuth/extendedKeyUsage=serverAuth,clientAuth}"

ca ca "/C=CN/O=huren test/CN=huren test CA"
cert server "/C=CN/O=Hospital A/CN=localhost" ca "$server_ext"
cert clinician "/C=CN/O=Hospital A/CN=clinician" ca "$client_ext"
cert peer "/C=CN/O=Hospital B/CN=gw.hospital-b" ca "$client_ext"
cert insurer "/C=CN/O=Insurer Z/CN=claims" ca "$client_ext"
cert admin "/C=CN/O=Hospital A/CN=admin" ca "$client_ext"
cert insurer2 "/C=CN/O=Insurer Y/CN=claims" ca "$client_ext"
cert operator "/C=CN/O=Province Platform/CN=operator" ca "$client_ext"
cert claims-signer "/C=CN/O=Hospital A/CN=claims signing" ca "basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,nonRepudiation"
cert unmapped "/C=CN/O=Hospital A/CN=stranger" ca "$client_ext"
cert wrongpurpose "/C=CN/O=Hospital A/CN=admin" ca "basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=serverAuth"
cert expired "/C=CN/O=Hospital A/CN=clinician" ca "$client_ext" \
  -startdate 20200101000000Z -enddate 20200201000000Z
ca otherca "/C=CN/O=Somebody Else/CN=other CA"
cert otherca-client "/C=CN/O=Hospital A/CN=clinician" otherca "$client_ext"
cert directory "/C=CN/O=huren test region/CN=directory" ca "$server_ext"

# subjects NAME... > subjects.txt: each client's subject as huren compares it
subjects() {
  for c in "$@"; do
    printf '%s\t%s\n' "$c" "$(openssl x509 -noout -subject -nameopt RFC2253 -in "$c.crt" |
      sed 's/^subject=//')"
  done
}

# one hospital of a test region, in its own folder (signed by ../ca)
for i in "${!codes[@]}"; do
  inst=${codes[$i]} name=${names[$i]}
  mkdir -p "$inst"
  cp ca.crt "$inst/ca.crt"
  base="/C=CN/O=Hospital $inst/OU=$inst"
  (
    cd "$inst"
    cert gateway "$base/CN=gw.$inst" ../ca "$gateway_ext"
    cert server "$base/CN=localhost" ../ca "$server_ext"
    cert peer "$base/CN=gw.$inst" ../ca "$client_ext"
    cert clinician "$base/CN=clinician" ../ca "$client_ext"
    cert admin "$base/CN=admin" ../ca "$client_ext"
    cert insurer "/C=CN/O=Insurer Z/OU=$inst/CN=claims" ../ca "$client_ext"
    cert claims-signer "/C=CN/O=$name/OU=$inst/CN=claims signing" ../ca "basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,nonRepudiation"
    subjects gateway peer clinician admin insurer >subjects.txt
    chmod 0644 ./*.crt subjects.txt
  )
done
rm -rf ca.db otherca.db ca.srl otherca.srl

subjects clinician peer insurer admin insurer2 operator >subjects.txt
chmod 0644 ./*.crt subjects.txt
echo "test PKI written to $out"
