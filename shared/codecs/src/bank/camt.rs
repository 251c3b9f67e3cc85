//! ISO 20022 camt.053 (bank-to-customer statement) reader, versions .001.02 and .001.08
//! (also reads the same structure in camt.054 notifications). Streaming, via quick-xml;
//! elements are matched by local name so any namespace prefix works. Version 8 puts the
//! payer's name under `RltdPties/Dbtr/Pty/Nm` and the entry status under `Sts/Cd`; both
//! layouts are read. An entry with several `TxDtls` (batch booking) gives one
//! [`StatementEntry`] per transaction, each with its own amount.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use quick_xml::Reader;
use quick_xml::events::Event;
use rentops_domain::{Currency, Money};

use super::{Direction, StatementEntry, derived_ref, none_if_empty};
use crate::error::Rejection;

#[derive(Default)]
struct Tx {
    amount: Option<(String, String)>,
    acct_svcr_ref: Option<String>,
    end_to_end_id: Option<String>,
    tx_id: Option<String>,
    dbtr_name: Option<String>,
    dbtr_acct: Option<String>,
    cdtr_name: Option<String>,
    cdtr_acct: Option<String>,
    ustrd: Vec<String>,
    strd_ref: Option<String>,
}

#[derive(Default)]
struct Ntry {
    amount: Option<(String, String)>,
    cdi: Option<String>,
    status: Option<String>,
    booking: Option<String>,
    value: Option<String>,
    acct_svcr_ref: Option<String>,
    txs: Vec<Tx>,
}

fn ends(stack: &[String], suffix: &[&str]) -> bool {
    stack.len() >= suffix.len() && stack[stack.len() - suffix.len()..].iter().zip(suffix).all(|(a, b)| a == b)
}

/// Parse a camt.053 statement (`.001.02` or `.001.08`) into statement entries.
pub fn parse_camt053(xml: &[u8]) -> Result<Vec<StatementEntry>, Rejection> {
    let mut reader = Reader::from_reader(xml);
    reader.config_mut().trim_text(true);
    let mut buf = Vec::new();
    let mut stack: Vec<String> = Vec::new();
    let mut text = String::new();
    let mut pending_ccy = String::new();
    let mut account: Option<String> = None;
    let mut ntry: Option<Ntry> = None;
    let mut tx: Option<Tx> = None;
    let mut out = Vec::new();
    let mut saw_statement = false;
    loop {
        let ev = reader.read_event_into(&mut buf).map_err(|e| {
            Rejection::malformed(format!("camt.053 XML error at byte {}: {e}", reader.buffer_position()))
        })?;
        match ev {
            Event::Start(e) => {
                let name = String::from_utf8_lossy(e.local_name().as_ref()).into_owned();
                if name == "BkToCstmrStmt" || name == "BkToCstmrDbtCdtNtfctn" {
                    saw_statement = true;
                }
                if name == "Amt" {
                    pending_ccy = match e.try_get_attribute("Ccy") {
                        Ok(Some(a)) => a.unescape_value().map(|v| v.into_owned()).unwrap_or_default(),
                        _ => String::new(),
                    };
                }
                match name.as_str() {
                    "Ntry" => ntry = Some(Ntry::default()),
                    "TxDtls" => tx = Some(Tx::default()),
                    _ => {}
                }
                stack.push(name);
                text.clear();
            }
            Event::Empty(_) => {}
            Event::Text(t) => {
                let s = t.decode().map_err(|e| Rejection::malformed(format!("camt.053 text encoding: {e}")))?;
                text.push_str(&s);
            }
            Event::CData(t) => text.push_str(&String::from_utf8_lossy(&t)),
            Event::GeneralRef(r) => {
                if let Ok(Some(c)) = r.resolve_char_ref() {
                    text.push(c);
                } else {
                    let name = r.decode().map_err(|e| Rejection::malformed(format!("camt.053 entity: {e}")))?;
                    match quick_xml::escape::resolve_predefined_entity(&name) {
                        Some(v) => text.push_str(v),
                        None => return Err(Rejection::malformed(format!("camt.053 uses unknown entity &{name};"))),
                    }
                }
            }
            Event::End(_) => {
                let value = text.trim().to_string();
                text.clear();
                on_end(&stack, value, &pending_ccy, &mut account, &mut ntry, &mut tx);
                let closed = stack.pop().unwrap_or_default();
                if closed == "TxDtls"
                    && let (Some(n), Some(t)) = (ntry.as_mut(), tx.take())
                {
                    n.txs.push(t);
                }
                if closed == "Ntry"
                    && let Some(n) = ntry.take()
                {
                    finish(n, account.as_deref(), &mut out)?;
                }
            }
            Event::Eof => {
                if !stack.is_empty() {
                    return Err(Rejection::malformed(format!(
                        "camt.053 file is truncated: element <{}> is never closed",
                        stack.last().map(String::as_str).unwrap_or("")
                    )));
                }
                break;
            }
            _ => {}
        }
        buf.clear();
    }
    if !saw_statement {
        return Err(Rejection::malformed("not a camt.053 statement (no BkToCstmrStmt element)"));
    }
    Ok(out)
}

fn on_end(
    stack: &[String],
    v: String,
    ccy: &str,
    account: &mut Option<String>,
    ntry: &mut Option<Ntry>,
    tx: &mut Option<Tx>,
) {
    if v.is_empty() {
        return;
    }
    if let Some(t) = tx.as_mut() {
        if ends(stack, &["Refs", "AcctSvcrRef"]) {
            t.acct_svcr_ref = Some(v);
        } else if ends(stack, &["Refs", "EndToEndId"]) {
            t.end_to_end_id = Some(v).filter(|e| e != "NOTPROVIDED");
        } else if ends(stack, &["Refs", "TxId"]) {
            t.tx_id = Some(v);
        } else if ends(stack, &["TxDtls", "AmtDtls", "TxAmt", "Amt"]) || ends(stack, &["TxDtls", "Amt"]) {
            t.amount = Some((v, ccy.to_string()));
        } else if ends(stack, &["RltdPties", "Dbtr", "Nm"]) || ends(stack, &["RltdPties", "Dbtr", "Pty", "Nm"]) {
            t.dbtr_name = Some(v);
        } else if ends(stack, &["RltdPties", "Cdtr", "Nm"]) || ends(stack, &["RltdPties", "Cdtr", "Pty", "Nm"]) {
            t.cdtr_name = Some(v);
        } else if ends(stack, &["DbtrAcct", "Id", "IBAN"]) || ends(stack, &["DbtrAcct", "Id", "Othr", "Id"]) {
            t.dbtr_acct = Some(v);
        } else if ends(stack, &["CdtrAcct", "Id", "IBAN"]) || ends(stack, &["CdtrAcct", "Id", "Othr", "Id"]) {
            t.cdtr_acct = Some(v);
        } else if ends(stack, &["RmtInf", "Ustrd"]) {
            t.ustrd.push(v);
        } else if ends(stack, &["RmtInf", "Strd", "CdtrRefInf", "Ref"]) {
            t.strd_ref = Some(v);
        }
        return;
    }
    if let Some(n) = ntry.as_mut() {
        if ends(stack, &["Ntry", "Amt"]) {
            n.amount = Some((v, ccy.to_string()));
        } else if ends(stack, &["Ntry", "CdtDbtInd"]) {
            n.cdi = Some(v);
        } else if ends(stack, &["Ntry", "Sts"]) || ends(stack, &["Ntry", "Sts", "Cd"]) {
            n.status = Some(v);
        } else if ends(stack, &["Ntry", "BookgDt", "Dt"]) || ends(stack, &["Ntry", "BookgDt", "DtTm"]) {
            n.booking = Some(v);
        } else if ends(stack, &["Ntry", "ValDt", "Dt"]) || ends(stack, &["Ntry", "ValDt", "DtTm"]) {
            n.value = Some(v);
        } else if ends(stack, &["Ntry", "AcctSvcrRef"]) {
            n.acct_svcr_ref = Some(v);
        }
        return;
    }
    if ends(stack, &["Acct", "Id", "IBAN"]) || ends(stack, &["Acct", "Id", "Othr", "Id"]) {
        *account = Some(v);
    }
}

fn parse_when(text: &str) -> Result<(NaiveDate, DateTime<Utc>), Rejection> {
    if let Ok(d) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return Ok((d, d.and_hms_opt(0, 0, 0).map(|n| n.and_utc()).unwrap_or_default()));
    }
    if let Ok(dt) = DateTime::parse_from_rfc3339(text) {
        return Ok((dt.date_naive(), dt.with_timezone(&Utc)));
    }
    for fmt in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S"] {
        if let Ok(n) = NaiveDateTime::parse_from_str(text, fmt) {
            return Ok((n.date(), n.and_utc()));
        }
    }
    Err(Rejection::malformed(format!("camt.053 date {text:?} is not ISO 8601")))
}

fn money(amount: &(String, String)) -> Result<Money, Rejection> {
    let cur = Currency::new(&amount.1).map_err(|e| Rejection::malformed(format!("camt.053 Amt Ccy: {e}")))?;
    let m = Money::parse_major(&amount.0, cur).map_err(|e| Rejection::malformed(format!("camt.053 Amt: {e}")))?;
    if m.amount.is_sign_negative() {
        return Err(Rejection::malformed(format!("camt.053 Amt {:?} is negative; CdtDbtInd gives the sign", amount.0)));
    }
    Ok(m)
}

fn finish(n: Ntry, account: Option<&str>, out: &mut Vec<StatementEntry>) -> Result<(), Rejection> {
    let direction = match n.cdi.as_deref() {
        Some("CRDT") => Direction::Credit,
        Some("DBIT") => Direction::Debit,
        other => {
            return Err(Rejection::malformed(format!("camt.053 entry CdtDbtInd {other:?} (expected CRDT or DBIT)")));
        }
    };
    let booking = n
        .booking
        .as_deref()
        .or(n.value.as_deref())
        .ok_or_else(|| Rejection::malformed("camt.053 entry without BookgDt"))?;
    let (booking_date, booked_at) = parse_when(booking)?;
    let value_date = n.value.as_deref().map(parse_when).transpose()?.map(|(d, _)| d);
    let status = n.status.clone().unwrap_or_else(|| "BOOK".into());
    let ntry_amount = n.amount.as_ref().map(money).transpose()?;
    let several = n.txs.len() > 1;
    let txs = if n.txs.is_empty() { vec![Tx::default()] } else { n.txs };
    for t in txs {
        let amount = match (&t.amount, several) {
            (Some(a), _) => money(a)?,
            (None, false) => ntry_amount.clone().ok_or_else(|| Rejection::malformed("camt.053 entry without Amt"))?,
            (None, true) => return Err(Rejection::malformed("camt.053 batch entry: a TxDtls has no amount")),
        };
        let (cp_name, cp_acct) = match direction {
            Direction::Credit => (t.dbtr_name.clone(), t.dbtr_acct.clone()),
            Direction::Debit => (t.cdtr_name.clone(), t.cdtr_acct.clone()),
        };
        let remittance = if t.ustrd.is_empty() { t.strd_ref.clone() } else { Some(t.ustrd.join(" ")) };
        let svcr = t.acct_svcr_ref.clone().or(if several { None } else { n.acct_svcr_ref.clone() });
        let bank_ref = match (svcr, &t.end_to_end_id) {
            (Some(r), _) => r,
            (None, Some(e2e)) => format!("E2E:{booking_date}:{}:{e2e}", cp_acct.as_deref().unwrap_or("")),
            (None, None) => derived_ref(&[
                &booking_date.to_string(),
                &amount.amount.to_string(),
                amount.currency.code(),
                cp_acct.as_deref().unwrap_or(""),
                cp_name.as_deref().unwrap_or(""),
                remittance.as_deref().unwrap_or(""),
                t.tx_id.as_deref().unwrap_or(""),
            ]),
        };
        out.push(StatementEntry {
            direction,
            amount,
            booking_date,
            value_date,
            booked_at,
            bank_ref,
            end_to_end_id: t.end_to_end_id.clone(),
            counterparty_name: cp_name.as_deref().and_then(none_if_empty),
            counterparty_account: cp_acct.as_deref().and_then(none_if_empty),
            remittance: remittance.as_deref().and_then(none_if_empty),
            status: status.clone(),
            account: account.map(str::to_string),
        });
    }
    Ok(())
}
