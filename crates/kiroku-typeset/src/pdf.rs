//! typst markup to PDF/A-2b bytes. [`render`] compiles one markup string with the Japanese fonts
//! found by [`Fonts::system`] (loaded once per process) and no files, packages or network.

#[cfg(any(test, not(feature = "pdf")))]
use crate::TypesetError;

/// A date for the PDF's metadata (UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PdfDate {
    pub year: i32,
    pub month: u8,
    pub day: u8,
    pub hour: u8,
    pub minute: u8,
    pub second: u8,
}

/// The font folders searched, in order (a folder that does not exist is skipped).
pub const FONT_DIRS: [&str; 3] = ["/usr/share/fonts", "/usr/local/share/fonts", "/usr/share/fonts-ipaexfont"];

/// File names (lowercase) of fonts with Japanese glyphs that kiroku loads.
#[cfg(feature = "pdf")]
const JAPANESE_FONT_FILES: [&str; 6] = ["notosanscjk", "notoserifcjk", "ipaexg", "ipaexm", "ipag", "ipam"];

#[cfg(feature = "pdf")]
pub use enabled::*;

#[cfg(not(feature = "pdf"))]
pub fn render(_markup: &str, _date: PdfDate) -> Result<Vec<u8>, TypesetError> {
    Err(TypesetError::Disabled)
}

/// Whether this build can make PDFs.
pub const ENABLED: bool = cfg!(feature = "pdf");

#[cfg(feature = "pdf")]
fn font_files() -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    let mut stack: Vec<std::path::PathBuf> = FONT_DIRS.iter().map(std::path::PathBuf::from).collect();
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if let Some(name) = path.file_name().and_then(|n| n.to_str()) {
                let name = name.to_ascii_lowercase();
                let font = name.ends_with(".ttf") || name.ends_with(".otf") || name.ends_with(".ttc");
                if font && JAPANESE_FONT_FILES.iter().any(|f| name.starts_with(f)) {
                    found.push(path);
                }
            }
        }
    }
    found.sort();
    found
}

#[cfg(feature = "pdf")]
mod enabled {
    use std::sync::OnceLock;

    use typst::diag::{FileError, FileResult};
    use typst::foundations::{Bytes, Datetime};
    use typst::syntax::{FileId, RootedPath, Source, VirtualPath, VirtualRoot};
    use typst::text::{Font, FontBook};
    use typst::utils::LazyHash;
    use typst::{Library, LibraryExt, World};
    use typst_layout::PagedDocument;
    use typst_pdf::{PdfOptions, PdfStandard, PdfStandards, Timestamp};

    use super::{PdfDate, font_files};
    use crate::TypesetError;

    /// The Japanese fonts of this machine, parsed once.
    pub struct Fonts {
        book: LazyHash<FontBook>,
        fonts: Vec<Font>,
    }

    impl Fonts {
        /// Loads the system's Japanese fonts the first time it is called; later calls reuse them.
        pub fn system() -> Result<&'static Fonts, TypesetError> {
            static FONTS: OnceLock<Option<Fonts>> = OnceLock::new();
            FONTS
                .get_or_init(|| {
                    let fonts: Vec<Font> = font_files()
                        .into_iter()
                        .filter_map(|p| std::fs::read(p).ok())
                        .flat_map(|data| Font::iter(Bytes::new(data)))
                        .collect();
                    (!fonts.is_empty()).then(|| Fonts { book: LazyHash::new(FontBook::from_fonts(&fonts)), fonts })
                })
                .as_ref()
                .ok_or_else(|| TypesetError::NoJapaneseFont { searched: super::FONT_DIRS.join(", ") })
        }

        /// The font families found (for diagnostics and tests).
        pub fn families(&self) -> Vec<String> {
            let mut names: Vec<String> = self.fonts.iter().map(|f| f.info().family.clone()).collect();
            names.dedup();
            names
        }
    }

    /// The world of one document: its markup, the standard library, the system's Japanese fonts; no
    /// other file, no package, no network.
    struct OneFile {
        library: &'static LazyHash<Library>,
        fonts: &'static Fonts,
        main: Source,
        today: Datetime,
    }

    impl World for OneFile {
        fn library(&self) -> &LazyHash<Library> {
            self.library
        }
        fn book(&self) -> &LazyHash<FontBook> {
            &self.fonts.book
        }
        fn main(&self) -> FileId {
            self.main.id()
        }
        fn source(&self, id: FileId) -> FileResult<Source> {
            if id == self.main.id() { Ok(self.main.clone()) } else { Err(FileError::AccessDenied) }
        }
        fn file(&self, _id: FileId) -> FileResult<Bytes> {
            Err(FileError::AccessDenied)
        }
        fn font(&self, index: usize) -> Option<Font> {
            self.fonts.fonts.get(index).cloned()
        }
        fn today(&self, _offset: Option<typst::foundations::Duration>) -> Option<Datetime> {
            Some(self.today)
        }
    }

    /// Renders typst markup to PDF/A-2b bytes, dated `date`. The markup may not read files.
    pub fn render(markup: &str, date: PdfDate) -> Result<Vec<u8>, TypesetError> {
        let pdf = typeset(markup, date);
        // typst memoizes across compilations in a global cache; in a long-running server, drop what
        // the last two documents did not use, so memory does not grow with every download.
        typst::comemo::evict(2);
        pdf
    }

    fn typeset(markup: &str, date: PdfDate) -> Result<Vec<u8>, TypesetError> {
        let fonts = Fonts::system()?;
        let bad = |what: &str| TypesetError::Typeset(what.to_owned());
        let vpath = VirtualPath::new("main.typ").map_err(|_| bad("bad main file path"))?;
        let id = RootedPath::new(VirtualRoot::Project, vpath).intern();
        let today = Datetime::from_ymd_hms(date.year, date.month, date.day, date.hour, date.minute, date.second)
            .ok_or_else(|| bad("invalid document date"))?;
        static LIBRARY: OnceLock<LazyHash<Library>> = OnceLock::new();
        let library = LIBRARY.get_or_init(|| LazyHash::new(Library::builder().build()));
        let world = OneFile { library, fonts, main: Source::new(id, markup.to_owned()), today };
        let document: PagedDocument = typst::compile(&world)
            .output
            .map_err(|errors| TypesetError::Typeset(errors.iter().map(|e| e.message.to_string()).collect::<Vec<_>>().join("; ")))?;
        let standards = PdfStandards::new(&[PdfStandard::A_2b]).map_err(|e| TypesetError::Typeset(e.message().to_string()))?;
        let options = PdfOptions { timestamp: Some(Timestamp::new_utc(today)), standards, ..PdfOptions::default() };
        typst_pdf::pdf(&document, &options)
            .map_err(|errors| TypesetError::Typeset(errors.iter().map(|e| e.message.to_string()).collect::<Vec<_>>().join("; ")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DATE: PdfDate = PdfDate { year: 2026, month: 4, day: 1, hour: 9, minute: 30, second: 0 };

    #[cfg(not(feature = "pdf"))]
    #[test]
    fn without_the_feature_render_says_so() {
        assert!(!ENABLED);
        assert!(matches!(render("x", DATE), Err(TypesetError::Disabled)));
    }

    /// The text pdftotext reads from `pdf`, or `None` (a loud skip; a failure under CI=true).
    #[cfg(feature = "pdf")]
    fn pdftotext(pdf: &[u8]) -> Option<String> {
        let dir = std::env::temp_dir().join(format!("kiroku-typeset-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join("t.pdf");
        std::fs::write(&path, pdf).expect("write pdf");
        let out = std::process::Command::new("pdftotext").arg("-enc").arg("UTF-8").arg(&path).arg("-").output();
        let _ = std::fs::remove_dir_all(&dir);
        match out {
            Ok(out) if out.status.success() => Some(String::from_utf8(out.stdout).expect("utf-8 text")),
            _ => {
                kiroku_testkit::missing_peer("pdftotext (poppler-utils)", "apt-get install -y poppler-utils");
                None
            }
        }
    }

    /// Whether the Japanese fonts are there (a loud skip when not; a failure under CI=true).
    #[cfg(feature = "pdf")]
    fn fonts() -> bool {
        match Fonts::system() {
            Ok(f) => {
                assert!(f.families().iter().any(|n| n.contains("CJK JP") || n.starts_with("IPA")), "{:?}", f.families());
                true
            }
            Err(e) => {
                kiroku_testkit::missing_peer("Japanese fonts", &format!("{e}; apt-get install -y fonts-noto-cjk"));
                false
            }
        }
    }

    #[cfg(feature = "pdf")]
    #[test]
    fn japanese_markup_renders_as_pdf_a_2b() {
        if !fonts() {
            return;
        }
        let t = crate::typst_text;
        let markup = format!(
            "#set document(title: {})\n#set text(lang: \"ja\", font: (\"Noto Serif CJK JP\", \"IPAexMincho\"))\n= {}\n\n{}(x)[y] {}\n\n{}\n",
            crate::typst_string("運用管理規程"),
            t("第一条（目的）"),
            t("個人情報を記した媒体の廃棄に当たっては、安全かつ確実に行う。"),
            t("*太字ではない* #raw(\"x\") $a$ <ref> @cite"),
            t("改行\nを含む\"引用\"と\\記号"),
        );
        let started = std::time::Instant::now();
        let pdf = render(&markup, DATE).expect("render");
        eprintln!("rendered {} bytes in {:?} (fonts loaded before)", pdf.len(), started.elapsed());
        assert!(pdf.starts_with(b"%PDF-"), "a PDF");
        let raw = String::from_utf8_lossy(&pdf);
        assert!(raw.contains("pdfaid:part") && raw.contains("pdfaid:conformance"), "declares PDF/A in its XMP metadata");
        assert!(
            raw.contains("pdfaid:part=\"2\"") || raw.contains("<pdfaid:part>2</pdfaid:part>"),
            "PDF/A-2: {}",
            raw.lines().filter(|l| l.contains("pdfaid")).collect::<Vec<_>>().join("\n")
        );
        assert!(raw.contains("pdfaid:conformance=\"B\"") || raw.contains("<pdfaid:conformance>B</pdfaid:conformance>"), "conformance B");
        let Some(text) = pdftotext(&pdf) else { return };
        let flat: String = text.split_whitespace().collect();
        assert!(flat.contains("第一条（目的）"), "{text}");
        assert!(flat.contains("個人情報を記した媒体の廃棄に当たっては、安全かつ確実に行う。(x)[y]"), "{text}");
        assert!(flat.contains("*太字ではない*#raw(\"x\")$a$<ref>@cite"), "no markup in quoted text: {text}");
        assert!(flat.contains("改行を含む\"引用\"と\\記号"), "{text}");
    }

    #[cfg(feature = "pdf")]
    #[test]
    fn bad_markup_and_file_access_are_errors() {
        if !fonts() {
            return;
        }
        assert!(matches!(render("#let x = (", DATE), Err(TypesetError::Typeset(_))));
        let err = render("#read(\"/etc/passwd\")", DATE).expect_err("no file access");
        assert!(matches!(err, TypesetError::Typeset(_)), "{err}");
        assert!(matches!(render("x", PdfDate { month: 13, ..DATE }), Err(TypesetError::Typeset(_))));
    }
}
