//! `shiyun search`: the catalog search of `GET /v1/search` from the
//! command line, over the database and index of the settings.

use std::sync::Arc;

use anyhow::{Context, Result};
use shiyun_search::{CatalogIndex, Hit, SearchResponse};

use crate::cli::{SearchArgs, open_database, open_search_index};
use crate::routes::search::{SearchParams, api_cursor};
use crate::settings::Settings;

/// Runs `shiyun search`.
pub async fn run(settings: Settings, args: SearchArgs) -> Result<()> {
    let params = SearchParams {
        q: Some(args.query.clone()),
        currency: args.currency.clone(),
        limit: Some(args.limit.to_string()),
        facets: args.facets.clone(),
        ..SearchParams::default()
    };
    let request = params
        .to_request(settings.search.default_currency)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let db = open_database(&settings).await?;
    let index = match open_search_index(&settings).await {
        Ok(index) => index,
        Err(error) => {
            // A running server holds the index directory: search a copy in memory.
            eprintln!("note: {error:#}; searching an index built in memory");
            Arc::new(crate::search::memory_index(&settings.search)?)
        }
    };
    crate::search::warm(
        Arc::clone(&index),
        Arc::new(db.clone()),
        Arc::new(db.clone()),
        Arc::new(db),
        settings.search.fx.clone(),
    )
    .await?;
    let mut response = search(index, request).await?;
    response.next_cursor = response.next_cursor.as_deref().map(api_cursor);
    if args.json {
        println!("{}", serde_json::to_string_pretty(&response)?);
    } else {
        print!("{}", render(&response));
    }
    Ok(())
}

async fn search(
    index: Arc<CatalogIndex>,
    request: shiyun_search::SearchRequest,
) -> Result<SearchResponse> {
    tokio::task::spawn_blocking(move || index.search(&request))
        .await?
        .context("search failed")
}

/// The answer as a table, then the chips and the facet counts.
pub fn render(response: &SearchResponse) -> String {
    let mut rows: Vec<[String; 6]> = vec![[
        "id".into(),
        "vendor".into(),
        "name".into(),
        "region".into(),
        "vCPU/GiB".into(),
        "price".into(),
    ]];
    rows.extend(response.hits.iter().map(row));
    let widths: Vec<usize> = (0..6)
        .map(|c| rows.iter().map(|r| width(&r[c])).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for row in &rows {
        let cells: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(cell, w)| format!("{cell}{}", " ".repeat(w - width(cell))))
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    out.push_str(&format!(
        "{} of {} matches\n",
        response.hits.len(),
        response.total
    ));
    if !response.understood.chips.is_empty() {
        let chips: Vec<String> = response
            .understood
            .chips
            .iter()
            .map(|chip| {
                let label = chip
                    .label
                    .zh
                    .as_deref()
                    .or(chip.label.en.as_deref())
                    .unwrap_or(&chip.source);
                format!("[{label}] ← {}", chip.source)
            })
            .collect();
        out.push_str(&format!("understood: {}\n", chips.join("  ")));
    }
    for (field, counts) in &response.facets {
        let values: Vec<String> = counts
            .iter()
            .map(|c| format!("{} {}", c.value, c.count))
            .collect();
        out.push_str(&format!("{field}: {}\n", values.join(", ")));
    }
    out
}

fn row(hit: &Hit) -> [String; 6] {
    let name = hit
        .name
        .zh
        .as_deref()
        .or(hit.name.en.as_deref())
        .unwrap_or(&hit.vendor_sku);
    let specs = match (hit.specs.vcpu, hit.specs.memory_gib) {
        (Some(vcpu), Some(gib)) => format!("{vcpu}/{gib}"),
        (Some(vcpu), None) => format!("{vcpu}/-"),
        (None, Some(gib)) => format!("-/{gib}"),
        (None, None) => "-".into(),
    };
    let price = hit.price.as_ref().map_or_else(String::new, |p| {
        let unit = serde_json::to_value(p.unit)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        let own = format!("{} {}/{unit}", p.amount, p.currency);
        match &p.converted {
            Some(c) if c.currency != p.currency => format!("{own} (≈ {} {})", c.amount, c.currency),
            _ => own,
        }
    });
    [
        hit.id.to_string(),
        hit.vendor.id().to_owned(),
        name.to_owned(),
        hit.region.clone(),
        specs,
        price,
    ]
}

/// Display width: East Asian wide and full-width characters take two columns.
fn width(text: &str) -> usize {
    text.chars().map(|c| if wide(c) { 2 } else { 1 }).sum()
}

fn wide(c: char) -> bool {
    matches!(c,
        '\u{1100}'..='\u{115f}'
        | '\u{2e80}'..='\u{a4cf}'
        | '\u{ac00}'..='\u{d7a3}'
        | '\u{f900}'..='\u{faff}'
        | '\u{fe30}'..='\u{fe4f}'
        | '\u{ff00}'..='\u{ff60}'
        | '\u{ffe0}'..='\u{ffe6}'
        | '\u{20000}'..='\u{3fffd}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wide_characters_count_twice() {
        assert_eq!(width("上海（二）ab"), 12);
        assert_eq!(width("cn-sh2"), 6);
    }
}
