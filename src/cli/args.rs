//! The command line's arguments: the top-level commands and the groups without a file of their
//! own (import, export, meals, bench, check). Each command with a file holds its own arguments.

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "mealroll", version, about = "营养改善计划实名制管理系统")]
pub struct Cli {
    /// Database URL: sqlite://PATH (default sqlite://data/mealroll.db) or postgres://…
    #[arg(long, global = true, env = "MEALROLL_DATABASE_URL")]
    pub db: Option<String>,
    /// Print machine-readable JSON instead of a summary.
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Serve the web UI and /api/v1.
    Serve {
        /// Address to listen on (default 127.0.0.1:8080).
        #[arg(long, env = "MEALROLL_BIND")]
        bind: Option<String>,
        /// Build (or refresh) the demo county first and print its logins.
        #[arg(long)]
        demo: bool,
    },
    /// Apply pending database migrations and load the division list.
    Migrate,
    /// Write an encrypted, consistent backup of the whole database (safe while the server runs).
    Backup {
        /// The backup file to write.
        #[arg(long, value_name = "FILE")]
        out: std::path::PathBuf,
    },
    /// Restore a backup into an empty database (--db; either backend), then verify it.
    Restore {
        /// The backup file, as `mealroll backup` wrote it.
        file: std::path::PathBuf,
    },
    /// Manage user accounts.
    Admin {
        #[command(subcommand)]
        action: super::admin::AdminCommand,
    },
    /// The audit trail.
    Audit {
        #[command(subcommand)]
        action: super::audit::AuditCommand,
    },
    /// The keys that seal children's ID numbers, phones and records where they are stored.
    Keys {
        #[command(subcommand)]
        action: super::keys::KeysCommand,
    },
    /// Build a realistic demo county (望谟县) with schools, classes, teachers and one login per role.
    Demo {
        /// Instead, write a filled registry template of --rows generated students to this file,
        /// for a new demo school (created with its classes) so the file imports as is.
        #[arg(long, value_name = "FILE")]
        template: Option<std::path::PathBuf>,
        /// Rows of the template file.
        #[arg(long, default_value_t = 1000, requires = "template")]
        rows: usize,
    },
    /// Import files.
    Import {
        #[command(subcommand)]
        what: ImportCommand,
    },
    /// Export files.
    Export {
        #[command(subcommand)]
        what: ExportCommand,
    },
    /// Measure the performance targets of SPEC §13 on this machine (use the release build).
    Bench {
        #[command(subcommand)]
        what: BenchCommand,
    },
    /// Status changes (学籍异动) in batches from a file.
    Change {
        #[command(subcommand)]
        what: super::change::ChangeCommand,
    },
    /// The school year: year-end promotion and graduation.
    Year {
        #[command(subcommand)]
        what: super::year::YearCommand,
    },
    /// Compute a month's meal-subsidy entitlements for every programme school of a county, or
    /// with --term a semester's 一补 for every school.
    Entitle {
        #[arg(long)]
        county: String,
        /// YYYY-MM (meal subsidy).
        #[arg(long, required_unless_present = "term")]
        month: Option<String>,
        /// YYYY-1 or YYYY-2: the semester's 一补 instead.
        #[arg(long, conflicts_with = "month")]
        term: Option<String>,
        /// Close the month afterwards: later changes become adjustments in the next open month.
        #[arg(long)]
        close: bool,
    },
    /// Daily meal records (就餐日报).
    Meals {
        #[command(subcommand)]
        what: MealsCommand,
    },
    /// Inspection: the anomaly scan (SPEC §10).
    Inspect {
        #[command(subcommand)]
        what: super::inspect::InspectCommand,
    },
    /// A statutory report (SPEC §9) for an org and a period.
    Report {
        /// school-regular | county-regular | annual-execution | registry-overview | monthly-progress |
        /// disbursement-form
        name: String,
        #[arg(long)]
        org: String,
        /// A month YYYY-MM, a term YYYY-1|YYYY-2 or a school year YYYY.
        #[arg(long)]
        period: String,
        /// The report date YYYY-MM-DD (default: the period's end, or today if sooner).
        #[arg(long)]
        date: Option<String>,
        /// html | xlsx | pdf | json (default: from --out, else json).
        #[arg(long)]
        format: Option<String>,
        /// Write here instead of standard output (required for xlsx and pdf).
        #[arg(long)]
        out: Option<std::path::PathBuf>,
    },
    /// The fund ledger: post, approve, reverse, verify the hash chains, close a month.
    Ledger {
        #[command(subcommand)]
        what: super::ledger::LedgerCommand,
    },
    /// Beneficiary rosters (受益学生花名册): build and print.
    Roster {
        #[command(subcommand)]
        what: super::roster::RosterCommand,
    },
    /// Exchange packages between a province and the centre (跨省查重).
    Central {
        #[command(subcommand)]
        what: super::central::CentralCommand,
    },
    /// Collection points (单机版) and their county: register, pair, export, import, decide.
    Collect {
        #[command(subcommand)]
        what: super::collect::CollectCommand,
    },
    /// Data checks for clerks cleaning data.
    Check {
        #[command(subcommand)]
        what: CheckCommand,
    },
    /// Internal: parse one uploaded workbook (xlsx | xls) from standard input into row frames on
    /// standard output; the server and the import commands run this in a limited child process.
    #[command(hide = true, name = "parse-worker")]
    ParseWorker { kind: String },
}

#[derive(Subcommand)]
pub enum ImportCommand {
    /// Import the registry template (.xlsx, .xls or UTF-8 CSV). All-or-nothing unless --partial.
    Students {
        file: std::path::PathBuf,
        /// Only rows of this school (学校标识码).
        #[arg(long)]
        school: Option<String>,
        /// Validate and report; write nothing.
        #[arg(long)]
        dry_run: bool,
        /// Write the valid rows even when others are rejected.
        #[arg(long)]
        partial: bool,
        /// New students' first day at school (YYYY-MM-DD) where the file has no 入校日期 column
        /// (default: today).
        #[arg(long)]
        enrolled_on: Option<String>,
        /// Why new students start long before today (required when they do; kept in the audit).
        #[arg(long, default_value = "")]
        backdate_reason: String,
    },
    /// Expenditures (学校标识码, 日期, 类别, 金额, 凭证号[, 摘要, 资金]), all or nothing.
    Expenditures {
        file: std::path::PathBuf,
        /// Post as this user (their school, the maker-checker rule).
        #[arg(long = "as")]
        as_user: Option<String>,
    },
    /// Meals served (学校标识码, 月份, 供餐天数, 就餐人次), all or nothing.
    Meals { file: std::path::PathBuf },
    /// Daily meal records (学校标识码, 日期, 班级号, 就餐人数[, 缺勤学生, 更正原因]), all or nothing.
    MealDays {
        file: std::path::PathBuf,
        /// Record as this user (a school's nutrition officer: their school only).
        #[arg(long = "as")]
        as_user: Option<String>,
    },
}

#[derive(Subcommand)]
pub enum MealsCommand {
    /// Which schools of a county have reported a day's meals (就餐日报进度).
    Status {
        #[arg(long)]
        county: String,
        /// YYYY-MM-DD (default: today, Beijing time).
        #[arg(long)]
        date: Option<String>,
    },
}

#[derive(Subcommand)]
pub enum ExportCommand {
    /// A school's (or one class's) students in the template layout.
    Students {
        #[arg(long)]
        school: String,
        #[arg(long)]
        class: Option<i64>,
        #[arg(long)]
        out: std::path::PathBuf,
    },
}

#[derive(Subcommand)]
pub enum BenchCommand {
    /// Time a full import of a generated template with N rows into a fresh school.
    Import {
        #[arg(long, default_value_t = 100_000)]
        rows: usize,
    },
    /// Time building and printing (PDF) the roster of a generated school of N students.
    Roster {
        #[arg(long, default_value_t = 3_000)]
        rows: usize,
    },
    /// Time computing last month's entitlements for a county of N generated children.
    Entitle {
        #[arg(long, default_value_t = 1_000_000)]
        rows: usize,
    },
    /// Time the county report over a generated county of N children with a year of entitlements.
    Report {
        #[arg(long, default_value_t = 100_000)]
        rows: usize,
    },
    /// Time the anomaly scan over a generated county of N children with a year of entitlements.
    Scan {
        #[arg(long, default_value_t = 100_000)]
        rows: usize,
    },
    /// Post a day's meal records for N generated schools of 10 classes through the HTTP API
    /// with C concurrent clients, each pausing P ms between requests (as officers do; 0 for the
    /// server's saturation); p50/p95/p99 per request.
    MealDays {
        #[arg(long, default_value_t = 10_000)]
        schools: usize,
        #[arg(long, default_value_t = 50)]
        clients: usize,
        /// Each client's pause between its requests, in milliseconds.
        #[arg(long, default_value_t = 1000)]
        pause_ms: u64,
    },
    /// A province of N children in up to 90 counties with a year of entitlements (generated once;
    /// a database holding it is measured again): lists and counts at every level, the county
    /// report, a roll-up, the reconciliation, a county's scan, the province's month of
    /// entitlements, and the list pages under C clients each pausing P ms.
    Province {
        #[arg(long, default_value_t = 6_000_000)]
        children: usize,
        #[arg(long, default_value_t = 50)]
        clients: usize,
        #[arg(long, default_value_t = 1000)]
        pause_ms: u64,
        /// Requests each client makes.
        #[arg(long, default_value_t = 20)]
        requests: usize,
    },
}

// Parsed once per process; boxing the big variant would buy nothing.
#[derive(Subcommand)]
pub enum CheckCommand {
    /// Read one ID number per line on stdin; print `ID<TAB>ok` or `ID<TAB>CODE<TAB>message`.
    /// Exits non-zero when any line is invalid.
    Ids,
}
