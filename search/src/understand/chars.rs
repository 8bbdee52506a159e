//! Character classes and folding shared by the scanner and the lexicon.

/// One character as matched: ASCII lower-cased, full-width forms
/// (`４Ｃ８Ｇ`, `（`) as their ASCII twins, the ideographic space as a
/// space, other letters lower-cased where that keeps one character. One
/// character in, one out, so positions map back to the query's bytes.
pub(super) fn fold(c: char) -> char {
    if c.is_ascii() {
        return c.to_ascii_lowercase();
    }
    match c {
        '\u{3000}' => ' ',
        '\u{FF01}'..='\u{FF5E}' => {
            char::from_u32(u32::from(c) - 0xFEE0).map_or(c, |a| a.to_ascii_lowercase())
        }
        _ => {
            let mut lower = c.to_lowercase();
            match (lower.next(), lower.next()) {
                (Some(one), None) => one,
                _ => c,
            }
        }
    }
}

/// Han ideographs, kana and Hangul: scripts written without spaces, where
/// keys are found inside runs of text.
pub(super) fn is_cjk(c: char) -> bool {
    matches!(c,
        '\u{3005}' | '\u{3007}'
        | '\u{3040}'..='\u{30FF}'
        | '\u{3400}'..='\u{4DBF}'
        | '\u{4E00}'..='\u{9FFF}'
        | '\u{AC00}'..='\u{D7AF}'
        | '\u{F900}'..='\u{FAFF}'
        | '\u{20000}'..='\u{3134F}')
}

/// A character of a Latin word: a letter or digit of a spaced script.
pub(super) fn is_word(c: char) -> bool {
    c.is_alphanumeric() && !is_cjk(c)
}

/// Joins two parts of one word (`us-east-1`, `m5.2xlarge`, `xi'an`).
pub(super) fn is_connector(c: char) -> bool {
    matches!(c, '-' | '.' | '_' | '\'')
}

/// The end of the word starting at `i`: word characters, and connectors
/// between two of them.
pub(super) fn word_end(chars: &[char], mut i: usize) -> usize {
    let word_at = |j: usize| chars.get(j).copied().is_some_and(is_word);
    loop {
        while word_at(i) {
            i += 1;
        }
        if chars.get(i).copied().is_some_and(is_connector) && word_at(i + 1) {
            i += 1;
        } else {
            return i;
        }
    }
}
