#!/usr/bin/env bash
# Regenerates the TEST PKI used by rentops-codecs tests, the testkit and the local demo.
# These are throw-away TEST keys (committed on purpose). Never use them for anything real.
# Requires the openssl CLI (tested with OpenSSL 3.0). Run from anywhere:
#   shared/codecs/testdata/pki/make.sh
set -euo pipefail
cd "$(dirname "$0")"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

genkey() { openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$1" 2>/dev/null; }

# A minimal `openssl ca` setup so that we can fix exact validity dates.
# usage: sign_ca <issuer-cert|self> <issuer-key> <csr> <out> <startdate> <enddate> <ext-section>
cat > "$WORK/ca.cnf" <<CNF
[ ca ]
default_ca = test_ca
[ test_ca ]
database = $WORK/index.txt
new_certs_dir = $WORK
serial = $WORK/serial
default_md = sha256
policy = any
unique_subject = no
copy_extensions = none
email_in_dn = no
utf8 = yes
string_mask = utf8only
[ any ]
commonName = supplied
organizationName = optional
organizationalUnitName = optional
countryName = optional
[ v3_ca ]
basicConstraints = critical, CA:true
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
[ v3_root ]
basicConstraints = critical, CA:true
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[ v3_leaf ]
basicConstraints = critical, CA:false
keyUsage = critical, digitalSignature, nonRepudiation
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
CNF
touch "$WORK/index.txt"
echo 1000 > "$WORK/serial"

csr() { # key subject out
  openssl req -new -utf8 -key "$1" -subj "$2" -out "$3"
}
root() { # key subject out start end
  csr "$1" "$2" "$WORK/root.csr"
  openssl ca -batch -config "$WORK/ca.cnf" -selfsign -keyfile "$1" -in "$WORK/root.csr" -out "$3" \
    -startdate "$4" -enddate "$5" -extensions v3_root -notext 2>/dev/null
}
issue() { # issuer-cert issuer-key key subject out start end ext
  csr "$3" "$4" "$WORK/leaf.csr"
  openssl ca -batch -config "$WORK/ca.cnf" -cert "$1" -keyfile "$2" -in "$WORK/leaf.csr" -out "$5" \
    -startdate "$6" -enddate "$7" -extensions "$8" -notext 2>/dev/null
}

# ---------- Alipay ----------
genkey alipay_private_key.pem                      # "Alipay" signing key (the provider's side)
openssl pkey -in alipay_private_key.pem -pubout -out alipay_public_key.pem
genkey alipay_root_key.pem
root alipay_root_key.pem "/C=CN/O=rentops TEST Alipay Root/CN=rentops TEST Alipay Root CA" alipay_root_cert.pem \
  20240101000000Z 20440101000000Z
issue alipay_root_cert.pem alipay_root_key.pem alipay_private_key.pem \
  "/C=CN/O=rentops TEST Alipay/CN=2021000000000001" alipay_public_key_cert.pem \
  20240101000000Z 20360101000000Z v3_leaf
genkey alipay_other_key.pem                        # a forger's key
rm alipay_root_key.pem

# ---------- WeChat Pay ----------
genkey wechatpay_platform_key.pem
# self-signed, fixed serial and fixed validity 2024-01-01..2044-01-01
echo 5157F09EFDC096DE15EBE81A47057A7232F1B8E1 > "$WORK/serial"
root wechatpay_platform_key.pem "/C=CN/O=rentops TEST WeChat Pay/CN=rentops TEST WeChat Pay platform certificate" \
  wechatpay_platform_cert.pem 20240101000000Z 20440101000000Z
echo 2000 > "$WORK/serial"
genkey wechatpay_pubkey_private.pem                # the "WeChat Pay public key" (PUB_KEY_ID_...)
openssl pkey -in wechatpay_pubkey_private.pem -pubout -out wechatpay_pubkey_public.pem

# ---------- UnionPay ----------
genkey unionpay_root_key.pem
root unionpay_root_key.pem "/C=CN/O=China Unionpay TEST/CN=CFCA TEST OCA1 Root" unionpay_root_cert.pem \
  20240101000000Z 20440101000000Z
genkey unionpay_middle_key.pem
issue unionpay_root_cert.pem unionpay_root_key.pem unionpay_middle_key.pem \
  "/C=CN/O=China Unionpay TEST/CN=CFCA TEST OCA1" unionpay_middle_cert.pem 20240101000000Z 20400101000000Z v3_ca
genkey unionpay_sign_key.pem
issue unionpay_middle_cert.pem unionpay_middle_key.pem unionpay_sign_key.pem \
  "/C=CN/O=China Unionpay TEST/OU=Enterprises/CN=041@777290058110048@中国银联股份有限公司@00000001" \
  unionpay_sign_cert.pem 20240101000000Z 20360101000000Z v3_leaf
# same trusted chain, wrong company name in the CN
issue unionpay_middle_cert.pem unionpay_middle_key.pem unionpay_sign_key.pem \
  "/C=CN/O=China Unionpay TEST/OU=Enterprises/CN=041@777290058110048@某某支付有限公司@00000001" \
  unionpay_wrong_cn_cert.pem 20240101000000Z 20360101000000Z v3_leaf
# same trusted chain, expired
issue unionpay_middle_cert.pem unionpay_middle_key.pem unionpay_sign_key.pem \
  "/C=CN/O=China Unionpay TEST/OU=Enterprises/CN=041@777290058110048@中国银联股份有限公司@00000001" \
  unionpay_expired_cert.pem 20200101000000Z 20230101000000Z v3_leaf
# a second, untrusted chain (rogue root -> rogue middle -> signing cert with the right CN)
genkey "$WORK/rogue_root_key.pem"
root "$WORK/rogue_root_key.pem" "/C=CN/O=China Unionpay TEST/CN=CFCA TEST OCA1 Root" "$WORK/rogue_root.pem" \
  20240101000000Z 20440101000000Z
genkey "$WORK/rogue_middle_key.pem"
issue "$WORK/rogue_root.pem" "$WORK/rogue_root_key.pem" "$WORK/rogue_middle_key.pem" \
  "/C=CN/O=China Unionpay TEST/CN=CFCA TEST OCA1" unionpay_rogue_middle_cert.pem 20240101000000Z 20400101000000Z v3_ca
issue unionpay_rogue_middle_cert.pem "$WORK/rogue_middle_key.pem" unionpay_sign_key.pem \
  "/C=CN/O=China Unionpay TEST/OU=Enterprises/CN=041@777290058110048@中国银联股份有限公司@00000001" \
  unionpay_rogue_sign_cert.pem 20240101000000Z 20360101000000Z v3_leaf
rm unionpay_root_key.pem unionpay_middle_key.pem

# CRLF line breaks in the signing certificates, as UnionPay sends them in signPubKeyCert.
for f in unionpay_sign_cert.pem unionpay_wrong_cn_cert.pem unionpay_expired_cert.pem unionpay_rogue_sign_cert.pem; do
  sed -i 's/\r$//; s/$/\r/' "$f"
done
echo "TEST PKI regenerated in $(pwd)"
