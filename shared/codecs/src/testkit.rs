//! Feature `testkit`: sign notifications exactly as the providers do, plus the committed
//! TEST PKI (`testdata/pki`, throw-away keys) and a ready [`sample_provider_config`] for
//! the local demo. Test-only: functions panic (with a clear message) on an unusable key.
//!
//! Not covered: Alipay legacy `RSA` (SHA1) signing — aws-lc-rs offers SHA-1 only for
//! verification.

use aws_lc_rs::aead::{self, Aad, LessSafeKey, Nonce, UnboundKey};
use aws_lc_rs::hmac;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{self, RsaKeyPair};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC};

use crate::config::{AlipayConfig, ProviderConfig, StripeConfig, UnionPayConfig, WechatPayConfig, WechatPayPublicKey};
use crate::crypto;
use crate::form::RawForm;

/// The committed TEST PKI (see `testdata/pki/README.md`). Throw-away test keys.
pub mod pki {
    pub const ALIPAY_PRIVATE_KEY: &str = include_str!("../testdata/pki/alipay_private_key.pem");
    pub const ALIPAY_PUBLIC_KEY: &str = include_str!("../testdata/pki/alipay_public_key.pem");
    pub const ALIPAY_ROOT_CERT: &str = include_str!("../testdata/pki/alipay_root_cert.pem");
    pub const ALIPAY_PUBLIC_KEY_CERT: &str = include_str!("../testdata/pki/alipay_public_key_cert.pem");
    /// A key that is not Alipay's: signatures made with it must be rejected.
    pub const ALIPAY_OTHER_KEY: &str = include_str!("../testdata/pki/alipay_other_key.pem");
    pub const WECHATPAY_PLATFORM_KEY: &str = include_str!("../testdata/pki/wechatpay_platform_key.pem");
    pub const WECHATPAY_PLATFORM_CERT: &str = include_str!("../testdata/pki/wechatpay_platform_cert.pem");
    pub const WECHATPAY_PLATFORM_SERIAL: &str = "5157F09EFDC096DE15EBE81A47057A7232F1B8E1";
    pub const WECHATPAY_PUBKEY_PRIVATE: &str = include_str!("../testdata/pki/wechatpay_pubkey_private.pem");
    pub const WECHATPAY_PUBKEY_PUBLIC: &str = include_str!("../testdata/pki/wechatpay_pubkey_public.pem");
    pub const WECHATPAY_PUBKEY_ID: &str = "PUB_KEY_ID_0114232134912410000000000000";
    pub const UNIONPAY_ROOT_CERT: &str = include_str!("../testdata/pki/unionpay_root_cert.pem");
    pub const UNIONPAY_MIDDLE_CERT: &str = include_str!("../testdata/pki/unionpay_middle_cert.pem");
    pub const UNIONPAY_SIGN_KEY: &str = include_str!("../testdata/pki/unionpay_sign_key.pem");
    /// CN `041@777290058110048@中国银联股份有限公司@00000001`, 2024-01-01..2036-01-01, CRLF.
    pub const UNIONPAY_SIGN_CERT: &str = include_str!("../testdata/pki/unionpay_sign_cert.pem");
    pub const UNIONPAY_WRONG_CN_CERT: &str = include_str!("../testdata/pki/unionpay_wrong_cn_cert.pem");
    pub const UNIONPAY_EXPIRED_CERT: &str = include_str!("../testdata/pki/unionpay_expired_cert.pem");
    pub const UNIONPAY_ROGUE_MIDDLE_CERT: &str = include_str!("../testdata/pki/unionpay_rogue_middle_cert.pem");
    pub const UNIONPAY_ROGUE_SIGN_CERT: &str = include_str!("../testdata/pki/unionpay_rogue_sign_cert.pem");
}

pub const SAMPLE_ALIPAY_APP_ID: &str = "2021000000000001";
pub const SAMPLE_WECHATPAY_MCHID: &str = "1900000001";
/// 32 bytes, as in production.
pub const SAMPLE_WECHATPAY_APIV3_KEY: &str = "rentopsTESTapiv3key0123456789abc";
pub const SAMPLE_UNIONPAY_MER_ID: &str = "777290058110048";
pub const SAMPLE_STRIPE_SECRET: &str = "whsec_rentopsTESTsecret0000000000";

/// Config matching the TEST PKI: Alipay in both key and certificate mode, WeChat Pay with
/// the platform certificate and the public key, UnionPay with the test chain, Stripe.
pub fn sample_provider_config() -> ProviderConfig {
    ProviderConfig {
        alipay: Some(AlipayConfig {
            app_id: SAMPLE_ALIPAY_APP_ID.into(),
            alipay_public_key: Some(pki::ALIPAY_PUBLIC_KEY.into()),
            alipay_public_key_cert: Some(pki::ALIPAY_PUBLIC_KEY_CERT.into()),
            alipay_root_cert: Some(pki::ALIPAY_ROOT_CERT.into()),
            allow_legacy_rsa: false,
        }),
        wechatpay: Some(WechatPayConfig {
            mchid: SAMPLE_WECHATPAY_MCHID.into(),
            apiv3_key: SAMPLE_WECHATPAY_APIV3_KEY.into(),
            platform_certificates: vec![pki::WECHATPAY_PLATFORM_CERT.into()],
            public_keys: vec![WechatPayPublicKey {
                id: pki::WECHATPAY_PUBKEY_ID.into(),
                public_key: pki::WECHATPAY_PUBKEY_PUBLIC.into(),
            }],
            timestamp_tolerance_secs: None,
        }),
        unionpay: Some(UnionPayConfig {
            mer_id: SAMPLE_UNIONPAY_MER_ID.into(),
            root_certs: pki::UNIONPAY_ROOT_CERT.into(),
            intermediate_certs: pki::UNIONPAY_MIDDLE_CERT.into(),
            company_name: None,
        }),
        stripe: Some(StripeConfig { endpoint_secrets: vec![SAMPLE_STRIPE_SECRET.into()], tolerance_secs: None }),
    }
}

fn key_pair(private_key_pem: &str) -> RsaKeyPair {
    let blocks = crypto::pem_blocks(private_key_pem.as_bytes()).expect("testkit: unreadable private key PEM");
    let block = blocks.into_iter().find(|b| b.label == "PRIVATE KEY").expect("testkit: no PKCS#8 PRIVATE KEY block");
    RsaKeyPair::from_pkcs8(&block.der).expect("testkit: not an RSA PKCS#8 key")
}

/// RSA PKCS#1 v1.5 SHA-256 signature, base64.
pub fn rsa_sha256_b64(private_key_pem: &str, msg: &[u8]) -> String {
    let kp = key_pair(private_key_pem);
    let mut sig = vec![0u8; kp.public_modulus_len()];
    kp.sign(&signature::RSA_PKCS1_SHA256, &SystemRandom::new(), msg, &mut sig).expect("testkit: RSA signing failed");
    B64.encode(sig)
}

/// What a form encoder sends: unreserved characters as is, space as `+`, the rest `%XX`.
const FORM: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'*');

/// Form-encode raw byte pairs (values already in the target charset).
pub fn form_encode(pairs: &[(Vec<u8>, Vec<u8>)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| {
            let enc = |b: &[u8]| percent_encoding::percent_encode(b, FORM).to_string().replace("%20", "+");
            format!("{}={}", enc(k), enc(v))
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// Sign Alipay notification `params` (UTF-8) as Alipay does (RSA2) and return the form body.
/// `sign_type=RSA2` is added if absent; `sign` is appended.
pub fn alipay_sign(params: &[(&str, &str)], private_key_pem: &str) -> String {
    alipay_sign_charset(params, private_key_pem, "utf-8")
}

/// As [`alipay_sign`], with values encoded in `charset` (`utf-8`, `gbk`, `gb2312`): the
/// signature is over the charset bytes and the body is percent-encoded from them.
pub fn alipay_sign_charset(params: &[(&str, &str)], private_key_pem: &str, charset: &str) -> String {
    let enc = encoding_rs::Encoding::for_label(charset.as_bytes()).expect("testkit: unknown charset");
    let mut pairs: Vec<(Vec<u8>, Vec<u8>)> =
        params.iter().map(|(k, v)| (k.as_bytes().to_vec(), enc.encode(v).0.into_owned())).collect();
    if !params.iter().any(|(k, _)| *k == "sign_type") {
        pairs.push((b"sign_type".to_vec(), b"RSA2".to_vec()));
    }
    let raw = RawForm { pairs: pairs.clone() };
    let msg = raw.signing_string(&["sign", "sign_type"], true);
    pairs.push((b"sign".to_vec(), rsa_sha256_b64(private_key_pem, &msg).into_bytes()));
    form_encode(&pairs)
}

/// A WeChat Pay v3 notification for a decrypted resource JSON (a transaction, or a refund
/// if it has a `refund_id`): encrypts the resource with `apiv3_key`, signs
/// `ts\nnonce\nbody\n` with the platform (or public-key) private key. Returns (headers, body).
pub fn wechatpay_notify(
    transaction_json: &str,
    apiv3_key: &str,
    platform_private_key_pem: &str,
    serial: &str,
    ts: i64,
    nonce: &str,
) -> (Vec<(String, String)>, String) {
    let is_refund =
        serde_json::from_str::<serde_json::Value>(transaction_json).ok().is_some_and(|v| v.get("refund_id").is_some());
    let (event_type, original_type, summary) = if is_refund {
        ("REFUND.SUCCESS", "refund", "退款成功")
    } else {
        ("TRANSACTION.SUCCESS", "transaction", "支付成功")
    };
    wechatpay_notify_event(
        event_type,
        original_type,
        summary,
        transaction_json,
        apiv3_key,
        platform_private_key_pem,
        serial,
        ts,
        nonce,
    )
}

/// As [`wechatpay_notify`] with an explicit event type / original type / summary.
#[allow(clippy::too_many_arguments)]
pub fn wechatpay_notify_event(
    event_type: &str,
    original_type: &str,
    summary: &str,
    resource_json: &str,
    apiv3_key: &str,
    platform_private_key_pem: &str,
    serial: &str,
    ts: i64,
    nonce: &str,
) -> (Vec<(String, String)>, String) {
    let seed = hex::encode(crypto::sha256(format!("{ts}|{nonce}|{resource_json}").as_bytes()));
    let res_nonce = &seed[..12];
    let ciphertext = wechatpay_encrypt(apiv3_key.as_bytes(), res_nonce, original_type, resource_json.as_bytes());
    let create_time = chrono::DateTime::from_timestamp(ts, 0)
        .map(|d| d.with_timezone(&chrono::FixedOffset::east_opt(8 * 3600).expect("offset")).to_rfc3339())
        .unwrap_or_default();
    let id = format!("{}-{}-{}-{}-{}", &seed[12..20], &seed[20..24], &seed[24..28], &seed[28..32], &seed[32..44]);
    let body = serde_json::json!({
        "id": id,
        "create_time": create_time,
        "resource_type": "encrypt-resource",
        "event_type": event_type,
        "summary": summary,
        "resource": {
            "original_type": original_type,
            "algorithm": "AEAD_AES_256_GCM",
            "ciphertext": ciphertext,
            "associated_data": original_type,
            "nonce": res_nonce,
        }
    })
    .to_string();
    let sig = rsa_sha256_b64(platform_private_key_pem, format!("{ts}\n{nonce}\n{body}\n").as_bytes());
    let headers = vec![
        ("Content-Type".to_string(), "application/json".to_string()),
        ("Wechatpay-Timestamp".to_string(), ts.to_string()),
        ("Wechatpay-Nonce".to_string(), nonce.to_string()),
        ("Wechatpay-Serial".to_string(), serial.to_string()),
        ("Wechatpay-Signature".to_string(), sig),
        ("Wechatpay-Signature-Type".to_string(), "WECHATPAY2-SHA256-RSA2048".to_string()),
    ];
    (headers, body)
}

/// AES-GCM seal as WeChat Pay does; returns base64(ciphertext || tag).
pub fn wechatpay_encrypt(apiv3_key: &[u8], nonce: &str, associated_data: &str, plaintext: &[u8]) -> String {
    let alg = if apiv3_key.len() == 16 { &aead::AES_128_GCM } else { &aead::AES_256_GCM };
    let key = LessSafeKey::new(UnboundKey::new(alg, apiv3_key).expect("testkit: APIv3 key must be 16 or 32 bytes"));
    let nonce = Nonce::try_assume_unique_for_key(nonce.as_bytes()).expect("testkit: nonce must be 12 bytes");
    let mut buf = plaintext.to_vec();
    key.seal_in_place_append_tag(nonce, Aad::from(associated_data.as_bytes()), &mut buf).expect("testkit: seal");
    B64.encode(buf)
}

/// Sign UnionPay 5.1.0 `fields` (UTF-8) with signMethod 01: adds `signPubKeyCert` (the PEM
/// as given, CRLF kept) and `signature`; returns the form body.
pub fn unionpay_sign(fields: &[(&str, &str)], signing_key_pem: &str, signing_cert_pem: &str) -> String {
    let mut pairs: Vec<(Vec<u8>, Vec<u8>)> =
        fields.iter().map(|(k, v)| (k.as_bytes().to_vec(), v.as_bytes().to_vec())).collect();
    pairs.push((b"signPubKeyCert".to_vec(), signing_cert_pem.as_bytes().to_vec()));
    let raw = RawForm { pairs: pairs.clone() };
    let digest_hex = hex::encode(crypto::sha256(&raw.signing_string(&["signature"], true)));
    pairs.push((b"signature".to_vec(), rsa_sha256_b64(signing_key_pem, digest_hex.as_bytes()).into_bytes()));
    form_encode(&pairs)
}

/// The `Stripe-Signature` header value for `body` signed with `secret` at unix time `t`.
pub fn stripe_header(body: &[u8], secret: &str, t: i64) -> String {
    format!("t={t},v1={}", stripe_v1(body, secret, t))
}

/// One `v1` value: hex HMAC-SHA256 of `t.body`.
pub fn stripe_v1(body: &[u8], secret: &str, t: i64) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
    let mut msg = format!("{t}.").into_bytes();
    msg.extend_from_slice(body);
    hex::encode(hmac::sign(&key, &msg).as_ref())
}
