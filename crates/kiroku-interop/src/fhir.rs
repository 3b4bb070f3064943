//! One audit event as a FHIR R4 AuditEvent shaped per IHE Basic Audit Log Patterns (BALP): the
//! user as the requesting agent with the network address, kiroku as the observer, the patient and
//! the document as entities. No extensions and no contained resources, so a plain R4 validator
//! accepts it; kiroku's own action name travels as an extra subtype coding.

use kiroku_core::{AuditEvent, Outcome};
use serde_json::{Map, Value, json};

use crate::codes::{Code, KIROKU_ACTION, codes_of};

/// Identifier systems of kiroku's own names (users, patients, documents, audit events).
pub const USER_SYSTEM: &str = "urn:kiroku:user";
pub const PATIENT_SYSTEM: &str = "urn:kiroku:patient-id";
pub const DOCUMENT_SYSTEM: &str = "urn:kiroku:document-id";
pub const ROLE_SYSTEM: &str = "urn:kiroku:role";

const ENTITY_TYPE: &str = "http://terminology.hl7.org/CodeSystem/audit-entity-type";
const OBJECT_ROLE: &str = "http://terminology.hl7.org/CodeSystem/object-role";
const NETWORK_TYPE_MACHINE_NAME: &str = "1";
const NETWORK_TYPE_IP: &str = "2";

/// FHIR forbids empty strings; an empty stored value is treated as absent.
fn nz(v: &Option<String>) -> Option<&str> {
    v.as_deref().filter(|s| !s.is_empty())
}

fn coding(c: Code) -> Value {
    json!({ "system": c.system, "code": c.code, "display": c.display })
}

/// The AuditEvent outcome code: 0 success, 4 minor failure (refused or failed input), 8 serious
/// failure (kiroku's own error, recorded as `internal`).
pub fn outcome_code(e: &AuditEvent) -> &'static str {
    match e.outcome {
        Outcome::Success => "0",
        Outcome::Failed if e.detail.as_deref() == Some("internal") => "8",
        Outcome::Failed | Outcome::Denied => "4",
    }
}

/// Whether a client address is an IP address (network type 2) or a name (type 1).
pub fn network_type(addr: &str) -> &'static str {
    if addr.parse::<std::net::IpAddr>().is_ok() { NETWORK_TYPE_IP } else { NETWORK_TYPE_MACHINE_NAME }
}

/// `event` as a FHIR R4 AuditEvent. `source` names the observer (the kiroku installation, e.g. its
/// host name); `site` is the facility, if configured.
pub fn audit_event(e: &AuditEvent, source: &str, site: Option<&str>) -> Value {
    let source = if source.is_empty() { "kiroku" } else { source };
    let codes = codes_of(e.action);
    let mut subtype = Vec::new();
    if let Some(s) = codes.fhir_subtype {
        subtype.push(coding(s));
    }
    subtype.push(json!({ "system": KIROKU_ACTION, "code": e.action.as_str(), "display": e.action.label_ja() }));

    let mut event = Map::new();
    event.insert("resourceType".into(), json!("AuditEvent"));
    // The gap-free audit id is the resource id: it identifies the event across exports.
    event.insert("id".into(), json!(e.id.to_string()));
    event.insert("type".into(), coding(codes.fhir_type));
    event.insert("subtype".into(), json!(subtype));
    event.insert("action".into(), json!(codes.action));
    event.insert("recorded".into(), json!(e.time.to_rfc3339()));
    event.insert("outcome".into(), json!(outcome_code(e)));
    match (e.outcome, nz(&e.detail)) {
        (Outcome::Success, Some(d)) => {
            event.insert("outcomeDesc".into(), json!(d));
        }
        (Outcome::Success, _) => {}
        (o, d) => {
            // A refused attempt always says so, with kiroku's reason code when there is one.
            let text = match d {
                Some(d) => format!("{}: {d}", o.as_str()),
                _ => o.as_str().to_string(),
            };
            event.insert("outcomeDesc".into(), json!(text));
        }
    }
    event.insert("agent".into(), json!([agent(e)]));
    let mut src = json!({
        "observer": { "display": source, "identifier": { "value": source } },
        "type": [{ "system": "http://terminology.hl7.org/CodeSystem/security-source-type", "code": "4", "display": "Application Server" }]
    });
    if let Some(site) = site.filter(|s| !s.is_empty()) {
        src["site"] = json!(site);
    }
    event.insert("source".into(), src);
    let entities = entities(e);
    if !entities.is_empty() {
        event.insert("entity".into(), json!(entities));
    }
    Value::Object(event)
}

/// The person who acted: always the requestor. A failed login names the account that was typed.
fn agent(e: &AuditEvent) -> Value {
    let mut agent = json!({ "requestor": true });
    agent["type"] = json!({ "coding": [{ "system": "http://terminology.hl7.org/CodeSystem/v3-RoleClass", "code": "humanuser", "display": "human user" }] });
    match nz(&e.user) {
        Some(user) => agent["who"] = json!({ "identifier": { "system": USER_SYSTEM, "value": user }, "display": user }),
        None => agent["name"] = json!("unknown"),
    }
    if let Some(role) = nz(&e.role) {
        agent["role"] = json!([{ "coding": [{ "system": ROLE_SYSTEM, "code": role }] }]);
    }
    if let Some(session) = nz(&e.session) {
        // BALP carries the user's session as the agent's alternative id.
        agent["altId"] = json!(session);
    }
    if let Some(addr) = nz(&e.client_addr) {
        agent["network"] = json!({ "address": addr, "type": network_type(addr) });
    }
    agent
}

fn entities(e: &AuditEvent) -> Vec<Value> {
    let mut out = Vec::new();
    if let Some(patient) = nz(&e.patient_id) {
        out.push(json!({
            "what": { "identifier": { "system": PATIENT_SYSTEM, "value": patient } },
            "type": { "system": ENTITY_TYPE, "code": "1", "display": "Person" },
            "role": { "system": OBJECT_ROLE, "code": "1", "display": "Patient" }
        }));
    }
    if let Some(document) = nz(&e.document_id) {
        let mut entity = json!({
            "what": { "identifier": { "system": DOCUMENT_SYSTEM, "value": document } },
            "type": { "system": ENTITY_TYPE, "code": "2", "display": "System Object" },
            "role": { "system": OBJECT_ROLE, "code": "3", "display": "Report" }
        });
        let mut detail = Vec::new();
        if let Some(v) = e.version {
            detail.push(json!({ "type": "version", "valueString": v.to_string() }));
        }
        if let Some(h) = nz(&e.content_hash) {
            detail.push(json!({ "type": "content-hash-sha256", "valueString": h }));
        }
        if !detail.is_empty() {
            entity["detail"] = json!(detail);
        }
        out.push(entity);
    }
    out
}

#[cfg(test)]
mod tests {
    use kiroku_core::{AuditAction, Timestamp};

    use super::*;

    pub(crate) fn sample() -> AuditEvent {
        AuditEvent {
            id: 42,
            seq: 17,
            time: Timestamp::from_micros(1_764_072_000_123_456),
            user: Some("dr.sato".into()),
            role: Some("doctor".into()),
            session: Some("s-1".into()),
            client_addr: Some("192.0.2.10".into()),
            action: AuditAction::DocumentRead,
            patient_id: Some("P0001".into()),
            document_id: Some("D-9".into()),
            version: Some(2),
            outcome: Outcome::Success,
            detail: None,
            content_hash: Some("ab".repeat(32)),
        }
    }

    #[test]
    fn a_document_read_is_a_balp_read_with_patient_and_document() {
        let v = audit_event(&sample(), "kiroku@host1", Some("東病院"));
        let expected = json!({
            "resourceType": "AuditEvent",
            "id": "42",
            "type": { "system": "http://terminology.hl7.org/CodeSystem/audit-event-type", "code": "rest", "display": "RESTful Operation" },
            "subtype": [
                { "system": "http://hl7.org/fhir/restful-interaction", "code": "read", "display": "read" },
                { "system": "urn:kiroku:audit-action", "code": "document_read", "display": "文書の参照" }
            ],
            "action": "R",
            "recorded": "2025-11-25T12:00:00.123456Z",
            "outcome": "0",
            "agent": [{
                "requestor": true,
                "type": { "coding": [{ "system": "http://terminology.hl7.org/CodeSystem/v3-RoleClass", "code": "humanuser", "display": "human user" }] },
                "who": { "identifier": { "system": "urn:kiroku:user", "value": "dr.sato" }, "display": "dr.sato" },
                "role": [{ "coding": [{ "system": "urn:kiroku:role", "code": "doctor" }] }],
                "altId": "s-1",
                "network": { "address": "192.0.2.10", "type": "2" }
            }],
            "source": {
                "site": "東病院",
                "observer": { "display": "kiroku@host1", "identifier": { "value": "kiroku@host1" } },
                "type": [{ "system": "http://terminology.hl7.org/CodeSystem/security-source-type", "code": "4", "display": "Application Server" }]
            },
            "entity": [
                {
                    "what": { "identifier": { "system": "urn:kiroku:patient-id", "value": "P0001" } },
                    "type": { "system": "http://terminology.hl7.org/CodeSystem/audit-entity-type", "code": "1", "display": "Person" },
                    "role": { "system": "http://terminology.hl7.org/CodeSystem/object-role", "code": "1", "display": "Patient" }
                },
                {
                    "what": { "identifier": { "system": "urn:kiroku:document-id", "value": "D-9" } },
                    "type": { "system": "http://terminology.hl7.org/CodeSystem/audit-entity-type", "code": "2", "display": "System Object" },
                    "role": { "system": "http://terminology.hl7.org/CodeSystem/object-role", "code": "3", "display": "Report" },
                    "detail": [
                        { "type": "version", "valueString": "2" },
                        { "type": "content-hash-sha256", "valueString": "ab".repeat(32) }
                    ]
                }
            ]
        });
        assert_eq!(v, expected);
    }

    #[test]
    fn outcomes_map_to_0_4_8_and_refusals_say_why() {
        let denied = AuditEvent { outcome: Outcome::Denied, detail: Some("denied:class".into()), ..sample() };
        let v = audit_event(&denied, "k", None);
        assert_eq!((v["outcome"].as_str(), v["outcomeDesc"].as_str()), (Some("4"), Some("denied: denied:class")));
        let internal = AuditEvent { outcome: Outcome::Failed, detail: Some("internal".into()), ..sample() };
        assert_eq!(audit_event(&internal, "k", None)["outcome"], json!("8"));
        let failed = AuditEvent { outcome: Outcome::Failed, detail: None, ..sample() };
        assert_eq!(audit_event(&failed, "k", None)["outcomeDesc"], json!("failed"));
    }

    #[test]
    fn a_failed_login_without_account_and_patient_stays_valid() {
        let e = AuditEvent {
            user: None,
            role: None,
            session: None,
            client_addr: Some("local".into()),
            action: AuditAction::LoginFailed,
            patient_id: None,
            document_id: None,
            version: None,
            content_hash: None,
            outcome: Outcome::Failed,
            detail: Some("unknown_user".into()),
            ..sample()
        };
        let v = audit_event(&e, "k", None);
        assert_eq!(v["type"]["code"], json!("110114"));
        assert_eq!(v["subtype"][0]["code"], json!("110122"));
        assert_eq!(v["agent"][0]["name"], json!("unknown"));
        assert_eq!(v["agent"][0]["network"], json!({ "address": "local", "type": "1" }));
        assert!(v.get("entity").is_none());
    }
}
