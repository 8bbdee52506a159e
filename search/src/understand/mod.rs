//! Query understanding: specs, places and billing words in a query text
//! become structured filters ([`Chip`]s), and the rest stays text.
//!
//! One pass over the folded characters of the query (ASCII lower-cased,
//! full-width forms as ASCII: `４Ｃ８Ｇ` reads as `4c8g`), against a
//! lexicon built once. Latin words match whole and case-insensitively;
//! Chinese is matched inside runs of text (`上海4核8G`, `杭州按量`),
//! longest key first. No regular expressions, no per-call dictionaries.
//!
//! ## Rules
//!
//! - **vCPU** (exactly *n*, 1–1024): `4核`, `4 核`, `4核心`, `4c`, `4C`,
//!   `4 vCPU`, `4vcpu`, `4 cores`, `4-core`, `4 CPU`; Chinese numerals
//!   `四核`, `十六核`, `双核`, `单核` (only where the numeral starts a word:
//!   `统一核算` is no spec); `cpu 4`, `vCPU: 4` (a prefix and a bare
//!   number); sizes `large` = 2, `xlarge` = 4, `Nxlarge` = 4N as words of
//!   their own. `medium`, `small` and `metal` differ by family and stay
//!   text, as does a full SKU (`m5.2xlarge`, `ecs.g7.large`).
//! - **Memory** (exactly, in GiB, as a decimal, 0–65536): `8G`, `8GB`,
//!   `8GiB`, `8 GiB`, `0.5G` (up to three decimals), `512M`/`512MB`
//!   (MiB ÷ 1024, only whole multiples of 128 MiB, so `100M` bandwidth is
//!   not memory), `8G内存`, `内存8G`, `内存: 16`, `16GB RAM`. A bare `5G`
//!   means the network and stays text (`5GB`, `5G内存`, `2c5g` are memory);
//!   terabytes name disks and stay text. A size next to a storage or
//!   network word (`100G云盘`, `SSD 500G`, `带宽 5M`, `24G显存`) is not
//!   memory.
//! - **Combined** vCPU and memory: `4核8G`, `4c8g`, `4C8G`, `4c-8g`,
//!   `4C/8G`, `2u4g` (`u` only with memory after it), `4 vCPU 16GiB`.
//!   A bare `4/8` is ambiguous and stays text.
//! - **GPU**: a model word (`A100`, `a10g`, `H800`, `T4`, `MI250X`, … see
//!   `lexicon::GPU_MODELS`) is a lowercase model chip, with `GPU`/`显卡`/`卡`
//!   next to it and `NVIDIA`/`英伟达` before it taken into its words and a
//!   memory variant (`A100-80G`, `A100 80GB`) too. Counts are exact (1–64):
//!   `8卡`, `8张卡`, `双卡`, `8 GPU`, `8*A100`, `2 x A100`, `8xA100`,
//!   `A100x8`. `GPU` or `显卡` alone is at least one GPU; next to a model
//!   or a count that chip would say nothing more, so it is dropped and its
//!   word taken out of the text.
//! - **Places**, from `shiyun_core::geography`: a city's Chinese or
//!   English name, id or alias is a city chip (`上海`, `Shanghai`, `sha`,
//!   `hong kong`); a country name is a country chip (`中国`, `美国`,
//!   `japan`); a region alias is a regions chip with every storefront
//!   region it names, sorted (`华东`, `us-east`, `欧洲`); a region's display
//!   name, its numbered short name (`华东1`) or its code typed whole
//!   (`cn-hangzhou`, `us-east-1`, `eastus`) is a regions chip of that
//!   region. Where one word is several of these, a city wins over a
//!   country (`ireland` is Dublin in the table), a country over an alias
//!   (`日本`), an alias over a code (`us-east`). One-character aliases
//!   (`沪`, `京`) count only standing alone (`京东` is no place); airport
//!   codes that are English or tech words (`can`, `was`, `arn`, `dc`) and
//!   topic aliases (`金融`, `test`) are not places. `地域`, `地区`, `区域`,
//!   `region` and an ending `市` after a place belong to it.
//! - **Billing**: `按量`, `按量付费`, `按需`, `后付费`, `按小时`, `payg`,
//!   `pay-as-you-go`, `on-demand`, `on demand` → on demand; `包月` →
//!   monthly; `包年` → yearly; `包年包月`, `预付费`, `subscription` →
//!   monthly or yearly; `竞价`, `竞价实例`, `抢占式`, `spot`, `preemptible`
//!   → spot; `预留`, `预留实例`, `reserved`, `RI` → reserved 12 or 36
//!   months, or the term typed with it (`1年预留`, `预留3年`,
//!   `reserved 3 years`, `3-year RI`). `按需求` ("as required") stays text.
//! - **Chips** carry the exact words they came from (`source`, with byte
//!   offsets into the query), a label in both languages, and come in the
//!   order of their words. The same filter twice keeps the first chip;
//!   different values of one field are all kept. At most 32 chips; the
//!   rest of a longer query stays text.
//! - **Text** left over: the query without the chips' words (nor a `的`
//!   right after one, nor dropped duplicates), whitespace collapsed,
//!   pieces of bare punctuation between chips dropped. Without chips the
//!   text is only whitespace-collapsed.
//!
//! Never panics; absurd numbers (`99999999999核`, `0核`, `100000G`) stay
//! text.

mod chars;
mod lexicon;
#[cfg(test)]
mod tests;

use rust_decimal::Decimal;
use shiyun_core::listing::{BillingMode, LocalizedText};

use crate::request::{Chip, ChipFilter, Range, Understood};
use chars::{fold, is_cjk, is_connector, is_word, word_end};
use lexicon::{Billing, LEXICON, Lexicon, Meaning};

/// What `text` asks for: chips for the specs, places and billing words it
/// names, and the text left over. See the [module docs](self) for the rules.
pub fn understand(text: &str) -> Understood {
    let mut scan = Scan::new(text);
    scan.run();
    scan.finish()
}

const MAX_CHIPS: usize = 32;
const MAX_VCPU: u32 = 1024;
const MAX_GPUS: u32 = 64;
const MAX_MEMORY_GIB: u32 = 65536;
const MAX_YEARS: u32 = 10;

const VCPU_UNITS: &[&str] = &[
    "核心", "核", "vcpus", "vcpu", "vcores", "vcore", "cpus", "cpu", "cores", "core",
];
const VCPU_SUFFIX: &[&str] = &["vcpus", "vcpu", "cpus", "cpu"];
const MEMORY_UNITS: &[&str] = &["gib", "gb", "g", "mib", "mb", "m"];
const MEMORY_WORDS: &[&str] = &["内存", "memory", "mem", "ram"];
const GPU_UNITS: &[&str] = &[
    "张显卡",
    "块显卡",
    "张卡",
    "块卡",
    "显卡",
    "卡",
    "gpus",
    "gpu",
];
const CN_GPU_UNITS: &[&str] = &["张显卡", "块显卡", "张卡", "块卡", "卡"];
const GPU_SUFFIX: &[&str] = &["显卡", "gpus", "gpu", "卡"];
/// Memory sizes of GPU models' variants (`A100 80GB`).
const GPU_MEMORY_GB: &[u32] = &[16, 20, 24, 32, 40, 48, 64, 80, 94, 96, 141, 192];
/// After `卡`, these make another word (`一卡通`, `卡片`).
const CARD_FALSE_FRIENDS: &[char] = &['通', '片', '号', '券'];
const YEAR_UNITS: &[&str] = &["年期", "年", "years", "year", "yrs", "yr"];
const RESERVED_WORDS: &[&str] = &[
    "预留实例券",
    "预留实例",
    "预留",
    "reserved instances",
    "reserved instance",
    "reserved",
    "ri",
];
const PLACE_SUFFIX: &[&str] = &["地域", "地区", "区域", "节点", "机房", "regions", "region"];
const BILLING_SUFFIX: &[&str] = &["实例", "instances", "instance"];
/// Next to a size, these make it a disk, bandwidth or GPU memory.
const VETO_CJK: &[&str] = &[
    "云盘",
    "硬盘",
    "磁盘",
    "系统盘",
    "数据盘",
    "盘",
    "存储",
    "空间",
    "带宽",
    "宽带",
    "流量",
    "网络",
    "网速",
    "显存",
];
const VETO_LATIN: &[&str] = &[
    "ssd",
    "hdd",
    "nvme",
    "disk",
    "disks",
    "storage",
    "bandwidth",
    "traffic",
    "network",
    "vram",
];

/// A number as typed.
struct Num {
    end: usize,
    /// Whole and at most nine digits.
    int: Option<u32>,
    /// At most nine digits and six decimals.
    value: Option<Decimal>,
}

/// Where a memory size stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum MemCtx {
    /// On its own: needs a unit; `5G` is the network.
    Bare,
    /// After a vCPU count (`4c8g`).
    Combo,
    /// After `内存`/`memory`: the unit may be left out.
    Prefixed,
}

/// A GPU model found, with a count typed on it (`A100x8`).
struct ModelMatch {
    name: &'static str,
    /// End of the model's words.
    end: usize,
    /// The count's digits (start, end) and value.
    count: Option<(usize, usize, u32)>,
}

/// A chip in the making, over character positions.
struct Found {
    start: usize,
    end: usize,
    filter: ChipFilter,
    zh: String,
    en: String,
    /// `GPU` alone: dropped when a model or count says more.
    weak: bool,
}

struct Scan<'t> {
    text: &'t str,
    /// Folded characters.
    chars: Vec<char>,
    /// Byte offset of each character in `text`.
    at: Vec<usize>,
    found: Vec<Found>,
    /// Taken out of the text without a chip of their own.
    fillers: Vec<(usize, usize)>,
    /// End of the last chip or filler.
    last_end: usize,
    lex: &'static Lexicon,
    /// Reused for Latin word lookups.
    word: String,
}

impl<'t> Scan<'t> {
    fn new(text: &'t str) -> Self {
        let mut chars = Vec::with_capacity(text.len());
        let mut at = Vec::with_capacity(text.len());
        for (i, c) in text.char_indices() {
            at.push(i);
            chars.push(fold(c));
        }
        Scan {
            text,
            chars,
            at,
            found: Vec::new(),
            fillers: Vec::new(),
            last_end: 0,
            lex: &LEXICON,
            word: String::new(),
        }
    }

    fn run(&mut self) {
        let mut i = 0;
        while self.found.len() < MAX_CHIPS {
            let Some(c) = self.ch(i) else { break };
            let next = if is_word(c) {
                let spec = if c.is_ascii_digit() {
                    self.digit_spec(i)
                } else {
                    None
                };
                spec.or_else(|| self.model_spec(i))
                    .or_else(|| self.latin_keyword(i))
                    .unwrap_or_else(|| word_end(&self.chars, i))
            } else if is_cjk(c) {
                if c == '的' && i > 0 && i == self.last_end {
                    self.filler(i, i + 1);
                    i + 1
                } else {
                    self.cn_spec(i)
                        .or_else(|| self.cjk_keyword(i))
                        .unwrap_or(i + 1)
                }
            } else {
                i + 1
            };
            i = next.max(i + 1);
        }
    }

    // ---- characters -------------------------------------------------

    fn ch(&self, i: usize) -> Option<char> {
        self.chars.get(i).copied()
    }

    fn word_at(&self, i: usize) -> bool {
        self.ch(i).is_some_and(is_word)
    }

    /// Whether a word ends at `e` (not inside `m5.2xlarge` nor `4c8`).
    fn boundary(&self, e: usize) -> bool {
        let joined = self.ch(e).is_some_and(is_connector) && self.word_at(e + 1);
        !(self.word_at(e) || joined)
    }

    fn skip_ws(&self, mut j: usize) -> usize {
        while self.ch(j).is_some_and(char::is_whitespace) {
            j += 1;
        }
        j
    }

    /// Spaces and colons: `内存：16G`, `vCPU: 4`.
    fn skip_ws_colon(&self, mut j: usize) -> usize {
        while self.ch(j).is_some_and(|c| c.is_whitespace() || c == ':') {
            j += 1;
        }
        j
    }

    /// Between a number and its unit: spaces, or one dash (`4-core`).
    fn unit_gap(&self, j: usize) -> usize {
        let k = self.skip_ws(j);
        if k == j && self.ch(j) == Some('-') {
            j + 1
        } else {
            k
        }
    }

    fn eat(&self, j: usize, lit: &str) -> Option<usize> {
        let mut k = j;
        for c in lit.chars() {
            if self.ch(k)? != c {
                return None;
            }
            k += 1;
        }
        Some(k)
    }

    fn eat_chars(&self, j: usize, lit: &[char]) -> Option<usize> {
        let end = j.checked_add(lit.len())?;
        (self.chars.get(j..end)? == lit).then_some(end)
    }

    /// The first of `units` at `j`; a Latin one must end its word.
    fn eat_unit(&self, j: usize, units: &[&'static str]) -> Option<(usize, &'static str)> {
        let first = self.ch(j)?;
        units
            .iter()
            .filter(|u| u.chars().next().is_some_and(|c| c == first))
            .find_map(|unit| {
                let e = self.eat(j, unit)?;
                let latin = unit.chars().last().is_some_and(|c| c.is_ascii_alphabetic());
                (!latin || !self.word_at(e)).then_some((e, *unit))
            })
    }

    /// The end of one of `words` after `e` and spaces.
    fn word_after(&self, e: usize, words: &[&'static str]) -> Option<usize> {
        let (end, word) = self.eat_unit(self.skip_ws(e), words)?;
        (word != "卡" || self.card_ok(end)).then_some(end)
    }

    fn card_ok(&self, after: usize) -> bool {
        !self
            .ch(after)
            .is_some_and(|c| CARD_FALSE_FRIENDS.contains(&c))
    }

    fn ends_with(&self, k: usize, lit: &str) -> bool {
        let mut j = k;
        for c in lit.chars().rev() {
            if j == 0 || self.ch(j - 1) != Some(c) {
                return false;
            }
            j -= 1;
        }
        true
    }

    fn digit(&self, j: usize) -> Option<u64> {
        self.ch(j)
            .filter(char::is_ascii_digit)
            .and_then(|c| c.to_digit(10))
            .map(u64::from)
    }

    fn number(&self, i: usize) -> Option<Num> {
        let (mut j, mut int, mut digits) = (i, 0u64, 0usize);
        while let Some(d) = self.digit(j) {
            if digits < 18 {
                int = int * 10 + d;
            }
            digits += 1;
            j += 1;
        }
        if digits == 0 {
            return None;
        }
        let (mut frac, mut decimals) = (0u64, 0usize);
        if self.ch(j) == Some('.') && self.digit(j + 1).is_some() {
            j += 1;
            while let Some(d) = self.digit(j) {
                if decimals < 18 {
                    frac = frac * 10 + d;
                }
                decimals += 1;
                j += 1;
            }
        }
        let value = if digits <= 9 && decimals <= 6 {
            let scale = u32::try_from(decimals).unwrap_or(0);
            i64::try_from(int * 10u64.pow(scale) + frac)
                .ok()
                .map(|mantissa| Decimal::new(mantissa, scale))
        } else {
            None
        };
        let int = if decimals == 0 && digits <= 9 {
            u32::try_from(int).ok()
        } else {
            None
        };
        Some(Num { end: j, int, value })
    }

    /// `四`, `十六`, `三十二`, `两`, `双`, `单`.
    fn cn_number(&self, i: usize) -> Option<(u32, usize)> {
        fn digit(c: char) -> Option<u32> {
            Some(match c {
                '一' => 1,
                '二' | '两' => 2,
                '三' => 3,
                '四' => 4,
                '五' => 5,
                '六' => 6,
                '七' => 7,
                '八' => 8,
                '九' => 9,
                _ => return None,
            })
        }
        let first = self.ch(i)?;
        match first {
            '双' => return Some((2, i + 1)),
            '单' => return Some((1, i + 1)),
            _ => {}
        }
        let (tens, j) = match digit(first) {
            Some(d) if self.ch(i + 1) == Some('十') => (d * 10, i + 2),
            Some(d) => return Some((d, i + 1)),
            None if first == '十' => (10, i + 1),
            None => return None,
        };
        match self.ch(j).and_then(digit) {
            Some(d) => Some((tens + d, j + 1)),
            None => Some((tens, j)),
        }
    }

    // ---- specs ------------------------------------------------------

    /// A spec led by digits, at the start of a word.
    fn digit_spec(&mut self, i: usize) -> Option<usize> {
        let num = self.number(i)?;
        let j = num.end;
        if let Some(e) = self.eat(j, "xlarge").filter(|&e| self.boundary(e)) {
            let n = num.int.filter(|n| (1..=MAX_VCPU / 4).contains(n))?;
            return Some(self.push_vcpu(i, e, n * 4));
        }
        if let Some(end) = self.count_times_model(i, &num) {
            return Some(end);
        }
        let k = self.unit_gap(j);
        if let Some((e, unit)) = self.eat_unit(k, GPU_UNITS) {
            let n = gpus(num.int)?;
            return (unit != "卡" || self.card_ok(e)).then(|| self.push_count(i, e, n));
        }
        if let Some((e, _)) = self.eat_unit(k, VCPU_UNITS) {
            let n = vcpus(num.int)?;
            return Some(self.push_vcpu_worded(i, e, n));
        }
        if let Some(unit @ ('c' | 'u')) = self.ch(j) {
            let e = j + 1;
            let n = vcpus(num.int)?;
            if unit == 'c' && self.boundary(e) {
                return Some(self.push_vcpu_worded(i, e, n));
            }
            let m = match self.ch(e) {
                Some('-' | '_' | '.' | '/') => e + 1,
                _ => e,
            };
            let memory = self.number(m)?;
            let (end, gib) = self.memory_after(m, &memory, MemCtx::Combo)?;
            if !self.boundary(end) && !self.ch(end).is_some_and(is_cjk) {
                return None;
            }
            self.push_vcpu(i, e, n);
            return Some(self.push_memory(m, end, gib));
        }
        if let Some((end, gib)) = self.memory_after(i, &num, MemCtx::Bare) {
            return Some(self.push_memory(i, end, gib));
        }
        self.term_then_reserved(i, num.int, j)
    }

    /// A spec led by a Chinese numeral: `四核`, `双卡`, `一年预留`.
    fn cn_spec(&mut self, i: usize) -> Option<usize> {
        let starts_word = i == 0 || i == self.last_end || !self.ch(i - 1).is_some_and(is_cjk);
        if !starts_word {
            return None;
        }
        let (n, j) = self.cn_number(i)?;
        if let Some((e, _)) = self.eat_unit(j, &["核心", "核"]) {
            let n = vcpus(Some(n)).filter(|_| self.cjk_follow_ok(e))?;
            return Some(self.push_vcpu_worded(i, e, n));
        }
        if let Some((e, _)) = self.eat_unit(j, CN_GPU_UNITS) {
            let n = gpus(Some(n)).filter(|_| self.cjk_follow_ok(e) && self.card_ok(e))?;
            return Some(self.push_count(i, e, n));
        }
        self.term_then_reserved(i, Some(n), j)
    }

    /// After a Chinese-numeral spec: not more of a Chinese word, unless
    /// that is a spec or key of its own (`四核八卡`, `双核上海`).
    fn cjk_follow_ok(&self, e: usize) -> bool {
        match self.ch(e) {
            None | Some('的') => true,
            Some(c) if !is_cjk(c) => true,
            Some(c) => {
                self.cn_number(e).is_some()
                    || self
                        .lex
                        .cjk(c)
                        .iter()
                        .any(|key| self.eat_chars(e, &key.chars).is_some())
            }
        }
    }

    /// A size after a number already read; its end (with `内存` after it)
    /// and GiB.
    fn memory_after(&self, start: usize, num: &Num, ctx: MemCtx) -> Option<(usize, Decimal)> {
        let value = num.value?;
        let (unit_end, unit) = match self.eat_unit(self.skip_ws(num.end), MEMORY_UNITS) {
            Some(found) => found,
            None if ctx == MemCtx::Prefixed
                && !self.word_at(num.end)
                && !self.ch(num.end).is_some_and(is_cjk) =>
            {
                (num.end, "g")
            }
            None => return None,
        };
        let gib = if unit.starts_with('g') {
            value
        } else {
            let mib = num.int.filter(|mib| *mib > 0 && mib % 128 == 0)?;
            Decimal::from(mib).checked_div(Decimal::from(1024))?
        }
        .normalize();
        if gib <= Decimal::ZERO || gib > Decimal::from(MAX_MEMORY_GIB) || gib.scale() > 3 {
            return None;
        }
        let worded = self.word_after(unit_end, MEMORY_WORDS);
        if ctx == MemCtx::Bare && worded.is_none() && unit == "g" && gib == Decimal::from(5) {
            return None;
        }
        if self.veto_after(unit_end) || (ctx != MemCtx::Prefixed && self.veto_before(start)) {
            return None;
        }
        Some((worded.unwrap_or(unit_end), gib))
    }

    fn veto_after(&self, e: usize) -> bool {
        let k = self.skip_ws(e);
        VETO_CJK.iter().any(|w| self.eat(k, w).is_some()) || self.eat_unit(k, VETO_LATIN).is_some()
    }

    fn veto_before(&self, s: usize) -> bool {
        let mut k = s;
        while k > 0 && self.ch(k - 1).is_some_and(char::is_whitespace) {
            k -= 1;
        }
        if VETO_CJK.iter().any(|w| self.ends_with(k, w)) {
            return true;
        }
        let mut b = k;
        while b > 0 && self.word_at(b - 1) {
            b -= 1;
        }
        b < k
            && self.chars.get(b..k).is_some_and(|word| {
                VETO_LATIN
                    .iter()
                    .any(|w| word.iter().copied().eq(w.chars()))
            })
    }

    /// `1年预留`, `3-year RI`.
    fn term_then_reserved(&mut self, start: usize, n: Option<u32>, j: usize) -> Option<usize> {
        let (e, _) = self.eat_unit(self.unit_gap(j), YEAR_UNITS)?;
        let months = term_months(n?)?;
        let (end, _) = self.eat_unit(self.skip_ws(e), RESERVED_WORDS)?;
        Some(self.push_reserved(start, end, months))
    }

    /// `预留1年`, `reserved 3 years`: the term after a reserved word.
    fn reserved_term_after(&self, e: usize) -> Option<(usize, u16)> {
        let k = self.skip_ws(e);
        let (n, j) = if self.digit(k).is_some() {
            let num = self.number(k)?;
            (num.int?, num.end)
        } else {
            self.cn_number(k)?
        };
        let (end, _) = self.eat_unit(self.unit_gap(j), YEAR_UNITS)?;
        Some((end, term_months(n)?))
    }

    // ---- GPUs -------------------------------------------------------

    fn model_spec(&mut self, i: usize) -> Option<usize> {
        let model = self.model_at(i)?;
        Some(self.push_model(i, model))
    }

    /// A GPU model word at `m`, with a memory variant or count typed on it.
    fn model_at(&self, m: usize) -> Option<ModelMatch> {
        if !self.ch(m).is_some_and(|c| c.is_ascii_alphabetic()) {
            return None;
        }
        let mut buf = [0u8; 12];
        let mut r = m;
        while let Some(c) = self.ch(r).filter(char::is_ascii_alphanumeric) {
            *buf.get_mut(r - m)? = u8::try_from(c).ok()?;
            r += 1;
        }
        let run = std::str::from_utf8(buf.get(..r - m)?).ok()?;
        let (name, end, count) = match lexicon::gpu_model(run) {
            Some(name) => {
                let end = self.gpu_memory_suffix(r).unwrap_or(r);
                (name, end, self.count_after_model(end))
            }
            // `a100x8`
            None => {
                let x = run.rfind('x')?;
                let name = lexicon::gpu_model(run.get(..x)?)?;
                let digits = run.get(x + 1..)?;
                if digits.is_empty()
                    || digits.len() > 2
                    || !digits.bytes().all(|b| b.is_ascii_digit())
                {
                    return None;
                }
                let n = gpus(digits.parse().ok())?;
                (name, m + x, Some((m + x + 1, r, n)))
            }
        };
        let last = count.map_or(end, |(_, e, _)| e);
        self.boundary(last)
            .then_some(ModelMatch { name, end, count })
    }

    /// `-80G`, ` 80GB` after a model: its memory variant.
    fn gpu_memory_suffix(&self, e: usize) -> Option<usize> {
        if !matches!(self.ch(e), Some('-' | ' ')) {
            return None;
        }
        let num = self.number(e + 1)?;
        num.int.filter(|gb| GPU_MEMORY_GB.contains(gb))?;
        let (end, _) = self.eat_unit(num.end, &["gb", "g"])?;
        Some(end)
    }

    /// ` x 8`, `*8` after a model.
    fn count_after_model(&self, e: usize) -> Option<(usize, usize, u32)> {
        let x = self.skip_ws(e);
        if !matches!(self.ch(x), Some('x' | '*' | '×')) {
            return None;
        }
        let k = self.skip_ws(x + 1);
        let num = self.number(k)?;
        if !self.boundary(num.end) {
            return None;
        }
        Some((k, num.end, gpus(num.int)?))
    }

    /// `8*A100`, `2 x A100`, `8xA100`.
    fn count_times_model(&mut self, i: usize, num: &Num) -> Option<usize> {
        let x = self.skip_ws(num.end);
        if !matches!(self.ch(x), Some('x' | '*' | '×')) {
            return None;
        }
        let m = self.skip_ws(x + 1);
        let model = self.model_at(m).filter(|model| model.count.is_none())?;
        let n = gpus(num.int)?;
        self.push_count(i, num.end, n);
        self.filler(num.end, m);
        Some(self.push_model(m, model))
    }

    // ---- keywords ---------------------------------------------------

    fn latin_keyword(&mut self, i: usize) -> Option<usize> {
        let first_end = word_end(&self.chars, i);
        let mut word = std::mem::take(&mut self.word);
        word.clear();
        word.extend(self.chars.get(i..first_end).unwrap_or_default());
        let keys = self.lex.latin(&word);
        self.word = word;
        for key in keys {
            let Some(end) = self.match_rest(first_end, &key.rest) else {
                continue;
            };
            if let Some(next) = self.apply(key.meaning, i, end) {
                return Some(next);
            }
        }
        None
    }

    /// The further words of a Latin key, each after a short gap of spaces
    /// or punctuation (`washington, d.c.`).
    fn match_rest(&self, mut j: usize, rest: &[Vec<char>]) -> Option<usize> {
        for word in rest {
            let mut k = j;
            while k < j + 3 && self.ch(k).is_some_and(|c| !is_word(c) && !is_cjk(c)) {
                k += 1;
            }
            if k == j {
                return None;
            }
            let end = word_end(&self.chars, k);
            if end == k || self.chars.get(k..end)? != word.as_slice() {
                return None;
            }
            j = end;
        }
        Some(j)
    }

    fn cjk_keyword(&mut self, i: usize) -> Option<usize> {
        let c = self.ch(i)?;
        let lex = self.lex;
        for key in lex.cjk(c) {
            let Some(end) = self.eat_chars(i, &key.chars) else {
                continue;
            };
            let cjk_around =
                (i > 0 && self.ch(i - 1).is_some_and(is_cjk)) || self.ch(end).is_some_and(is_cjk);
            if key.chars.len() == 1 && cjk_around {
                continue;
            }
            if let Some(next) = self.apply(key.meaning, i, end) {
                return Some(next);
            }
        }
        None
    }

    /// Acts on a key found at `s..e`; `None` when it makes nothing there
    /// (a prefix without its number).
    fn apply(&mut self, meaning: usize, s: usize, e: usize) -> Option<usize> {
        let lex = self.lex;
        Some(match lex.meaning(meaning)? {
            Meaning::City(city) => self.push_place(
                s,
                e,
                ChipFilter::City {
                    value: city.id.to_owned(),
                },
                city.zh,
                city.en,
            ),
            Meaning::Country(country) => self.push_place(
                s,
                e,
                ChipFilter::Country {
                    value: country.code.to_owned(),
                },
                country.zh,
                country.en,
            ),
            Meaning::Regions { codes, zh, en } => self.push_place(
                s,
                e,
                ChipFilter::Regions {
                    values: codes.clone(),
                },
                zh,
                en,
            ),
            Meaning::Billing(Billing::Reserved) => match self.reserved_term_after(e) {
                Some((end, months)) => self.push_reserved(s, end, months),
                None => self.push_billing(s, e, Billing::Reserved),
            },
            Meaning::Billing(billing) => self.push_billing(s, e, *billing),
            Meaning::GpuWord => {
                let end = if self.ch(e) == Some('卡') && self.card_ok(e + 1) {
                    e + 1
                } else {
                    e
                };
                let filter = ChipFilter::GpuCount {
                    range: Range::at_least(1),
                };
                self.push_found(s, end, filter, "GPU", "GPU", true);
                end
            }
            Meaning::Vendor => {
                let model = self.model_at(self.skip_ws(e))?;
                self.push_model(s, model)
            }
            Meaning::Size(n) => self.push_vcpu(s, e, *n),
            Meaning::VcpuPrefix => return self.vcpu_prefixed(s, e),
            Meaning::MemoryPrefix => {
                let k = self.skip_ws_colon(e);
                let num = self.number(k)?;
                let (end, gib) = self.memory_after(k, &num, MemCtx::Prefixed)?;
                self.push_memory(s, end, gib)
            }
            Meaning::Text => e,
        })
    }

    /// `cpu 4`, `vCPU: 4`, `cpu 4核`.
    fn vcpu_prefixed(&mut self, s: usize, e: usize) -> Option<usize> {
        let k = self.skip_ws_colon(e);
        self.digit(k)?;
        let before = self.found.len();
        if let Some(end) = self.digit_spec(k) {
            if let Some(found) = self.found.get_mut(before)
                && found.start == k
                && matches!(found.filter, ChipFilter::Vcpu { .. })
            {
                found.start = s;
            }
            return Some(end);
        }
        let num = self.number(k)?;
        if self.word_at(num.end) || self.ch(num.end).is_some_and(is_cjk) {
            return None;
        }
        let n = vcpus(num.int)?;
        Some(self.push_vcpu(s, num.end, n))
    }

    // ---- chips ------------------------------------------------------

    fn push_found(
        &mut self,
        start: usize,
        end: usize,
        filter: ChipFilter,
        zh: impl Into<String>,
        en: impl Into<String>,
        weak: bool,
    ) {
        if self.found.iter().any(|f| f.filter == filter) {
            self.filler(start, end);
            return;
        }
        self.last_end = self.last_end.max(end);
        self.found.push(Found {
            start,
            end,
            filter,
            zh: zh.into(),
            en: en.into(),
            weak,
        });
    }

    fn push(
        &mut self,
        start: usize,
        end: usize,
        filter: ChipFilter,
        zh: impl Into<String>,
        en: impl Into<String>,
    ) {
        self.push_found(start, end, filter, zh, en, false);
    }

    fn filler(&mut self, start: usize, end: usize) {
        if start < end {
            self.fillers.push((start, end));
            self.last_end = self.last_end.max(end);
        }
    }

    fn push_vcpu(&mut self, start: usize, end: usize, n: u32) -> usize {
        let filter = ChipFilter::Vcpu {
            range: Range::exactly(n),
        };
        self.push(start, end, filter, format!("{n} 核"), format!("{n} vCPU"));
        end
    }

    /// A vCPU count with `CPU` after it taken in (`4核 CPU`).
    fn push_vcpu_worded(&mut self, start: usize, end: usize, n: u32) -> usize {
        let end = self.word_after(end, VCPU_SUFFIX).unwrap_or(end);
        self.push_vcpu(start, end, n)
    }

    fn push_memory(&mut self, start: usize, end: usize, gib: Decimal) -> usize {
        let filter = ChipFilter::MemoryGib {
            range: Range::exactly(gib),
        };
        let label = format!("{gib} GiB");
        self.push(start, end, filter, label.clone(), label);
        end
    }

    fn push_count(&mut self, start: usize, end: usize, n: u32) -> usize {
        let filter = ChipFilter::GpuCount {
            range: Range::exactly(n),
        };
        let en = if n == 1 {
            "1 GPU".to_owned()
        } else {
            format!("{n} GPUs")
        };
        self.push(start, end, filter, format!("{n} 卡"), en);
        end
    }

    fn push_model(&mut self, start: usize, model: ModelMatch) -> usize {
        let label = model.name.to_ascii_uppercase();
        let filter = ChipFilter::GpuModel {
            value: model.name.to_owned(),
        };
        match model.count {
            Some((count_start, count_end, n)) => {
                self.push(start, model.end, filter, label.clone(), label);
                self.filler(model.end, count_start);
                self.push_count(count_start, count_end, n)
            }
            None => {
                let end = self.word_after(model.end, GPU_SUFFIX).unwrap_or(model.end);
                self.push(start, end, filter, label.clone(), label);
                end
            }
        }
    }

    fn push_place(
        &mut self,
        start: usize,
        end: usize,
        filter: ChipFilter,
        zh: &str,
        en: &str,
    ) -> usize {
        let mut end_with = self.word_after(end, PLACE_SUFFIX).unwrap_or(end);
        // `上海市`, but not `上海市场`.
        if end_with == end && self.ch(end) == Some('市') && !self.ch(end + 1).is_some_and(is_cjk) {
            end_with = end + 1;
        }
        self.push(start, end_with, filter, zh, en);
        end_with
    }

    fn push_billing(&mut self, start: usize, end: usize, billing: Billing) -> usize {
        let (zh, en) = billing.label();
        self.push_modes(start, end, billing.modes(), zh, en)
    }

    fn push_reserved(&mut self, start: usize, end: usize, months: u16) -> usize {
        let mode = BillingMode::Reserved {
            term_months: months,
        };
        let label = mode.label();
        self.push_modes(
            start,
            end,
            vec![mode],
            label.zh.unwrap_or_default(),
            label.en.unwrap_or_default(),
        )
    }

    fn push_modes(
        &mut self,
        start: usize,
        end: usize,
        values: Vec<BillingMode>,
        zh: impl Into<String>,
        en: impl Into<String>,
    ) -> usize {
        let end = self.word_after(end, BILLING_SUFFIX).unwrap_or(end);
        self.push(start, end, ChipFilter::BillingModes { values }, zh, en);
        end
    }

    // ---- result -----------------------------------------------------

    fn finish(mut self) -> Understood {
        let says_more = self.found.iter().any(|f| match &f.filter {
            ChipFilter::GpuModel { .. } => true,
            ChipFilter::GpuCount { range } => range.max.is_some(),
            _ => false,
        });
        if says_more {
            let (weak, kept): (Vec<Found>, Vec<Found>) = std::mem::take(&mut self.found)
                .into_iter()
                .partition(|f| f.weak);
            self.fillers.extend(weak.iter().map(|f| (f.start, f.end)));
            self.found = kept;
        }
        self.found.sort_by_key(|f| f.start);

        let mut removed = vec![false; self.chars.len()];
        for (start, end) in self
            .found
            .iter()
            .map(|f| (f.start, f.end))
            .chain(self.fillers.iter().copied())
        {
            for slot in removed.iter_mut().take(end).skip(start) {
                *slot = true;
            }
        }
        let text = leftover(self.text, &removed);

        let byte = |i: usize| self.at.get(i).copied().unwrap_or(self.text.len());
        let chips = self
            .found
            .into_iter()
            .map(|f| {
                let (start, end) = (byte(f.start), byte(f.end));
                Chip {
                    filter: f.filter,
                    source: self.text.get(start..end).unwrap_or_default().to_owned(),
                    start,
                    end,
                    label: LocalizedText {
                        en: Some(f.en),
                        zh: Some(f.zh),
                    },
                }
            })
            .collect();
        Understood { chips, text }
    }
}

/// The text without the removed characters: whitespace collapsed, and,
/// once something was removed, pieces of bare punctuation dropped.
fn leftover(text: &str, removed: &[bool]) -> String {
    let any = removed.contains(&true);
    let mut out = String::with_capacity(text.len());
    // Where the current piece (with the space before it) starts in `out`,
    // and whether it has a letter or digit.
    let mut piece: Option<(usize, bool)> = None;
    let end_piece = |out: &mut String, piece: &mut Option<(usize, bool)>| {
        if let Some((start, alnum)) = piece.take()
            && any
            && !alnum
        {
            out.truncate(start);
        }
    };
    for (c, gone) in text.chars().zip(removed) {
        if *gone || c.is_whitespace() {
            end_piece(&mut out, &mut piece);
            continue;
        }
        let alnum = c.is_alphanumeric();
        match &mut piece {
            Some((_, has)) => *has |= alnum,
            None => {
                piece = Some((out.len(), alnum));
                if !out.is_empty() {
                    out.push(' ');
                }
            }
        }
        out.push(c);
    }
    end_piece(&mut out, &mut piece);
    out
}

fn vcpus(n: Option<u32>) -> Option<u32> {
    n.filter(|n| (1..=MAX_VCPU).contains(n))
}

fn gpus(n: Option<u32>) -> Option<u32> {
    n.filter(|n| (1..=MAX_GPUS).contains(n))
}

fn term_months(years: u32) -> Option<u16> {
    (1..=MAX_YEARS)
        .contains(&years)
        .then(|| u16::try_from(years * 12).ok())
        .flatten()
}
