//! CSV downloads (the audit log export, and any later one): UTF-8 with a BOM so Excel
//! reads Japanese, CRLF rows, and every cell passed through [`neutralise`] so a
//! spreadsheet never runs a value as a formula (OWASP "CSV Injection").

use std::borrow::Cow;

use renkei_service::ServiceError;

/// A cell a spreadsheet would read as a formula (it begins with `=`, `+`, `-`, `@`, a
/// tab or a carriage return) gets a leading single quote, which makes it text. Other
/// cells are unchanged.
pub fn neutralise(cell: &str) -> Cow<'_, str> {
    if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        Cow::Owned(format!("'{cell}"))
    } else {
        Cow::Borrowed(cell)
    }
}

/// A CSV document being written row by row; every cell is neutralised.
pub struct CsvExport {
    writer: csv::Writer<Vec<u8>>,
}

fn failed(e: impl std::fmt::Display) -> ServiceError {
    ServiceError::from(anyhow::anyhow!("csv: {e}"))
}

impl Default for CsvExport {
    fn default() -> Self {
        Self::new()
    }
}

impl CsvExport {
    pub fn new() -> CsvExport {
        CsvExport {
            writer: csv::WriterBuilder::new()
                .terminator(csv::Terminator::CRLF)
                .from_writer(Vec::new()),
        }
    }

    /// Writes one row.
    pub fn row<'a>(
        &mut self,
        cells: impl IntoIterator<Item = &'a str>,
    ) -> Result<(), ServiceError> {
        self.writer
            .write_record(cells.into_iter().map(|c| neutralise(c).into_owned()))
            .map_err(failed)
    }

    /// The document: BOM, then the rows.
    pub fn finish(self) -> Result<Vec<u8>, ServiceError> {
        let body = self.writer.into_inner().map_err(failed)?;
        let mut bytes = Vec::with_capacity(body.len() + 3);
        bytes.extend_from_slice(b"\xEF\xBB\xBF");
        bytes.extend_from_slice(&body);
        Ok(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formula_cells_become_text() {
        for cell in [
            "=1+1",
            "+81-3",
            "-2+3",
            "@SUM(A1)",
            "\tx",
            "\rx",
            "=HYPERLINK(\"http://e\")",
        ] {
            assert_eq!(neutralise(cell), format!("'{cell}"), "{cell:?}");
        }
        for cell in ["佐藤 花子", "", "192.0.2.1", "1=1", " =1", "'quoted", "—"] {
            assert_eq!(neutralise(cell), cell);
        }
    }

    #[test]
    fn documents_have_a_bom_crlf_and_no_formula_cells() {
        let mut csv = CsvExport::new();
        csv.row(["名前", "値"]).expect("header");
        csv.row(["=cmd|' /C calc'!A0", "a,\"b\""]).expect("row");
        let bytes = csv.finish().expect("finish");
        assert!(bytes.starts_with(b"\xEF\xBB\xBF"));
        let text = std::str::from_utf8(&bytes[3..]).expect("utf-8");
        assert_eq!(text, "名前,値\r\n'=cmd|' /C calc'!A0,\"a,\"\"b\"\"\"\r\n");
    }
}
