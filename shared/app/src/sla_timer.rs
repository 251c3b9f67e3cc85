//! SLA timer (issue 5): the wake index every ticket write maintains, and (to come) the scheduled tick.
//!
//! **Wake index.** A ticket item (`TICKET#<number>` / `META`, see [`crate::tickets`]) carries gsi1
//! `SLAWAKE#<shard>` / `<next wake, UTC, rounded up to the second>#<ticket number>` while its SLA plan has
//! a next wake ([`rentops_domain::sla::SlaPlan::next_wake`]), and no gsi1 otherwise (paused, done, closed,
//! cancelled: nothing can come due until a new event re-plans it). The tick reads only
//! `SLAWAKE#<shard>` with sort keys `<=` now: its cost grows with tickets due, not tickets open.
//! Every write of a ticket (intake, status change, the timer itself) re-plans it and sets the index in
//! the same put, so the index can never be staler than the ticket.

use chrono::{DateTime, SubsecRound, Utc};
use rentops_ports::Item;

/// Shards of the wake index per client (spreads one client's writes over several DynamoDB partitions).
pub const WAKE_SHARDS: u32 = 4;

/// The wake shard of a ticket (FNV-1a of its number).
pub fn wake_shard(ticket_number: &str) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for b in ticket_number.bytes() {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    h % WAKE_SHARDS
}

/// gsi1 partition of one wake shard: `SLAWAKE#00`..`SLAWAKE#03`.
pub fn wake_pk(shard: u32) -> String {
    format!("SLAWAKE#{shard:02}")
}

/// `2026-12-04T09:30:01Z`: the wake instant rounded *up* to the second (a tick at or after it finds the
/// point due, never a second too early), fixed width so the sort keys order by time.
pub fn wake_time(at: DateTime<Utc>) -> String {
    let up = if at.trunc_subsecs(0) == at { at } else { at.trunc_subsecs(0) + chrono::Duration::seconds(1) };
    up.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// gsi1 sort key of a ticket waking at `at`.
pub fn wake_sk(at: DateTime<Utc>, ticket_number: &str) -> String {
    format!("{}#{ticket_number}", wake_time(at))
}

/// The upper bound of a tick at `now`: every sort key `<=` this is due.
pub fn due_upto(now: DateTime<Utc>) -> String {
    // '#' sorts before every character of a ticket number; '~' after all of them.
    format!("{}#~", now.trunc_subsecs(0).format("%Y-%m-%dT%H:%M:%SZ"))
}

/// `item` with its wake index set (or left without gsi1 when nothing can come due).
pub fn with_wake(item: Item, ticket_number: &str, next_wake: Option<DateTime<Utc>>) -> Item {
    match next_wake {
        Some(at) => item.with_gsi1(wake_pk(wake_shard(ticket_number)), wake_sk(at, ticket_number)),
        None => item,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn wake_keys_round_up_and_order_by_time() {
        let t = Utc.with_ymd_and_hms(2026, 12, 4, 9, 30, 0).unwrap();
        assert_eq!(wake_time(t), "2026-12-04T09:30:00Z");
        assert_eq!(wake_time(t + chrono::Duration::milliseconds(1)), "2026-12-04T09:30:01Z");
        let sk = wake_sk(t, "T-2026-000123");
        assert_eq!(sk, "2026-12-04T09:30:00Z#T-2026-000123");
        assert!(sk.as_str() <= due_upto(t).as_str());
        assert!(sk.as_str() > due_upto(t - chrono::Duration::seconds(1)).as_str());
        assert!(wake_shard("T-2026-000123") < WAKE_SHARDS);
        let item = with_wake(Item::new("TICKET#T-2026-000123", "META", serde_json::json!({})), "T-2026-000123", None);
        assert!(item.gsi1pk.is_none() && item.gsi1sk.is_none());
    }
}
