//! Settings: the embedded `config/default.toml`, then an optional file, then environment
//! variables `NIGHTPERMIT__SECTION__KEY`, then `DATABASE_URL`.

use anyhow::{bail, Context};
use nightpermit_domain::{Department, District};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

const DEFAULT_TOML: &str = include_str!("../../../config/default.toml");

#[derive(Debug, Clone, Deserialize)]
pub struct Settings {
    pub server: ServerSettings,
    pub storage: StorageSettings,
    pub auth: AuthSettings,
    pub abuse: AbuseSettings,
    pub limits: LimitSettings,
    pub jobs: JobSettings,
    pub worker: WorkerSettings,
    pub rules: RulesSettings,
    pub seal: SealSettings,
    pub districts: BTreeMap<String, DistrictAuthorities>,
    /// After-care: complaint deadlines and inspection draws (defaults when the section is absent).
    #[serde(default)]
    pub complaints: ComplaintSettings,
    #[serde(default)]
    pub inspections: InspectionSettings,
    /// Where events (status changes) are delivered.
    #[serde(default)]
    pub notifications: NotificationSettings,
    /// Department review: the target time a task should wait at most.
    #[serde(default)]
    pub review: ReviewSettings,
    /// From `DATABASE_URL`; `None` means the embedded SQLite file under the data dir.
    #[serde(skip)]
    pub database_url: Option<DatabaseUrl>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ServerSettings {
    pub listen: SocketAddr,
    pub public_base_url: String,
    pub request_timeout_secs: u64,
    pub header_read_timeout_secs: u64,
    pub max_concurrent_requests: usize,
    pub metrics_token: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct AbuseSettings {
    pub sign_in_per_minute: u32,
    pub sign_in_burst: u32,
    pub register_per_minute: u32,
    pub register_burst: u32,
    pub verify_per_minute: u32,
    pub verify_burst: u32,
    pub public_per_minute: u32,
    pub public_burst: u32,
    pub complaint_per_minute: u32,
    pub complaint_burst: u32,
    pub lockout_after_failures: u32,
    pub lockout_base_secs: u64,
    pub lockout_max_secs: u64,
    pub password_threads: usize,
    pub password_queue: usize,
}

#[derive(Debug, Clone, Deserialize)]
pub struct StorageSettings {
    pub data_dir: PathBuf,
    pub blob_dir: PathBuf,
}

#[derive(Debug, Clone, Deserialize)]
pub struct AuthSettings {
    pub session_ttl_hours: i64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct LimitSettings {
    pub max_upload_bytes: usize,
    pub max_json_bytes: usize,
    pub max_verify_bytes: usize,
    pub max_image_pixels: u64,
    pub max_image_side: u32,
    pub max_page_pixels: u64,
    pub max_application_pixels: u64,
    pub prereview_file_secs: u64,
    pub prereview_case_secs: u64,
    pub renderer_memory_mib: u64,
    pub max_materials_per_application: usize,
    pub page_size_max: i64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct JobSettings {
    pub lease_secs: i64,
    pub max_attempts: i64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct WorkerSettings {
    pub in_process: bool,
    pub ocr_threads: usize,
    pub ocr_reader: String,
    pub models_dir: PathBuf,
    pub poll_interval_ms: u64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct SealSettings {
    pub keys_dir: PathBuf,
}

#[derive(Debug, Clone, Deserialize)]
pub struct RulesSettings {
    pub file: PathBuf,
    pub calendar: PathBuf,
    pub grading: PathBuf,
}

/// A receiver of events: the body is signed with HMAC-SHA256 under `secret`
/// (`X-Nightpermit-Signature: sha256=<hex>`).
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct Webhook {
    pub url: String,
    pub secret: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct NotificationSettings {
    pub webhooks: Vec<Webhook>,
    /// Attempts per delivery before it is left dead in the job table (and the delivery log).
    pub max_attempts: i64,
    /// Back-off: the n-th retry waits retry_base_secs × 2^(n-1), at most an hour.
    pub retry_base_secs: u64,
    /// Per attempt.
    pub timeout_secs: u64,
    /// Mail to the people a change concerns (the applicant, the complainant).
    pub email: EmailSettings,
}

impl Default for NotificationSettings {
    fn default() -> Self {
        NotificationSettings {
            webhooks: vec![],
            max_attempts: 8,
            retry_base_secs: 10,
            timeout_secs: 10,
            email: EmailSettings::default(),
        }
    }
}

/// How the connection to the SMTP relay is protected.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum SmtpTls {
    /// Plain text: only for a relay on the same host or a test sink.
    None,
    /// Plain connection upgraded with STARTTLS, which is required (no silent fallback).
    Starttls,
    /// TLS from the first byte (SMTPS, usually port 465).
    Tls,
}

/// `[notifications.email]`: the SMTP relay mails go through. Off unless `enabled`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct EmailSettings {
    pub enabled: bool,
    pub smtp_host: String,
    pub smtp_port: u16,
    pub tls: SmtpTls,
    /// The sender address (`From:` and the envelope).
    pub from: String,
    /// The sender's display name.
    pub from_name: String,
    /// Credentials for the relay, when it wants them (both or neither).
    pub username: Option<String>,
    pub password: Option<String>,
}

impl Default for EmailSettings {
    fn default() -> Self {
        EmailSettings {
            enabled: false,
            smtp_host: "localhost".into(),
            smtp_port: 587,
            tls: SmtpTls::Starttls,
            from: "noreply@nightpermit.example".into(),
            from_name: "上海市夜间施工许可".into(),
            username: None,
            password: None,
        }
    }
}

/// The 1/3/10/15-day complaint rule: the day limits and whether they count working days.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct ComplaintSettings {
    pub day_kind: nightpermit_rules::aftercare::DayKind,
    pub contact_days: u32,
    pub inspect_days: u32,
    pub check_days: u32,
    pub conclude_days: u32,
}

impl Default for ComplaintSettings {
    fn default() -> Self {
        let d = nightpermit_rules::aftercare::StepDays::default();
        Self {
            day_kind: Default::default(),
            contact_days: d.contact,
            inspect_days: d.inspect,
            check_days: d.check,
            conclude_days: d.conclude,
        }
    }
}

impl ComplaintSettings {
    pub fn steps(&self) -> nightpermit_rules::aftercare::StepDays {
        nightpermit_rules::aftercare::StepDays {
            contact: self.contact_days,
            inspect: self.inspect_days,
            check: self.check_days,
            conclude: self.conclude_days,
        }
    }
}

/// How long a review task should wait at most, in working days (the review queue colours each
/// task against it: within half of it, within it, overdue).
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct ReviewSettings {
    pub target_working_days: u32,
}

impl Default for ReviewSettings {
    fn default() -> Self {
        Self { target_working_days: 1 }
    }
}

/// Double-random inspections: how strongly each grade is sampled, and the noise limit results
/// are judged by.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct InspectionSettings {
    pub weight_green: u32,
    pub weight_yellow: u32,
    pub weight_red: u32,
    /// GB 12523-2011: 55 dB(A) at the site boundary at night.
    pub night_limit_db: f64,
    pub max_draw: u32,
}

impl Default for InspectionSettings {
    fn default() -> Self {
        Self { weight_green: 1, weight_yellow: 3, weight_red: 6, night_limit_db: 55.0, max_draw: 200 }
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct DistrictAuthorities {
    pub name: String,
    pub construction_authority: String,
    pub environment_authority: String,
}

impl DistrictAuthorities {
    pub fn authority(&self, department: Department) -> &str {
        match department {
            Department::Construction => &self.construction_authority,
            Department::Environment => &self.environment_authority,
        }
    }
}

/// A database URL that never prints its password.
#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseUrl(pub String);

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DatabaseUrl({})", nightpermit_store::redact(&self.0))
    }
}

impl LimitSettings {
    /// The pre-review's share of the limits.
    pub fn prereview(&self) -> nightpermit_prereview::PrereviewLimits {
        nightpermit_prereview::PrereviewLimits {
            max_page_pixels: self.max_page_pixels,
            max_application_pixels: self.max_application_pixels,
            file_budget: std::time::Duration::from_secs(self.prereview_file_secs.max(1)),
            case_budget: std::time::Duration::from_secs(self.prereview_case_secs.max(1)),
            renderer_memory_bytes: self.renderer_memory_mib.saturating_mul(1024 * 1024),
        }
    }
}

impl Settings {
    /// Loads settings; `file` adds a TOML file over the defaults (also `NIGHTPERMIT_CONFIG`).
    pub fn load(file: Option<&Path>) -> anyhow::Result<Self> {
        let mut builder =
            config::Config::builder().add_source(config::File::from_str(DEFAULT_TOML, config::FileFormat::Toml));
        let env_file = std::env::var_os("NIGHTPERMIT_CONFIG").map(PathBuf::from);
        if let Some(path) = file.map(Path::to_path_buf).or(env_file) {
            if !path.exists() {
                bail!("配置文件不存在：{} (fix: pass an existing file or unset NIGHTPERMIT_CONFIG)", path.display());
            }
            builder = builder.add_source(config::File::from(path));
        }
        builder = builder.add_source(
            config::Environment::with_prefix("NIGHTPERMIT").prefix_separator("__").separator("__").try_parsing(true),
        );
        let mut settings: Settings = builder
            .build()
            .context("reading configuration")?
            .try_deserialize()
            .context("configuration has a wrong or missing value")?;
        settings.database_url = std::env::var("DATABASE_URL").ok().filter(|u| !u.trim().is_empty()).map(DatabaseUrl);
        settings.validate()?;
        Ok(settings)
    }

    fn validate(&self) -> anyhow::Result<()> {
        for d in District::ALL {
            if !self.districts.contains_key(d.id()) {
                bail!("configuration lacks [districts.{}] (name and both authorities)", d.id());
            }
        }
        if let Some(unknown) = self.districts.keys().find(|k| k.parse::<District>().is_err()) {
            bail!("configuration names an unknown district [districts.{unknown}]");
        }
        if self.auth.session_ttl_hours <= 0 || self.jobs.lease_secs <= 0 || self.jobs.max_attempts <= 0 {
            bail!("auth.session_ttl_hours, jobs.lease_secs and jobs.max_attempts must be positive");
        }
        let c = &self.complaints;
        if !(c.contact_days <= c.inspect_days && c.inspect_days <= c.check_days && c.check_days <= c.conclude_days) {
            bail!("[complaints] day limits must not decrease: contact <= inspect <= check <= conclude");
        }
        let i = &self.inspections;
        // A zero weight would silently leave a grade out of the frame; every in-force permit
        // must be drawable.
        if i.weight_green == 0 || i.weight_yellow == 0 || i.weight_red == 0 {
            bail!("[inspections] weights must be at least 1");
        }
        if !(i.weight_green <= i.weight_yellow && i.weight_yellow <= i.weight_red) {
            bail!("[inspections] weights must rank red >= yellow >= green");
        }
        let e = &self.notifications.email;
        if e.enabled {
            // Checked at start-up so a typo stops the service instead of every mail failing.
            if e.smtp_host.trim().is_empty() || e.smtp_port == 0 {
                bail!("[notifications.email] is enabled but smtp_host or smtp_port is empty");
            }
            if !crate::form::valid_email(&e.from) {
                bail!("[notifications.email] from = {:?} is not an e-mail address", e.from);
            }
            if e.username.is_some() != e.password.is_some() {
                bail!("[notifications.email] needs both username and password, or neither");
            }
        }
        Ok(())
    }

    pub fn district(&self, d: District) -> &DistrictAuthorities {
        // validate() guarantees every district is present.
        &self.districts[d.id()]
    }

    pub fn blob_dir(&self) -> PathBuf {
        if self.storage.blob_dir.as_os_str().is_empty() {
            self.storage.data_dir.join("blobs")
        } else {
            self.storage.blob_dir.clone()
        }
    }

    pub fn keys_dir(&self) -> PathBuf {
        if self.seal.keys_dir.as_os_str().is_empty() {
            self.storage.data_dir.join("keys")
        } else {
            self.seal.keys_dir.clone()
        }
    }

    /// Every sealing authority: each district's construction committee and environment bureau.
    pub fn authorities(&self) -> Vec<nightpermit_seal::Authority> {
        District::ALL
            .iter()
            .flat_map(|d| {
                [Department::Construction, Department::Environment].map(|dep| nightpermit_seal::Authority {
                    district: d.id().into(),
                    department: dep.id().into(),
                    name: self.district(*d).authority(dep).to_string(),
                })
            })
            .collect()
    }

    pub fn sqlite_path(&self) -> PathBuf {
        self.storage.data_dir.join("nightpermit.db")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_load_and_name_every_district() {
        let s = Settings::load(None).expect("defaults are valid");
        assert_eq!(s.districts.len(), 16);
        assert_eq!(s.district(District::Jingan).construction_authority, "静安区建设管理委员会");
        assert_eq!(s.limits.max_upload_bytes, 20 * 1024 * 1024);
    }

    #[test]
    fn e_mail_is_off_by_default_and_checked_when_on() {
        let mut s = Settings::load(None).expect("defaults are valid");
        let e = &s.notifications.email;
        assert!(!e.enabled);
        assert_eq!((e.smtp_port, e.tls), (587, SmtpTls::Starttls));
        s.notifications.email.enabled = true;
        s.validate().expect("the defaults are a usable configuration once enabled");
        s.notifications.email.from = "noreply".into();
        assert!(s.validate().is_err(), "a sender that is no address");
        s.notifications.email.from = "noreply@nightpermit.example".into();
        s.notifications.email.username = Some("np".into());
        assert!(s.validate().is_err(), "a user name without a password");
    }

    #[test]
    fn database_url_debug_hides_the_password() {
        let u = DatabaseUrl("postgres://np:secret@db/np".into());
        assert!(!format!("{u:?}").contains("secret"));
    }
}
