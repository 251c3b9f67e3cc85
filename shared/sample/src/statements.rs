//! Bank statements of `acme-properties` for the demo month, rendered from the transfers planned
//! in [`crate::month`]: an ISO 20022 camt.053.001.08 (ICBC account, `Pty` party layout, booking
//! date-times in +08:00) and a Chinese bank CSV export (CMB layout: preamble, 收入/支出 columns,
//! padded cells, `-` for empty, thousands separators, Excel `="..."` guards, footer; GBK).
//! Both parse with `rentops_codecs::bank`.

use std::fmt::Write as _;

use rentops_app::portfolio::PortfolioFile;
use rust_decimal::Decimal;

use crate::month::{Statement, Transfer, build};
use crate::portfolio::MAIN_CLIENT;
use crate::{SampleSpec, TZ};

/// Our (the operator's) accounts the statements are for.
pub const ICBC_ACCOUNT: &str = "1001234509000012345";
pub const CMB_ACCOUNT: &str = "110912345610801";

/// `(client, file name, bytes)` for each statement: the camt.053 XML and the CSV.
pub fn statements(p: &PortfolioFile, spec: &SampleSpec) -> Vec<(String, String, Vec<u8>)> {
    let built = build(p, spec);
    render(&built.transfers, &spec.normalized())
}

pub(crate) fn file_names(spec: &SampleSpec) -> (String, String) {
    let m = spec.month_key();
    (format!("{MAIN_CLIENT}-icbc-camt053-{m}.xml"), format!("{MAIN_CLIENT}-cmb-{m}.csv"))
}

pub(crate) fn render(transfers: &[Transfer], spec: &SampleSpec) -> Vec<(String, String, Vec<u8>)> {
    let (xml_name, csv_name) = file_names(spec);
    let camt_lines: Vec<&Transfer> = transfers.iter().filter(|t| t.statement == Statement::Camt).collect();
    let csv_lines: Vec<&Transfer> = transfers.iter().filter(|t| t.statement == Statement::Csv).collect();
    vec![
        (MAIN_CLIENT.to_string(), xml_name, camt(&camt_lines, spec).into_bytes()),
        (MAIN_CLIENT.to_string(), csv_name, csv(&csv_lines, spec)),
    ]
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&apos;")
}

fn dt(t: chrono::DateTime<chrono::Utc>) -> String {
    t.with_timezone(&TZ).format("%Y-%m-%dT%H:%M:%S+08:00").to_string()
}

fn day(t: chrono::DateTime<chrono::Utc>) -> String {
    t.with_timezone(&TZ).format("%Y-%m-%d").to_string()
}

fn plain(d: Decimal) -> String {
    format!("{d:.2}")
}

/// `1,234,567.89`.
fn grouped(d: Decimal) -> String {
    let text = format!("{:.2}", d.abs());
    let (int, frac) = text.split_once('.').unwrap_or((&text, "00"));
    let mut out = String::new();
    for (n, ch) in int.chars().enumerate() {
        if n > 0 && (int.len() - n) % 3 == 0 {
            out.push(',');
        }
        out.push(ch);
    }
    let sign = if d.is_sign_negative() && !d.is_zero() { "-" } else { "" };
    format!("{sign}{out}.{frac}")
}

const OPENING_ICBC: Decimal = Decimal::from_parts(264_031_578, 0, 0, false, 2); // 2,640,315.78
const OPENING_CMB: Decimal = Decimal::from_parts(128_345_678, 0, 0, false, 2); // 1,283,456.78

fn camt(lines: &[&Transfer], spec: &SampleSpec) -> String {
    let m = spec.month_key();
    let created = crate::local(spec.last_day(), 22, 0, 0);
    let mut closing = OPENING_ICBC;
    for t in lines {
        closing += if t.credit { t.amount } else { -t.amount };
    }
    let mut x = String::new();
    x.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    x.push_str("<Document xmlns=\"urn:iso:std:iso:20022:tech:xsd:camt.053.001.08\">\n  <BkToCstmrStmt>\n");
    let _ = write!(
        x,
        "    <GrpHdr>\n      <MsgId>ICBC-STMT-{}</MsgId>\n      <CreDtTm>{}</CreDtTm>\n    </GrpHdr>\n",
        m.replace('-', ""),
        dt(created)
    );
    let _ = write!(
        x,
        "    <Stmt>\n      <Id>{}-{ICBC_ACCOUNT}</Id>\n      <ElctrncSeqNb>{}</ElctrncSeqNb>\n      <CreDtTm>{}</CreDtTm>\n      <FrToDt><FrDtTm>{}</FrDtTm><ToDtTm>{}</ToDtTm></FrToDt>\n",
        m.replace('-', ""),
        spec.month,
        dt(created),
        dt(crate::local(spec.first_day(), 0, 0, 0)),
        dt(spec.month_end())
    );
    let _ = write!(
        x,
        "      <Acct>\n        <Id><Othr><Id>{ICBC_ACCOUNT}</Id></Othr></Id>\n        <Ccy>CNY</Ccy>\n        <Nm>示例物业 Acme Properties</Nm>\n        <Svcr><FinInstnId><BICFI>ICBKCNBJSHI</BICFI><Nm>中国工商银行上海市分行</Nm></FinInstnId></Svcr>\n      </Acct>\n"
    );
    for (code, amount, date) in [("OPBD", OPENING_ICBC, spec.first_day()), ("CLBD", closing, spec.last_day())] {
        let _ = write!(
            x,
            "      <Bal>\n        <Tp><CdOrPrtry><Cd>{code}</Cd></CdOrPrtry></Tp>\n        <Amt Ccy=\"CNY\">{}</Amt>\n        <CdtDbtInd>{}</CdtDbtInd>\n        <Dt><Dt>{date}</Dt></Dt>\n      </Bal>\n",
            plain(amount.abs()),
            if amount.is_sign_negative() { "DBIT" } else { "CRDT" }
        );
    }
    for (i, t) in lines.iter().enumerate() {
        let cdi = if t.credit { "CRDT" } else { "DBIT" };
        let (domain, family, sub) = if t.credit { ("PMNT", "RCDT", "DMCT") } else { ("ACMT", "MDOP", "CHRG") };
        let _ = write!(
            x,
            "      <Ntry>\n        <NtryRef>{}</NtryRef>\n        <Amt Ccy=\"CNY\">{}</Amt>\n        <CdtDbtInd>{cdi}</CdtDbtInd>\n        <Sts><Cd>BOOK</Cd></Sts>\n        <BookgDt><DtTm>{}</DtTm></BookgDt>\n        <ValDt><Dt>{}</Dt></ValDt>\n        <AcctSvcrRef>{}</AcctSvcrRef>\n        <BkTxCd><Domn><Cd>{domain}</Cd><Fmly><Cd>{family}</Cd><SubFmlyCd>{sub}</SubFmlyCd></Fmly></Domn></BkTxCd>\n        <NtryDtls>\n          <TxDtls>\n            <Refs><AcctSvcrRef>{}</AcctSvcrRef><EndToEndId>{}</EndToEndId></Refs>\n            <Amt Ccy=\"CNY\">{}</Amt>\n            <CdtDbtInd>{cdi}</CdtDbtInd>\n",
            i + 1,
            plain(t.amount),
            dt(t.at),
            day(t.at),
            esc(&t.bank_ref),
            esc(&t.bank_ref),
            if t.credit {
                format!("E2E{}", &t.bank_ref[t.bank_ref.len().saturating_sub(10)..])
            } else {
                "NOTPROVIDED".into()
            },
            plain(t.amount),
        );
        if !t.name.is_empty() {
            let (party, acct) = if t.credit { ("Dbtr", "DbtrAcct") } else { ("Cdtr", "CdtrAcct") };
            let _ = write!(
                x,
                "            <RltdPties>\n              <{party}><Pty><Nm>{}</Nm></Pty></{party}>\n",
                esc(&t.name)
            );
            if !t.account.is_empty() {
                let _ =
                    write!(x, "              <{acct}><Id><Othr><Id>{}</Id></Othr></Id></{acct}>\n", esc(&t.account));
            }
            x.push_str("            </RltdPties>\n");
        }
        match (&t.structured_ref, &t.remittance) {
            (Some(r), _) => {
                let _ = write!(
                    x,
                    "            <RmtInf><Strd><CdtrRefInf><Tp><CdOrPrtry><Cd>SCOR</Cd></CdOrPrtry></Tp><Ref>{}</Ref></CdtrRefInf></Strd></RmtInf>\n",
                    esc(r)
                );
            }
            (None, Some(text)) => {
                let _ = write!(x, "            <RmtInf><Ustrd>{}</Ustrd></RmtInf>\n", esc(text));
            }
            (None, None) => {}
        }
        x.push_str("          </TxDtls>\n        </NtryDtls>\n      </Ntry>\n");
    }
    x.push_str("    </Stmt>\n  </BkToCstmrStmt>\n</Document>\n");
    x
}

/// A CSV cell: quoted when it holds a comma or a quote (the Excel `="..."` guard is kept bare,
/// as the banks write it).
fn cell(s: &str) -> String {
    if s.starts_with("=\"") || !(s.contains(',') || s.contains('"') || s.contains('\n')) {
        s.to_string()
    } else {
        format!("\"{}\"", s.replace('"', "\"\""))
    }
}

fn csv(lines: &[&Transfer], spec: &SampleSpec) -> Vec<u8> {
    let mut rows: Vec<Vec<String>> = vec![
        vec!["招商银行交易明细".into()],
        vec![format!("账号：{CMB_ACCOUNT}")],
        vec!["账户名称：示例物业 Acme Properties".into()],
        vec![format!("起始日期：{}", spec.first_day()), format!("终止日期：{}", spec.last_day())],
        vec![],
        ["交易日期", "交易时间", "收入", "支出", "余额", "对方户名", "对方账号", "交易附言", "摘要", "流水号"]
            .iter()
            .map(|s| s.to_string())
            .collect(),
    ];
    let mut balance = OPENING_CMB;
    let (mut total_in, mut total_out) = (Decimal::ZERO, Decimal::ZERO);
    for (i, t) in lines.iter().enumerate() {
        let local = t.at.with_timezone(&TZ);
        balance += if t.credit { t.amount } else { -t.amount };
        if t.credit {
            total_in += t.amount;
        } else {
            total_out += t.amount;
        }
        let date = local.format("%Y-%m-%d").to_string();
        let date = if i % 2 == 0 { format!(" {date} ") } else { date.replace('-', "/") };
        let (inc, out) =
            if t.credit { (grouped(t.amount), "-".to_string()) } else { ("-".to_string(), grouped(t.amount)) };
        let account = if t.account.is_empty() { "-".to_string() } else { format!("=\"{}\"", t.account) };
        let name = if t.name.is_empty() { "-".to_string() } else { format!(" {} ", t.name) };
        let summary = if t.credit { if i % 3 == 0 { "网银转账" } else { "转账" } } else { "代扣" };
        rows.push(vec![
            date,
            local.format("%H:%M:%S").to_string(),
            inc,
            out,
            grouped(balance),
            name,
            account,
            t.remittance.clone().map(|r| format!("{r} ")).unwrap_or_else(|| "-".into()),
            summary.into(),
            t.bank_ref.clone(),
        ]);
    }
    rows.push(vec![String::new(); 10]);
    let mut footer = vec![String::new(); 10];
    footer[0] = "合计".into();
    footer[2] = grouped(total_in);
    footer[3] = grouped(total_out);
    rows.push(footer);
    let text: String = rows
        .iter()
        .map(|r| {
            let mut r: Vec<String> = r.iter().map(|c| cell(c)).collect();
            r.resize(10, String::new());
            r.join(",") + "\r\n"
        })
        .collect();
    let (bytes, _, had_errors) = encoding_rs::GBK.encode(&text);
    if had_errors {
        // A character GBK cannot hold: ship UTF-8 with a BOM instead (the parser reads both).
        let mut out = b"\xEF\xBB\xBF".to_vec();
        out.extend_from_slice(text.as_bytes());
        return out;
    }
    bytes.into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grouping_and_cells() {
        assert_eq!(grouped(Decimal::new(324028, 2)), "3,240.28");
        assert_eq!(grouped(Decimal::new(128345678, 2)), "1,283,456.78");
        assert_eq!(grouped(Decimal::new(5, 0)), "5.00");
        assert_eq!(OPENING_ICBC.to_string(), "2640315.78");
        assert_eq!(cell("a,b"), "\"a,b\"");
        assert_eq!(cell("=\"0123\""), "=\"0123\"");
        assert_eq!(esc("A&B <x>"), "A&amp;B &lt;x&gt;");
    }
}
