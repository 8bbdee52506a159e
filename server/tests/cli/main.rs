//! The `shiyun` binary end to end: migrate, demo, serve with graceful
//! shutdown, catalog import (dry run and stored) and run reports.

#![expect(
    clippy::unwrap_used,
    reason = "a test fails loudly at the first surprise"
)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

fn shiyun(db_dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_shiyun"));
    // Only this test's settings; nothing from the developer's environment.
    for (key, _) in std::env::vars() {
        if key.starts_with("SHIYUN_") {
            cmd.env_remove(key);
        }
    }
    cmd.env(
        "SHIYUN_DATABASE_URL",
        format!("sqlite://{}/shiyun.sqlite", db_dir.display()),
    )
    .env("SHIYUN_BIND", "127.0.0.1:0")
    .env("SHIYUN_RUN_SCHEDULES", "false")
    .env("SHIYUN_LOG", "warn")
    .current_dir(db_dir);
    cmd
}

fn ok(output: Output) -> String {
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "exit {:?}\nstdout:\n{stdout}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

fn fixture(vendor: &str, file: &str) -> PathBuf {
    let dir = std::env::var_os("FIXTURES_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures"));
    let path = dir.join("vendors").join(vendor).join(file);
    assert!(path.exists(), "fixture {} is missing", path.display());
    path
}

/// Starts `shiyun serve` and returns it with the port it printed.
fn serve(db_dir: &Path) -> (Child, u16) {
    let mut child = shiyun(db_dir)
        .arg("serve")
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut lines = BufReader::new(stderr).lines();
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        let Some(Ok(line)) = lines.next() else { break };
        if let Some(rest) = line.split("serving on http://").nth(1) {
            let port = rest.rsplit(':').next().unwrap().trim().parse().unwrap();
            // Keep draining stderr so the child never blocks on a full pipe.
            std::thread::spawn(move || for _ in lines {});
            return (child, port);
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("server did not report its address");
}

fn get(port: u16, path: &str) -> (u16, serde_json::Value) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let response = reqwest::get(format!("http://127.0.0.1:{port}{path}"))
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap())
    })
}

fn post(
    port: u16,
    path: &str,
    token: Option<&str>,
    body: serde_json::Value,
) -> (u16, serde_json::Value) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let mut request = reqwest::Client::new()
            .post(format!("http://127.0.0.1:{port}{path}"))
            .json(&body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or_default())
    })
}

fn get_as(port: u16, path: &str, token: &str) -> u16 {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        reqwest::Client::new()
            .get(format!("http://127.0.0.1:{port}{path}"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    })
}

fn stop(mut child: Child) {
    let _ = child.kill();
    let _ = child.wait();
}

/// The value after `label` on the first line that has it.
fn after<'a>(text: &'a str, label: &str) -> &'a str {
    text.lines()
        .find_map(|line| line.split(label).nth(1))
        .unwrap_or_else(|| panic!("no `{label}` in:\n{text}"))
        .split_whitespace()
        .next()
        .unwrap()
}

#[test]
fn operators_are_created_on_the_command_line_and_log_in() {
    let dir = tempfile::tempdir().unwrap();
    let made = ok(shiyun(dir.path())
        .args(["admin", "create-operator", "--login", "ops@example.com"])
        .output()
        .unwrap());
    let generated = after(&made, "password: ").to_owned();
    assert!(generated.len() >= 20, "{made}");
    let quiet = ok(shiyun(dir.path())
        .args(["admin", "create-operator", "--login", "ops2@example.com"])
        .env("SHIYUN_OPERATOR_PASSWORD", "Given-By-The-Environment-7")
        .output()
        .unwrap());
    assert!(
        !quiet.contains("password"),
        "a given password is not printed: {quiet}"
    );

    let (child, port) = serve(dir.path());
    let (status, tokens) = post(
        port,
        "/v1/auth/login",
        None,
        serde_json::json!({"login": "ops@example.com", "password": generated}),
    );
    assert_eq!(status, 200, "{tokens}");
    let access = tokens["access_token"].as_str().unwrap();
    assert_eq!(
        get_as(port, "/v1/sync-runs", access),
        200,
        "an operator reads sync runs"
    );
    let (status, _) = post(
        port,
        "/v1/auth/login",
        None,
        serde_json::json!({"login": "ops2@example.com", "password": "Given-By-The-Environment-7"}),
    );
    assert_eq!(status, 200);
    stop(child);
}

#[test]
fn migrate_is_idempotent() {
    let dir = tempfile::tempdir().unwrap();
    ok(shiyun(dir.path()).arg("migrate").output().unwrap());
    let again = ok(shiyun(dir.path()).arg("migrate").output().unwrap());
    assert!(again.contains("up to date"));
}

#[test]
fn demo_then_serve_answers_search_and_stops_gracefully_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let demo = shiyun(dir.path())
        .args(["demo", "--listings", "400", "--no-serve"])
        .output()
        .unwrap();
    let printed = String::from_utf8_lossy(&demo.stderr).into_owned();
    ok(demo);
    assert_eq!(
        after(&printed, "demo operator: login "),
        "operator@demo.shiyun.local"
    );
    let first_password = after(&printed, " password ").to_owned();
    assert!(
        printed.contains("/v1/auth/login"),
        "a curl line to log in: {printed}"
    );
    // A second demo on the same database prints a new password that works.
    let again = shiyun(dir.path())
        .args(["demo", "--listings", "400", "--no-serve"])
        .output()
        .unwrap();
    let printed = String::from_utf8_lossy(&again.stderr).into_owned();
    ok(again);
    let password = after(&printed, " password ").to_owned();
    assert_ne!(password, first_password);
    let (mut child, port) = serve(dir.path());
    let (status, _) = post(
        port,
        "/v1/auth/login",
        None,
        serde_json::json!({"login": "operator@demo.shiyun.local", "password": first_password}),
    );
    assert_eq!(status, 401, "the earlier demo's password is replaced");
    let (status, tokens) = post(
        port,
        "/v1/auth/login",
        None,
        serde_json::json!({"login": "operator@demo.shiyun.local", "password": password}),
    );
    assert_eq!(status, 200, "the printed credentials log in: {tokens}");
    assert_eq!(
        get_as(
            port,
            "/v1/sync-runs",
            tokens["access_token"].as_str().unwrap()
        ),
        200
    );
    let (status, page) = get(port, "/v1/listings?vendor=alibaba&limit=5");
    assert_eq!(status, 200);
    let items = page["items"].as_array().unwrap();
    assert_eq!(items.len(), 5);
    for item in items {
        assert_eq!(item["vendor"], "alibaba");
        assert!(
            item["name"]["zh"]
                .as_str()
                .unwrap()
                .chars()
                .any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c))
        );
    }
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "server did not stop after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(
        status.success(),
        "graceful shutdown exits 0, got {status:?}"
    );
}

/// Runs `catalog import --vendor aws --dry-run --format jsonl FILE`; returns
/// stdout and its lines parsed.
fn aws_dry_run(dir: &Path, file: &Path) -> (String, Vec<serde_json::Value>) {
    let stdout = ok(shiyun(dir)
        .args([
            "catalog",
            "import",
            "--vendor",
            "aws",
            "--dry-run",
            "--format",
            "jsonl",
        ])
        .arg(file)
        .output()
        .unwrap());
    let lines = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    (stdout, lines)
}

/// Runs `catalog import --vendor aws FILE` (stored) and returns its output.
fn aws_import(dir: &Path, file: &Path) -> String {
    ok(shiyun(dir)
        .args(["catalog", "import", "--vendor", "aws"])
        .arg(file)
        .output()
        .unwrap())
}

/// `catalog runs --vendor V`: the whole output and the vendor's rows.
fn run_rows(dir: &Path, vendor: &str) -> (String, Vec<String>) {
    let runs = ok(shiyun(dir)
        .args(["catalog", "runs", "--vendor", vendor])
        .output()
        .unwrap());
    let rows = runs
        .lines()
        .filter(|l| l.contains(&format!(" {vendor} ")))
        .map(str::to_owned)
        .collect();
    (runs, rows)
}

/// Every price amount of dry-run lines, as the decimal strings printed.
fn price_amounts(lines: &[serde_json::Value]) -> Vec<&str> {
    lines
        .iter()
        .flat_map(|l| l["prices"].as_array().unwrap())
        .map(|p| p["amount"]["amount"].as_str().unwrap())
        .collect()
}

#[test]
fn catalog_import_dry_run_prints_exact_jsonl() {
    let dir = tempfile::tempdir().unwrap();
    let file = fixture("aws", "pricing-getproducts-ec2-ebs-piops-ca-central-1.json");
    let (_, lines) = aws_dry_run(dir.path(), &file);
    assert!(!lines.is_empty());
    for line in &lines {
        for key in [
            "id",
            "vendor",
            "vendor_sku",
            "category",
            "region",
            "geography",
            "specs",
            "prices",
        ] {
            assert!(line.get(key).is_some(), "{key} in {line}");
        }
        assert_eq!(line["vendor"], "aws");
        assert_eq!(line["region"], "ca-central-1");
    }
    let amounts = price_amounts(&lines);
    assert!(
        amounts.contains(&"0.1380000000"),
        "exact decimal string kept: {amounts:?}"
    );
    // A dry run stores nothing.
    let runs = ok(shiyun(dir.path())
        .args(["catalog", "runs"])
        .output()
        .unwrap());
    assert!(runs.contains("no runs yet"), "{runs}");
}

#[test]
fn catalog_import_stores_and_reports_runs() {
    let dir = tempfile::tempdir().unwrap();
    let file = fixture("aws", "pricing-getproducts-ec2-ebs-piops-ca-central-1.json");
    let first = aws_import(dir.path(), &file);
    assert!(
        first.contains("succeeded") && first.contains("1 new"),
        "{first}"
    );
    let second = aws_import(dir.path(), &file);
    assert!(
        second.contains("0 new") && second.contains("1 unchanged"),
        "{second}"
    );
    let (runs, rows) = run_rows(dir.path(), "aws");
    assert_eq!(rows.len(), 2, "{runs}");
    assert!(
        rows.iter()
            .all(|r| r.contains("import") && r.contains("succeeded")),
        "{runs}"
    );
}

#[test]
fn test_and_unknown_regions_are_reported_apart_from_rejections() {
    let dir = tempfile::tempdir().unwrap();
    // One Kingsoft instance type in a known zone, a zone of the test region
    // `cn-qingyangtest-1` and a zone the geography table does not know.
    let file = dir.path().join("kingsoft-configs.json");
    let zones = ["cn-beijing-6a", "cn-qingyangtest-1a", "cn-mars-1a"]
        .map(|z| serde_json::json!({ "AvailabilityZone": z }));
    let body = serde_json::json!({"RequestId": "r", "InstanceTypeConfigSet": [
        {"InstanceType": "N3.2B", "InstanceFamily": "N3", "CPU": 2, "Memory": 4, "AvailabilityZoneSet": zones}
    ]});
    std::fs::write(&file, body.to_string()).unwrap();
    let imported = ok(shiyun(dir.path())
        .args(["catalog", "import", "--vendor", "kingsoft"])
        .arg(&file)
        .output()
        .unwrap());
    assert!(imported.contains("2 new"), "{imported}");
    let skipped = "  test region cn-qingyangtest-1a: skipped 1, never stored";
    let unknown = "  unknown region cn-mars-1a: offers stored under this code";
    for output in [&imported, &run_rows(dir.path(), "kingsoft").0] {
        assert!(output.contains(skipped), "{output}");
        assert!(output.contains(unknown), "{output}");
        assert!(!output.contains("  rejected"), "not rejections: {output}");
    }
    let (runs, rows) = run_rows(dir.path(), "kingsoft");
    let columns: Vec<&str> = rows[0].split_whitespace().collect();
    assert_eq!(
        columns[columns.len() - 3..],
        ["0", "1", "1"],
        "rejected, skipped, unknown: {runs}"
    );
}

#[test]
fn bad_arguments_fail_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let output = shiyun(dir.path())
        .args(["catalog", "import", "--vendor", "oracle", "x.json"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("unknown vendor `oracle`"));
    let output = shiyun(dir.path())
        .arg("serve")
        .env("SHIYUN_BIND", "not-an-address")
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("invalid settings"));
}

/// An Azure Retail Prices item in the documented shape, from the shared sample.
fn azure_item(n: u32, price: &str) -> serde_json::Value {
    let bytes = std::fs::read(fixture(
        "azure",
        "retail-prices-item-devtest-f16s-spot-westeurope-usd.json",
    ))
    .unwrap();
    let mut item: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    item["meterId"] = format!("00000000-0000-0000-0000-{n:012}").into();
    item["skuId"] = format!("DZH318Z0BQPS/{n:04}").into();
    item["retailPrice"] = serde_json::from_str(price).unwrap();
    item["unitPrice"] = serde_json::from_str(price).unwrap();
    item
}

fn azure_page(items: Vec<serde_json::Value>, next: Option<String>) -> serde_json::Value {
    serde_json::json!({
        "BillingCurrency": "USD",
        "CustomerEntityId": "Default",
        "CustomerEntityType": "Retail",
        "Items": items,
        "NextPageLink": next,
        "Count": 2,
    })
}

#[test]
fn catalog_sync_survives_a_failure_and_resumes() {
    use wiremock::matchers::{method, query_param, query_param_is_missing};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let server = runtime.block_on(MockServer::start());
    let base = server.uri();
    let page_two = "https://prices.azure.com/api/retail/prices?$skip=100&page=2".to_owned();
    runtime.block_on(async {
        Mock::given(method("GET"))
            .and(query_param_is_missing("page"))
            .respond_with(ResponseTemplate::new(200).set_body_json(azure_page(
                vec![azure_item(1, "0.1234"), azure_item(2, "1.5")],
                Some(page_two.clone()),
            )))
            .mount(&server)
            .await;
        // Page two fails for longer than the retries last.
        Mock::given(method("GET"))
            .and(query_param("page", "2"))
            .respond_with(ResponseTemplate::new(503))
            .mount(&server)
            .await;
    });

    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("shiyun.toml");
    std::fs::write(
        &config,
        format!(
            "[vendors.azure]\nendpoint = \"{base}/api/retail/prices\"\nservices = [\"Virtual Machines\"]\nregions = [\"westeurope\"]\nmax_retries = 1\n"
        ),
    )
    .unwrap();
    let failed = shiyun(dir.path())
        .args([
            "--config",
            config.to_str().unwrap(),
            "catalog",
            "sync",
            "--vendor",
            "azure",
        ])
        .output()
        .unwrap();
    assert!(!failed.status.success(), "page two keeps failing");
    let stdout = String::from_utf8_lossy(&failed.stdout);
    // The page's last meter is held in the token in case its tiers go on over
    // page two, so one listing is stored before the failure.
    assert!(
        stdout.contains("failed") && stdout.contains("1 new"),
        "{stdout}"
    );

    // The vendor recovers; resuming fetches page two only and completes the same run.
    runtime.block_on(async {
        server.reset().await;
        Mock::given(method("GET"))
            .and(query_param("page", "2"))
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_json(azure_page(vec![azure_item(3, "2.25")], None)),
            )
            .expect(1)
            .mount(&server)
            .await;
    });
    let resumed = ok(shiyun(dir.path())
        .args([
            "--config",
            config.to_str().unwrap(),
            "catalog",
            "sync",
            "--vendor",
            "azure",
            "--resume",
        ])
        .output()
        .unwrap());
    assert!(
        resumed.contains("succeeded") && resumed.contains("3 new"),
        "{resumed}"
    );
    let (runs, rows) = run_rows(dir.path(), "azure");
    assert_eq!(rows.len(), 1, "resuming continues the same run: {runs}");
    runtime.block_on(server.verify());
}

/// A small Bulk API offer file: two products, on-demand and reserved terms.
fn aws_offer_file() -> String {
    serde_json::json!({
        "formatVersion": "v1.0",
        "disclaimer": "This pricing list is for informational purposes only.",
        "offerCode": "AmazonEC2",
        "version": "20261101000000",
        "publicationDate": "2026-11-01T00:00:00Z",
        "products": {
            "SKU1": {"sku": "SKU1", "productFamily": "Compute Instance", "attributes": {
                "servicecode": "AmazonEC2", "regionCode": "eu-central-1", "instanceType": "m7i.large",
                "vcpu": "2", "memory": "8 GiB", "operatingSystem": "Linux", "tenancy": "Shared",
                "capacitystatus": "Used", "physicalProcessor": "Intel Xeon Scalable (Sapphire Rapids)"}},
            "SKU2": {"sku": "SKU2", "productFamily": "Storage", "attributes": {
                "servicecode": "AmazonEC2", "regionCode": "eu-central-1", "volumeApiName": "gp3",
                "volumeType": "General Purpose"}}
        },
        "terms": {
            "OnDemand": {
                "SKU1": {"SKU1.JRTCKXETXF": {"offerTermCode": "JRTCKXETXF", "sku": "SKU1", "termAttributes": {},
                    "priceDimensions": {"SKU1.JRTCKXETXF.6YS6EN2CT7": {"unit": "Hrs", "beginRange": "0",
                        "endRange": "Inf", "pricePerUnit": {"USD": "0.1176000000"}}}}},
                "SKU2": {"SKU2.JRTCKXETXF": {"offerTermCode": "JRTCKXETXF", "sku": "SKU2", "termAttributes": {},
                    "priceDimensions": {"SKU2.JRTCKXETXF.6YS6EN2CT7": {"unit": "GB-Mo", "beginRange": "0",
                        "endRange": "Inf", "pricePerUnit": {"USD": "0.0952000000"}}}}}
            },
            "Reserved": {
                "SKU1": {"SKU1.4NA7Y494T4": {"offerTermCode": "4NA7Y494T4", "sku": "SKU1", "termAttributes": {
                    "LeaseContractLength": "1yr", "OfferingClass": "standard", "PurchaseOption": "All Upfront"},
                    "priceDimensions": {
                        "SKU1.4NA7Y494T4.2TG2D8R56U": {"unit": "Quantity", "pricePerUnit": {"USD": "618"}},
                        "SKU1.4NA7Y494T4.6YS6EN2CT7": {"unit": "Hrs", "beginRange": "0", "endRange": "Inf",
                            "pricePerUnit": {"USD": "0.0000000000"}}}}}
            }
        }
    })
    .to_string()
}

#[test]
fn aws_offer_files_are_streamed_into_the_catalog() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("index.json");
    std::fs::write(&file, aws_offer_file()).unwrap();
    let (stdout, lines) = aws_dry_run(dir.path(), &file);
    assert_eq!(lines.len(), 3, "{stdout}");
    let amounts = price_amounts(&lines);
    for expected in ["0.1176000000", "0.0952000000", "618"] {
        assert!(amounts.contains(&expected), "{expected} in {amounts:?}");
    }
    assert!(
        lines.iter().all(|l| l["geography"] == "de/frankfurt"),
        "{stdout}"
    );

    let stored = aws_import(dir.path(), &file);
    assert!(
        stored.contains("succeeded") && stored.contains("3 new"),
        "{stored}"
    );
}

#[test]
fn a_dry_run_into_a_closed_pipe_says_the_output_went_away() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("index.json");
    std::fs::write(&file, aws_offer_file()).unwrap();
    // The reader is gone before the command starts, as with `| head -0`.
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let output = shiyun(dir.path())
        .args(["catalog", "import", "--vendor", "aws", "--dry-run"])
        .arg(&file)
        .stdout(writer)
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("cannot write the output"), "{stderr}");
    assert!(
        !stderr.contains("index.json"),
        "the file is not to blame: {stderr}"
    );
}

#[test]
fn resuming_with_no_failed_sync_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let output = shiyun(dir.path())
        .args(["catalog", "sync", "--vendor", "azure", "--resume"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("azure has no failed run to resume"),
        "{stderr}"
    );
}
