//! Word documents (DOCX) through docx-rs: headings and paragraphs, Japanese text as is.

use docx_rs::{Docx, Paragraph, Run, RunFonts};

use crate::TypesetError;

/// One block of a document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Block {
    /// A heading of level 1 (title), 2 (chapter) or 3 (article).
    Heading(u8, String),
    Paragraph(String),
}

/// Writes the blocks as a .docx file (bytes).
pub fn render(blocks: &[Block]) -> Result<Vec<u8>, TypesetError> {
    let fonts = RunFonts::new().east_asia("游明朝").ascii("Times New Roman");
    let mut doc = Docx::new();
    for block in blocks {
        let (text, size, bold) = match block {
            Block::Heading(1, t) => (t, 32, true),
            Block::Heading(2, t) => (t, 26, true),
            Block::Heading(_, t) => (t, 22, true),
            Block::Paragraph(t) => (t, 21, false),
        };
        let mut run = Run::new().add_text(text.as_str()).size(size).fonts(fonts.clone());
        if bold {
            run = run.bold();
        }
        doc = doc.add_paragraph(Paragraph::new().add_run(run));
    }
    let mut out = std::io::Cursor::new(Vec::new());
    doc.build().pack(&mut out).map_err(|e| TypesetError::Docx(e.to_string()))?;
    Ok(out.into_inner())
}
