//! A listing's name and description, in Chinese and English, built from
//! typed facts by one function per category family, so every connector
//! (live, import, demo) words the same kind of offer the same way.
//!
//! Every text says who sells the offer (the vendor's names and the aliases
//! buyers type: 阿里云, Alibaba Cloud, aliyun), what it is (云服务器 /
//! virtual machine, 云数据库 MySQL 8.0 / MySQL 8.0 database), its size
//! (4核8G / 4 vCPU 8 GiB), its GPUs (8 卡 NVIDIA A100 / 8 × NVIDIA A100),
//! where it is (the region's display names, which always name the city), and
//! how it is paid (the [`BillingMode::label`]s: 按量付费 / on demand, 包年包月 /
//! subscription, 竞价 / spot). A Latin word is never glued to a Chinese one:
//! they are always parted by a space or punctuation ([`has_glued_words`]).
//!
//! For a connector: place the code with [`crate::geography::region_of`]
//! (so the region has its names), build the prices first, then call the
//! function of the listing's category family with an [`Offer`] (vendor,
//! region, the prices' billing modes) and the typed facts, and hand the
//! result to [`super::ListingBuilder::text`]:
//!
//! | category | function | facts |
//! |---|---|---|
//! | `compute.*` | [`compute_text`] | the category, and [`Instance`]: type, family names, [`Specs`] (vCPU, memory, GPUs, arch, OS) |
//! | `database.*` | [`database_text`] | [`Database`]: product names, [`Specs`] with `engine` and `engine_version` |
//! | `storage.*` | [`storage_text`] | [`Product`] |
//! | `network.*` | [`network_text`] | [`Product`] |
//! | `security.*` | [`security_text`] | [`Product`] |
//! | `middleware.*` | [`middleware_text`] | [`Product`] |
//! | anything else | [`service_text`] | [`Product`] |
//!
//! ```
//! use shiyun_core::geography;
//! use shiyun_core::listing::text::{self, Instance, Offer};
//! use shiyun_core::listing::{BillingMode, Category, Specs, Vendor};
//! use rust_decimal::Decimal;
//!
//! let region = geography::region_of(Vendor::Alibaba, "cn-shanghai").expect("known");
//! let specs = Specs { vcpu: Some(4), memory_gib: Some(Decimal::from(16)), ..Specs::default() };
//! let offer = Offer { vendor: Vendor::Alibaba, region: &region, billing: &[BillingMode::OnDemand] };
//! let instance = Instance { instance_type: "ecs.g7.xlarge", family_zh: "通用型 g7", family_en: "General Purpose g7", specs: &specs };
//! let vm = Category::parse("compute.vm").expect("valid");
//! let text = text::compute_text(&offer, &vm, &instance);
//! let name = text.name.zh.unwrap();
//! assert!(name.contains("阿里云") && name.contains("4核16G") && name.contains("上海"));
//! assert!(text.description.zh.unwrap().contains("按量付费"));
//! ```

use rust_decimal::Decimal;

use super::{Architecture, BillingMode, Category, LocalizedText, Region, Specs, Vendor};

/// A listing's name and description in both languages.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListingText {
    /// The display name.
    pub name: LocalizedText,
    /// The description: what the offer is, where, and how it is paid.
    pub description: LocalizedText,
}

/// What every offer's text says: who sells it, where, and how it is paid.
#[derive(Debug, Clone, Copy)]
pub struct Offer<'a> {
    /// The vendor.
    pub vendor: Vendor,
    /// The region, with its display names (from [`crate::geography::region_of`]);
    /// a region without names is shown by its code.
    pub region: &'a Region,
    /// The billing modes the listing has prices in.
    pub billing: &'a [BillingMode],
}

/// A virtual machine or GPU instance (`compute.vm`, `compute.gpu`,
/// `compute.bare_metal`).
#[derive(Debug, Clone, Copy)]
pub struct Instance<'a> {
    /// The vendor's instance type (`ecs.g7.large`, `p4d.24xlarge`).
    pub instance_type: &'a str,
    /// The family's Chinese name (`通用型 g7`).
    pub family_zh: &'a str,
    /// The family's English name (`General Purpose g7`).
    pub family_en: &'a str,
    /// vCPU, memory, GPUs, architecture and OS.
    pub specs: &'a Specs,
}

/// A managed database or cache (`database.*`).
#[derive(Debug, Clone, Copy)]
pub struct Database<'a> {
    /// The vendor's product name in Chinese (`云数据库 RDS MySQL 版 8.0`).
    pub product_zh: &'a str,
    /// The vendor's product name in English (`ApsaraDB RDS for MySQL 8.0`).
    pub product_en: &'a str,
    /// Size, and the engine and its version (`specs.engine`, `specs.engine_version`).
    pub specs: &'a Specs,
}

/// Any other product: storage, network, security, middleware.
#[derive(Debug, Clone, Copy)]
pub struct Product<'a> {
    /// The vendor's product name in Chinese (`对象存储 OSS 标准存储`).
    pub product_zh: &'a str,
    /// The vendor's product name in English (`Object Storage Service (OSS) Standard`).
    pub product_en: &'a str,
    /// What the specs say (capacity, bandwidth); often nothing.
    pub specs: &'a Specs,
}

/// A compute instance (`compute.*`): a bare metal server in
/// `compute.bare_metal`, else a virtual machine, a GPU one in `compute.gpu`
/// or when `specs.gpu_count` is set.
pub fn compute_text(
    offer: &Offer<'_>,
    category: &Category,
    instance: &Instance<'_>,
) -> ListingText {
    let specs = instance.specs;
    let gpu = specs.gpu_count.filter(|n| *n > 0).is_some();
    let (class_zh, class_en) = match category.as_str() {
        "compute.bare_metal" | "compute.gpu" => class_words(category.as_str()),
        _ if gpu => class_words("compute.gpu"),
        _ => ("云服务器（云主机）", "virtual machine (cloud server)"),
    };
    let os = specs.os.as_deref().map(os_name);
    let name_zh = words(&[
        offer.vendor.name_zh(),
        instance.family_zh,
        instance.instance_type,
        &size_zh(specs),
        &gpu_zh(specs),
        os.unwrap_or_default(),
    ]);
    let name_en = words(&[
        offer.vendor.name_en(),
        instance.family_en,
        instance.instance_type,
        &size_en(specs),
        &gpu_en(specs),
        os.unwrap_or_default(),
    ]);
    let mut facts_zh = vec![instance.family_zh.to_owned()];
    let mut facts_en = vec![instance.family_en.to_owned()];
    if let Some(vcpu) = specs.vcpu {
        facts_zh.push(format!("{vcpu} 核 vCPU"));
        facts_en.push(format!("{vcpu} vCPU"));
    }
    if let Some(memory) = specs.memory_gib {
        facts_zh.push(format!("{} GiB 内存", decimal(memory)));
        facts_en.push(format!("{} GiB memory", decimal(memory)));
    }
    facts_zh.push(gpu_zh(specs));
    facts_en.push(gpu_en(specs));
    if let Some(arch) = specs.architecture {
        facts_zh.push(format!("{} 架构", arch_name(arch)));
        facts_en.push(arch_name(arch).to_owned());
    }
    if let Some(os) = os {
        facts_zh.push(format!("{os} 操作系统"));
        facts_en.push(os.to_owned());
    }
    assemble(
        offer,
        (name_zh, name_en),
        (class_zh, class_en),
        instance.instance_type,
        (facts_zh, facts_en),
    )
}

/// A managed database or cache (`database.relational`, `database.cache`,
/// `database.nosql`): the class says the engine and its version
/// (云数据库 MySQL 8.0 / MySQL 8.0 database).
pub fn database_text(
    offer: &Offer<'_>,
    category: &Category,
    database: &Database<'_>,
) -> ListingText {
    let specs = database.specs;
    let engine = words(&[
        specs.engine.as_deref().map(engine_name).unwrap_or_default(),
        specs.engine_version.as_deref().unwrap_or_default(),
    ]);
    let (class_zh, class_en) = match category.as_str() {
        "database.cache" => (
            words(&["云数据库", &engine, "缓存"]),
            words(&[&engine, "cache"]),
        ),
        "database.nosql" => (
            words(&["云数据库", &engine, "NoSQL"]),
            words(&[&engine, "NoSQL database"]),
        ),
        _ => (words(&["云数据库", &engine]), words(&[&engine, "database"])),
    };
    let name_zh = words(&[
        vendor_unless_named(offer.vendor.name_zh(), database.product_zh),
        database.product_zh,
        &size_zh(specs),
    ]);
    let name_en = words(&[
        vendor_unless_named(offer.vendor.name_en(), database.product_en),
        database.product_en,
        &size_en(specs),
    ]);
    let mut facts_zh = vec![database.product_zh.to_owned()];
    let mut facts_en = vec![database.product_en.to_owned()];
    facts_zh.extend(size_facts_zh(specs));
    facts_en.extend(size_facts_en(specs));
    assemble(
        offer,
        (name_zh, name_en),
        (&class_zh, &class_en),
        "",
        (facts_zh, facts_en),
    )
}

/// Storage (`storage.object`, `storage.block`, `storage.file`).
pub fn storage_text(offer: &Offer<'_>, category: &Category, product: &Product<'_>) -> ListingText {
    service_text(offer, category, product)
}

/// Network (`network.cdn`, `network.load_balancer`, `network.ip`,
/// `network.bandwidth`).
pub fn network_text(offer: &Offer<'_>, category: &Category, product: &Product<'_>) -> ListingText {
    service_text(offer, category, product)
}

/// Security (`security.firewall`, `security.ddos`).
pub fn security_text(offer: &Offer<'_>, category: &Category, product: &Product<'_>) -> ListingText {
    service_text(offer, category, product)
}

/// Middleware (`middleware.queue`).
pub fn middleware_text(
    offer: &Offer<'_>,
    category: &Category,
    product: &Product<'_>,
) -> ListingText {
    service_text(offer, category, product)
}

/// Any product of any category that is not compute or database (SaaS,
/// industry), and the body of the storage, network, security and
/// middleware texts: the class words come from the category.
pub fn service_text(offer: &Offer<'_>, category: &Category, product: &Product<'_>) -> ListingText {
    let (class_zh, class_en) = class_words(category.as_str());
    let name_zh = words(&[
        vendor_unless_named(offer.vendor.name_zh(), product.product_zh),
        product.product_zh,
        &size_zh(product.specs),
    ]);
    let name_en = words(&[
        vendor_unless_named(offer.vendor.name_en(), product.product_en),
        product.product_en,
        &size_en(product.specs),
    ]);
    let mut facts_zh = vec![product.product_zh.to_owned()];
    let mut facts_en = vec![product.product_en.to_owned()];
    facts_zh.extend(size_facts_zh(product.specs));
    facts_en.extend(size_facts_en(product.specs));
    if let Some(storage) = product.specs.storage_gib {
        facts_zh.push(format!("{} GiB 容量", decimal(storage)));
        facts_en.push(format!("{} GiB capacity", decimal(storage)));
    }
    if let Some(bandwidth) = product.specs.bandwidth_mbps {
        facts_zh.push(format!("{} Mbit/s 带宽", decimal(bandwidth)));
        facts_en.push(format!("{} Mbit/s bandwidth", decimal(bandwidth)));
    }
    assemble(
        offer,
        (name_zh, name_en),
        (class_zh, class_en),
        "",
        (facts_zh, facts_en),
    )
}

/// True when a Latin letter touches a Chinese character with no space or
/// punctuation between them (`AzureGPU` is caught by a test of its own
/// words; this catches `亚马逊云科技GPU`).
pub fn has_glued_words(text: &str) -> bool {
    let chars: Vec<char> = text.chars().collect();
    chars.windows(2).any(|pair| {
        (is_han(pair[0]) && pair[1].is_ascii_alphabetic())
            || (pair[0].is_ascii_alphabetic() && is_han(pair[1]))
    })
}

/// `text` with a space wherever a Latin letter or digit touches a Chinese
/// character (`标准型S5` → `标准型 S5`), for the names vendors give.
pub fn unglue(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 4);
    let mut previous: Option<char> = None;
    for c in text.chars() {
        if let Some(p) = previous
            && ((is_han(p) && c.is_ascii_alphanumeric())
                || (p.is_ascii_alphanumeric() && is_han(c)))
        {
            out.push(' ');
        }
        out.push(c);
        previous = Some(c);
    }
    out.trim().to_owned()
}

fn is_han(c: char) -> bool {
    matches!(c, '\u{3400}'..='\u{4dbf}' | '\u{4e00}'..='\u{9fff}' | '\u{f900}'..='\u{faff}')
}

/// The class words of a category (`storage.block`: 云硬盘 / block storage).
fn class_words(category: &str) -> (&'static str, &'static str) {
    match category {
        "storage.object" => ("对象存储", "object storage"),
        "storage.block" => ("云硬盘（块存储）", "block storage (cloud disk)"),
        "storage.file" => ("文件存储", "file storage"),
        "network.bandwidth" => ("公网带宽", "internet bandwidth"),
        "network.cdn" => ("内容分发网络 CDN", "content delivery network (CDN)"),
        "network.load_balancer" => ("负载均衡", "load balancer"),
        "network.ip" => ("弹性公网 IP", "public IP address"),
        "security.ddos" => ("DDoS 防护", "DDoS protection"),
        "security.firewall" => ("云防火墙", "cloud firewall"),
        "middleware.queue" => ("消息队列", "message queue"),
        "compute.gpu" => (
            "GPU 云服务器（云主机）",
            "GPU virtual machine (cloud server)",
        ),
        "compute.bare_metal" => ("裸金属服务器", "bare metal server"),
        _ => match category.split('.').next().unwrap_or_default() {
            "storage" => ("云存储", "cloud storage"),
            "network" => ("网络服务", "network service"),
            "security" => ("云安全", "cloud security"),
            "middleware" => ("中间件", "middleware"),
            "database" => ("云数据库", "database"),
            "compute" => ("云服务器（云主机）", "virtual machine (cloud server)"),
            "saas" => ("软件服务 SaaS", "software as a service (SaaS)"),
            _ => ("云服务", "cloud service"),
        },
    }
}

/// Puts the parts together: the name followed by the region, and a
/// description of vendor, class, facts, region and billing.
fn assemble(
    offer: &Offer<'_>,
    (name_zh, name_en): (String, String),
    (class_zh, class_en): (&str, &str),
    key: &str,
    (facts_zh, facts_en): (Vec<String>, Vec<String>),
) -> ListingText {
    let region = offer.region;
    let region_zh = region.name.zh.as_deref().unwrap_or(&region.code);
    let region_en = region.name.en.as_deref().unwrap_or(&region.code);
    // Every alias in Chinese text; the Latin ones in English text.
    let aliases_zh = offer.vendor.aliases().join(" ");
    let aliases_en = offer
        .vendor
        .aliases()
        .iter()
        .filter(|a| a.is_ascii())
        .copied()
        .collect::<Vec<_>>()
        .join(" ");
    let facts_zh: Vec<String> = facts_zh.into_iter().filter(|f| !f.is_empty()).collect();
    let facts_en: Vec<String> = facts_en.into_iter().filter(|f| !f.is_empty()).collect();
    let mut description_zh = format!("{} {aliases_zh} {class_zh} {key}", offer.vendor.name_zh());
    let mut description_en = format!("{} {aliases_en} {class_en} {key}", offer.vendor.name_en());
    normalise_spaces(&mut description_zh);
    normalise_spaces(&mut description_en);
    if !facts_zh.is_empty() {
        description_zh.push('，');
        description_zh.push_str(&facts_zh.join("，"));
        description_en.push_str(", ");
        description_en.push_str(&facts_en.join(", "));
    }
    description_zh.push_str(&format!("。地域：{region_zh}，{}。", region.code));
    description_en.push_str(&format!(". Region: {region_en}, {}.", region.code));
    if !offer.billing.is_empty() {
        let labels: Vec<LocalizedText> = offer.billing.iter().map(BillingMode::label).collect();
        let zh: Vec<&str> = labels.iter().filter_map(|l| l.zh.as_deref()).collect();
        let en: Vec<&str> = labels.iter().filter_map(|l| l.en.as_deref()).collect();
        description_zh.push_str(&format!("计费方式：{}。", zh.join("、")));
        description_en.push_str(&format!(" Billing: {}.", en.join(", ")));
    }
    ListingText {
        name: LocalizedText {
            en: Some(format!("{name_en} · {region_en}")),
            zh: Some(format!("{name_zh} · {region_zh}")),
        },
        description: LocalizedText {
            en: Some(description_en),
            zh: Some(description_zh),
        },
    }
}

fn normalise_spaces(text: &mut String) {
    *text = text.split_whitespace().collect::<Vec<_>>().join(" ");
}

/// The non-empty parts, trimmed, parted by one space.
fn words(parts: &[&str]) -> String {
    parts
        .iter()
        .map(|p| p.trim())
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The vendor's name, unless the product's name already says it.
fn vendor_unless_named<'a>(vendor: &'a str, product: &str) -> &'a str {
    if product.contains(vendor) { "" } else { vendor }
}

fn decimal(value: Decimal) -> String {
    value.normalize().to_string()
}

/// `4核8G`, `2核0.5G`.
fn size_zh(specs: &Specs) -> String {
    let cores = specs.vcpu.map(|n| format!("{n}核")).unwrap_or_default();
    let memory = specs
        .memory_gib
        .map(|m| format!("{}G", decimal(m)))
        .unwrap_or_default();
    format!("{cores}{memory}")
}

/// `4 vCPU 8 GiB`.
fn size_en(specs: &Specs) -> String {
    words(&[
        &specs.vcpu.map(|n| format!("{n} vCPU")).unwrap_or_default(),
        &specs
            .memory_gib
            .map(|m| format!("{} GiB", decimal(m)))
            .unwrap_or_default(),
    ])
}

fn size_facts_zh(specs: &Specs) -> Vec<String> {
    let mut facts = Vec::new();
    if let Some(vcpu) = specs.vcpu {
        facts.push(format!("{vcpu} 核 vCPU"));
    }
    if let Some(memory) = specs.memory_gib {
        facts.push(format!("{} GiB 内存", decimal(memory)));
    }
    facts
}

fn size_facts_en(specs: &Specs) -> Vec<String> {
    let mut facts = Vec::new();
    if let Some(vcpu) = specs.vcpu {
        facts.push(format!("{vcpu} vCPU"));
    }
    if let Some(memory) = specs.memory_gib {
        facts.push(format!("{} GiB memory", decimal(memory)));
    }
    facts
}

/// `8 卡 NVIDIA A100`; empty without GPUs.
fn gpu_zh(specs: &Specs) -> String {
    match (specs.gpu_count.filter(|n| *n > 0), &specs.gpu_model) {
        (Some(n), Some(model)) => format!("{n} 卡 {model}"),
        (Some(n), None) => format!("{n} 卡 GPU"),
        _ => String::new(),
    }
}

/// `8 × NVIDIA A100`; empty without GPUs.
fn gpu_en(specs: &Specs) -> String {
    match (specs.gpu_count.filter(|n| *n > 0), &specs.gpu_model) {
        (Some(n), Some(model)) => format!("{n} × {model}"),
        (Some(n), None) => format!("{n} × GPU"),
        _ => String::new(),
    }
}

fn arch_name(arch: Architecture) -> &'static str {
    match arch {
        Architecture::X86_64 => "x86_64",
        Architecture::Arm64 => "Arm64",
        Architecture::Power => "POWER",
    }
}

/// The shown name of an OS key (`linux` → `Linux`).
fn os_name(os: &str) -> &str {
    match os {
        "linux" => "Linux",
        "windows" => "Windows Server",
        "rhel" => "Red Hat Enterprise Linux",
        "suse" | "sles" => "SUSE Linux Enterprise Server",
        "ubuntu" => "Ubuntu",
        other => other,
    }
}

/// The shown name of an engine key (`postgresql` → `PostgreSQL`).
fn engine_name(engine: &str) -> &str {
    match engine {
        "mysql" => "MySQL",
        "postgresql" => "PostgreSQL",
        "sqlserver" => "SQL Server",
        "redis" => "Redis",
        "mongodb" => "MongoDB",
        "mariadb" => "MariaDB",
        "kafka" => "Kafka",
        "rabbitmq" => "RabbitMQ",
        "rocketmq" => "RocketMQ",
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::geography;

    #[test]
    fn unglue_parts_latin_from_chinese() {
        assert_eq!(unglue("标准型S5"), "标准型 S5");
        assert_eq!(unglue("弹性云主机ECS"), "弹性云主机 ECS");
        assert_eq!(unglue("云防火墙(原生版)"), "云防火墙(原生版)");
        assert!(!has_glued_words(&unglue("GPU计算型GN7")));
    }

    fn texts(text: &ListingText) -> [String; 4] {
        [
            text.name.zh.clone().unwrap(),
            text.name.en.clone().unwrap(),
            text.description.zh.clone().unwrap(),
            text.description.en.clone().unwrap(),
        ]
    }

    #[test]
    fn a_gpu_instance_says_vendor_class_size_gpus_region_and_billing() {
        let region = geography::region_of(Vendor::Aws, "us-east-1").unwrap();
        let specs = Specs {
            vcpu: Some(96),
            memory_gib: Some(Decimal::from(1152)),
            gpu_count: Some(8),
            gpu_model: Some("NVIDIA A100".into()),
            architecture: Some(Architecture::X86_64),
            os: Some("linux".into()),
            ..Specs::default()
        };
        let offer = Offer {
            vendor: Vendor::Aws,
            region: &region,
            billing: &[BillingMode::OnDemand, BillingMode::Spot],
        };
        let text = compute_text(
            &offer,
            &Category::parse("compute.gpu").unwrap(),
            &Instance {
                instance_type: "p4d.24xlarge",
                family_zh: "GPU 训练型（NVIDIA A100）",
                family_en: "GPU Training (NVIDIA A100)",
                specs: &specs,
            },
        );
        let [name_zh, name_en, desc_zh, desc_en] = texts(&text);
        assert!(name_zh.contains("亚马逊云科技 GPU"), "{name_zh}");
        assert!(name_zh.contains("96核1152G") && name_zh.contains("8 卡 NVIDIA A100"));
        assert!(name_en.contains("8 × NVIDIA A100") && name_en.contains("96 vCPU 1152 GiB"));
        assert!(
            name_zh.contains("阿什本") && name_en.contains("Ashburn"),
            "{name_en}"
        );
        assert!(desc_zh.contains("GPU 云服务器") && desc_zh.contains("云主机"));
        assert!(desc_zh.contains("按量付费") && desc_zh.contains("竞价"));
        assert!(desc_en.contains("on demand") && desc_en.contains("spot"));
        assert!(desc_en.contains("AWS") && desc_en.contains("virtual machine"));
        for t in [&name_zh, &name_en, &desc_zh, &desc_en] {
            assert!(!has_glued_words(t), "{t}");
        }
    }

    #[test]
    fn a_bare_metal_instance_says_bare_metal_server_not_virtual_machine() {
        let region = geography::region_of(Vendor::Aws, "us-east-1").unwrap();
        let specs = Specs {
            vcpu: Some(96),
            memory_gib: Some(Decimal::from(384)),
            ..Specs::default()
        };
        let offer = Offer {
            vendor: Vendor::Aws,
            region: &region,
            billing: &[BillingMode::OnDemand],
        };
        let instance = Instance {
            instance_type: "m5.metal",
            family_zh: "通用型 m5",
            family_en: "General purpose m5",
            specs: &specs,
        };
        let metal = Category::parse("compute.bare_metal").unwrap();
        let [_, _, desc_zh, desc_en] = texts(&compute_text(&offer, &metal, &instance));
        assert!(desc_zh.contains("裸金属服务器"), "{desc_zh}");
        assert!(desc_en.contains("bare metal server"), "{desc_en}");
        assert!(!desc_zh.contains("云主机") && !desc_en.contains("virtual machine"));
        // The same instance as a virtual machine, and with GPUs, says so.
        let vm = Category::parse("compute.vm").unwrap();
        let [_, _, _, desc_en] = texts(&compute_text(&offer, &vm, &instance));
        assert!(desc_en.contains(" virtual machine"), "{desc_en}");
        let gpu_specs = Specs {
            gpu_count: Some(8),
            ..specs.clone()
        };
        let gpu = Instance {
            specs: &gpu_specs,
            ..instance
        };
        let [_, _, _, desc_en] = texts(&compute_text(&offer, &vm, &gpu));
        assert!(desc_en.contains("GPU virtual machine"), "{desc_en}");
    }

    #[test]
    fn a_database_says_engine_and_version_and_vendor() {
        let region = geography::region_of(Vendor::Alibaba, "cn-shanghai").unwrap();
        let specs = Specs {
            vcpu: Some(2),
            memory_gib: Some(Decimal::from(4)),
            engine: Some("mysql".into()),
            engine_version: Some("8.0".into()),
            ..Specs::default()
        };
        let offer = Offer {
            vendor: Vendor::Alibaba,
            region: &region,
            billing: &[BillingMode::OnDemand, BillingMode::Monthly],
        };
        let text = database_text(
            &offer,
            &Category::parse("database.relational").unwrap(),
            &Database {
                product_zh: "云数据库 RDS MySQL 版 8.0",
                product_en: "ApsaraDB RDS for MySQL 8.0",
                specs: &specs,
            },
        );
        let [name_zh, name_en, desc_zh, desc_en] = texts(&text);
        assert!(name_zh.starts_with("阿里云 云数据库") && name_zh.contains("2核4G"));
        assert!(name_en.starts_with("Alibaba Cloud ApsaraDB"));
        assert!(desc_zh.contains("云数据库 MySQL 8.0") && desc_zh.contains("aliyun"));
        assert!(desc_en.contains("MySQL 8.0 database") && desc_en.contains("monthly subscription"));
        assert!(desc_zh.contains("上海") && desc_en.contains("Shanghai"));
        assert!(desc_zh.contains("包年包月"));
    }

    #[test]
    fn products_name_their_class_and_a_vendor_named_once() {
        let region = geography::region_of(Vendor::Ctyun, "cn-huadong1").unwrap();
        let offer = Offer {
            vendor: Vendor::Ctyun,
            region: &region,
            billing: &[BillingMode::OnDemand],
        };
        let product = Product {
            product_zh: "天翼云 云防火墙",
            product_en: "CTyun Cloud Firewall",
            specs: &Specs::default(),
        };
        let text = security_text(
            &offer,
            &Category::parse("security.firewall").unwrap(),
            &product,
        );
        let [name_zh, _, desc_zh, desc_en] = texts(&text);
        assert_eq!(name_zh, "天翼云 云防火墙 · 华东1（南京）");
        assert!(desc_zh.contains("云防火墙") && desc_en.contains("cloud firewall"));
        // A region the table does not know is shown by its code.
        let unknown = Region::new("cn-mars1", "cn", None).unwrap();
        let offer = Offer {
            region: &unknown,
            ..offer
        };
        let text = storage_text(&offer, &Category::parse("storage.block").unwrap(), &product);
        assert!(text.name.en.unwrap().ends_with("· cn-mars1"));
    }

    #[test]
    fn a_gpu_product_priced_apart_from_its_machine_says_gpu() {
        // GCP prices GPUs on their own: the text function is the product one.
        let region = geography::region_of(Vendor::Gcp, "us-central1").unwrap();
        let offer = Offer {
            vendor: Vendor::Gcp,
            region: &region,
            billing: &[BillingMode::OnDemand],
        };
        let product = Product {
            product_zh: "计算引擎 GPU NVIDIA A100",
            product_en: "Compute Engine GPU NVIDIA A100",
            specs: &Specs::default(),
        };
        let gpu = Category::parse("compute.gpu").unwrap();
        let [_, _, desc_zh, desc_en] = texts(&service_text(&offer, &gpu, &product));
        assert!(desc_zh.contains("GPU 云服务器"), "{desc_zh}");
        assert!(desc_en.contains("GPU virtual machine"), "{desc_en}");
        let metal = Category::parse("compute.bare_metal").unwrap();
        let [_, _, desc_zh, desc_en] = texts(&service_text(&offer, &metal, &product));
        assert!(desc_zh.contains("裸金属") && desc_en.contains("bare metal"));
        assert!(!desc_en.contains("virtual machine"), "{desc_en}");
    }

    #[test]
    fn glued_words_are_found() {
        assert!(has_glued_words("亚马逊云科技GPU"));
        assert!(has_glued_words("GPU计算型"));
        assert!(!has_glued_words("亚马逊云科技 GPU 计算型 4核8G"));
        assert!(!has_glued_words("通用型（Graviton）"));
    }
}
