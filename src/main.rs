//! The `nightpermit` command: serve the API, run maintenance, manage staff accounts.
#![forbid(unsafe_code)]

use anyhow::{bail, Context};
use clap::{Args, Parser, Subcommand};
use nightpermit_cases::{open_store, Settings};
use nightpermit_domain::CreditCode;
use nightpermit_server::auth::hash_password;
use nightpermit_store::{FirmRecord, StaffRecord, Store, StoreError};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "nightpermit",
    version,
    about = "夜间施工许可“一件事一次办” — night-construction permits, one thing done once"
)]
struct Cli {
    /// Extra TOML configuration over config/default.toml (also NIGHTPERMIT_CONFIG).
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Args, Clone)]
struct DataDir {
    /// Directory of the SQLite file and blobs (ignored for the database when DATABASE_URL is set).
    #[arg(long)]
    data_dir: Option<PathBuf>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the HTTP API.
    Serve {
        /// Address to listen on (default from config: 127.0.0.1:8080).
        #[arg(long)]
        listen: Option<std::net::SocketAddr>,
        #[command(flatten)]
        data: DataDir,
    },
    /// Run a pre-review worker on its own (scale-out; several may share one Postgres).
    Worker {
        #[command(flatten)]
        data: DataDir,
    },
    /// Rule sets: replay past decisions under another rule set.
    Rules {
        #[command(subcommand)]
        command: RulesCommand,
    },
    /// Firm records (三色码): add an upheld complaint, violation, penalty or clean completion.
    Firms {
        #[command(subcommand)]
        command: FirmsCommand,
    },
    /// Sealing keys: `keys init` creates the root and every authority's key; `keys rotate`
    /// replaces one authority's key (old certificates stay published).
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Verify a sealed permit offline; exit 0 only if every signature is intact, valid and trusted.
    Verify {
        file: PathBuf,
        /// Directory of trusted certificates (PEM); default: the published certificates under the keys dir.
        #[arg(long)]
        certs: Option<PathBuf>,
        #[command(flatten)]
        data: DataDir,
    },
    /// Permits: revoke.
    Permits {
        #[command(subcommand)]
        command: PermitsCommand,
    },
    /// Apply database migrations and exit.
    Migrate {
        #[command(flatten)]
        data: DataDir,
    },
    /// Manage staff accounts.
    Users {
        #[command(subcommand)]
        command: UsersCommand,
    },
    /// Check the audit log.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Create demo accounts (a firm, one reviewer per department in Jing'an, an inspector, an
    /// auditor, an admin) and print their logins. Safe to run twice.
    Demo {
        #[command(flatten)]
        data: DataDir,
    },
}

#[derive(Subcommand)]
enum UsersCommand {
    /// Add a staff account.
    Add {
        #[arg(long)]
        username: String,
        #[arg(long)]
        password: String,
        /// reviewer, inspector, auditor or admin.
        #[arg(long)]
        role: String,
        /// construction or environment (reviewers).
        #[arg(long)]
        department: Option<String>,
        /// District pinyin id, e.g. jingan (reviewers and inspectors).
        #[arg(long)]
        district: Option<String>,
        #[command(flatten)]
        data: DataDir,
    },
    /// Disable a staff account: it cannot sign in and its sessions end at once.
    Disable {
        #[arg(long)]
        username: String,
        #[command(flatten)]
        data: DataDir,
    },
    /// Let a disabled staff account sign in again.
    Enable {
        #[arg(long)]
        username: String,
        #[command(flatten)]
        data: DataDir,
    },
}

#[derive(Subcommand)]
enum RulesCommand {
    /// Replay stored fact snapshots under NEW.toml and print which decisions would change.
    /// Changes nothing.
    Simulate {
        #[arg(long)]
        rules: PathBuf,
        /// Only decisions made on or after this date (YYYY-MM-DD).
        #[arg(long)]
        since: Option<String>,
        #[command(flatten)]
        data: DataDir,
    },
}

#[derive(Subcommand)]
enum FirmsCommand {
    /// Add an entry to a firm's record and recompute its grade.
    Record {
        #[arg(long)]
        credit_code: String,
        /// complaint_upheld, inspection_violation, penalty or permit_completed_clean.
        #[arg(long)]
        kind: String,
        #[arg(long)]
        note: String,
        #[command(flatten)]
        data: DataDir,
    },
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Create the root and any missing authority keys.
    Init {
        #[command(flatten)]
        data: DataDir,
    },
    /// Issue a new key and certificate for one authority.
    Rotate {
        #[arg(long)]
        district: String,
        /// construction or environment.
        #[arg(long)]
        department: String,
        #[command(flatten)]
        data: DataDir,
    },
}

#[derive(Subcommand)]
enum PermitsCommand {
    /// Revoke a valid permit.
    Revoke {
        number: String,
        #[arg(long)]
        reason: String,
        #[command(flatten)]
        data: DataDir,
    },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Recompute the hash chain; exit 1 and name the first broken link if any.
    Verify {
        #[command(flatten)]
        data: DataDir,
    },
}

fn settings(config: Option<&std::path::Path>, data: &DataDir) -> anyhow::Result<Settings> {
    let mut s = Settings::load(config)?;
    if let Some(dir) = &data.data_dir {
        s.storage.data_dir = dir.clone();
    }
    Ok(s)
}

fn main() -> ExitCode {
    // Tesseract must not start OpenMP threads of its own (it halves throughput on 2 cores; we
    // run one single-threaded instance per OCR thread). Set before any thread exists.
    if std::env::var_os("OMP_THREAD_LIMIT").is_none() {
        std::env::set_var("OMP_THREAD_LIMIT", "1");
    }
    nightpermit_server::app::init_tracing();
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let config = cli.config.as_deref();
    match cli.command {
        Command::Serve { listen, data } => {
            let mut s = settings(config, &data)?;
            if let Some(addr) = listen {
                s.server.listen = addr;
            }
            let listener = tokio::net::TcpListener::bind(s.server.listen).await.with_context(|| {
                format!("cannot listen on {} (fix: choose another --listen address)", s.server.listen)
            })?;
            let state = nightpermit_server::build_state(s).await?;
            let addr = listener.local_addr()?;
            tracing::info!(database = state.store.backend().name(), %addr, "nightpermit ready");
            println!("nightpermit listening on http://{addr}");
            nightpermit_server::serve(state, listener, nightpermit_worker::shutdown_signal()).await?;
        }
        Command::Worker { data } => {
            let cases = nightpermit_cases::Cases::open(settings(config, &data)?).await?;
            println!(
                "nightpermit worker started ({}, {} OCR threads)",
                cases.store.backend().name(),
                cases.settings.worker.ocr_threads
            );
            nightpermit_worker::run_standalone(cases, nightpermit_worker::shutdown_signal()).await?;
        }
        Command::Rules { command: RulesCommand::Simulate { rules, since, data } } => {
            return simulate(&settings(config, &data)?, &rules, since.as_deref()).await;
        }
        Command::Firms { command: FirmsCommand::Record { credit_code, kind, note, data } } => {
            let s = settings(config, &data)?;
            let policy = nightpermit_cases::policy::Policy::load(&s)?;
            let store = open_store(&s).await?;
            let code = CreditCode::parse(&credit_code).map_err(|e| anyhow::anyhow!("--credit-code: {e}"))?;
            let firm = store
                .firm_by_credit_code(code.as_str())
                .await?
                .with_context(|| format!("no firm registered with {code}"))?;
            let kind = nightpermit_rules::grading::RecordKind::parse(&kind)
                .context("--kind must be complaint_upheld, inspection_violation, penalty or permit_completed_clean")?;
            let now = chrono::Utc::now().timestamp_millis();
            let out =
                nightpermit_cases::grades::record(&store, &policy.grading, &firm, kind, now, &note, "cli", now).await?;
            match out.change {
                Some(c) => println!("recorded; grade {} -> {} ({} points)", c.from_grade, c.to_grade, c.points),
                None => println!("recorded; grade stays {} ({} points)", out.grade, out.points),
            }
        }
        Command::Keys { command: KeysCommand::Init { data } } => {
            let s = settings(config, &data)?;
            let keys = nightpermit_seal::KeyDir::new(s.keys_dir());
            let created = keys.init(&s.authorities())?;
            println!("{created} keys created in {} ({} authorities)", keys.dir.display(), s.authorities().len());
        }
        Command::Keys { command: KeysCommand::Rotate { district, department, data } } => {
            let s = settings(config, &data)?;
            let authority = s
                .authorities()
                .into_iter()
                .find(|a| a.district == district && a.department == department)
                .context("unknown authority (fix: --district <pinyin id> --department construction|environment)")?;
            nightpermit_seal::KeyDir::new(s.keys_dir()).rotate(&authority)?;
            println!("rotated the key of {}; the old certificate stays published", authority.name);
        }
        Command::Verify { file, certs, data } => {
            let bytes = std::fs::read(&file).with_context(|| format!("cannot read {}", file.display()))?;
            let dir = match certs {
                Some(d) => d,
                None => settings(config, &data)?.keys_dir().join("certs"),
            };
            let trusted: Vec<_> = nightpermit_seal::keys::read_cert_dir(&dir)
                .with_context(|| {
                    format!(
                        "cannot read certificates in {} (fix: pass --certs DIR with the published root certificate)",
                        dir.display()
                    )
                })?
                .into_iter()
                .filter(|c| c.tbs_certificate.issuer == c.tbs_certificate.subject)
                .collect();
            let report = nightpermit_seal::verify_pdf(&bytes, &trusted);
            println!("permit: {}", report.permit_number.as_deref().unwrap_or("(none)"));
            for sig in &report.signatures {
                println!(
                    "  {} [{} / {}] signed {}: intact={} signature_valid={} trusted={}",
                    sig.signer,
                    sig.district,
                    sig.department,
                    sig.signed_at.as_deref().unwrap_or("?"),
                    sig.intact,
                    sig.signature_valid,
                    sig.trusted
                );
            }
            for p in &report.problems {
                println!("  problem {}: {}", p.code, p.message);
            }
            println!("{}", if report.valid { "VALID" } else { "INVALID" });
            return Ok(if report.valid { ExitCode::SUCCESS } else { ExitCode::FAILURE });
        }
        Command::Permits { command: PermitsCommand::Revoke { number, reason, data } } => {
            let store = open_store(&settings(config, &data)?).await?;
            let p = store.revoke_permit(&number, &reason, "cli", chrono::Utc::now().timestamp_millis()).await.map_err(
                |e| match e {
                    StoreError::NotFound => anyhow::anyhow!("no permit {number}"),
                    StoreError::WrongStatus { .. } => {
                        anyhow::anyhow!("permit {number} is not valid (already revoked or not issued)")
                    }
                    other => other.into(),
                },
            )?;
            println!("revoked {} ({})", p.number, reason);
        }
        Command::Migrate { data } => {
            let store = open_store(&settings(config, &data)?).await?;
            println!("migrations applied ({})", store.backend().name());
        }
        Command::Users { command: UsersCommand::Add { username, password, role, department, district, data } } => {
            let store = open_store(&settings(config, &data)?).await?;
            let staff = staff_record(&username, &password, &role, department.as_deref(), district.as_deref())?;
            match store.create_staff(&staff, "cli").await {
                Err(StoreError::AlreadyExists(_)) => {
                    bail!("user {username} already exists (fix: choose another --username)")
                }
                other => other?,
            }
            println!("added {role} {username}");
        }
        Command::Users { command: UsersCommand::Disable { username, data } } => {
            set_disabled(&settings(config, &data)?, &username, true).await?;
            println!("disabled {username}; its sessions ended");
        }
        Command::Users { command: UsersCommand::Enable { username, data } } => {
            set_disabled(&settings(config, &data)?, &username, false).await?;
            println!("enabled {username}");
        }
        Command::Audit { command: AuditCommand::Verify { data } } => {
            let store = open_store(&settings(config, &data)?).await?;
            let v = store.verify_audit_chain().await?;
            match v.first_broken {
                None => println!("audit log intact: {} entries", v.entries),
                Some((seq, why)) => {
                    println!("audit log BROKEN at entry {seq}: {why} ({} entries before it are intact)", v.entries);
                    return Ok(ExitCode::FAILURE);
                }
            }
        }
        Command::Demo { data } => demo(&settings(config, &data)?).await?,
    }
    Ok(ExitCode::SUCCESS)
}

/// Disables or enables a staff account through the admin page's own rule.
async fn set_disabled(settings: &Settings, username: &str, disabled: bool) -> anyhow::Result<()> {
    let store = open_store(settings).await?;
    let now = chrono::Utc::now().timestamp_millis();
    // The CLI is run by an operator on the server, not signed in as any account: no "self".
    nightpermit_server::staff::set_disabled(&store, username, disabled, None, "cli", now).await.map_err(|e| {
        if e.code == "NOT_FOUND" {
            anyhow::anyhow!("no staff account {username} (fix: check the username with the admin page)")
        } else {
            anyhow::anyhow!("{} ({})", e.detail, e.code)
        }
    })?;
    Ok(())
}

/// A staff account from CLI flags, checked by the same validation as the admin page.
fn staff_record(
    username: &str,
    password: &str,
    role: &str,
    department: Option<&str>,
    district: Option<&str>,
) -> anyhow::Result<StaffRecord> {
    let new = nightpermit_server::staff::NewStaff {
        username: username.into(),
        password: password.into(),
        role: role.into(),
        department: department.map(Into::into),
        district: district.map(Into::into),
    };
    nightpermit_server::staff::staff_record_now(&new, chrono::Utc::now().timestamp_millis())
}

/// The demo firm's credit code: a valid code (check character computed) for a made-up firm.
fn demo_credit_code() -> anyhow::Result<CreditCode> {
    CreditCode::complete("91310106MA1FL0D44").context("demo credit code")
}

async fn demo(settings: &Settings) -> anyhow::Result<()> {
    let store = open_store(settings).await?;
    let code = demo_credit_code()?;
    let firm_password = "demo-firm-2026";
    let firm = FirmRecord {
        id: uuid::Uuid::now_v7().to_string(),
        credit_code: code.to_string(),
        name: "上海某建设发展有限公司".into(),
        password_hash: hash_password(firm_password)?,
        contact_name: "张三".into(),
        contact_phone: "13800000000".into(),
        grade: "green".into(),
        created_at: chrono::Utc::now().timestamp_millis(),
        contact_email: None,
    };
    let mut lines = vec![];
    match store.create_firm(&firm, "demo").await {
        Ok(()) | Err(StoreError::AlreadyExists(_)) => {
            lines.push(format!("firm       login {code}  password {firm_password}  ({})", firm.name))
        }
        Err(e) => return Err(e.into()),
    }
    let staff_password = "demo-staff-2026";
    let staff = [
        ("jingan-construction", "reviewer", Some("construction"), Some("jingan")),
        ("jingan-environment", "reviewer", Some("environment"), Some("jingan")),
        ("jingan-inspector", "inspector", None, Some("jingan")),
        ("auditor", "auditor", None, None),
        ("admin", "admin", None, None),
    ];
    for (username, role, department, district) in staff {
        match store.create_staff(&staff_record(username, staff_password, role, department, district)?, "demo").await {
            Ok(()) | Err(StoreError::AlreadyExists(_)) => {}
            Err(e) => return Err(e.into()),
        }
        lines.push(format!("{role:<10} login {username:<19} password {staff_password}"));
    }
    println!("demo accounts ({}):", store.backend().name());
    for l in lines {
        println!("  {l}");
    }
    Ok(())
}

async fn simulate(settings: &Settings, rules: &std::path::Path, since: Option<&str>) -> anyhow::Result<ExitCode> {
    let new_rules = nightpermit_cases::policy::Policy::rules_from_file(rules)?;
    let since_ms = match since {
        None => 0,
        Some(d) => {
            let date = nightpermit_domain::parse_date(d).map_err(|e| anyhow::anyhow!("--since: {e}"))?;
            nightpermit_server::views::shanghai_millis(date.and_hms_opt(0, 0, 0).unwrap_or_default()).unwrap_or(0)
        }
    };
    let store = open_store(settings).await?;
    let nightpermit_server::staff::Simulation { total, changes } =
        nightpermit_server::staff::simulate(&store, &new_rules, since_ms).await?;
    println!(
        "rule set {} {} (sha256 {}): {} decisions replayed, {} would change",
        new_rules.id,
        new_rules.version,
        &new_rules.sha256[..12],
        total,
        changes.len()
    );
    for c in &changes {
        println!("  {}: {} -> {}  {}", c.case, c.before.id(), c.after.id(), c.after_reasons.join("；"));
    }
    Ok(ExitCode::SUCCESS)
}
