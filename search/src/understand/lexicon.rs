//! The words [`super::understand`] knows, built once: places from the
//! geography table, countries, billing words, GPU words and spec prefixes.
//! Keys are folded like the query (see [`fold`]); Chinese keys are found by
//! their first character, Latin keys by their first word.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::LazyLock;

use shiyun_core::geography::{self, City};
use shiyun_core::listing::{BillingMode, Vendor};

use super::chars::{fold, is_cjk, is_word, word_end};

/// The lexicon, built on first use.
pub(super) static LEXICON: LazyLock<Lexicon> = LazyLock::new(Lexicon::build);

/// A country a buyer can name.
#[derive(Debug)]
pub(super) struct Country {
    /// Lowercase ISO 3166 code, as the geography table writes it.
    pub code: &'static str,
    /// Chinese label.
    pub zh: &'static str,
    /// English label.
    pub en: &'static str,
    /// What buyers type.
    pub names: &'static [&'static str],
}

/// Countries with regions in the geography table. Taiwan, Hong Kong and
/// the like are left to the table (its cities and region aliases).
pub(super) const COUNTRIES: &[Country] = &[
    Country {
        code: "cn",
        zh: "中国",
        en: "China",
        names: &["中国", "中国大陆", "china", "mainland china"],
    },
    Country {
        code: "us",
        zh: "美国",
        en: "United States",
        names: &["美国", "usa", "u.s.", "u.s.a.", "united states"],
    },
    Country {
        code: "jp",
        zh: "日本",
        en: "Japan",
        names: &["日本", "japan"],
    },
    Country {
        code: "kr",
        zh: "韩国",
        en: "South Korea",
        names: &["韩国", "korea", "south korea"],
    },
    Country {
        code: "de",
        zh: "德国",
        en: "Germany",
        names: &["德国", "germany"],
    },
    Country {
        code: "gb",
        zh: "英国",
        en: "United Kingdom",
        names: &["英国", "uk", "united kingdom", "britain"],
    },
    Country {
        code: "fr",
        zh: "法国",
        en: "France",
        names: &["法国", "france"],
    },
    Country {
        code: "in",
        zh: "印度",
        en: "India",
        names: &["印度", "india"],
    },
    Country {
        code: "au",
        zh: "澳大利亚",
        en: "Australia",
        names: &["澳大利亚", "澳洲", "australia"],
    },
    Country {
        code: "ca",
        zh: "加拿大",
        en: "Canada",
        names: &["加拿大", "canada"],
    },
    Country {
        code: "br",
        zh: "巴西",
        en: "Brazil",
        names: &["巴西", "brazil"],
    },
    Country {
        code: "id",
        zh: "印度尼西亚",
        en: "Indonesia",
        names: &["印度尼西亚", "印尼", "indonesia"],
    },
    Country {
        code: "th",
        zh: "泰国",
        en: "Thailand",
        names: &["泰国", "thailand"],
    },
    Country {
        code: "my",
        zh: "马来西亚",
        en: "Malaysia",
        names: &["马来西亚", "malaysia"],
    },
    Country {
        code: "ph",
        zh: "菲律宾",
        en: "Philippines",
        names: &["菲律宾", "philippines"],
    },
    Country {
        code: "vn",
        zh: "越南",
        en: "Vietnam",
        names: &["越南", "vietnam"],
    },
    Country {
        code: "ae",
        zh: "阿联酋",
        en: "United Arab Emirates",
        names: &["阿联酋", "uae", "united arab emirates"],
    },
    Country {
        code: "sa",
        zh: "沙特阿拉伯",
        en: "Saudi Arabia",
        names: &["沙特阿拉伯", "沙特", "saudi arabia"],
    },
    Country {
        code: "qa",
        zh: "卡塔尔",
        en: "Qatar",
        names: &["卡塔尔", "qatar"],
    },
    Country {
        code: "il",
        zh: "以色列",
        en: "Israel",
        names: &["以色列", "israel"],
    },
    Country {
        code: "za",
        zh: "南非",
        en: "South Africa",
        names: &["南非", "south africa"],
    },
    Country {
        code: "ch",
        zh: "瑞士",
        en: "Switzerland",
        names: &["瑞士", "switzerland"],
    },
    Country {
        code: "se",
        zh: "瑞典",
        en: "Sweden",
        names: &["瑞典", "sweden"],
    },
    Country {
        code: "no",
        zh: "挪威",
        en: "Norway",
        names: &["挪威", "norway"],
    },
    Country {
        code: "nl",
        zh: "荷兰",
        en: "Netherlands",
        names: &["荷兰", "netherlands"],
    },
    Country {
        code: "it",
        zh: "意大利",
        en: "Italy",
        names: &["意大利", "italy"],
    },
    Country {
        code: "es",
        zh: "西班牙",
        en: "Spain",
        names: &["西班牙", "spain"],
    },
    Country {
        code: "pl",
        zh: "波兰",
        en: "Poland",
        names: &["波兰", "poland"],
    },
    Country {
        code: "at",
        zh: "奥地利",
        en: "Austria",
        names: &["奥地利", "austria"],
    },
    Country {
        code: "fi",
        zh: "芬兰",
        en: "Finland",
        names: &["芬兰", "finland"],
    },
    Country {
        code: "mx",
        zh: "墨西哥",
        en: "Mexico",
        names: &["墨西哥", "mexico"],
    },
    Country {
        code: "cl",
        zh: "智利",
        en: "Chile",
        names: &["智利", "chile"],
    },
    Country {
        code: "nz",
        zh: "新西兰",
        en: "New Zealand",
        names: &["新西兰", "new zealand"],
    },
    Country {
        code: "ru",
        zh: "俄罗斯",
        en: "Russia",
        names: &["俄罗斯", "russia"],
    },
];

/// A billing word's modes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Billing {
    /// 按量.
    OnDemand,
    /// 包月.
    Monthly,
    /// 包年.
    Yearly,
    /// 包年包月: monthly or yearly.
    Subscription,
    /// 竞价.
    Spot,
    /// 预留, of a term given apart or of either usual term.
    Reserved,
}

impl Billing {
    /// The modes, sorted.
    pub fn modes(self) -> Vec<BillingMode> {
        match self {
            Billing::OnDemand => vec![BillingMode::OnDemand],
            Billing::Monthly => vec![BillingMode::Monthly],
            Billing::Yearly => vec![BillingMode::Yearly],
            Billing::Subscription => vec![BillingMode::Monthly, BillingMode::Yearly],
            Billing::Spot => vec![BillingMode::Spot],
            Billing::Reserved => vec![
                BillingMode::Reserved { term_months: 12 },
                BillingMode::Reserved { term_months: 36 },
            ],
        }
    }

    /// Chinese and English labels.
    pub fn label(self) -> (&'static str, &'static str) {
        match self {
            Billing::OnDemand => ("按量付费", "on demand"),
            Billing::Monthly => ("包月", "monthly"),
            Billing::Yearly => ("包年", "yearly"),
            Billing::Subscription => ("包年包月", "subscription"),
            Billing::Spot => ("竞价实例", "spot"),
            Billing::Reserved => ("预留实例", "reserved"),
        }
    }
}

const BILLING_WORDS: &[(&str, Billing)] = &[
    ("按量付费", Billing::OnDemand),
    ("按量计费", Billing::OnDemand),
    ("按量", Billing::OnDemand),
    ("按需付费", Billing::OnDemand),
    ("按需计费", Billing::OnDemand),
    ("按需", Billing::OnDemand),
    ("后付费", Billing::OnDemand),
    ("按小时计费", Billing::OnDemand),
    ("按小时付费", Billing::OnDemand),
    ("按小时", Billing::OnDemand),
    ("on-demand", Billing::OnDemand),
    ("on demand", Billing::OnDemand),
    ("ondemand", Billing::OnDemand),
    ("pay-as-you-go", Billing::OnDemand),
    ("pay as you go", Billing::OnDemand),
    ("payg", Billing::OnDemand),
    ("postpaid", Billing::OnDemand),
    ("post-paid", Billing::OnDemand),
    ("pay-per-use", Billing::OnDemand),
    ("包月", Billing::Monthly),
    ("按月付费", Billing::Monthly),
    ("按月计费", Billing::Monthly),
    ("按月", Billing::Monthly),
    ("monthly", Billing::Monthly),
    ("包年", Billing::Yearly),
    ("按年付费", Billing::Yearly),
    ("按年计费", Billing::Yearly),
    ("按年", Billing::Yearly),
    ("yearly", Billing::Yearly),
    ("annual", Billing::Yearly),
    ("annually", Billing::Yearly),
    ("包年包月", Billing::Subscription),
    ("预付费", Billing::Subscription),
    ("包周期", Billing::Subscription),
    ("subscription", Billing::Subscription),
    ("prepaid", Billing::Subscription),
    ("pre-paid", Billing::Subscription),
    ("竞价实例", Billing::Spot),
    ("竞价", Billing::Spot),
    ("抢占式实例", Billing::Spot),
    ("抢占式", Billing::Spot),
    ("抢占实例", Billing::Spot),
    ("spot", Billing::Spot),
    ("preemptible", Billing::Spot),
    ("预留实例券", Billing::Reserved),
    ("预留实例", Billing::Reserved),
    ("预留", Billing::Reserved),
    ("reserved instances", Billing::Reserved),
    ("reserved instance", Billing::Reserved),
    ("reserved", Billing::Reserved),
    ("ri", Billing::Reserved),
];

/// GPU models, lowercase, as buyers type them and listings name them.
pub(super) const GPU_MODELS: &[&str] = &[
    "a10", "a10g", "a100", "a30", "a40", "a800", "h100", "h200", "h800", "h20", "l4", "l20", "l40",
    "l40s", "t4", "v100", "p100", "p40", "p4", "k80", "m60", "mi100", "mi210", "mi250", "mi250x",
    "mi300x", "b200",
];

/// The model named by `word` (lowercase), if any.
pub(super) fn gpu_model(word: &str) -> Option<&'static str> {
    GPU_MODELS.iter().copied().find(|m| *m == word)
}

/// City aliases that are everyday English or tech words (`can`, `was`,
/// `arn`, `dc`): as query words they mean those, not an airport.
const STOP_ALIASES: &[&str] = &[
    "can", "mad", "sat", "del", "sin", "par", "was", "arn", "svg", "gig", "la", "las", "los",
    "dal", "mil", "mel", "nag", "chi", "dub", "ord", "sel", "doh", "pus", "sto", "bah", "vie",
    "tao", "lon", "mow", "dc", "het",
];

/// Region aliases that name a topic rather than a place.
const TOPIC_ALIASES: &[&str] = &["金融", "finance", "fsi", "government", "测试", "test"];

/// Words kept as text although a key starts them (`按需求` is "as
/// required", not on demand; carriers are not the country).
const TEXT_WORDS: &[&str] = &["按需求", "中国移动", "中国电信", "中国联通"];

/// What a key means.
#[derive(Debug)]
pub(super) enum Meaning {
    /// A city of the geography table.
    City(&'static City),
    /// A country.
    Country(&'static Country),
    /// Regions by code, with the chip's labels.
    Regions {
        /// Sorted, deduplicated codes.
        codes: Vec<String>,
        /// Chinese label.
        zh: String,
        /// English label.
        en: String,
    },
    /// A billing word.
    Billing(Billing),
    /// `GPU`, `显卡`: at least one GPU.
    GpuWord,
    /// `NVIDIA`: part of a model chip when a model follows.
    Vendor,
    /// `large`, `xlarge`: this many vCPUs.
    Size(u32),
    /// `cpu`, `vcpu` before a count.
    VcpuPrefix,
    /// `内存`, `memory` before a size.
    MemoryPrefix,
    /// Kept as text.
    Text,
}

/// A Latin key: its first word is the map key, the rest follow.
#[derive(Debug)]
pub(super) struct LatinKey {
    /// The words after the first, folded.
    pub rest: Vec<Vec<char>>,
    /// Index into [`Lexicon::meaning`].
    pub meaning: usize,
}

/// A Chinese key: its first character is the map key.
#[derive(Debug)]
pub(super) struct CjkKey {
    /// All its characters, folded.
    pub chars: Vec<char>,
    /// Index into [`Lexicon::meaning`].
    pub meaning: usize,
}

/// The built lexicon.
#[derive(Debug)]
pub(super) struct Lexicon {
    meanings: Vec<Meaning>,
    latin: HashMap<String, Vec<LatinKey>>,
    cjk: HashMap<char, Vec<CjkKey>>,
}

impl Lexicon {
    /// The meaning at `index`.
    pub fn meaning(&self, index: usize) -> Option<&Meaning> {
        self.meanings.get(index)
    }

    /// Latin keys whose first word is `word` (folded), most words first.
    pub fn latin(&self, word: &str) -> &[LatinKey] {
        self.latin.get(word).map_or(&[], Vec::as_slice)
    }

    /// Chinese keys starting with `c` (folded), longest first.
    pub fn cjk(&self, c: char) -> &[CjkKey] {
        self.cjk.get(&c).map_or(&[], Vec::as_slice)
    }

    fn build() -> Lexicon {
        let mut b = Builder::default();
        // Priorities: a city's names win over a country's (`ireland` is
        // Dublin in the table), a country's over region aliases (`日本` is
        // the country), aliases over region names and codes (`us-east`
        // spans regions, IBM's own `us-east` among them).
        for city in geography::cities() {
            let m = b.meaning(Meaning::City(city));
            for name in [city.zh, city.en, city.id] {
                b.key(name, 0, m);
            }
            for alias in city.aliases.iter().filter(|a| !STOP_ALIASES.contains(a)) {
                b.key(alias, 0, m);
            }
        }
        for country in COUNTRIES {
            let m = b.meaning(Meaning::Country(country));
            for name in country.names {
                b.key(name, 1, m);
            }
        }
        for (word, billing) in BILLING_WORDS {
            let m = b.meaning(Meaning::Billing(*billing));
            b.key(word, 1, m);
        }
        let words: [(&[&str], Meaning); 6] = [
            (&["gpu", "gpus", "显卡"], Meaning::GpuWord),
            (&["nvidia", "英伟达", "tesla"], Meaning::Vendor),
            (
                &["cpu", "cpus", "vcpu", "vcpus", "核数"],
                Meaning::VcpuPrefix,
            ),
            (&["内存", "memory", "mem", "ram"], Meaning::MemoryPrefix),
            (TEXT_WORDS, Meaning::Text),
            (&["large"], Meaning::Size(2)),
        ];
        for (keys, meaning) in words {
            let m = b.meaning(meaning);
            for key in keys {
                b.key(key, 1, m);
            }
        }
        let m = b.meaning(Meaning::Size(4));
        b.key("xlarge", 1, m);
        add_regions(&mut b);
        b.finish()
    }
}

/// Region aliases (2), region names (3) and codes (4) of every vendor's
/// storefront regions.
fn add_regions(b: &mut Builder) {
    let regions: Vec<_> = Vendor::ALL
        .into_iter()
        .flat_map(geography::storefront_regions)
        .collect();

    // Alias → codes; the label's other language is the alias of the other
    // script naming (about) the same regions: 华东 ↔ east china.
    let mut aliases: BTreeMap<String, (&'static str, BTreeSet<&'static str>)> = BTreeMap::new();
    for r in &regions {
        for alias in r.aliases.iter().filter(|a| !TOPIC_ALIASES.contains(a)) {
            aliases
                .entry(key_form(alias))
                .or_insert_with(|| (alias, BTreeSet::new()))
                .1
                .insert(r.code);
        }
    }
    for (alias, codes) in aliases.values() {
        let chinese = alias.chars().any(is_cjk);
        let other = aliases
            .values()
            .filter(|(a, _)| a.chars().any(is_cjk) != chinese)
            .map(|(a, set)| (*a, jaccard(codes, set)))
            .filter(|(_, score)| *score >= 0.5)
            .fold(None, |best: Option<(&str, f64)>, (a, score)| match best {
                Some((_, s)) if s >= score => best,
                _ => Some((a, score)),
            })
            .map(|(a, _)| a);
        let (zh, en) = if chinese {
            (
                alias.to_string(),
                other.map_or_else(|| alias.to_string(), title),
            )
        } else {
            (
                other.map_or_else(|| title(alias), str::to_owned),
                title(alias),
            )
        };
        let m = b.meaning(Meaning::Regions {
            codes: codes.iter().map(|c| (*c).to_owned()).collect(),
            zh,
            en,
        });
        b.key(alias, 2, m);
    }

    // Display names (`华东1（杭州）`, `China East 1 (Hangzhou)`) and the
    // numbered short names before the bracket (`华东1`).
    let mut names: BTreeMap<String, (String, String, BTreeSet<&'static str>)> = BTreeMap::new();
    for r in &regions {
        let mut add = |key: &str, zh: &str, en: &str| {
            names
                .entry(key_form(key))
                .or_insert_with(|| (zh.to_owned(), en.to_owned(), BTreeSet::new()))
                .2
                .insert(r.code);
        };
        if r.name_zh.chars().next().is_some_and(is_cjk) {
            add(r.name_zh, r.name_zh, r.name_en);
            let short_zh = r.name_zh.split('（').next().unwrap_or_default().trim();
            let short_en = r.name_en.split(" (").next().unwrap_or_default().trim();
            if short_zh.chars().any(|c| c.is_ascii_digit()) {
                add(short_zh, short_zh, short_en);
            }
        }
        if r.name_en.is_ascii() {
            add(r.name_en, r.name_zh, r.name_en);
        }
    }
    for (key, (zh, en, codes)) in names {
        let m = b.meaning(Meaning::Regions {
            codes: codes.iter().map(|c| (*c).to_owned()).collect(),
            zh,
            en,
        });
        b.key(&key, 3, m);
    }

    // Codes, as typed: one code, labelled by its name where every vendor
    // using the code gives it the same one.
    let mut codes: BTreeMap<&'static str, BTreeSet<(&'static str, &'static str)>> = BTreeMap::new();
    for r in &regions {
        codes
            .entry(r.code)
            .or_default()
            .insert((r.name_zh, r.name_en));
    }
    for (code, labels) in codes {
        let (zh, en) = match labels.iter().next() {
            Some((zh, en)) if labels.len() == 1 => ((*zh).to_owned(), (*en).to_owned()),
            _ => (code.to_owned(), code.to_owned()),
        };
        let m = b.meaning(Meaning::Regions {
            codes: vec![code.to_owned()],
            zh,
            en,
        });
        b.key(code, 4, m);
    }
}

/// Shared codes over all codes; 0 without counting when the sizes alone
/// keep it under one half.
fn jaccard(a: &BTreeSet<&str>, b: &BTreeSet<&str>) -> f64 {
    let (small, large) = (a.len().min(b.len()), a.len().max(b.len()));
    if small * 2 < large {
        return 0.0;
    }
    let both = a.intersection(b).count();
    let either = a.len() + b.len() - both;
    if either == 0 {
        0.0
    } else {
        both as f64 / either as f64
    }
}

/// `east china` → `East China`; short acronyms upper-case.
fn title(alias: &str) -> String {
    if alias.len() <= 4 && alias.bytes().all(|b| b.is_ascii_lowercase()) {
        return alias.to_ascii_uppercase();
    }
    if alias.contains(|c: char| c == '-' || c.is_ascii_digit()) {
        return alias.to_owned();
    }
    alias
        .split(' ')
        .map(|word| {
            let mut chars = word.chars();
            chars.next().map_or_else(String::new, |first| {
                first.to_uppercase().chain(chars).collect::<String>()
            })
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The form a key is stored and grouped under: folded, and a Latin key as
/// its words joined by one space, as it is matched (`Mexico (Central,
/// Queretaro)` and `Mexico Central (Queretaro)` are one key).
fn key_form(text: &str) -> String {
    let chars: Vec<char> = text.trim().chars().map(fold).collect();
    if chars.iter().copied().any(is_cjk) {
        return chars.into_iter().collect();
    }
    let mut words: Vec<String> = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if chars.get(i).copied().is_some_and(is_word) {
            let end = word_end(&chars, i);
            words.push(chars.get(i..end).unwrap_or_default().iter().collect());
            i = end;
        } else {
            i += 1;
        }
    }
    words.join(" ")
}

#[derive(Default)]
struct Builder {
    meanings: Vec<Meaning>,
    /// Folded key → (priority, meaning); the lowest priority, then the
    /// first added, wins.
    keys: HashMap<String, (u8, usize)>,
}

impl Builder {
    fn meaning(&mut self, meaning: Meaning) -> usize {
        self.meanings.push(meaning);
        self.meanings.len() - 1
    }

    fn key(&mut self, key: &str, priority: u8, meaning: usize) {
        let key = key_form(key);
        if key.is_empty() {
            return;
        }
        let slot = self.keys.entry(key).or_insert((priority, meaning));
        if priority < slot.0 {
            *slot = (priority, meaning);
        }
    }

    fn finish(self) -> Lexicon {
        let mut latin: HashMap<String, Vec<LatinKey>> = HashMap::new();
        let mut cjk: HashMap<char, Vec<CjkKey>> = HashMap::new();
        for (key, (_, meaning)) in self.keys {
            let chars: Vec<char> = key.chars().collect();
            let Some(&first) = chars.first() else {
                continue;
            };
            if is_cjk(first) {
                cjk.entry(first)
                    .or_default()
                    .push(CjkKey { chars, meaning });
            } else if is_word(first) && !key.chars().any(is_cjk) {
                let mut words = key.split(' ').map(|w| w.chars().collect::<Vec<char>>());
                if let Some(head) = words.next() {
                    latin
                        .entry(head.into_iter().collect())
                        .or_default()
                        .push(LatinKey {
                            rest: words.collect(),
                            meaning,
                        });
                }
            }
        }
        // Longest first; ties cannot both match at one place, but keep
        // the order stable anyway.
        for keys in latin.values_mut() {
            keys.sort_by(|a, b| {
                let len = |k: &LatinKey| k.rest.iter().map(Vec::len).sum::<usize>();
                (b.rest.len(), len(b))
                    .cmp(&(a.rest.len(), len(a)))
                    .then_with(|| a.rest.cmp(&b.rest))
            });
        }
        for keys in cjk.values_mut() {
            keys.sort_by(|a, b| {
                b.chars
                    .len()
                    .cmp(&a.chars.len())
                    .then_with(|| a.chars.cmp(&b.chars))
            });
        }
        Lexicon {
            meanings: self.meanings,
            latin,
            cjk,
        }
    }
}

#[cfg(test)]
impl Lexicon {
    /// Every key as a buyer would type it (words joined by a space), with
    /// its meaning.
    pub fn keys(&self) -> Vec<(String, &Meaning)> {
        let latin = self.latin.iter().flat_map(|(head, keys)| {
            keys.iter().map(move |key| {
                let mut text = head.clone();
                for word in &key.rest {
                    text.push(' ');
                    text.extend(word);
                }
                (text, key.meaning)
            })
        });
        let cjk = self
            .cjk
            .values()
            .flatten()
            .map(|key| (key.chars.iter().collect::<String>(), key.meaning));
        latin
            .chain(cjk)
            .filter_map(|(text, m)| Some((text, self.meaning(m)?)))
            .collect()
    }
}
