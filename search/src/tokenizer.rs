//! The index's tokenisers.
//!
//! - [`ChineseTokenizer`]: jieba's search-mode cut (overlapping words:
//!   `通用型云服务器` gives `通用`, `通用型`, `服务`, `服务器`, `云服务器`…),
//!   punctuation and whitespace dropped, Latin words lowercased. The
//!   dictionary is loaded once and shared behind an [`Arc`]: Tantivy clones
//!   a field's tokeniser for every query parse and every indexing thread,
//!   and a clone that copied the dictionary would cost about 20 ms.
//! - [`CjkCharTokenizer`]: one token per Chinese character, positions in a
//!   row. Phrase queries over it find a word inside any longer word (`处理`
//!   in `待处理`, `蝶` in `蝴蝶`), whatever jieba made of either: the
//!   recall guarantee that word segmentation alone cannot give.
//! - [`CjkBigramTokenizer`]: pairs of neighbouring characters, the same
//!   phrases over shorter posting lists (words of two characters or more).
//! - English ([`ENGLISH`]): split on non-alphanumerics, lowercased, stemmed;
//!   [`WORDS`] the same without stemming, for typo tolerance and prefixes.

use std::sync::{Arc, LazyLock};

use jieba_rs::Jieba;
use tantivy::tokenizer::{
    Language, LowerCaser, RemoveLongFilter, SimpleTokenizer, Stemmer, TextAnalyzer, Token,
    TokenStream, Tokenizer, TokenizerManager,
};

/// Name of the Chinese word tokeniser.
pub const CHINESE: &str = "shiyun_zh";
/// Name of the Chinese character tokeniser.
pub const CJK_CHARS: &str = "shiyun_cjk";
/// Name of the Chinese character-pair tokeniser.
pub const CJK_BIGRAMS: &str = "shiyun_cjk2";
/// Name of the stemmed English tokeniser.
pub const ENGLISH: &str = "shiyun_en";
/// Name of the unstemmed word tokeniser.
pub const WORDS: &str = "shiyun_words";

/// The one jieba dictionary of the process (loading it takes ~100 ms).
static DICTIONARY: LazyLock<Arc<Jieba>> = LazyLock::new(|| Arc::new(Jieba::new()));

/// The shared dictionary.
pub fn dictionary() -> Arc<Jieba> {
    Arc::clone(&DICTIONARY)
}

/// True for the characters the CJK tokeniser indexes: CJK unified
/// ideographs (with extension A) and compatibility ideographs.
pub fn is_cjk(c: char) -> bool {
    matches!(c,
        '\u{4E00}'..='\u{9FFF}' | '\u{3400}'..='\u{4DBF}' | '\u{F900}'..='\u{FAFF}')
}

/// Whether a token is worth keeping: it has a letter or a digit.
fn is_word(text: &str) -> bool {
    text.chars().any(char::is_alphanumeric)
}

/// jieba's search-mode words, as a Tantivy tokeniser.
#[derive(Clone)]
pub struct ChineseTokenizer {
    jieba: Arc<Jieba>,
    tokens: Vec<Token>,
}

impl ChineseTokenizer {
    /// A tokeniser over the shared dictionary.
    pub fn new(jieba: Arc<Jieba>) -> Self {
        ChineseTokenizer {
            jieba,
            tokens: Vec::new(),
        }
    }
}

/// Tokens produced ahead (jieba cuts the whole text at once).
pub struct BufferedTokens<'a> {
    tokens: &'a mut Vec<Token>,
    next: usize,
}

impl TokenStream for BufferedTokens<'_> {
    fn advance(&mut self) -> bool {
        self.next += 1;
        self.next <= self.tokens.len()
    }

    fn token(&self) -> &Token {
        &self.tokens[self.next - 1]
    }

    fn token_mut(&mut self) -> &mut Token {
        &mut self.tokens[self.next - 1]
    }
}

impl Tokenizer for ChineseTokenizer {
    type TokenStream<'a> = BufferedTokens<'a>;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> BufferedTokens<'a> {
        self.tokens.clear();
        let mut position = 0;
        for word in self.jieba.cut_for_search(text, false) {
            if !is_word(word.word) {
                continue;
            }
            self.tokens.push(Token {
                offset_from: word.byte_start,
                offset_to: word.byte_end,
                position,
                text: word.word.to_lowercase(),
                position_length: 1,
            });
            position += 1;
        }
        BufferedTokens {
            tokens: &mut self.tokens,
            next: 0,
        }
    }
}

/// One token per Chinese character; everything else is skipped.
#[derive(Clone, Default)]
pub struct CjkCharTokenizer {
    token: Token,
}

/// The stream of [`CjkCharTokenizer`].
pub struct CjkCharStream<'a> {
    chars: std::str::CharIndices<'a>,
    token: &'a mut Token,
}

impl Tokenizer for CjkCharTokenizer {
    type TokenStream<'a> = CjkCharStream<'a>;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> CjkCharStream<'a> {
        self.token.reset();
        CjkCharStream {
            chars: text.char_indices(),
            token: &mut self.token,
        }
    }
}

impl TokenStream for CjkCharStream<'_> {
    fn advance(&mut self) -> bool {
        for (offset, c) in self.chars.by_ref() {
            if is_cjk(c) {
                self.token.position = self.token.position.wrapping_add(1);
                self.token.offset_from = offset;
                self.token.offset_to = offset + c.len_utf8();
                self.token.text.clear();
                self.token.text.push(c);
                return true;
            }
        }
        false
    }

    fn token(&self) -> &Token {
        self.token
    }

    fn token_mut(&mut self) -> &mut Token {
        self.token
    }
}

/// Every pair of neighbouring Chinese characters, positions in a row; a
/// gap (any other character) skips a position, so a phrase never spans it.
/// A query word of two or more characters is a phrase of its pairs here:
/// the same match as a phrase of its characters, but over far shorter
/// posting lists (`服务` is rarer than `服` and `务`).
#[derive(Clone, Default)]
pub struct CjkBigramTokenizer {
    token: Token,
}

/// The stream of [`CjkBigramTokenizer`].
pub struct CjkBigramStream<'a> {
    text: &'a str,
    chars: std::iter::Peekable<std::str::CharIndices<'a>>,
    token: &'a mut Token,
    gap: bool,
}

impl Tokenizer for CjkBigramTokenizer {
    type TokenStream<'a> = CjkBigramStream<'a>;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> CjkBigramStream<'a> {
        self.token.reset();
        CjkBigramStream {
            text,
            chars: text.char_indices().peekable(),
            token: &mut self.token,
            gap: false,
        }
    }
}

impl TokenStream for CjkBigramStream<'_> {
    fn advance(&mut self) -> bool {
        while let Some((offset, c)) = self.chars.next() {
            if !is_cjk(c) {
                self.gap = true;
                continue;
            }
            let Some(&(next_offset, next)) = self.chars.peek() else {
                return false;
            };
            if !is_cjk(next) {
                continue;
            }
            let step = if self.gap { 2 } else { 1 };
            self.gap = false;
            self.token.position = self.token.position.wrapping_add(step);
            self.token.offset_from = offset;
            self.token.offset_to = next_offset + next.len_utf8();
            self.token.text.clear();
            self.token
                .text
                .push_str(&self.text[offset..self.token.offset_to]);
            return true;
        }
        false
    }

    fn token(&self) -> &Token {
        self.token
    }

    fn token_mut(&mut self) -> &mut Token {
        self.token
    }
}

/// The stemmed English analyser.
pub fn english() -> TextAnalyzer {
    TextAnalyzer::builder(SimpleTokenizer::default())
        .filter(RemoveLongFilter::limit(48))
        .filter(LowerCaser)
        .filter(Stemmer::new(Language::English))
        .build()
}

/// The unstemmed, lowercased word analyser.
pub fn words() -> TextAnalyzer {
    TextAnalyzer::builder(SimpleTokenizer::default())
        .filter(RemoveLongFilter::limit(48))
        .filter(LowerCaser)
        .build()
}

/// Registers the analysers under their names.
pub fn register(manager: &TokenizerManager) {
    manager.register(
        CHINESE,
        TextAnalyzer::builder(ChineseTokenizer::new(dictionary())).build(),
    );
    manager.register(
        CJK_CHARS,
        TextAnalyzer::builder(CjkCharTokenizer::default()).build(),
    );
    manager.register(
        CJK_BIGRAMS,
        TextAnalyzer::builder(CjkBigramTokenizer::default()).build(),
    );
    manager.register(ENGLISH, english());
    manager.register(WORDS, words());
}

/// The texts of `analyzer`'s tokens of `text`.
pub fn token_texts(analyzer: &mut TextAnalyzer, text: &str) -> Vec<String> {
    let mut stream = analyzer.token_stream(text);
    let mut out = Vec::new();
    while stream.advance() {
        out.push(stream.token().text.clone());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chinese(text: &str) -> Vec<String> {
        let mut analyzer = TextAnalyzer::builder(ChineseTokenizer::new(dictionary())).build();
        token_texts(&mut analyzer, text)
    }

    #[test]
    fn chinese_words_overlap_and_drop_punctuation() {
        let tokens = chinese("通用型云服务器，ECS 4核8G（上海）");
        assert!(tokens.contains(&"服务器".to_owned()), "{tokens:?}");
        assert!(tokens.contains(&"ecs".to_owned()), "{tokens:?}");
        assert!(
            tokens.iter().all(|t| is_word(t)),
            "punctuation or space kept: {tokens:?}"
        );
        assert!(!tokens.iter().any(|t| t.trim().is_empty()));
    }

    #[test]
    fn cjk_characters_are_single_tokens_with_byte_offsets() {
        let mut analyzer = TextAnalyzer::builder(CjkCharTokenizer::default()).build();
        let text = "a蝴蝶b";
        let mut stream = analyzer.token_stream(text);
        let mut seen = Vec::new();
        while stream.advance() {
            let t = stream.token();
            seen.push((
                t.text.clone(),
                &text[t.offset_from..t.offset_to],
                t.position,
            ));
        }
        assert_eq!(
            seen,
            vec![("蝴".to_owned(), "蝴", 0), ("蝶".to_owned(), "蝶", 1)]
        );
    }

    #[test]
    fn cjk_pairs_do_not_span_a_gap() {
        let mut analyzer = TextAnalyzer::builder(CjkBigramTokenizer::default()).build();
        let text = "云服务器 a上海";
        let mut stream = analyzer.token_stream(text);
        let mut seen = Vec::new();
        while stream.advance() {
            let t = stream.token();
            seen.push((
                t.text.clone(),
                &text[t.offset_from..t.offset_to],
                t.position,
            ));
        }
        let texts: Vec<&str> = seen.iter().map(|s| s.1).collect();
        assert_eq!(texts, ["云服", "服务", "务器", "上海"]);
        let positions: Vec<usize> = seen.iter().map(|s| s.2).collect();
        assert_eq!(positions, [0, 1, 2, 4]);
    }

    #[test]
    fn english_is_lowercased_and_stemmed() {
        assert_eq!(
            token_texts(&mut english(), "Running Instances"),
            ["run", "instanc"]
        );
        assert_eq!(
            token_texts(&mut words(), "ecs.g7.2xlarge Windows"),
            ["ecs", "g7", "2xlarge", "windows"]
        );
    }

    /// Guards the shared dictionary: Tantivy clones an analyser per query
    /// parse, and a clone that copied jieba's dictionary (~20 ms each)
    /// instead of sharing it would show here as a count that does not move.
    #[test]
    fn cloning_the_chinese_analyzer_shares_the_dictionary() {
        let jieba = Arc::new(Jieba::empty());
        let analyzer = TextAnalyzer::builder(ChineseTokenizer::new(Arc::clone(&jieba))).build();
        let before = Arc::strong_count(&jieba);
        let clones: Vec<TextAnalyzer> = (0..100).map(|_| analyzer.clone()).collect();
        assert_eq!(Arc::strong_count(&jieba), before + 100);
        drop(clones);
        assert_eq!(Arc::strong_count(&jieba), before);
    }
}
