//! `application/x-www-form-urlencoded` bodies decoded to raw bytes, exactly once.
//!
//! Alipay and UnionPay sign the *decoded* values, in the notification's charset. We
//! therefore percent-decode to raw bytes (never to `String` first), so for a GBK
//! notification the bytes we verify are the GBK bytes that were signed. `+` means a
//! space, as in every form decoder the providers' SDKs rely on (Java servlet
//! `getParameter`, Node `querystring`/`qs`, PHP `$_POST`); a literal `+` arrives as `%2B`.

use crate::error::Rejection;

/// Ordered key/value pairs of a form body, as raw (decoded) bytes.
#[derive(Debug, Clone)]
pub(crate) struct RawForm {
    pub pairs: Vec<(Vec<u8>, Vec<u8>)>,
}

impl RawForm {
    pub(crate) fn parse(body: &[u8]) -> Result<Self, Rejection> {
        let mut pairs: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
        for part in body.split(|b| *b == b'&') {
            let part = trim_ascii_ws(part);
            if part.is_empty() {
                continue;
            }
            let (k, v) = match part.iter().position(|b| *b == b'=') {
                Some(i) => (&part[..i], &part[i + 1..]),
                None => (part, &b""[..]),
            };
            let key = decode(k);
            if key.is_empty() {
                return Err(Rejection::malformed("form body has a field with an empty name"));
            }
            if pairs.iter().any(|(ek, _)| *ek == key) {
                return Err(Rejection::malformed(format!(
                    "form field {:?} appears twice; a signed notification never repeats a field",
                    String::from_utf8_lossy(&key)
                )));
            }
            pairs.push((key, decode(v)));
        }
        if pairs.is_empty() {
            return Err(Rejection::malformed("empty form body"));
        }
        Ok(RawForm { pairs })
    }

    pub(crate) fn get(&self, key: &str) -> Option<&[u8]> {
        self.pairs.iter().find(|(k, _)| k.as_slice() == key.as_bytes()).map(|(_, v)| v.as_slice())
    }

    /// `k=v&k=v` over the raw bytes: keys sorted by byte order, `skip` keys left out,
    /// empty values dropped when `drop_empty`.
    pub(crate) fn signing_string(&self, skip: &[&str], drop_empty: bool) -> Vec<u8> {
        let mut items: Vec<&(Vec<u8>, Vec<u8>)> = self
            .pairs
            .iter()
            .filter(|(k, v)| !skip.iter().any(|s| s.as_bytes() == k.as_slice()) && !(drop_empty && v.is_empty()))
            .collect();
        items.sort_by(|a, b| a.0.cmp(&b.0));
        let mut out = Vec::with_capacity(self.pairs.iter().map(|(k, v)| k.len() + v.len() + 2).sum());
        for (i, (k, v)) in items.into_iter().enumerate() {
            if i > 0 {
                out.push(b'&');
            }
            out.extend_from_slice(k);
            out.push(b'=');
            out.extend_from_slice(v);
        }
        out
    }
}

fn trim_ascii_ws(b: &[u8]) -> &[u8] {
    let start = b.iter().position(|c| !matches!(c, b'\r' | b'\n')).unwrap_or(b.len());
    let end = b.iter().rposition(|c| !matches!(c, b'\r' | b'\n')).map_or(start, |e| e + 1);
    &b[start..end.max(start)]
}

fn decode(b: &[u8]) -> Vec<u8> {
    let plus: Vec<u8> = b.iter().map(|c| if *c == b'+' { b' ' } else { *c }).collect();
    percent_encoding::percent_decode(&plus).collect()
}

/// A text decoder for a provider charset name (`utf-8`, `UTF-8`, `gbk`, `gb2312`, `gb18030`).
pub(crate) fn charset(name: &str) -> Result<&'static encoding_rs::Encoding, Rejection> {
    let n = name.trim().to_ascii_lowercase();
    match n.as_str() {
        "" | "utf-8" | "utf8" => Ok(encoding_rs::UTF_8),
        // GB2312 is a subset of GBK; encoding_rs maps both labels to its GBK decoder.
        "gbk" | "gb2312" | "gb18030" | "cp936" => encoding_rs::Encoding::for_label(n.as_bytes())
            .ok_or_else(|| Rejection::Unsupported { detail: format!("charset {name:?}") }),
        _ => Err(Rejection::Unsupported { detail: format!("charset {name:?} (expected utf-8, gbk or gb2312)") }),
    }
}

/// Decode raw field bytes strictly in `enc`; malformed bytes are an error, never a guess.
pub(crate) fn text(enc: &'static encoding_rs::Encoding, bytes: &[u8], field: &str) -> Result<String, Rejection> {
    enc.decode_without_bom_handling_and_without_replacement(bytes)
        .map(|c| c.into_owned())
        .ok_or_else(|| Rejection::malformed(format!("field {field:?} is not valid {}", enc.name())))
}

/// A decoded form: the raw form plus all values as text.
pub(crate) struct TextForm {
    pub fields: Vec<(String, String)>,
}

impl TextForm {
    pub(crate) fn from_raw(raw: &RawForm, enc: &'static encoding_rs::Encoding) -> Result<Self, Rejection> {
        let mut fields = Vec::with_capacity(raw.pairs.len());
        for (k, v) in &raw.pairs {
            let key = text(enc, k, "field name")?;
            let val = text(enc, v, &key)?;
            fields.push((key, val));
        }
        Ok(TextForm { fields })
    }
    pub(crate) fn get(&self, key: &str) -> Option<&str> {
        self.fields.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str()).filter(|v| !v.is_empty())
    }
    pub(crate) fn require(&self, key: &str) -> Result<&str, Rejection> {
        self.get(key).ok_or_else(|| Rejection::malformed(format!("required field {key:?} is missing or empty")))
    }
}
