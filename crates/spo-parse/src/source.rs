//! Byte offsets to line and column.

/// Line starts of a text, for turning byte offsets into 1-based line and
/// column numbers (columns count characters, not bytes).
///
/// A lookup costs O(log lines) and, for text that is not ASCII, a count
/// of at most `BLOCK` bytes: characters are counted once, per block, when
/// the map is made. A file on one long line (minified JSON) with a
/// diagnostic per value thus costs linear time, not quadratic.
#[derive(Debug, Clone)]
pub struct SourceMap<'a> {
    text: &'a str,
    line_starts: Vec<usize>,
    /// Characters before each [`BLOCK`]-byte block; empty for ASCII text.
    chars_before_block: Vec<usize>,
}

/// Bytes per block of the character count.
const BLOCK: usize = 64;

fn is_char_start(b: u8) -> bool {
    b & 0xC0 != 0x80
}

impl<'a> SourceMap<'a> {
    /// Index `text`.
    pub fn new(text: &'a str) -> Self {
        let mut line_starts = vec![0];
        line_starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        let mut chars_before_block = Vec::new();
        if !text.is_ascii() {
            let mut n = 0;
            for block in text.as_bytes().chunks(BLOCK) {
                chars_before_block.push(n);
                n += block.iter().filter(|b| is_char_start(**b)).count();
            }
            // The end of a text whose length is a multiple of BLOCK starts
            // a block of its own.
            chars_before_block.push(n);
        }
        SourceMap { text, line_starts, chars_before_block }
    }

    /// Characters before byte `offset`.
    fn chars_before(&self, offset: usize) -> usize {
        if self.chars_before_block.is_empty() {
            return offset;
        }
        let block = offset / BLOCK;
        let from = block * BLOCK;
        self.chars_before_block[block]
            + self.text.as_bytes()[from..offset].iter().filter(|b| is_char_start(**b)).count()
    }

    /// 1-based line and column of byte `offset` (clamped to the text).
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let line = self.line_starts.partition_point(|&s| s <= offset) - 1;
        let start = self.line_starts[line];
        let col = self.chars_before(offset) - self.chars_before(start) + 1;
        (line + 1, col)
    }

    /// The text of 1-based line `line`, without its newline.
    pub fn line_text(&self, line: usize) -> &'a str {
        let Some(&start) = self.line_starts.get(line.wrapping_sub(1)) else { return "" };
        let end = self.line_starts.get(line).map_or(self.text.len(), |&e| e - 1);
        self.text.get(start..end).unwrap_or("").trim_end_matches('\r')
    }

    /// Byte offset of the start of 1-based `line`, if it exists.
    pub fn line_start(&self, line: usize) -> Option<usize> {
        self.line_starts.get(line.checked_sub(1)?).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::SourceMap;

    #[test]
    fn offsets_map_to_lines_and_columns() {
        let m = SourceMap::new("ab\ncdé\nf");
        assert_eq!(m.line_col(0), (1, 1));
        assert_eq!(m.line_col(3), (2, 1));
        assert_eq!(m.line_col(7), (2, 4));
        assert_eq!(m.line_col(8), (3, 1));
        assert_eq!(m.line_text(2), "cdé");
        assert_eq!(m.line_text(9), "");
    }

    #[test]
    fn columns_count_characters_across_blocks() {
        let text = format!("{}\n{}x", "é".repeat(100), "ü".repeat(70));
        let m = SourceMap::new(&text);
        let x = text.find('x').unwrap();
        assert_eq!(m.line_col(x), (2, 71));
        assert_eq!(m.line_col(text.find('\n').unwrap()), (1, 101));
        // Inside a character: counted as the character it is in.
        assert_eq!(m.line_col(3), (1, 3));
    }

    #[test]
    fn the_end_of_a_text_that_fills_its_last_block() {
        // 64 two-byte characters: 128 bytes, two whole blocks. The end of
        // the text counted no characters before it, and the column
        // subtracted past zero (found by the documents_validate fuzzer: an
        // error at the end of a 512-byte file).
        for text in ["é".repeat(64), format!("{}\n{}x", "é".repeat(31), "ü".repeat(32))] {
            assert_eq!(text.len() % 64, 0);
            let m = SourceMap::new(&text);
            let last = text.rsplit('\n').next().unwrap().chars().count();
            assert_eq!(m.line_col(text.len()), (text.lines().count(), last + 1), "{text}");
        }
    }
}
