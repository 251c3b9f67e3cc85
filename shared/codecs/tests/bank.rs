//! Bank statements: camt.053 v2 and v8, Chinese bank CSV (UTF-8 and GBK layouts).

mod common;

use common::*;
use rentops_codecs::bank::{Direction, parse_camt053, parse_cn_bank_csv};
use rentops_domain::{EventKind, Provider};
use rust_decimal_macros::dec;

#[test]
fn camt053_v2() {
    let entries = parse_camt053(&fixture("bank/camt053_v2.xml")).expect("parses");
    assert_eq!(entries.len(), 5, "{entries:#?}");

    let rent = &entries[0];
    assert_eq!(rent.direction, Direction::Credit);
    assert_eq!(rent.amount.amount, dec!(3240.28));
    assert_eq!(rent.bank_ref, "CMB20250305000123");
    assert_eq!(rent.counterparty_name.as_deref(), Some("上海某某贸易有限公司"));
    assert_eq!(rent.counterparty_account.as_deref(), Some("31001234567050001234"));
    assert_eq!(rent.remittance.as_deref(), Some("租金 L-2025-0042 三月 A栋&1201"));
    assert_eq!(rent.account.as_deref(), Some("110912345610801"));
    assert_eq!(rent.end_to_end_id, None, "NOTPROVIDED is no id");
    let e = rent.to_event().expect("credit → event");
    assert_eq!(e.provider, Provider::Bank);
    assert_eq!(e.kind, EventKind::Payment);
    assert_eq!(e.provider_txn_id, "CMB20250305000123");
    assert_eq!(e.occurred_at, utc(2025, 3, 5, 0, 0, 0));
    assert_eq!(e.remittance.as_deref(), Some("租金 L-2025-0042 三月 A栋&1201"));

    let payout = &entries[1];
    assert_eq!(payout.direction, Direction::Debit);
    assert_eq!(payout.amount.amount, dec!(1500.00));
    assert_eq!(payout.counterparty_name.as_deref(), Some("物业维修服务部"));
    assert!(payout.to_event().is_none(), "debits book nothing");

    // Batch entry: two transactions with their own amounts and references.
    let (a, b) = (&entries[2], &entries[3]);
    assert_eq!(a.amount.amount, dec!(5000.00));
    assert_eq!(a.bank_ref, "E2E:2025-03-05:6217000010001234567:E2E-20250305-ZHANG");
    assert_eq!(a.remittance.as_deref(), Some("INV-2025-0311"));
    assert_eq!(a.value_date, chrono::NaiveDate::from_ymd_opt(2025, 3, 6));
    assert_eq!(b.amount.amount, dec!(3800.00));
    assert_eq!(b.bank_ref, "CMB20250305000126");
    assert_eq!(b.remittance.as_deref(), Some("L-2025-0107 押金"));
    assert_eq!(b.counterparty_name.as_deref(), Some("李四"));

    // Pending entry: returned, but not booked.
    assert_eq!(entries[4].status, "PDNG");
    assert!(entries[4].to_event().is_none());
}

#[test]
fn camt053_v8() {
    let entries = parse_camt053(&fixture("bank/camt053_v8.xml")).expect("parses");
    assert_eq!(entries.len(), 2);
    let e = &entries[0];
    assert_eq!(e.direction, Direction::Credit);
    assert_eq!(e.amount.amount, dec!(12500.50));
    assert_eq!(e.counterparty_name.as_deref(), Some("北京某某科技有限公司"), "v8 Dbtr/Pty/Nm");
    assert_eq!(e.counterparty_account.as_deref(), Some("0200001234567890123"));
    assert_eq!(e.bank_ref, "ICBC2025030600098765");
    assert_eq!(e.status, "BOOK", "v8 Sts/Cd");
    assert_eq!(e.account.as_deref(), Some("CN0000000000000000000001"));
    assert_eq!(e.end_to_end_id.as_deref(), Some("20250306ABC"));
    let ev = e.to_event().unwrap();
    assert_eq!(ev.occurred_at, utc(2025, 3, 6, 1, 41, 27));
    assert_eq!(ev.payer.name.as_deref(), Some("北京某某科技有限公司"));
    assert_eq!(ev.remittance.as_deref(), Some("L-2025-0077 Q1 rent"));
    assert_eq!(entries[1].direction, Direction::Debit);
    assert_eq!(entries[1].amount.amount, dec!(35.00));
    assert_eq!(entries[1].remittance.as_deref(), Some("手续费"));
}

#[test]
fn camt_rejects_non_statements() {
    assert_eq!(parse_camt053(b"<Document><Foo/></Document>").unwrap_err().code(), "malformed");
    assert_eq!(parse_camt053(b"<Document><BkToCstmrStmt><Stmt><Ntry>").unwrap_err().code(), "malformed");
    let bad_amount = String::from_utf8(fixture("bank/camt053_v8.xml")).unwrap().replace("12500.50", "12,500.5x");
    assert_eq!(parse_camt053(bad_amount.as_bytes()).unwrap_err().code(), "malformed");
}

#[test]
fn cn_csv_with_preamble_padding_separators() {
    let entries = parse_cn_bank_csv(&fixture("bank/cn_bank_cmb.csv")).expect("parses");
    assert_eq!(entries.len(), 5, "{entries:#?}");
    let first = &entries[0];
    assert_eq!(first.direction, Direction::Credit);
    assert_eq!(first.amount.amount, dec!(3240.28));
    assert_eq!(first.counterparty_name.as_deref(), Some("王小明"));
    assert_eq!(first.counterparty_account.as_deref(), Some("6214830212345678"));
    assert_eq!(first.remittance.as_deref(), Some("L-2025-0042 三月租金"), "交易附言 preferred over 摘要");
    assert_eq!(first.account.as_deref(), Some("110912345610801"));
    assert_eq!(first.booked_at, utc(2025, 3, 3, 2, 12, 45));
    assert!(first.bank_ref.starts_with("H:") && first.bank_ref.len() == 26, "{}", first.bank_ref);

    assert_eq!(entries[1].direction, Direction::Debit);
    assert_eq!(entries[1].amount.amount, dec!(1200.00));
    assert_eq!(entries[1].remittance.as_deref(), Some("代扣电费"), "'-' is empty, falls back to 摘要");
    assert!(entries[1].to_event().is_none());

    // Two identical transfers on the same day stay two entries with distinct references.
    assert_eq!(entries[2].amount.amount, dec!(1000.00));
    assert_ne!(entries[2].bank_ref, entries[3].bank_ref);

    let last = &entries[4];
    assert_eq!(last.amount.amount, dec!(12000.00));
    assert_eq!(last.counterparty_account.as_deref(), Some("0200001234567890123"), "Excel =\"...\" guard removed");
    assert_eq!(last.booking_date, chrono::NaiveDate::from_ymd_opt(2025, 3, 5).unwrap());

    // Stable: parsing the same file again gives the same references.
    let again = parse_cn_bank_csv(&fixture("bank/cn_bank_cmb.csv")).unwrap();
    let refs: Vec<_> = entries.iter().map(|e| e.bank_ref.clone()).collect();
    let refs2: Vec<_> = again.iter().map(|e| e.bank_ref.clone()).collect();
    assert_eq!(refs, refs2);
    let ev = first.to_event().unwrap();
    assert_eq!(ev.provider_txn_id, first.bank_ref);
    assert_eq!(ev.payer.name.as_deref(), Some("王小明"));
}

#[test]
fn cn_csv_gbk_signed_amount_layout() {
    let text = "中国工商银行 账户历史明细\r\n\
                账号,0200001234567890123\r\n\
                \r\n\
                交易日期,摘要,金额,余额,对方户名,对方账号,附言,交易流水号\r\n\
                20250306,汇入,\"+8,800.00\",\"52,300.00\",孙七,6222000011112222333,L-2025-0091 3月,ICBC0306000001\r\n\
                20250306,转账支出,-35.00,\"52,265.00\",-,-,-,ICBC0306000002\r\n\
                共 2 笔,,,,,,,\r\n";
    let (gbk, _, had_errors) = encoding_rs::GBK.encode(text);
    assert!(!had_errors);
    assert!(std::str::from_utf8(&gbk).is_err(), "fixture really is GBK");
    // Single signed 金额 column ("+8,800.00" / "-35.00"), footer "共 2 笔" skipped.
    match parse_cn_bank_csv(&gbk) {
        Ok(entries) => {
            assert_eq!(entries.len(), 2);
            assert_eq!(entries[0].amount.amount, dec!(8800.00));
            assert_eq!(entries[0].direction, Direction::Credit);
            assert_eq!(entries[0].bank_ref, "ICBC0306000001");
            assert_eq!(entries[0].counterparty_name.as_deref(), Some("孙七"));
            assert_eq!(entries[0].remittance.as_deref(), Some("L-2025-0091 3月"));
            assert_eq!(entries[0].account.as_deref(), Some("0200001234567890123"));
            assert_eq!(entries[1].direction, Direction::Debit);
            assert_eq!(entries[1].amount.amount, dec!(35.00));
            assert_eq!(entries[1].counterparty_name, None);
        }
        Err(e) => panic!("GBK signed layout must parse: {e}"),
    }
}

#[test]
fn cn_csv_errors_are_clear() {
    let err = parse_cn_bank_csv("foo,bar\n1,2\n".as_bytes()).unwrap_err();
    assert!(err.to_string().contains("交易日期"), "{err}");
    let err = parse_cn_bank_csv("交易日期,金额\n2025-13-45,100.00\n".as_bytes()).unwrap_err();
    assert!(err.to_string().contains("line 2"), "{err}");
    let err = parse_cn_bank_csv("交易日期,金额\n2025-03-01,abc\n".as_bytes()).unwrap_err();
    assert!(err.to_string().contains("abc"), "{err}");
}

#[test]
fn cn_csv_negative_figure_in_a_one_direction_column_reverses_it() {
    let csv = "交易日期,交易时间,收入,支出,余额,对方户名,对方账号,交易附言,摘要\n\
               2025-03-03,10:12:45,\"-500.00\",-,\"100.00\",王小明,6214830212345678,L-000051 test,冲正\n\
               2025-03-04,10:12:45,-,\"-80.00\",\"180.00\",银行,1,-,退费\n";
    let entries = parse_cn_bank_csv(csv.as_bytes()).expect("parses");
    assert_eq!((entries[0].direction, entries[0].amount.amount), (Direction::Debit, dec!(500.00)));
    assert!(entries[0].to_event().is_none(), "a returned credit is never booked as a payment");
    assert_eq!((entries[1].direction, entries[1].amount.amount), (Direction::Credit, dec!(80.00)));
}
