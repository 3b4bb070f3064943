//! One audit event as an RFC 5424 syslog message for an IHE ATNA audit record repository: the MSG is
//! the DICOM PS3.15 A.5 audit message (`<AuditMessage>` XML), the structured data carries kiroku's
//! ids, and [`frame`] gives the RFC 5425 octet-counted form sent over TLS.

use base64::Engine;
use kiroku_core::{AuditEvent, Outcome};

use crate::codes::{Code, KIROKU_ACTION, codes_of};
use crate::fhir::{network_type, outcome_code};

/// Facility 10 (security/authorization messages), as IHE ATNA asks.
pub const FACILITY: u8 = 10;
/// Severity 5 (notice) for what went through, 4 (warning) for refused or failed attempts.
pub const SEVERITY_NOTICE: u8 = 5;
pub const SEVERITY_WARNING: u8 = 4;
/// The MSGID IHE ATNA gives to DICOM/RFC 3881 audit messages.
pub const MSGID: &str = "IHE+RFC-3881";
/// The structured-data id: 32473 is the private enterprise number reserved for examples and
/// documentation (RFC 5612); a facility that owns a number may ask for it to be changed.
pub const SD_ID: &str = "kiroku@32473";

/// The RFC 5424 message (without framing) for `e`, from `hostname` and application `app`.
pub fn rfc5424(e: &AuditEvent, hostname: &str, app: &str) -> String {
    let severity = if e.outcome == Outcome::Success { SEVERITY_NOTICE } else { SEVERITY_WARNING };
    let pri = u16::from(FACILITY) * 8 + u16::from(severity);
    let hostname = header_field(hostname, 255);
    let sd = format!(
        "[{SD_ID} id=\"{}\" seq=\"{}\" action=\"{}\" outcome=\"{}\"]",
        e.id,
        e.seq,
        sd_escape(e.action.as_str()),
        sd_escape(e.outcome.as_str())
    );
    // RFC 5424 MSG-UTF8: the byte order mark tells the collector the message is UTF-8 (Japanese names).
    format!(
        "<{pri}>1 {} {hostname} {} - {MSGID} {sd} \u{feff}{}",
        e.time.to_rfc3339(),
        header_field(app, 48),
        dicom_audit_message(e, &hostname)
    )
}

/// RFC 5425 framing: the message's length in octets, a space, the message.
pub fn frame(msg: &str) -> Vec<u8> {
    let mut out = format!("{} ", msg.len()).into_bytes();
    out.extend_from_slice(msg.as_bytes());
    out
}

/// A header field as RFC 5424 allows it: printable US-ASCII only, at most `max` characters, `-` when
/// empty. Anything else is replaced so that a bad host name cannot break the header.
pub fn header_field(value: &str, max: usize) -> String {
    let cleaned: String = value.chars().take(max).map(|c| if c.is_ascii_graphic() { c } else { '_' }).collect();
    if cleaned.is_empty() { "-".into() } else { cleaned }
}

/// An SD-PARAM value: `"`, `\` and `]` must be escaped (RFC 5424 section 6.3.3).
fn sd_escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        if matches!(c, '"' | '\\' | ']') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Text for an XML attribute or element. User-supplied strings (a typed user name, a reason) may
/// hold markup or characters XML 1.0 forbids; the latter become U+FFFD rather than break the document.
pub fn xml_escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // Kept as references so that attribute-value normalisation does not turn them into spaces.
            '\t' => out.push_str("&#9;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            c if (c as u32) < 0x20 || c == '\u{fffe}' || c == '\u{ffff}' => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

fn code_element(name: &str, c: Code, code_system_name: &str) -> String {
    format!(
        "<{name} csd-code=\"{}\" codeSystemName=\"{}\" originalText=\"{}\"/>",
        xml_escape(c.code),
        xml_escape(code_system_name),
        xml_escape(c.display)
    )
}

/// The DICOM PS3.15 A.5 audit message of `e`, on one line. `source` is the AuditSourceID.
pub fn dicom_audit_message(e: &AuditEvent, source: &str) -> String {
    let codes = codes_of(e.action);
    let mut x = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?><AuditMessage>");

    x.push_str(&format!(
        "<EventIdentification EventActionCode=\"{}\" EventDateTime=\"{}\" EventOutcomeIndicator=\"{}\">",
        codes.action,
        e.time.to_rfc3339(),
        outcome_code(e)
    ));
    x.push_str(&code_element("EventID", codes.dicom_event, "DCM"));
    if let Some(t) = codes.dicom_type {
        x.push_str(&code_element("EventTypeCode", t, "DCM"));
    }
    let own = Code { system: KIROKU_ACTION, code: e.action.as_str(), display: e.action.label_ja() };
    x.push_str(&code_element("EventTypeCode", own, KIROKU_ACTION));
    if let Some(d) = e.detail.as_deref().filter(|d| !d.is_empty()) {
        x.push_str(&format!("<EventOutcomeDescription>{}</EventOutcomeDescription>", xml_escape(d)));
    }
    x.push_str("</EventIdentification>");

    let user = e.user.as_deref().filter(|u| !u.is_empty()).unwrap_or("unknown");
    x.push_str(&format!("<ActiveParticipant UserID=\"{}\"", xml_escape(user)));
    if let Some(s) = e.session.as_deref().filter(|s| !s.is_empty()) {
        x.push_str(&format!(" AlternativeUserID=\"{}\"", xml_escape(s)));
    }
    x.push_str(" UserIsRequestor=\"true\"");
    if let Some(addr) = e.client_addr.as_deref().filter(|a| !a.is_empty()) {
        x.push_str(&format!(" NetworkAccessPointID=\"{}\" NetworkAccessPointTypeCode=\"{}\"", xml_escape(addr), network_type(addr)));
    }
    match e.role.as_deref().filter(|r| !r.is_empty()) {
        Some(role) => {
            x.push('>');
            let role = xml_escape(role);
            x.push_str(&format!("<RoleIDCode csd-code=\"{role}\" codeSystemName=\"urn:kiroku:role\" originalText=\"{role}\"/>"));
            x.push_str("</ActiveParticipant>");
        }
        None => x.push_str("/>"),
    }

    x.push_str(&format!(
        "<AuditSourceIdentification AuditSourceID=\"{}\"><AuditSourceTypeCode csd-code=\"4\" codeSystemName=\"DCM\" originalText=\"Application Server\"/></AuditSourceIdentification>",
        xml_escape(source)
    ));

    if let Some(p) = e.patient_id.as_deref().filter(|p| !p.is_empty()) {
        x.push_str(&format!(
            "<ParticipantObjectIdentification ParticipantObjectID=\"{}\" ParticipantObjectTypeCode=\"1\" ParticipantObjectTypeCodeRole=\"1\">\
             <ParticipantObjectIDTypeCode csd-code=\"2\" codeSystemName=\"RFC-3881\" originalText=\"Patient Number\"/></ParticipantObjectIdentification>",
            xml_escape(p)
        ));
    }
    if let Some(d) = e.document_id.as_deref().filter(|d| !d.is_empty()) {
        x.push_str(&format!(
            "<ParticipantObjectIdentification ParticipantObjectID=\"{}\" ParticipantObjectTypeCode=\"2\" ParticipantObjectTypeCodeRole=\"3\">\
             <ParticipantObjectIDTypeCode csd-code=\"9\" codeSystemName=\"RFC-3881\" originalText=\"Report Number\"/>",
            xml_escape(d)
        ));
        // ParticipantObjectDetail values are base64 by the DICOM schema.
        let b64 = base64::engine::general_purpose::STANDARD;
        if let Some(v) = e.version {
            x.push_str(&format!("<ParticipantObjectDetail type=\"version\" value=\"{}\"/>", b64.encode(v.to_string())));
        }
        if let Some(h) = e.content_hash.as_deref().filter(|h| !h.is_empty()) {
            x.push_str(&format!("<ParticipantObjectDetail type=\"content-hash-sha256\" value=\"{}\"/>", b64.encode(h)));
        }
        x.push_str("</ParticipantObjectIdentification>");
    }
    x.push_str("</AuditMessage>");
    x
}

#[cfg(test)]
mod tests {
    use kiroku_core::{AuditAction, Timestamp};

    use super::*;

    fn sample() -> AuditEvent {
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
            content_hash: Some("ab".into()),
        }
    }

    #[test]
    fn a_document_read_is_an_exact_rfc5424_message_with_the_dicom_xml() {
        let msg = rfc5424(&sample(), "host1.example.jp", "kiroku");
        let expected = concat!(
            "<85>1 2025-11-25T12:00:00.123456Z host1.example.jp kiroku - IHE+RFC-3881 ",
            "[kiroku@32473 id=\"42\" seq=\"17\" action=\"document_read\" outcome=\"success\"] \u{feff}",
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><AuditMessage>",
            "<EventIdentification EventActionCode=\"R\" EventDateTime=\"2025-11-25T12:00:00.123456Z\" EventOutcomeIndicator=\"0\">",
            "<EventID csd-code=\"110110\" codeSystemName=\"DCM\" originalText=\"Patient Record\"/>",
            "<EventTypeCode csd-code=\"document_read\" codeSystemName=\"urn:kiroku:audit-action\" originalText=\"文書の参照\"/>",
            "</EventIdentification>",
            "<ActiveParticipant UserID=\"dr.sato\" AlternativeUserID=\"s-1\" UserIsRequestor=\"true\" NetworkAccessPointID=\"192.0.2.10\" NetworkAccessPointTypeCode=\"2\">",
            "<RoleIDCode csd-code=\"doctor\" codeSystemName=\"urn:kiroku:role\" originalText=\"doctor\"/></ActiveParticipant>",
            "<AuditSourceIdentification AuditSourceID=\"host1.example.jp\"><AuditSourceTypeCode csd-code=\"4\" codeSystemName=\"DCM\" originalText=\"Application Server\"/></AuditSourceIdentification>",
            "<ParticipantObjectIdentification ParticipantObjectID=\"P0001\" ParticipantObjectTypeCode=\"1\" ParticipantObjectTypeCodeRole=\"1\">",
            "<ParticipantObjectIDTypeCode csd-code=\"2\" codeSystemName=\"RFC-3881\" originalText=\"Patient Number\"/></ParticipantObjectIdentification>",
            "<ParticipantObjectIdentification ParticipantObjectID=\"D-9\" ParticipantObjectTypeCode=\"2\" ParticipantObjectTypeCodeRole=\"3\">",
            "<ParticipantObjectIDTypeCode csd-code=\"9\" codeSystemName=\"RFC-3881\" originalText=\"Report Number\"/>",
            "<ParticipantObjectDetail type=\"version\" value=\"Mg==\"/>",
            "<ParticipantObjectDetail type=\"content-hash-sha256\" value=\"YWI=\"/>",
            "</ParticipantObjectIdentification></AuditMessage>"
        );
        assert_eq!(msg, expected);
    }

    #[test]
    fn user_supplied_text_is_escaped() {
        let e = AuditEvent {
            user: Some("x\"/><Evil a='1'>&amp;\u{1}".into()),
            action: AuditAction::LoginFailed,
            outcome: Outcome::Failed,
            detail: Some("<script>\n".into()),
            patient_id: None,
            document_id: None,
            ..sample()
        };
        let msg = rfc5424(&e, "h", "kiroku");
        assert!(msg.starts_with("<84>1 "), "refusals are warnings: {msg}");
        assert!(msg.contains("UserID=\"x&quot;/&gt;&lt;Evil a=&apos;1&apos;&gt;&amp;amp;\u{fffd}\""), "{msg}");
        assert!(msg.contains("<EventOutcomeDescription>&lt;script&gt;&#10;</EventOutcomeDescription>"), "{msg}");
        assert!(msg.contains("EventOutcomeIndicator=\"4\""));
        assert!(!msg.contains("<Evil"));
        assert_eq!(xml_escape("a&b<c>d\"e'f\tg"), "a&amp;b&lt;c&gt;d&quot;e&apos;f&#9;g");
    }

    #[test]
    fn header_fields_and_sd_values_cannot_break_the_header() {
        assert_eq!(header_field("", 255), "-");
        assert_eq!(header_field("病院 host", 255), "___host");
        assert_eq!(header_field(&"a".repeat(60), 48).len(), 48);
        assert_eq!(sd_escape("a\"b\\c]d"), "a\\\"b\\\\c\\]d");
    }

    #[test]
    fn frames_count_octets_not_characters() {
        assert_eq!(frame("abc"), b"3 abc".to_vec());
        // "文" is three octets in UTF-8.
        assert_eq!(frame("文"), "3 文".as_bytes().to_vec());
    }
}
