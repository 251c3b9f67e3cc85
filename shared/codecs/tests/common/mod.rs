//! Shared test helpers: vector files, request building, clocks.
#![allow(dead_code)]

use chrono::{DateTime, TimeZone, Utc};
use rentops_codecs::Incoming;

/// Sections of a vector file: `[name] ...` header lines, comment lines (`#`) skipped
/// before the first section. Returns (name, lines) in order.
pub fn sections(text: &str) -> Vec<(String, Vec<String>)> {
    let mut out: Vec<(String, Vec<String>)> = Vec::new();
    for line in text.lines() {
        if line.starts_with('[') {
            let name = line[1..line.find(']').expect("section header")].to_string();
            out.push((name, Vec::new()));
        } else if let Some(last) = out.last_mut() {
            last.1.push(line.to_string());
        }
    }
    out
}

pub fn section(text: &str, name: &str) -> Vec<String> {
    sections(text).into_iter().find(|(n, _)| n == name).unwrap_or_else(|| panic!("no section {name}")).1
}

/// Non-empty lines of a section joined with '\n' (PEM) or the single value.
pub fn section_text(text: &str, name: &str) -> String {
    let lines: Vec<String> = section(text, name).into_iter().filter(|l| !l.trim().is_empty()).collect();
    lines.join("\n")
}

pub fn vector(name: &str) -> String {
    std::fs::read_to_string(format!("{}/testdata/vectors/{name}", env!("CARGO_MANIFEST_DIR"))).expect("vector file")
}

pub fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!("{}/testdata/{name}", env!("CARGO_MANIFEST_DIR"))).expect("fixture file")
}

pub fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, s).single().expect("valid time")
}

pub fn at(ts: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(ts, 0).expect("valid ts")
}

pub fn form(body: &str) -> Incoming<'_> {
    Incoming { headers: &[], body: body.as_bytes(), query: None }
}

pub fn with_headers<'a>(headers: &'a [(String, String)], body: &'a str) -> Incoming<'a> {
    Incoming { headers, body: body.as_bytes(), query: None }
}
