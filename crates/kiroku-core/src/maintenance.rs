//! Vendor maintenance (保守, T1-5.3, T1-7.4): the work order (作業指示) a maintenance account acts
//! under — the vendor, the purpose, a time window, a scope, the source networks it may use and the
//! staff member who supervises it. Only rules here; the store keeps orders and the engine decides
//! logins and sign-offs by them.

use std::net::IpAddr;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use crate::access::Scope;
use crate::document::text_field;
use crate::{DomainError, Timestamp, Username};

/// The longest window one order may open; longer work is several orders, each checked off.
pub const MAX_WINDOW_SECONDS: i64 = 31 * 24 * 3600;

/// Order ids are 32 lowercase hex digits (a UUID v7 without dashes), so a session id can carry one.
/// A work order as kept (append-only: an order is never edited; its sign-off is a row of its own).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkOrder {
    pub id: String,
    /// The maintenance account that works under this order.
    pub account: Username,
    pub vendor: String,
    pub purpose: String,
    pub starts_at: Timestamp,
    pub ends_at: Timestamp,
    pub scope: Scope,
    /// Networks the account may use during the order (on top of `[network]` for its kind); empty:
    /// the `[network]` rules alone decide.
    pub networks: Vec<String>,
    /// The staff member who supervises the work and checks it off (作業報告確認).
    pub supervisor: Username,
    pub created_by: String,
    pub created_at: Timestamp,
    pub seq: i64,
}

impl WorkOrder {
    /// Checks what a person typed: text fields, a window that ends after it starts and is not too
    /// long, networks that parse, a supervisor who is not the account itself.
    pub fn validate(&self) -> Result<(), DomainError> {
        text_field("vendor", &self.vendor, 200)?;
        text_field("purpose", &self.purpose, 2000)?;
        if self.ends_at <= self.starts_at {
            return Err(DomainError::invalid("ends_at", "the window must end after it starts"));
        }
        if self.ends_at.as_micros() - self.starts_at.as_micros() > MAX_WINDOW_SECONDS * 1_000_000 {
            return Err(DomainError::invalid("ends_at", "a work order's window is at most 31 days"));
        }
        if self.supervisor == self.account {
            return Err(DomainError::invalid("supervisor", "the supervisor cannot be the maintenance account"));
        }
        for n in &self.networks {
            parse_network(n).ok_or_else(|| DomainError::invalid("networks", format!("{n} is not an address or network")))?;
        }
        Ok(())
    }

    /// Whether the order's window contains `now`.
    pub fn is_open(&self, now: Timestamp) -> bool {
        self.starts_at <= now && now < self.ends_at
    }

    /// Whether the account may work from `addr` under this order.
    pub fn allows_addr(&self, addr: Option<&str>) -> bool {
        if self.networks.is_empty() {
            return true;
        }
        let Some(ip) = addr.and_then(|a| a.parse::<IpAddr>().ok()) else { return false };
        self.networks.iter().filter_map(|n| parse_network(n)).any(|n| n.contains(&ip))
    }

    /// What the id of every session opened under this order starts with, so that every audit
    /// event of the account's work carries the order's id in its session.
    pub fn session_prefix(id: &str) -> String {
        format!("wo-{id}-")
    }

    /// The order a session of a maintenance account belongs to, from the session's id.
    pub fn id_of_session(session_id: &str) -> Option<&str> {
        let rest = session_id.strip_prefix("wo-")?;
        rest.split_once('-').map(|(id, _)| id).filter(|id| !id.is_empty() && id.bytes().all(|b| b.is_ascii_hexdigit()))
    }
}

fn parse_network(s: &str) -> Option<IpNet> {
    s.parse::<IpNet>().ok().or_else(|| s.parse::<IpAddr>().ok().map(IpNet::from))
}

/// The supervisor's sign-off of an order's check-off list, bound to the list's hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkOrderSignoff {
    pub order_id: String,
    pub signed_by: Username,
    pub signed_at: Timestamp,
    pub report_hash: String,
    pub comment: String,
    pub seq: i64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Permission;

    fn order(networks: &[&str]) -> WorkOrder {
        WorkOrder {
            id: "0190abcd".into(),
            account: Username::parse("vendor.a").expect("name"),
            vendor: "A社".into(),
            purpose: "更新".into(),
            starts_at: Timestamp::from_micros(1_000_000),
            ends_at: Timestamp::from_micros(5_000_000),
            scope: Scope::new([Permission::OpsRead], [], false).expect("scope"),
            networks: networks.iter().map(|s| s.to_string()).collect(),
            supervisor: Username::parse("admin").expect("name"),
            created_by: "admin".into(),
            created_at: Timestamp::from_micros(0),
            seq: 0,
        }
    }

    #[test]
    fn window_and_networks_decide() {
        let o = order(&["10.8.0.0/16", "127.0.0.1"]);
        o.validate().expect("valid");
        assert!(!o.is_open(Timestamp::from_micros(999_999)));
        assert!(o.is_open(Timestamp::from_micros(1_000_000)));
        assert!(!o.is_open(Timestamp::from_micros(5_000_000)), "the end is outside");
        assert!(o.allows_addr(Some("10.8.3.4")) && o.allows_addr(Some("127.0.0.1")));
        assert!(!o.allows_addr(Some("127.0.0.2")) && !o.allows_addr(None));
        assert!(order(&[]).allows_addr(Some("192.0.2.1")), "no list: the [network] rules alone");
        assert!(order(&["nonsense"]).validate().is_err());
        let mut reversed = order(&[]);
        reversed.ends_at = reversed.starts_at;
        assert!(reversed.validate().is_err());
    }

    #[test]
    fn sessions_name_their_order() {
        let prefix = WorkOrder::session_prefix("0190abcd");
        assert_eq!(WorkOrder::id_of_session(&format!("{prefix}s3-cr_3t")), Some("0190abcd"));
        assert_eq!(WorkOrder::id_of_session("plain-session"), None);
    }
}
