//! Scanned paper (スキャナ読み取り書類, T2-5.1 … T2-5.4): the document types that are scanned and
//! each one's rule (resolution, colour, the deadline in working days, what happens to the paper
//! original), the working-day calendar, and what can be read from a scanned file's own bytes
//! (its format by magic bytes; for PNG, JPEG and TIFF the pixel size, resolution and colour).
//! Pure: the store decides with these functions, the server only passes the bytes' facts along.

use serde::{Deserialize, Serialize};
use time::{Date, Duration, Month, Weekday};

use crate::DomainError;

/// How a type must be scanned: colour (photographs, ECGs), greyscale, or black and white.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ColourMode {
    Monochrome,
    Greyscale,
    Colour,
}

impl ColourMode {
    pub fn as_str(self) -> &'static str {
        match self {
            ColourMode::Monochrome => "monochrome",
            ColourMode::Greyscale => "greyscale",
            ColourMode::Colour => "colour",
        }
    }

    pub fn label_ja(self) -> &'static str {
        match self {
            ColourMode::Monochrome => "白黒",
            ColourMode::Greyscale => "グレースケール",
            ColourMode::Colour => "カラー",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Monochrome, Self::Greyscale, Self::Colour].into_iter().find(|c| c.as_str() == s)
    }
}

/// What happens to the paper after scanning: kept for some years, or disposed of once the
/// scanning officer (情報作成管理者) checked the scan and approved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "action")]
pub enum OriginalHandling {
    Keep { years: u32 },
    Dispose,
}

/// A scanned document type with its rule, as the scanning officer set it (one revision).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScanRule {
    /// Short code, e.g. `referral`, `ecg`.
    pub code: String,
    pub name: String,
    pub min_dpi: u32,
    pub colour: ColourMode,
    /// Working days after the paper was made or received by which it must be scanned.
    pub deadline_days: u32,
    pub original: OriginalHandling,
}

pub const DEFAULT_MIN_DPI: u32 = 300;
pub const DEFAULT_DEADLINE_DAYS: u32 = 2;

impl ScanRule {
    pub fn validate(&self) -> Result<(), DomainError> {
        let code_ok = !self.code.is_empty()
            && self.code.len() <= 40
            && self.code.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
        if !code_ok {
            return Err(DomainError::invalid("code", "1 to 40 lowercase letters, digits, '-' or '_'"));
        }
        let name = self.name.trim();
        if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
            return Err(DomainError::invalid("name", "1 to 100 characters without control characters"));
        }
        if !(100..=2400).contains(&self.min_dpi) {
            return Err(DomainError::invalid("min_dpi", "between 100 and 2400 dpi"));
        }
        if self.deadline_days > 30 {
            return Err(DomainError::invalid("deadline_days", "at most 30 working days"));
        }
        if let OriginalHandling::Keep { years } = self.original
            && !(1..=100).contains(&years)
        {
            return Err(DomainError::invalid("keep_years", "between 1 and 100 years"));
        }
        Ok(())
    }

    /// Checks what the file's own bytes say against the rule. A PDF's pages are not inspected
    /// (its resolution is per image inside); that is said in [`ScanFacts::checked`].
    pub fn check(&self, facts: &ScanFacts) -> Result<(), ScanRefusal> {
        if facts.format == ScanFormat::Pdf {
            return Ok(());
        }
        let Some(dpi) = facts.dpi else { return Err(ScanRefusal::NoResolution) };
        if dpi < self.min_dpi {
            return Err(ScanRefusal::LowResolution { dpi, min: self.min_dpi });
        }
        if let (Some(w), Some(h)) = (facts.width, facts.height) {
            // Smaller than an inch at the required resolution: a thumbnail or a crop, not a page.
            if w < self.min_dpi || h < self.min_dpi {
                return Err(ScanRefusal::TooSmall { width: w, height: h, min: self.min_dpi });
            }
        }
        if let Some(colour) = facts.colour
            && colour < self.colour
        {
            return Err(ScanRefusal::Colour { found: colour, required: self.colour });
        }
        Ok(())
    }
}

/// Why a scanned file does not meet its type's rule, in Japanese and English.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScanRefusal {
    UnknownFormat,
    NoResolution,
    LowResolution { dpi: u32, min: u32 },
    TooSmall { width: u32, height: u32, min: u32 },
    Colour { found: ColourMode, required: ColourMode },
}

impl ScanRefusal {
    pub fn ja(&self) -> String {
        match self {
            ScanRefusal::UnknownFormat => "PDF・PNG・JPEG・TIFF のいずれでもないファイルです".into(),
            ScanRefusal::NoResolution => "ファイルに解像度（dpi）が記録されていません。解像度を保存する設定で読み取り直してください".into(),
            ScanRefusal::LowResolution { dpi, min } => format!("解像度 {dpi} dpi は規程の {min} dpi 未満です"),
            ScanRefusal::TooSmall { width, height, min } => {
                format!("画像が {width}×{height} ピクセルで、{min} dpi で 1 インチ未満の大きさです")
            }
            ScanRefusal::Colour { found, required } => {
                format!("{}で読み取られていますが、規程は{}です", found.label_ja(), required.label_ja())
            }
        }
    }

    pub fn en(&self) -> String {
        match self {
            ScanRefusal::UnknownFormat => "the file is not a PDF, PNG, JPEG or TIFF".into(),
            ScanRefusal::NoResolution => "the file records no resolution (dpi); scan again with the resolution saved".into(),
            ScanRefusal::LowResolution { dpi, min } => format!("its resolution of {dpi} dpi is below the rule's {min} dpi"),
            ScanRefusal::TooSmall { width, height, min } => {
                format!("the image is {width}x{height} pixels, less than an inch at {min} dpi")
            }
            ScanRefusal::Colour { found, required } => {
                format!("it was scanned in {} but the rule requires {}", found.as_str(), required.as_str())
            }
        }
    }

    /// Both languages, as problem details and audit events carry it.
    pub fn message(&self) -> String {
        format!("{} ({})", self.ja(), self.en())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ScanFormat {
    Pdf,
    Png,
    Jpeg,
    Tiff,
}

impl ScanFormat {
    pub fn media_type(self) -> &'static str {
        match self {
            ScanFormat::Pdf => "application/pdf",
            ScanFormat::Png => "image/png",
            ScanFormat::Jpeg => "image/jpeg",
            ScanFormat::Tiff => "image/tiff",
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            ScanFormat::Pdf => "pdf",
            ScanFormat::Png => "png",
            ScanFormat::Jpeg => "jpg",
            ScanFormat::Tiff => "tif",
        }
    }
}

/// What a scanned file's bytes say about it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScanFacts {
    pub format: ScanFormat,
    pub width: Option<u32>,
    pub height: Option<u32>,
    /// The smaller of the horizontal and vertical resolution, in dots per inch.
    pub dpi: Option<u32>,
    pub colour: Option<ColourMode>,
    /// Whether resolution and colour were read from the file (false for PDF).
    pub checked: bool,
}

/// Reads the format from the magic bytes and, for images, the size, resolution and colour.
pub fn inspect(bytes: &[u8]) -> Result<ScanFacts, ScanRefusal> {
    let facts = if bytes.starts_with(b"%PDF-") {
        ScanFacts { format: ScanFormat::Pdf, width: None, height: None, dpi: None, colour: None, checked: false }
    } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        png(bytes).ok_or(ScanRefusal::UnknownFormat)?
    } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        jpeg(bytes).ok_or(ScanRefusal::UnknownFormat)?
    } else if bytes.starts_with(b"II*\0") || bytes.starts_with(b"MM\0*") {
        tiff(bytes).ok_or(ScanRefusal::UnknownFormat)?
    } else {
        return Err(ScanRefusal::UnknownFormat);
    };
    Ok(facts)
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn png(b: &[u8]) -> Option<ScanFacts> {
    let mut at = 8;
    let (mut width, mut height, mut colour, mut dpi) = (None, None, None, None);
    while at + 8 <= b.len() {
        let len = be32(b, at)? as usize;
        let kind = b.get(at + 4..at + 8)?;
        let data = b.get(at + 8..at + 8 + len)?;
        match kind {
            b"IHDR" => {
                width = Some(be32(data, 0)?);
                height = Some(be32(data, 4)?);
                let depth = *data.get(8)?;
                colour = Some(match *data.get(9)? {
                    2 | 3 | 6 => ColourMode::Colour,
                    _ if depth == 1 => ColourMode::Monochrome,
                    _ => ColourMode::Greyscale,
                });
            }
            b"pHYs" if data.get(8) == Some(&1) => {
                // Pixels per metre.
                let x = be32(data, 0)?;
                let y = be32(data, 4)?;
                dpi = Some(per_metre_to_dpi(x.min(y)));
            }
            b"IDAT" | b"IEND" => break,
            _ => {}
        }
        at += 12 + len;
    }
    Some(ScanFacts { format: ScanFormat::Png, width, height, dpi, colour, checked: true })
}

fn per_metre_to_dpi(ppm: u32) -> u32 {
    ((f64::from(ppm) * 0.0254) + 0.5) as u32
}

fn jpeg(b: &[u8]) -> Option<ScanFacts> {
    let mut at = 2;
    let (mut width, mut height, mut colour, mut dpi) = (None, None, None, None);
    while at + 4 <= b.len() {
        if b[at] != 0xFF {
            return None;
        }
        let marker = b[at + 1];
        if marker == 0xD8 || marker == 0x01 || (0xD0..=0xD7).contains(&marker) {
            at += 2;
            continue;
        }
        let len = be16(b, at + 2)? as usize;
        let data = b.get(at + 4..at + 2 + len)?;
        match marker {
            // APP0 JFIF: units 1 = dots per inch, 2 = dots per cm.
            0xE0 if data.starts_with(b"JFIF\0") && dpi.is_none() => {
                let units = *data.get(7)?;
                let x = u32::from(be16(data, 8)?);
                let y = u32::from(be16(data, 10)?);
                dpi = match units {
                    1 => Some(x.min(y)),
                    2 => Some(((f64::from(x.min(y)) * 2.54) + 0.5) as u32),
                    _ => None,
                };
            }
            0xE1 if data.starts_with(b"Exif\0\0") && dpi.is_none() => {
                dpi = data.get(6..).and_then(tiff).and_then(|t| t.dpi);
            }
            0xC0..=0xCF if marker != 0xC4 && marker != 0xC8 && marker != 0xCC => {
                height = Some(u32::from(be16(data, 1)?));
                width = Some(u32::from(be16(data, 3)?));
                colour = Some(if *data.get(5)? >= 3 { ColourMode::Colour } else { ColourMode::Greyscale });
                break;
            }
            0xDA | 0xD9 => break,
            _ => {}
        }
        at += 2 + len;
    }
    Some(ScanFacts { format: ScanFormat::Jpeg, width, height, dpi, colour, checked: true })
}

fn tiff(b: &[u8]) -> Option<ScanFacts> {
    let little = b.starts_with(b"II");
    let u16_at = |at: usize| -> Option<u16> {
        let s: [u8; 2] = b.get(at..at + 2)?.try_into().ok()?;
        Some(if little { u16::from_le_bytes(s) } else { u16::from_be_bytes(s) })
    };
    let u32_at = |at: usize| -> Option<u32> {
        let s: [u8; 4] = b.get(at..at + 4)?.try_into().ok()?;
        Some(if little { u32::from_le_bytes(s) } else { u32::from_be_bytes(s) })
    };
    let ifd = u32_at(4)? as usize;
    let count = u16_at(ifd)? as usize;
    let (mut width, mut height, mut xres, mut yres, mut unit, mut photometric, mut bits, mut samples) =
        (None, None, None, None, 2u16, None, 1u16, 1u16);
    for i in 0..count.min(512) {
        let e = ifd + 2 + i * 12;
        let tag = u16_at(e)?;
        let kind = u16_at(e + 2)?;
        let value = |_: ()| -> Option<u32> {
            match kind {
                3 => u16_at(e + 8).map(u32::from),
                4 => u32_at(e + 8),
                _ => None,
            }
        };
        let rational = || -> Option<f64> {
            let at = u32_at(e + 8)? as usize;
            let (n, d) = (u32_at(at)?, u32_at(at + 4)?);
            (d != 0).then(|| f64::from(n) / f64::from(d))
        };
        match tag {
            256 => width = value(()),
            257 => height = value(()),
            258 => bits = u16_at(e + 8).unwrap_or(1),
            262 => photometric = value(()),
            277 => samples = u16_at(e + 8).unwrap_or(1),
            282 => xres = rational(),
            283 => yres = rational(),
            296 => unit = u16_at(e + 8).unwrap_or(2),
            _ => {}
        }
    }
    let dpi = match (xres, yres, unit) {
        (Some(x), Some(y), 2) => Some((x.min(y) + 0.5) as u32),
        (Some(x), Some(y), 3) => Some((x.min(y) * 2.54 + 0.5) as u32),
        _ => None,
    };
    let colour = match photometric {
        Some(2 | 3 | 5 | 6 | 8) => Some(ColourMode::Colour),
        Some(0 | 1) if bits == 1 && samples == 1 => Some(ColourMode::Monochrome),
        Some(0 | 1) => Some(ColourMode::Greyscale),
        _ => None,
    };
    Some(ScanFacts { format: ScanFormat::Tiff, width, height, dpi, colour, checked: true })
}

/// The header chunks of a PNG (signature, IHDR, optionally pHYs in pixels per metre, IEND), as
/// tests and examples need them: enough for [`inspect`], not a picture (no IDAT).
#[doc(hidden)]
pub fn png_header(colour_type: u8, depth: u8, w: u32, h: u32, ppm: Option<u32>) -> Vec<u8> {
    let mut b = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut chunk = |kind: &[u8], data: &[u8]| {
        b.extend((data.len() as u32).to_be_bytes());
        b.extend(kind);
        b.extend(data);
        b.extend([0, 0, 0, 0]);
    };
    let mut ihdr = Vec::new();
    ihdr.extend(w.to_be_bytes());
    ihdr.extend(h.to_be_bytes());
    ihdr.extend([depth, colour_type, 0, 0, 0]);
    chunk(b"IHDR", &ihdr);
    if let Some(p) = ppm {
        let mut phys = Vec::new();
        phys.extend(p.to_be_bytes());
        phys.extend(p.to_be_bytes());
        phys.push(1);
        chunk(b"pHYs", &phys);
    }
    chunk(b"IEND", &[]);
    b
}

/// [`png_header`] of a colour (or greyscale) page of `w`×`h` pixels at `dpi`.
#[doc(hidden)]
pub fn sample_png(colour: bool, w: u32, h: u32, dpi: u32) -> Vec<u8> {
    png_header(if colour { 2 } else { 0 }, 8, w, h, Some(((f64::from(dpi) / 0.0254) + 0.5) as u32))
}

/// A paper's date as the form gives it: `YYYY-MM-DD`.
pub fn parse_date(field: &'static str, s: &str) -> Result<Date, DomainError> {
    let bad = || DomainError::invalid(field, "must be a date such as 2026-04-01");
    let mut parts = s.trim().splitn(3, '-');
    let (y, m, d) = (parts.next().ok_or_else(bad)?, parts.next().ok_or_else(bad)?, parts.next().ok_or_else(bad)?);
    if y.len() != 4 || m.len() != 2 || d.len() != 2 {
        return Err(bad());
    }
    let y: i32 = y.parse().map_err(|_| bad())?;
    let m: u8 = m.parse().map_err(|_| bad())?;
    let d: u8 = d.parse().map_err(|_| bad())?;
    let month = Month::try_from(m).map_err(|_| bad())?;
    Date::from_calendar_date(y, month, d).map_err(|_| bad())
}

pub fn format_date(d: Date) -> String {
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

/// Working days: Monday to Friday, except the facility's holidays.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WorkCalendar {
    pub holidays: Vec<Date>,
}

impl WorkCalendar {
    pub fn is_working_day(&self, d: Date) -> bool {
        !matches!(d.weekday(), Weekday::Saturday | Weekday::Sunday) && !self.holidays.contains(&d)
    }

    /// The last day on which a paper made or received on `paper` may be scanned: `days` working
    /// days after it (the day itself does not count).
    pub fn due_date(&self, paper: Date, days: u32) -> Date {
        let mut d = paper;
        let mut left = days;
        while left > 0 {
            d = d.saturating_add(Duration::days(1));
            if self.is_working_day(d) {
                left -= 1;
            }
        }
        d
    }
}

/// Today's date in Japan (JST, UTC+9) at `t`: deadlines are in the facility's days.
pub fn jst_date(t: crate::Timestamp) -> Date {
    (t.to_datetime() + Duration::hours(9)).date()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(s: &str) -> Date {
        parse_date("d", s).expect("date")
    }

    #[test]
    fn deadlines_skip_weekends_and_holidays() {
        let cal = WorkCalendar { holidays: vec![date("2026-11-23")] };
        // Friday + 2 working days = Tuesday.
        assert_eq!(format_date(cal.due_date(date("2026-11-13"), 2)), "2026-11-17");
        // Friday 20th + 2, Monday 23rd a holiday: Wednesday 25th.
        assert_eq!(format_date(cal.due_date(date("2026-11-20"), 2)), "2026-11-25");
        assert_eq!(cal.due_date(date("2026-11-20"), 0), date("2026-11-20"));
        assert!(parse_date("d", "2026-02-30").is_err());
        assert!(parse_date("d", "26-2-3").is_err());
    }

    fn png_bytes(colour_type: u8, depth: u8, w: u32, h: u32, ppm: Option<u32>) -> Vec<u8> {
        png_header(colour_type, depth, w, h, ppm)
    }

    #[test]
    fn rules_refuse_what_the_bytes_show() {
        let rule = ScanRule {
            code: "ecg".into(),
            name: "心電図".into(),
            min_dpi: 300,
            colour: ColourMode::Colour,
            deadline_days: 2,
            original: OriginalHandling::Dispose,
        };
        let good = inspect(&png_bytes(2, 8, 2480, 3508, Some(11811))).expect("png");
        assert_eq!(good.dpi, Some(300));
        assert_eq!(rule.check(&good), Ok(()));
        let low = inspect(&png_bytes(2, 8, 1240, 1754, Some(5906))).expect("png");
        assert_eq!(rule.check(&low), Err(ScanRefusal::LowResolution { dpi: 150, min: 300 }));
        let grey = inspect(&png_bytes(0, 8, 2480, 3508, Some(11811))).expect("png");
        assert_eq!(rule.check(&grey), Err(ScanRefusal::Colour { found: ColourMode::Greyscale, required: ColourMode::Colour }));
        let none = inspect(&png_bytes(2, 8, 2480, 3508, None)).expect("png");
        assert_eq!(rule.check(&none), Err(ScanRefusal::NoResolution));
        assert_eq!(inspect(b"GIF89a..."), Err(ScanRefusal::UnknownFormat));
        assert_eq!(inspect(b"%PDF-1.7\n").map(|f| f.format), Ok(ScanFormat::Pdf));
    }

    #[test]
    fn jpeg_and_tiff_headers_are_read() {
        // JFIF 200 dpi, SOF0 100x50, 1 component.
        let mut j = vec![0xFF, 0xD8, 0xFF, 0xE0, 0, 16];
        j.extend(b"JFIF\0");
        j.extend([1, 1, 1, 0, 200, 0, 200, 0, 0]);
        j.extend([0xFF, 0xC0, 0, 11, 8, 0, 50, 0, 100, 1, 1, 0x11, 0]);
        let f = inspect(&j).expect("jpeg");
        assert_eq!((f.width, f.height, f.dpi, f.colour), (Some(100), Some(50), Some(200), Some(ColourMode::Greyscale)));
        // Little-endian TIFF, 1 bit bilevel, 400 dpi.
        let mut t = b"II*\0".to_vec();
        t.extend(8u32.to_le_bytes());
        let entries: [(u16, u16, u32); 6] = [(256, 4, 3000), (257, 4, 4000), (258, 3, 1), (262, 3, 0), (282, 5, 86), (283, 5, 86)];
        t.extend((entries.len() as u16).to_le_bytes());
        for (tag, kind, value) in entries {
            t.extend(tag.to_le_bytes());
            t.extend(kind.to_le_bytes());
            t.extend(1u32.to_le_bytes());
            t.extend(value.to_le_bytes());
        }
        t.extend(0u32.to_le_bytes());
        t.extend(400u32.to_le_bytes());
        t.extend(1u32.to_le_bytes());
        let f = inspect(&t).expect("tiff");
        assert_eq!((f.width, f.height, f.dpi, f.colour), (Some(3000), Some(4000), Some(400), Some(ColourMode::Monochrome)));
    }
}
