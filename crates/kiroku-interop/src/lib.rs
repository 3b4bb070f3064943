//! The access trail in standard forms, for a facility's SIEM or audit repository: FHIR R4 AuditEvent
//! shaped per IHE BALP ([`fhir`]) and RFC 5424 syslog messages carrying the DICOM PS3.15 A.5 audit
//! message of IHE ATNA ([`syslog`]). Pure formatting: no IO, no clock, so every output is a function of
//! the stored event and can be checked byte for byte.

pub mod codes;
pub mod fhir;
pub mod syslog;

pub use codes::{EventCodes, codes_of};
