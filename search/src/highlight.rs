//! Highlights: byte ranges of a hit's texts that the query matched.
//!
//! Chinese words are found as substrings, so a match inside a longer word
//! (`处理` in `待处理`) is marked exactly where it is. Latin words are
//! found by word: the same word, the same stem, within the query's edit
//! distance, or (the last word typed) as a prefix.

use tantivy::tokenizer::TextAnalyzer;

use crate::query::Needles;
use crate::request::Highlight;
use crate::tokenizer;

/// The highlights of `texts` (field name, text) for `needles`; texts with
/// no match are left out.
pub fn highlights(needles: &Needles, texts: &[(&str, &str)]) -> Vec<Highlight> {
    let mut words = tokenizer::words();
    let mut english = tokenizer::english();
    let stems: Vec<String> = needles
        .latin
        .iter()
        .filter_map(|(w, _)| tokenizer::token_texts(&mut english, w).into_iter().next())
        .collect();
    let mut out = Vec::new();
    for (field, text) in texts {
        let mut ranges = Vec::new();
        for needle in &needles.chinese {
            if needle.is_empty() {
                continue;
            }
            ranges.extend(
                text.match_indices(needle.as_str())
                    .map(|(at, m)| (at, at + m.len())),
            );
        }
        if !needles.latin.is_empty() {
            latin_ranges(needles, &stems, text, &mut words, &mut english, &mut ranges);
        }
        if ranges.is_empty() {
            continue;
        }
        ranges.sort_unstable();
        let mut merged: Vec<(usize, usize)> = Vec::new();
        for (from, to) in ranges {
            match merged.last_mut() {
                Some(last) if from <= last.1 => last.1 = last.1.max(to),
                _ => merged.push((from, to)),
            }
        }
        out.push(Highlight {
            field: (*field).to_owned(),
            text: (*text).to_owned(),
            ranges: merged,
        });
    }
    out
}

fn latin_ranges(
    needles: &Needles,
    stems: &[String],
    text: &str,
    words: &mut TextAnalyzer,
    english: &mut TextAnalyzer,
    ranges: &mut Vec<(usize, usize)>,
) {
    let mut stream = words.token_stream(text);
    while tantivy::tokenizer::TokenStream::advance(&mut stream) {
        let token = tantivy::tokenizer::TokenStream::token(&stream);
        let word = token.text.as_str();
        let hit = needles
            .latin
            .iter()
            .any(|(needle, distance)| word == needle || within(word, needle, *distance))
            || needles
                .prefix
                .as_deref()
                .is_some_and(|p| word.starts_with(p))
            || tokenizer::token_texts(english, word)
                .first()
                .is_some_and(|stem| stems.contains(stem));
        if hit {
            ranges.push((token.offset_from, token.offset_to));
        }
    }
}

/// Whether `a` is within `max` edits of `b` (insert, delete, substitute,
/// swap two neighbours).
pub fn within(a: &str, b: &str, max: u8) -> bool {
    if max == 0 {
        return a == b;
    }
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    if a.len().abs_diff(b.len()) > usize::from(max) {
        return false;
    }
    let width = b.len() + 1;
    let mut d = vec![0usize; (a.len() + 1) * width];
    for i in 0..=a.len() {
        d[i * width] = i;
    }
    for (j, cell) in d.iter_mut().enumerate().take(width) {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[(i - 1) * width + j] + 1)
                .min(d[i * width + j - 1] + 1)
                .min(d[(i - 1) * width + j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[(i - 2) * width + j - 2] + 1);
            }
            d[i * width + j] = best;
        }
    }
    d[a.len() * width + b.len()] <= usize::from(max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chinese_word_inside_a_longer_one_is_marked_where_it_is() {
        let needles = Needles {
            chinese: vec!["处理".into()],
            ..Needles::default()
        };
        let text = "订单待处理队列";
        let found = highlights(&needles, &[("name.zh", text)]);
        let (from, to) = found[0].ranges[0];
        assert_eq!(&text[from..to], "处理");
    }

    #[test]
    fn latin_words_match_by_typo_stem_and_prefix() {
        let needles = Needles {
            latin: vec![("windwos".into(), 1), ("instances".into(), 2)],
            prefix: Some("mys".into()),
            ..Needles::default()
        };
        let text = "Windows instance, MySQL 8.0";
        let found = highlights(&needles, &[("name.en", text)]);
        let marked: Vec<&str> = found[0].ranges.iter().map(|(f, t)| &text[*f..*t]).collect();
        assert_eq!(marked, ["Windows", "instance", "MySQL"]);
        assert!(highlights(&needles, &[("name.en", "nothing here")]).is_empty());
    }

    #[test]
    fn edit_distance_counts_a_swap_as_one() {
        assert!(within("windwos", "windows", 1));
        assert!(within("msyql", "mysql", 1));
        assert!(!within("redis", "mysql", 2));
        assert!(within("postgre", "postgres", 1));
    }
}
