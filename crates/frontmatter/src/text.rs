//! Small helpers over byte offsets in text: lines, columns, line endings.

/// The largest char boundary of `text` that is `<= offset`.
pub(crate) fn floor_boundary(text: &str, offset: usize) -> usize {
    let mut i = offset.min(text.len());
    while i > 0 && !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// 1-based line and column (in characters) of byte `offset` in `text`.
pub(crate) fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = floor_boundary(text, offset);
    let before = &text.as_bytes()[..offset];
    let line = memchr::memchr_iter(b'\n', before).count() + 1;
    let start = line_start(text, offset);
    let column = text.get(start..offset).map_or(0, |s| s.chars().count()) + 1;
    (line, column)
}

/// Byte offset where the 1-based `line` starts (clamped to the end).
pub(crate) fn offset_of_line(text: &str, line: usize) -> usize {
    if line <= 1 {
        return 0;
    }
    memchr::memchr_iter(b'\n', text.as_bytes())
        .nth(line - 2)
        .map_or(text.len(), |i| i + 1)
}

/// Start of the line that contains byte `offset`.
pub(crate) fn line_start(text: &str, offset: usize) -> usize {
    let offset = offset.min(text.len());
    memchr::memrchr(b'\n', &text.as_bytes()[..offset]).map_or(0, |i| i + 1)
}

/// Offset just past the line break of the line containing `offset`
/// (the start of the next line), or the end of the text.
pub(crate) fn next_line_start(text: &str, offset: usize) -> usize {
    let offset = offset.min(text.len());
    memchr::memchr(b'\n', &text.as_bytes()[offset..]).map_or(text.len(), |i| offset + i + 1)
}

/// Offset of the line break (`\r\n` or `\n`) that ends the line containing
/// `offset`, or the end of the text: the end of the line's content.
pub(crate) fn line_content_end(text: &str, offset: usize) -> usize {
    let offset = offset.min(text.len());
    match memchr::memchr(b'\n', &text.as_bytes()[offset..]) {
        Some(i) => {
            let nl = offset + i;
            if nl > offset && text.as_bytes().get(nl - 1) == Some(&b'\r') {
                nl - 1
            } else {
                nl
            }
        }
        None => text.len(),
    }
}

/// The line ending a file uses, judged by its first line break.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Eol {
    Lf,
    CrLf,
}

impl Eol {
    pub(crate) fn detect(text: &str) -> Eol {
        match memchr::memchr(b'\n', text.as_bytes()) {
            Some(i) if i > 0 && text.as_bytes()[i - 1] == b'\r' => Eol::CrLf,
            _ => Eol::Lf,
        }
    }

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Eol::Lf => "\n",
            Eol::CrLf => "\r\n",
        }
    }
}

/// Rewrites every bare `\n` in `text` as `\r\n`.
pub(crate) fn to_crlf(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 16);
    let mut prev = '\0';
    for c in text.chars() {
        if c == '\n' && prev != '\r' {
            out.push('\r');
        }
        out.push(c);
        prev = c;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions() {
        let t = "ab\r\ncé\nx";
        assert_eq!(line_col(t, 0), (1, 1));
        assert_eq!(line_col(t, 4), (2, 1));
        assert_eq!(line_col(t, 7), (2, 3));
        assert_eq!(line_col(t, 6), (2, 2), "inside a char: floor");
        assert_eq!(line_col(t, 8), (3, 1));
        assert_eq!(line_col(t, 100), (3, 2));
        assert_eq!(line_start(t, 5), 4);
        assert_eq!(next_line_start(t, 0), 4);
        assert_eq!(line_content_end(t, 0), 2);
        assert_eq!(line_content_end(t, 4), 7);
        assert_eq!(line_content_end(t, 9), 9);
        assert_eq!(offset_of_line(t, 1), 0);
        assert_eq!(offset_of_line(t, 2), 4);
        assert_eq!(offset_of_line(t, 3), 8);
        assert_eq!(offset_of_line(t, 9), 9);
    }

    #[test]
    fn eol() {
        assert_eq!(Eol::detect("a\r\nb\n"), Eol::CrLf);
        assert_eq!(Eol::detect("a\nb\r\n"), Eol::Lf);
        assert_eq!(Eol::detect("ab"), Eol::Lf);
        assert_eq!(to_crlf("a\nb\r\nc\n"), "a\r\nb\r\nc\r\n");
    }
}
