//! A line diff for the side-by-side comparison of two versions (longest common subsequence).

/// One row of a side-by-side diff: a line on the left, on the right, or both.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub left_no: Option<usize>,
    pub left: String,
    pub right_no: Option<usize>,
    pub right: String,
    /// "same", "del" (only left), "add" (only right).
    pub kind: &'static str,
}

/// Above this many lines per side the quadratic table would be too large; the texts are then shown
/// as one removed and one added block, which is still correct, only less precise.
const MAX_LINES: usize = 2000;

pub fn side_by_side(left: &str, right: &str) -> Vec<Row> {
    let a: Vec<&str> = left.lines().collect();
    let b: Vec<&str> = right.lines().collect();
    if a.len() > MAX_LINES || b.len() > MAX_LINES {
        return blocks(&a, &b);
    }
    // lcs[i][j]: length of the longest common subsequence of a[i..] and b[j..].
    let mut lcs = vec![vec![0u32; b.len() + 1]; a.len() + 1];
    for i in (0..a.len()).rev() {
        for j in (0..b.len()).rev() {
            lcs[i][j] = if a[i] == b[j] { lcs[i + 1][j + 1] + 1 } else { lcs[i + 1][j].max(lcs[i][j + 1]) };
        }
    }
    let (mut i, mut j, mut rows) = (0, 0, Vec::new());
    while i < a.len() || j < b.len() {
        if i < a.len() && j < b.len() && a[i] == b[j] {
            rows.push(Row { left_no: Some(i + 1), left: a[i].into(), right_no: Some(j + 1), right: b[j].into(), kind: "same" });
            i += 1;
            j += 1;
        } else if i < a.len() && (j == b.len() || lcs[i + 1][j] >= lcs[i][j + 1]) {
            // Removed lines come before the lines that replace them, as readers expect.
            rows.push(Row { left_no: Some(i + 1), left: a[i].into(), right_no: None, right: String::new(), kind: "del" });
            i += 1;
        } else {
            rows.push(Row { left_no: None, left: String::new(), right_no: Some(j + 1), right: b[j].into(), kind: "add" });
            j += 1;
        }
    }
    rows
}

fn blocks(a: &[&str], b: &[&str]) -> Vec<Row> {
    let del = a.iter().enumerate().map(|(i, l)| Row {
        left_no: Some(i + 1),
        left: (*l).into(),
        right_no: None,
        right: String::new(),
        kind: "del",
    });
    let add = b.iter().enumerate().map(|(j, l)| Row {
        left_no: None,
        left: String::new(),
        right_no: Some(j + 1),
        right: (*l).into(),
        kind: "add",
    });
    del.chain(add).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(rows: &[Row]) -> Vec<&'static str> {
        rows.iter().map(|r| r.kind).collect()
    }

    #[test]
    fn unchanged_added_and_removed_lines() {
        let rows = side_by_side("a\nb\nc", "a\nB\nc\nd");
        assert_eq!(kinds(&rows), ["same", "del", "add", "same", "add"]);
        assert_eq!(rows[3].left_no, Some(3));
        assert_eq!(rows[3].right_no, Some(3));
        assert!(side_by_side("x", "x").iter().all(|r| r.kind == "same"));
        assert_eq!(kinds(&side_by_side("", "new")), ["add"]);
    }
}
