//! Documents out: typst markup rendered to PDF/A-2b with the system's Japanese fonts ([`pdf`]),
//! and Word documents ([`docx`]). No network, no clock of its own: callers pass the time a
//! document is dated.
//!
//! typst is a library here (feature `pdf`, on by default). Fonts come from the system's font
//! folders (Debian: fonts-noto-cjk or fonts-ipaexfont), never from the internet.

pub mod docx;
pub mod pdf;

/// Why a document could not be made.
#[derive(Debug, thiserror::Error)]
pub enum TypesetError {
    #[error("this build of kiroku has no PDF output (built without the `pdf` feature)")]
    Disabled,
    #[error("no Japanese font found in {searched}; install fonts-noto-cjk or fonts-ipaexfont")]
    NoJapaneseFont { searched: String },
    #[error("the document could not be typeset: {0}")]
    Typeset(String),
    #[error("the Word document could not be written: {0}")]
    Docx(String),
}

/// Text as a typst string literal in markup (`#"…"`), so that no character of it is markup.
pub fn typst_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 4);
    out.push_str("#\"");
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' | '\r' => out.push(' '),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}
