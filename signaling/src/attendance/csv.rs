//! The register as CSV (RFC 4180, through the `csv` crate's quoting), with every cell that a
//! spreadsheet would read as a formula neutralised: a cell beginning with `=`, `+`, `-`, `@`,
//! a tab or a carriage return gets a leading `'` (OWASP's advice for CSV injection).

/// `cell` as a spreadsheet shows it as text.
pub fn neutralise(cell: &str) -> String {
    match cell.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{cell}"),
        _ => cell.to_owned(),
    }
}

/// A CSV document of `header` and `rows`, each cell neutralised and quoted where needed.
pub fn document(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut w = ::csv::WriterBuilder::new()
        .terminator(::csv::Terminator::CRLF)
        .from_writer(Vec::new());
    // Writing to memory cannot fail but on a row of another length, which `rows` never has
    // when built from one header; such a row is skipped rather than breaking the file.
    let _ = w.write_record(header.iter().map(|h| neutralise(h)));
    for row in rows {
        let _ = w.write_record(row.iter().map(|c| neutralise(c)));
    }
    let bytes = w.into_inner().unwrap_or_default();
    String::from_utf8(bytes).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_are_neutralised_and_quotes_kept() {
        let rows = vec![
            vec![
                "=HYPERLINK(\"http://x\",\"y\")".to_owned(),
                "present".to_owned(),
            ],
            vec!["Ada \"the\" first, PhD".to_owned(), "-3".to_owned()],
            vec!["@SUM(A1)".to_owned(), "+1".to_owned()],
            vec!["\tTab".to_owned(), "ok".to_owned()],
        ];
        let doc = document(&["name", "status"], &rows);
        assert_eq!(
            doc,
            "name,status\r\n\
             \"'=HYPERLINK(\"\"http://x\"\",\"\"y\"\")\",present\r\n\
             \"Ada \"\"the\"\" first, PhD\",'-3\r\n\
             '@SUM(A1),'+1\r\n\
             '\tTab,ok\r\n"
        );
        let mut r = ::csv::Reader::from_reader(doc.as_bytes());
        let back: Vec<Vec<String>> = r
            .records()
            .map(|r| r.unwrap().iter().map(String::from).collect())
            .collect();
        assert_eq!(back[1][0], "Ada \"the\" first, PhD");
        assert_eq!(back[0][0], "'=HYPERLINK(\"http://x\",\"y\")");
    }
}
