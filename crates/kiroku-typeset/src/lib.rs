//! Documents out: typst markup rendered to PDF/A-2b with the system's Japanese fonts ([`pdf`]),
//! and Word documents ([`docx`]). No network, no clock of its own: callers pass the time a
//! document is dated.
//!
//! typst is a library here (feature `pdf`, optional in this crate and in kiroku-server, on by default
//! in the kiroku binary). Fonts come from the system's font folders (Debian: fonts-noto-cjk or
//! fonts-ipaexfont), never from the internet.

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

/// Text as a typst string literal in code (`"…"`): quotes and backslashes escaped, line breaks and
/// other control characters as spaces.
pub fn typst_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Text in markup as an embedded string literal (`#"…";`), so that no character of it is markup;
/// the semicolon ends the expression, so whatever follows (`(`, `[`, `.`) is not read as part of it.
pub fn typst_text(text: &str) -> String {
    format!("#{};", typst_string(text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_quoted() {
        assert_eq!(typst_string(r#"a"b\c"#), r#""a\"b\\c""#);
        assert_eq!(typst_string("一\n二\r\t三"), "\"一 二  三\"");
        assert_eq!(typst_text("*x* #y"), "#\"*x* #y\";");
    }
}
