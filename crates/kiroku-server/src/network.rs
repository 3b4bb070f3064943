//! Where requests come from (T1-7.5, T1-7.4): the client's address behind trusted proxies, and the
//! source networks each role and each kind of account may use.
//!
//! `X-Forwarded-For` is believed only when the connection itself comes from a configured proxy; the
//! client is then the right-most address in the header that is not one of the proxies, so a client
//! cannot put a trusted address in front of its own. An empty list of networks allows any address;
//! a role's list and an account kind's list must both allow it. When the facility's own networks
//! are listed (`internal`), a login from anywhere else needs a second factor whatever its role's
//! policy says: staff working from outside do so only with two factors (T1-7.5).

use std::net::IpAddr;

use axum::http::HeaderMap;
use ipnet::IpNet;
use kiroku_core::Role;
use kiroku_core::identity::AccountKind;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NetworkRules {
    pub trusted_proxies: Vec<IpNet>,
    pub by_role: Vec<(Role, Vec<IpNet>)>,
    pub by_kind: Vec<(AccountKind, Vec<IpNet>)>,
    /// The facility's own networks; empty: the rule is off.
    pub internal: Vec<IpNet>,
}

/// Parses a comma-separated list of networks (`192.168.10.0/24`) or single addresses.
pub fn parse_networks(text: &str) -> Result<Vec<IpNet>, String> {
    text.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<IpNet>().or_else(|_| s.parse::<IpAddr>().map(IpNet::from)).map_err(|_| format!("{s} is not an address or network"))
        })
        .collect()
}

impl NetworkRules {
    /// The address the request came from: the peer, or the client it forwarded for if the peer is
    /// a trusted proxy.
    pub fn client_ip(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        if !self.is_proxy(peer) {
            return peer;
        }
        let forwarded: Vec<IpAddr> = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .filter_map(|a| a.trim().parse::<IpAddr>().ok())
            .collect();
        forwarded.into_iter().rev().find(|a| !self.is_proxy(*a)).unwrap_or(peer)
    }

    fn is_proxy(&self, ip: IpAddr) -> bool {
        self.trusted_proxies.iter().any(|n| n.contains(&ip))
    }

    /// Whether a login from `ip` needs a second factor because it comes from outside the
    /// facility's networks.
    pub fn second_factor_required_from(&self, ip: IpAddr) -> bool {
        !self.internal.is_empty() && !self.internal.iter().any(|n| n.contains(&ip))
    }

    /// Why an account of `role` and `kind` may not be used from `ip`, or `None` when it may.
    pub fn refusal(&self, role: Role, kind: AccountKind, ip: IpAddr) -> Option<String> {
        let outside = |nets: &[IpNet]| !nets.is_empty() && !nets.iter().any(|n| n.contains(&ip));
        if let Some((_, nets)) = self.by_role.iter().find(|(r, _)| *r == role)
            && outside(nets)
        {
            return Some(format!("network:role={role}"));
        }
        if let Some((_, nets)) = self.by_kind.iter().find(|(k, _)| *k == kind)
            && outside(nets)
        {
            return Some(format!("network:kind={}", kind.as_str()));
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn outside_the_internal_networks_a_second_factor_is_required() {
        let off = NetworkRules::default();
        assert!(!off.second_factor_required_from(ip("203.0.113.9")));
        let rules = NetworkRules { internal: parse_networks("192.168.10.0/24, 127.0.0.1").expect("nets"), ..NetworkRules::default() };
        assert!(!rules.second_factor_required_from(ip("192.168.10.44")));
        assert!(!rules.second_factor_required_from(ip("127.0.0.1")));
        assert!(rules.second_factor_required_from(ip("127.0.0.2")));
        assert!(rules.second_factor_required_from(ip("203.0.113.9")));
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        let rules = NetworkRules { trusted_proxies: parse_networks("10.0.0.1, 10.0.0.2").expect("nets"), ..Default::default() };
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", HeaderValue::from_static("10.9.9.9, 192.168.1.5, 10.0.0.2"));
        assert_eq!(rules.client_ip(ip("10.0.0.1"), &h), ip("192.168.1.5"), "right-most untrusted address");
        assert_eq!(rules.client_ip(ip("192.168.1.7"), &h), ip("192.168.1.7"), "an untrusted peer's header is ignored");
        assert_eq!(rules.client_ip(ip("10.0.0.1"), &HeaderMap::new()), ip("10.0.0.1"));
    }

    #[test]
    fn role_and_kind_lists_must_both_allow() {
        let rules = NetworkRules {
            by_role: vec![(Role::Admin, parse_networks("127.0.0.1").expect("nets"))],
            by_kind: vec![(AccountKind::Maintenance, parse_networks("10.8.0.0/16").expect("nets"))],
            ..Default::default()
        };
        assert_eq!(rules.refusal(Role::Admin, AccountKind::Staff, ip("127.0.0.1")), None);
        assert_eq!(rules.refusal(Role::Admin, AccountKind::Staff, ip("127.0.0.2")).as_deref(), Some("network:role=admin"));
        assert_eq!(rules.refusal(Role::Doctor, AccountKind::Staff, ip("127.0.0.2")), None, "no list: anywhere");
        assert_eq!(rules.refusal(Role::Doctor, AccountKind::Maintenance, ip("127.0.0.2")).as_deref(), Some("network:kind=maintenance"));
        assert!(parse_networks("10.0.0.0/8, nonsense").is_err());
    }
}
