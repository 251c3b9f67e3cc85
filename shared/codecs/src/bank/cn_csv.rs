//! Chinese bank CSV exports (网银导出 交易明细). Layouts differ per bank, so the header row is
//! found by its column names and columns are mapped by synonyms:
//! - date 交易日期 / 记账日期 / 日期 (may carry the time), time 交易时间 / 时间;
//! - either one signed amount column 金额 / 交易金额 / 发生额 (optionally with a 借贷标志
//!   column 借/贷), or 收入 / 贷方发生额 and 支出 / 借方发生额 columns;
//! - 余额, 对方户名 / 对方账户名 / 对方名称, 对方账号 / 对方账户, 币种,
//!   remittance 交易附言 / 附言 / 用途 / 摘要 (first non-empty in that order),
//!   serial 交易流水号 / 流水号 / 凭证号.
//!
//! Input: UTF-8 (with or without BOM) or GBK, detected (valid UTF-8 wins). Preamble lines
//! before the header and footer lines (合计, 共 N 笔) are skipped; cells are trimmed, Excel
//! text guards (`="..."`, leading tab / apostrophe) removed, `-` / `--` mean empty,
//! thousands separators are accepted. Times are Asia/Shanghai.

use std::collections::HashMap;

use chrono::{NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};
use rentops_domain::{Currency, Money};

use super::{Direction, StatementEntry, derived_ref, none_if_empty};
use crate::error::Rejection;

const DATE: &[&str] = &["交易日期", "记账日期", "入账日期", "日期"];
const TIME: &[&str] = &["交易时间", "时间"];
const AMOUNT: &[&str] = &["金额", "交易金额", "发生额"];
const CREDIT: &[&str] = &["收入", "收入金额", "贷方发生额", "贷方金额", "存入金额"];
const DEBIT: &[&str] = &["支出", "支出金额", "借方发生额", "借方金额", "支取金额"];
const DC_FLAG: &[&str] = &["借贷标志", "收支标志", "借贷"];
const BALANCE: &[&str] = &["余额", "账户余额", "交易后余额"];
const CP_NAME: &[&str] = &["对方户名", "对方账户名", "对方名称", "对方账户名称"];
const CP_ACCT: &[&str] = &["对方账号", "对方账户", "对方卡号"];
const REMIT: &[&[&str]] = &[&["交易附言", "附言"], &["用途"], &["摘要"]];
const SERIAL: &[&str] = &["交易流水号", "流水号", "凭证号", "交易参考号"];
const CURRENCY: &[&str] = &["币种", "货币"];

struct Columns {
    date: usize,
    time: Option<usize>,
    amount: Option<usize>,
    credit: Option<usize>,
    debit: Option<usize>,
    dc_flag: Option<usize>,
    balance: Option<usize>,
    cp_name: Option<usize>,
    cp_acct: Option<usize>,
    remit: Vec<usize>,
    serial: Option<usize>,
    currency: Option<usize>,
}

fn find(header: &[String], names: &[&str]) -> Option<usize> {
    names.iter().find_map(|n| header.iter().position(|h| h == n))
}

fn columns(header: &[String]) -> Option<Columns> {
    let date = find(header, DATE)?;
    let amount = find(header, AMOUNT);
    let credit = find(header, CREDIT);
    let debit = find(header, DEBIT);
    if amount.is_none() && (credit.is_none() || debit.is_none()) {
        return None;
    }
    Some(Columns {
        date,
        time: find(header, TIME),
        amount,
        credit,
        debit,
        dc_flag: find(header, DC_FLAG),
        balance: find(header, BALANCE),
        cp_name: find(header, CP_NAME),
        cp_acct: find(header, CP_ACCT),
        remit: REMIT.iter().filter_map(|group| find(header, group)).collect(),
        serial: find(header, SERIAL),
        currency: find(header, CURRENCY),
    })
}

fn clean(cell: &str) -> String {
    let mut t = cell.trim().trim_start_matches(['\t', '\'']).trim();
    if let Some(inner) = t.strip_prefix("=\"").and_then(|s| s.strip_suffix('"')) {
        t = inner.trim();
    }
    if t == "-" || t == "--" { String::new() } else { t.to_string() }
}

fn decode(bytes: &[u8]) -> Result<String, Rejection> {
    let b = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    if let Ok(s) = std::str::from_utf8(b) {
        return Ok(s.to_string());
    }
    encoding_rs::GBK
        .decode_without_bom_handling_and_without_replacement(b)
        .map(|c| c.into_owned())
        .ok_or_else(|| Rejection::malformed("bank CSV is neither UTF-8 nor GBK text"))
}

fn currency_of(text: &str) -> Result<Currency, Rejection> {
    match text {
        "" | "人民币" | "RMB" | "CNY" | "人民币元" => Ok(Currency::cny()),
        "美元" => Ok(Currency::new("USD").unwrap_or_else(|_| Currency::cny())),
        "港币" | "港元" => Ok(Currency::new("HKD").unwrap_or_else(|_| Currency::cny())),
        other => Currency::new(&other.to_ascii_uppercase())
            .map_err(|_| Rejection::malformed(format!("bank CSV currency {other:?} is not recognised"))),
    }
}

fn cell(r: &[String], i: Option<usize>) -> &str {
    i.and_then(|i| r.get(i)).map(String::as_str).unwrap_or("")
}

fn parse_date_time(date: &str, time: &str) -> Option<(NaiveDate, Option<NaiveTime>)> {
    let date = date.trim();
    for fmt in ["%Y-%m-%d %H:%M:%S", "%Y/%m/%d %H:%M:%S", "%Y%m%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y/%m/%d %H:%M"] {
        if let Ok(n) = NaiveDateTime::parse_from_str(date, fmt) {
            return Some((n.date(), Some(n.time())));
        }
    }
    let d = ["%Y-%m-%d", "%Y/%m/%d", "%Y%m%d", "%Y年%m月%d日", "%Y.%m.%d"]
        .iter()
        .find_map(|f| NaiveDate::parse_from_str(date, f).ok())?;
    let t = ["%H:%M:%S", "%H%M%S", "%H:%M"].iter().find_map(|f| NaiveTime::parse_from_str(time.trim(), f).ok());
    Some((d, t))
}

/// Parse a Chinese bank CSV export (layout rules in the module doc).
pub fn parse_cn_bank_csv(bytes: &[u8]) -> Result<Vec<StatementEntry>, Rejection> {
    let text = decode(bytes)?;
    let mut reader = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(text.as_bytes());
    let mut rows: Vec<Vec<String>> = Vec::new();
    for rec in reader.records() {
        let rec = rec.map_err(|e| Rejection::malformed(format!("bank CSV is not readable: {e}")))?;
        rows.push(rec.iter().map(clean).collect());
    }
    let (header_idx, cols) =
        rows.iter().enumerate().find_map(|(i, r)| columns(r).map(|c| (i, c))).ok_or_else(|| {
            Rejection::malformed("bank CSV: no header row with 交易日期 and 金额 (or 收入/支出) columns found")
        })?;
    // Our account number, if the preamble names it (账号: ...).
    let account = rows[..header_idx].iter().find_map(|r| {
        r.iter().enumerate().find_map(|(i, c)| {
            let c = c.as_str();
            if !c.contains("账号") {
                return None;
            }
            match c.split_once(['：', ':']) {
                Some((_, v)) if !v.trim().is_empty() => Some(v.trim().to_string()),
                _ => r.get(i + 1).filter(|v| !v.is_empty()).cloned(),
            }
        })
    });
    let mut seen: HashMap<String, u32> = HashMap::new();
    let mut out = Vec::new();
    for (n, r) in rows.iter().enumerate().skip(header_idx + 1) {
        let line = n + 1;
        if r.iter().all(|c| c.is_empty()) {
            continue;
        }
        let amount_cells = [cell(r, cols.amount), cell(r, cols.credit), cell(r, cols.debit)];
        let Some((date, time)) = parse_date_time(cell(r, Some(cols.date)), cell(r, cols.time)) else {
            if amount_cells.iter().all(|c| c.is_empty())
                || r.iter().any(|c| c.starts_with("合计") || c.starts_with("总计"))
            {
                continue; // footer / note line
            }
            return Err(Rejection::malformed(format!(
                "bank CSV line {line}: date {:?} is not a date",
                cell(r, Some(cols.date))
            )));
        };
        let currency = currency_of(cell(r, cols.currency))?;
        let parse = |s: &str| {
            // Some exports write credits as "+8,800.00".
            let unsigned = s.trim().strip_prefix('+').unwrap_or(s.trim());
            Money::parse_major(unsigned, currency.clone())
                .map_err(|_| Rejection::malformed(format!("bank CSV line {line}: amount {s:?} is not a number")))
        };
        let (direction, amount) = if let Some(ai) = cols.amount {
            let raw = cell(r, Some(ai));
            let m = parse(raw)?;
            let flag = cell(r, cols.dc_flag);
            let debit = m.amount.is_sign_negative() || flag.contains('借') || flag.contains("支出") || flag == "D";
            (if debit { Direction::Debit } else { Direction::Credit }, Money::new(m.amount.abs(), m.currency))
        } else {
            let c = cell(r, cols.credit);
            let d = cell(r, cols.debit);
            let cm = if c.is_empty() { None } else { Some(parse(c)?) }.filter(|m| !m.is_zero());
            let dm = if d.is_empty() { None } else { Some(parse(d)?) }.filter(|m| !m.is_zero());
            match (cm, dm) {
                // A negative figure in a one-direction column reverses it: "-500.00" under 收入 is
                // money going out (a returned credit), never a payment of 500.00.
                (Some(m), None) => {
                    let dir = if m.amount.is_sign_negative() { Direction::Debit } else { Direction::Credit };
                    (dir, Money::new(m.amount.abs(), m.currency))
                }
                (None, Some(m)) => {
                    let dir = if m.amount.is_sign_negative() { Direction::Credit } else { Direction::Debit };
                    (dir, Money::new(m.amount.abs(), m.currency))
                }
                (None, None) => continue, // zero line (e.g. an interest accrual of 0.00)
                (Some(_), Some(_)) => {
                    return Err(Rejection::malformed(format!("bank CSV line {line}: both 收入 and 支出 are filled")));
                }
            }
        };
        let remittance = cols.remit.iter().map(|i| cell(r, Some(*i))).find(|s| !s.is_empty()).map(str::to_string);
        let cp_name = none_if_empty(cell(r, cols.cp_name));
        let cp_acct = none_if_empty(cell(r, cols.cp_acct));
        let bank_ref = match none_if_empty(cell(r, cols.serial)) {
            Some(s) => s,
            None => {
                let parts = [
                    date.to_string(),
                    time.map(|t| t.to_string()).unwrap_or_default(),
                    format!("{:?}", direction),
                    amount.amount.to_string(),
                    amount.currency.code().to_string(),
                    cp_acct.clone().unwrap_or_default(),
                    cp_name.clone().unwrap_or_default(),
                    remittance.clone().unwrap_or_default(),
                    cell(r, cols.balance).replace(',', ""),
                ];
                let key = parts.join("\u{1f}");
                let ord = seen.entry(key).or_insert(0);
                *ord += 1;
                let ord_s = ord.to_string();
                let mut all: Vec<&str> = parts.iter().map(String::as_str).collect();
                all.push(&ord_s);
                derived_ref(&all)
            }
        };
        let local = date.and_time(time.unwrap_or(NaiveTime::MIN));
        let booked_at = chrono_tz::Asia::Shanghai
            .from_local_datetime(&local)
            .single()
            .map(|d| d.with_timezone(&Utc))
            .ok_or_else(|| Rejection::malformed(format!("bank CSV line {line}: invalid local time")))?;
        out.push(StatementEntry {
            direction,
            amount,
            booking_date: date,
            value_date: None,
            booked_at,
            bank_ref,
            end_to_end_id: None,
            counterparty_name: cp_name,
            counterparty_account: cp_acct,
            remittance,
            status: "BOOK".into(),
            account: account.clone(),
        });
    }
    Ok(out)
}
