//! Knowledge base of resolved tickets: the resolution notes of done / closed tickets, searchable by
//! device type and symptom.
//!
//! Layout: `KB#<device type>` / `<ticket number>` ([`KbEntry`]), written in the same transaction as the
//! ticket's `done` (and removed when the ticket is reopened: that fix did not hold).
//!
//! Search is term matching over [`tokens`]: lower-cased ASCII words and, for Chinese text (no spaces
//! between words), every pair of adjacent CJK characters (`电梯门关不上` → `电梯 梯门 门关 关不 不上`), plus
//! single CJK characters of one-character runs. A hit scores one point per query term found in the
//! entry's description, category and resolution; the same asset id adds [`SAME_ASSET_BONUS`]; ties go to the
//! most recent fix.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use rentops_domain::tickets::{Change, Status, Ticket, TicketNumber};
use serde::{Deserialize, Serialize};

/// Points for a past ticket on the same device (asset id).
pub const SAME_ASSET_BONUS: u32 = 5;

pub fn kb_pk(device_type: &str) -> String {
    format!("KB#{device_type}")
}

fn is_cjk(c: char) -> bool {
    matches!(c as u32,
        0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xF900..=0xFAFF | 0x20000..=0x2FFFF | 0x3040..=0x30FF | 0xAC00..=0xD7AF)
}

/// Search terms of a text (see the module doc). Deterministic, sorted.
pub fn tokens(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut word = String::new();
    let mut cjk: Vec<char> = Vec::new();
    let flush_word = |w: &mut String, out: &mut BTreeSet<String>| {
        if w.chars().count() >= 2 || w.chars().all(|c| c.is_ascii_digit()) && !w.is_empty() {
            out.insert(std::mem::take(w));
        } else {
            w.clear();
        }
    };
    let flush_cjk = |run: &mut Vec<char>, out: &mut BTreeSet<String>| {
        if run.len() == 1 {
            out.insert(run[0].to_string());
        }
        for pair in run.windows(2) {
            out.insert(pair.iter().collect());
        }
        run.clear();
    };
    for c in text.chars() {
        if is_cjk(c) {
            flush_word(&mut word, &mut out);
            cjk.push(c);
        } else if c.is_alphanumeric() {
            flush_cjk(&mut cjk, &mut out);
            word.extend(c.to_lowercase());
        } else {
            flush_word(&mut word, &mut out);
            flush_cjk(&mut cjk, &mut out);
        }
    }
    flush_word(&mut word, &mut out);
    flush_cjk(&mut cjk, &mut out);
    out
}

/// One resolved ticket in the knowledge base.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KbEntry {
    pub ticket: TicketNumber,
    pub device_type: String,
    pub asset_id: Option<String>,
    pub building_id: String,
    pub category: String,
    pub description: String,
    pub resolution: String,
    pub technician: Option<String>,
    pub done_at: DateTime<Utc>,
    /// [`tokens`] of description, category and resolution.
    pub terms: Vec<String>,
}

impl KbEntry {
    /// The entry of a done or closed ticket (its latest resolution note), else `None`.
    pub fn of(ticket: &Ticket) -> Option<KbEntry> {
        let st = ticket.state();
        if !matches!(st.status, Status::Done | Status::Closed) {
            return None;
        }
        let resolution = ticket.events().iter().rev().find_map(|e| match &e.change {
            Change::Done { resolution } => Some(resolution.clone()),
            _ => None,
        })?;
        let r = &ticket.report;
        let text = format!("{} {} {}", r.description, r.category, resolution);
        Some(KbEntry {
            ticket: ticket.number.clone(),
            device_type: r.device.device_type.clone(),
            asset_id: r.device.asset_id.clone(),
            building_id: r.location.building_id.clone(),
            category: r.category.clone(),
            description: r.description.clone(),
            resolution,
            technician: st.technician.clone(),
            done_at: st.done_at.unwrap_or(st.last_at),
            terms: tokens(&text).into_iter().collect(),
        })
    }
}

/// A search result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KbHit {
    pub score: u32,
    /// The query terms found.
    pub matched: Vec<String>,
    pub same_asset: bool,
    #[serde(flatten)]
    pub entry: KbEntry,
}

/// Ranks `entries` against the query text (and asset id); entries matching nothing are left out.
pub fn rank(entries: Vec<KbEntry>, query: &str, asset_id: Option<&str>, limit: usize) -> Vec<KbHit> {
    let q = tokens(query);
    let asset = asset_id.map(|a| a.trim().to_lowercase()).filter(|a| !a.is_empty());
    let mut hits: Vec<KbHit> = entries
        .into_iter()
        .filter_map(|entry| {
            let terms: BTreeSet<&str> = entry.terms.iter().map(String::as_str).collect();
            let matched: Vec<String> = q.iter().filter(|t| terms.contains(t.as_str())).cloned().collect();
            let same_asset = asset.is_some() && entry.asset_id.as_deref().map(|a| a.trim().to_lowercase()) == asset;
            let score = matched.len() as u32 + if same_asset { SAME_ASSET_BONUS } else { 0 };
            (score > 0).then_some(KbHit { score, matched, same_asset, entry })
        })
        .collect();
    hits.sort_by(|a, b| {
        b.score.cmp(&a.score).then(b.entry.done_at.cmp(&a.entry.done_at)).then(a.entry.ticket.cmp(&b.entry.ticket))
    });
    hits.truncate(limit);
    hits
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chinese_text_becomes_bigrams_and_ascii_words() {
        let t: Vec<String> = tokens("电梯门关不上, Door sensor E-12 门").into_iter().collect();
        assert_eq!(t, vec!["12", "door", "sensor", "不上", "关不", "梯门", "电梯", "门", "门关"]);
        // "e" alone is dropped (one ASCII letter is no term), digits are kept.
        assert!(!t.contains(&"e".to_string()));
        assert!(tokens("").is_empty());
    }
}
