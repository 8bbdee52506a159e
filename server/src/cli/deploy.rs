//! `shiyun deploy …`: the deployment platform from the command line. A
//! customer's CLI is a client of the HTTP API (it never touches the
//! database), so it does exactly what the API does, with the same
//! permissions and data scopes: the token is an access token or an API key.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use futures::StreamExt;
use serde_json::{Value, json};

/// `shiyun deploy …`.
#[derive(Debug, Args)]
pub struct DeployArgs {
    /// The Shiyun API.
    #[arg(long, env = "SHIYUN_API", default_value = "http://127.0.0.1:8080")]
    pub api: String,
    /// An access token or API key (`sy_key_…`).
    #[arg(long, env = "SHIYUN_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// What to do.
    #[command(subcommand)]
    pub command: DeployCommand,
}

/// The deployment commands.
#[derive(Debug, Subcommand)]
pub enum DeployCommand {
    /// Log in and print an access token (export it as SHIYUN_TOKEN).
    Login {
        /// Email or phone.
        #[arg(long)]
        login: String,
        /// Password.
        #[arg(long, env = "SHIYUN_PASSWORD", hide_env_values = true)]
        password: String,
    },
    /// The clusters the caller may deploy to.
    Clusters,
    /// Register a cluster (operators): a simulated one, or a real one with a
    /// kubeconfig file or a token.
    RegisterCluster {
        /// Name.
        name: String,
        /// The API server URL (a real cluster).
        #[arg(long)]
        api_url: Option<String>,
        /// A kubeconfig file (a real cluster).
        #[arg(long)]
        kubeconfig: Option<PathBuf>,
        /// A bearer token (a real cluster).
        #[arg(long, env = "SHIYUN_CLUSTER_TOKEN", hide_env_values = true)]
        cluster_token: Option<String>,
        /// The in-process simulated cluster.
        #[arg(long)]
        simulated: bool,
    },
    /// Grant a tenant (`ent_…`/`acc_…`) a cluster (operators).
    Grant {
        /// Cluster id.
        cluster: String,
        /// Tenant id.
        tenant: String,
    },
    /// Place a project on a cluster.
    Place {
        /// Project id.
        project: String,
        /// Cluster id.
        #[arg(long)]
        cluster: String,
    },
    /// Create an application from an image (or a full spec file) and roll
    /// out its first release.
    Create(CreateArgs),
    /// List applications (of a project, or all the caller sees).
    Apps {
        /// Only this project.
        #[arg(long)]
        project: Option<String>,
    },
    /// An application: spec, release, address and URLs.
    Show {
        /// Application id.
        app: String,
    },
    /// Deploy a new release: the current spec with a new image, or a spec file.
    Update(UpdateArgs),
    /// Scale by hand.
    Scale {
        /// Application id.
        app: String,
        /// Replicas (an autoscaled application: min and max both).
        #[arg(long)]
        replicas: Option<u32>,
        /// The autoscaler's minimum.
        #[arg(long)]
        min: Option<u32>,
        /// The autoscaler's maximum.
        #[arg(long)]
        max: Option<u32>,
    },
    /// Roll back in one call (to a release, or the last good one).
    Rollback {
        /// Application id.
        app: String,
        /// The release to copy.
        #[arg(long)]
        to: Option<u32>,
    },
    /// The release history.
    Releases {
        /// Application id.
        app: String,
    },
    /// Compare two releases.
    Diff {
        /// Application id.
        app: String,
        /// Earlier release.
        from: u32,
        /// Later release.
        to: u32,
    },
    /// Live status: replicas, pods, events.
    Status {
        /// Application id.
        app: String,
    },
    /// A pod's log.
    Logs {
        /// Application id.
        app: String,
        /// The pod (default: the first).
        #[arg(long)]
        pod: Option<String>,
        /// Lines from the end.
        #[arg(long)]
        tail: Option<u32>,
        /// Keep streaming.
        #[arg(long, short)]
        follow: bool,
    },
    /// Scale to 0, keeping the objects.
    Stop {
        /// Application id.
        app: String,
    },
    /// Start a stopped application.
    Start {
        /// Application id.
        app: String,
    },
    /// Restart every pod.
    Restart {
        /// Application id.
        app: String,
    },
    /// Delete everything the application owns.
    Delete {
        /// Application id.
        app: String,
    },
    /// This month's running cost (the invoice preview).
    Cost,
}

/// Options of `deploy create`.
#[derive(Debug, Args)]
pub struct CreateArgs {
    /// Project id.
    pub project: String,
    /// Application name.
    pub name: String,
    /// The image (with `--port`, `--cpu`, `--memory`, `--replicas`, `--env`).
    #[arg(long, conflicts_with = "spec")]
    pub image: Option<String>,
    /// A spec file (JSON, the API's `spec`).
    #[arg(long)]
    pub spec: Option<PathBuf>,
    /// A container port (repeatable).
    #[arg(long = "port")]
    pub ports: Vec<u16>,
    /// CPU request, millicores.
    #[arg(long, default_value_t = 250)]
    pub cpu: u32,
    /// Memory request, MiB.
    #[arg(long, default_value_t = 256)]
    pub memory: u32,
    /// Replicas.
    #[arg(long, default_value_t = 1)]
    pub replicas: u32,
    /// `NAME=value` (repeatable).
    #[arg(long = "env")]
    pub env: Vec<String>,
}

/// Options of `deploy update`.
#[derive(Debug, Args)]
pub struct UpdateArgs {
    /// Application id.
    pub app: String,
    /// The new image (the rest of the spec stays).
    #[arg(long, conflicts_with = "spec")]
    pub image: Option<String>,
    /// A whole new spec file.
    #[arg(long)]
    pub spec: Option<PathBuf>,
    /// `NAME=value` to set (repeatable).
    #[arg(long = "env")]
    pub env: Vec<String>,
}

struct Api {
    base: String,
    token: Option<String>,
    client: reqwest::Client,
}

impl Api {
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value> {
        let response = self.send(method, path, body).await?;
        let status = response.status();
        let text = response.text().await.context("reading the answer")?;
        let value: Value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        if !status.is_success() {
            let message = value["error"]["message"].as_str().unwrap_or_default();
            let field = value["error"]["field"]
                .as_str()
                .map(|f| format!(" ({f})"))
                .unwrap_or_default();
            bail!("{status}: {message}{field}");
        }
        Ok(value)
    }

    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<reqwest::Response> {
        let url = format!("{}{path}", self.base.trim_end_matches('/'));
        let mut request = self.client.request(method, &url);
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        request
            .send()
            .await
            .with_context(|| format!("cannot reach {url}"))
    }
}

fn env_pairs(pairs: &[String]) -> Result<serde_json::Map<String, Value>> {
    let mut env = serde_json::Map::new();
    for pair in pairs {
        let (name, value) = pair
            .split_once('=')
            .with_context(|| format!("`{pair}` is not NAME=value"))?;
        env.insert(name.to_owned(), Value::String(value.to_owned()));
    }
    Ok(env)
}

fn read_json(path: &PathBuf) -> Result<Value> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{} is not JSON", path.display()))
}

fn print(value: &Value) -> Result<()> {
    let mut out = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, value)?;
    writeln!(out)?;
    Ok(())
}

/// Runs a `shiyun deploy …` command.
pub async fn run(args: DeployArgs) -> Result<()> {
    use reqwest::Method;
    let api = Api {
        base: args.api,
        token: args.token,
        client: reqwest::Client::new(),
    };
    let answer = match args.command {
        DeployCommand::Login { login, password } => {
            let tokens = api
                .call(
                    Method::POST,
                    "/v1/auth/login",
                    Some(json!({"login": login, "password": password})),
                )
                .await?;
            println!("{}", tokens["access_token"].as_str().unwrap_or_default());
            return Ok(());
        }
        DeployCommand::Clusters => api.call(Method::GET, "/v1/clusters", None).await?,
        DeployCommand::RegisterCluster {
            name,
            api_url,
            kubeconfig,
            cluster_token,
            simulated,
        } => {
            let body = if simulated {
                json!({"name": name, "kind": "simulated"})
            } else if let Some(file) = kubeconfig {
                let text = std::fs::read_to_string(&file)
                    .with_context(|| format!("cannot read {}", file.display()))?;
                json!({"name": name, "kind": "kubernetes", "api_url": api_url.unwrap_or_else(|| "https://kubernetes".into()),
                       "credential_kind": "kubeconfig", "credential": text})
            } else {
                json!({"name": name, "kind": "kubernetes", "api_url": api_url.context("--api-url is required with a token")?,
                       "credential_kind": "token", "credential": cluster_token.context("give --kubeconfig, --cluster-token or --simulated")?})
            };
            api.call(Method::POST, "/v1/clusters", Some(body)).await?
        }
        DeployCommand::Grant { cluster, tenant } => {
            api.call(
                Method::PUT,
                &format!("/v1/clusters/{cluster}/grants/{tenant}"),
                None,
            )
            .await?
        }
        DeployCommand::Place { project, cluster } => {
            api.call(
                Method::PUT,
                &format!("/v1/projects/{project}/placement"),
                Some(json!({"cluster": cluster})),
            )
            .await?
        }
        DeployCommand::Create(create) => {
            let spec = match (&create.spec, &create.image) {
                (Some(file), _) => read_json(file)?,
                (None, Some(image)) => json!({
                    "image": image,
                    "ports": create.ports.iter().enumerate().map(|(i, port)| json!({"name": if i == 0 { "http".to_owned() } else { format!("port-{port}") }, "port": port})).collect::<Vec<_>>(),
                    "env": env_pairs(&create.env)?,
                    "resources": {"cpu_millicores": create.cpu, "memory_mib": create.memory},
                    "scale": {"mode": "fixed", "replicas": create.replicas},
                }),
                (None, None) => bail!("give --image or --spec"),
            };
            api.call(
                Method::POST,
                &format!("/v1/projects/{}/apps?wait=true", create.project),
                Some(json!({"name": create.name, "spec": spec})),
            )
            .await?
        }
        DeployCommand::Apps { project } => match project {
            Some(project) => {
                api.call(Method::GET, &format!("/v1/projects/{project}/apps"), None)
                    .await?
            }
            None => api.call(Method::GET, "/v1/apps", None).await?,
        },
        DeployCommand::Show { app } => {
            api.call(Method::GET, &format!("/v1/apps/{app}"), None)
                .await?
        }
        DeployCommand::Update(update) => {
            let spec = match &update.spec {
                Some(file) => read_json(file)?,
                None => {
                    let current = api
                        .call(Method::GET, &format!("/v1/apps/{}", update.app), None)
                        .await?;
                    let mut spec = current["spec"].clone();
                    if spec.is_null() {
                        bail!("the application has no release to update");
                    }
                    if let Some(image) = &update.image {
                        spec["image"] = Value::String(image.clone());
                    }
                    for (name, value) in env_pairs(&update.env)? {
                        spec["env"][name] = value;
                    }
                    spec
                }
            };
            api.call(
                Method::POST,
                &format!("/v1/apps/{}/releases?wait=true", update.app),
                Some(spec),
            )
            .await?
        }
        DeployCommand::Scale {
            app,
            replicas,
            min,
            max,
        } => {
            let mut body = serde_json::Map::new();
            for (key, value) in [("replicas", replicas), ("min", min), ("max", max)] {
                if let Some(value) = value {
                    body.insert(key.to_owned(), json!(value));
                }
            }
            api.call(
                Method::POST,
                &format!("/v1/apps/{app}/scale"),
                Some(Value::Object(body)),
            )
            .await?
        }
        DeployCommand::Rollback { app, to } => {
            let body = match to {
                Some(to) => json!({"to": to}),
                None => json!({}),
            };
            api.call(
                Method::POST,
                &format!("/v1/apps/{app}/rollback?wait=true"),
                Some(body),
            )
            .await?
        }
        DeployCommand::Releases { app } => {
            api.call(Method::GET, &format!("/v1/apps/{app}/releases"), None)
                .await?
        }
        DeployCommand::Diff { app, from, to } => {
            api.call(
                Method::GET,
                &format!("/v1/apps/{app}/compare?from={from}&to={to}"),
                None,
            )
            .await?
        }
        DeployCommand::Status { app } => {
            api.call(Method::GET, &format!("/v1/apps/{app}/status"), None)
                .await?
        }
        DeployCommand::Logs {
            app,
            pod,
            tail,
            follow,
        } => {
            let mut query = vec![format!("follow={follow}")];
            if let Some(pod) = pod {
                query.push(format!("pod={pod}"));
            }
            if let Some(tail) = tail {
                query.push(format!("tail={tail}"));
            }
            let response = api
                .send(
                    Method::GET,
                    &format!("/v1/apps/{app}/logs?{}", query.join("&")),
                    None,
                )
                .await?;
            if !response.status().is_success() {
                let status = response.status();
                bail!("{status}: {}", response.text().await.unwrap_or_default());
            }
            let mut stream = response.bytes_stream();
            let mut out = std::io::stdout().lock();
            while let Some(chunk) = stream.next().await {
                out.write_all(&chunk.context("the log stream broke")?)?;
                out.flush()?;
            }
            return Ok(());
        }
        DeployCommand::Stop { app } => {
            api.call(Method::POST, &format!("/v1/apps/{app}/stop"), None)
                .await?
        }
        DeployCommand::Start { app } => {
            api.call(Method::POST, &format!("/v1/apps/{app}/start"), None)
                .await?
        }
        DeployCommand::Restart { app } => {
            api.call(Method::POST, &format!("/v1/apps/{app}/restart"), None)
                .await?
        }
        DeployCommand::Delete { app } => {
            api.call(Method::DELETE, &format!("/v1/apps/{app}"), None)
                .await?
        }
        DeployCommand::Cost => api.call(Method::GET, "/v1/deployments/cost", None).await?,
    };
    print(&answer)
}
