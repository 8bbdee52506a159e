//! Synonyms, applied when a query is parsed (so an edit takes effect at
//! once, without reindexing): a query word in a group also matches every
//! other word of the group.

use std::collections::HashMap;

use shiyun_core::search::{SynonymGroup, SynonymSet};

/// The groups a marketplace needs from the start: product words and the
/// vendors' names.
pub const DEFAULT_GROUPS: &[&[&str]] = &[
    &[
        "ecs",
        "ec2",
        "cvm",
        "vm",
        "instance",
        "云服务器",
        "虚拟机",
        "uhost",
        "kec",
    ],
    &["rds", "数据库", "database", "cloudsql", "云数据库"],
    &[
        "oss",
        "s3",
        "cos",
        "对象存储",
        "object storage",
        "blob",
        "gcs",
        "us3",
        "ks3",
        "zos",
    ],
    &["cdn", "内容分发", "内容分发网络"],
    &["slb", "clb", "elb", "负载均衡", "load balancer"],
    &["redis", "缓存", "cache", "memcached"],
    &["gpu", "显卡", "gpu云服务器"],
    &["阿里云", "aliyun", "阿里", "alibaba"],
    &["aws", "亚马逊", "amazon", "亚马逊云"],
    &["腾讯云", "腾讯", "tencent", "qcloud"],
    &["天翼云", "天翼", "ctyun", "电信"],
    &["azure", "微软", "microsoft"],
    &["gcp", "谷歌", "google", "谷歌云"],
    &["金山云", "金山", "kingsoft", "ksyun"],
    &["ucloud", "优刻得"],
    &["ibm", "ibm cloud"],
    &["windows", "win", "视窗"],
    &["postgresql", "postgres", "pg"],
];

/// The built-in defaults as a set (version 0).
pub fn default_set() -> SynonymSet {
    SynonymSet {
        groups: DEFAULT_GROUPS
            .iter()
            .filter_map(|terms| SynonymGroup::new(terms.iter()).ok())
            .collect(),
        version: 0,
        updated_at: None,
    }
}

/// A lookup from a term to the other terms of its groups.
#[derive(Debug, Clone, Default)]
pub struct Synonyms {
    set: Option<SynonymSet>,
    by_term: HashMap<String, Vec<String>>,
}

impl Synonyms {
    /// The lookup of `set`.
    pub fn new(set: SynonymSet) -> Self {
        let mut by_term: HashMap<String, Vec<String>> = HashMap::new();
        for group in &set.groups {
            for term in group.terms() {
                let others = by_term.entry(term.clone()).or_default();
                for other in group.terms() {
                    if other != term && !others.contains(other) {
                        others.push(other.clone());
                    }
                }
            }
        }
        Synonyms {
            set: Some(set),
            by_term,
        }
    }

    /// The other terms of `term`'s groups (lowercase lookup).
    pub fn of(&self, term: &str) -> &[String] {
        self.by_term
            .get(&term.to_lowercase())
            .map_or(&[], Vec::as_slice)
    }

    /// The set in force.
    pub fn set(&self) -> SynonymSet {
        self.set.clone().unwrap_or_else(default_set)
    }

    /// Its version.
    pub fn version(&self) -> u64 {
        self.set.as_ref().map_or(0, |s| s.version)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_default_group_is_valid_and_lookups_go_both_ways() {
        assert_eq!(default_set().groups.len(), DEFAULT_GROUPS.len());
        let synonyms = Synonyms::new(default_set());
        assert!(synonyms.of("ECS").contains(&"云服务器".to_owned()));
        assert!(synonyms.of("云服务器").contains(&"ec2".to_owned()));
        assert!(synonyms.of("阿里").contains(&"阿里云".to_owned()));
        assert!(synonyms.of("亚马逊").contains(&"aws".to_owned()));
        assert!(synonyms.of("unrelated").is_empty());
    }
}
