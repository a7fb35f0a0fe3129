//! The layers hold: domain ← areas ← app, with the HTTP kit (`web`) shared by the areas and
//! knowing none of them. Read from the source tree, so a new import across a layer fails here
//! with its file and line instead of being found in review.

use std::path::{Path, PathBuf};

/// The areas: each owns its services, handlers and routes.
const AREAS: &[&str] = &["org", "registry", "programme", "ledger", "reports", "inspection", "meals", "exchange"];

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read src") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// Every line of code (not comment) under `under` (relative to `src/`) that mentions one of
/// `needles`.
fn mentions(under: &str, needles: &[String]) -> Vec<String> {
    let mut files = Vec::new();
    sources(&src().join(under), &mut files);
    let mut found = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).expect("read");
        for (i, line) in text.lines().enumerate() {
            let code = line.trim_start();
            if !code.starts_with("//") && needles.iter().any(|n| code.contains(n.as_str())) {
                found.push(format!("{}:{}: {}", file.display(), i + 1, line.trim()));
            }
        }
    }
    found
}

#[test]
fn the_http_kit_imports_no_area() {
    let needles: Vec<String> = AREAS
        .iter()
        .flat_map(|a| [format!("crate::{a}::"), format!("crate::{{{a}"), format!("crate::{a};")])
        .chain(["crate::auth::web".into(), "crate::audit::web".into(), "crate::app".into()])
        .collect();
    let found = mentions("web", &needles);
    assert!(found.is_empty(), "web/ reaches into an area:\n{}", found.join("\n"));
}

#[test]
fn no_area_imports_the_app_and_the_domain_imports_neither() {
    let app = vec!["crate::app".to_owned(), "mealroll::app".to_owned()];
    for area in AREAS.iter().chain(&["auth", "audit", "domain", "db"]) {
        let found = mentions(area, &app);
        assert!(found.is_empty(), "{area} imports the app:\n{}", found.join("\n"));
    }
    let upward: Vec<String> =
        AREAS.iter().chain(&["auth", "audit", "web", "app"]).map(|a| format!("crate::{a}::")).collect();
    let found = mentions("domain", &upward);
    assert!(found.is_empty(), "domain/ imports an area or the HTTP layer:\n{}", found.join("\n"));
}

#[test]
fn every_area_registers_its_own_routes() {
    let app = std::fs::read_to_string(src().join("app.rs")).expect("app.rs");
    for area in AREAS.iter().chain(&["auth", "audit"]) {
        let routes = src().join(area).join("routes.rs");
        let text = std::fs::read_to_string(&routes).unwrap_or_else(|_| panic!("{} is missing", routes.display()));
        assert!(text.contains("pub fn pages(") && text.contains("pub fn api("), "{area}: pages and api");
        assert!(app.contains(&format!("({area}::routes::pages, {area}::routes::api)")), "{area} is not mounted");
    }
    // The app mounts areas; the stylesheet is its only page, the document its only API route.
    assert_eq!(app.matches(".route(\"").count(), 1, "the stylesheet");
    assert_eq!(app.matches(".get(\"").count(), 1, "the OpenAPI document");
}

/// Every time a page shows is Beijing time (the `beijing` filters); no heading may call it UTC.
#[test]
fn no_page_labels_its_times_utc() {
    let templates = Path::new(env!("CARGO_MANIFEST_DIR")).join("templates");
    let mut files = Vec::new();
    let mut dirs = vec![templates];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).expect("templates").flatten() {
            let path = entry.path();
            if path.is_dir() { dirs.push(path) } else { files.push(path) }
        }
    }
    assert!(files.len() > 50, "{} templates", files.len());
    let utc: Vec<String> = files
        .iter()
        .filter(|f| std::fs::read_to_string(f).is_ok_and(|t| t.contains("UTC")))
        .map(|f| f.display().to_string())
        .collect();
    assert!(utc.is_empty(), "{utc:?}");
}

/// The areas take the time from their caller (`caller.now()`, `caller.today()`): one clock per
/// request or command, so a request that crosses midnight, or a long import, stamps one day
/// throughout. Only what has no caller reads the clock itself, each for the reason given here.
#[test]
fn the_areas_take_the_time_from_their_caller() {
    const OWN_CLOCK: &[(&str, &str)] = &[
        ("auth/caller.rs", "makes the caller and stamps its instant"),
        ("auth/web.rs", "signing in, before there is a caller"),
        ("auth/extract.rs", "checks the session that becomes the caller"),
        ("audit/", "the audit row's and the archive's own stamp"),
        ("exchange/jobs.rs", "the worker's heartbeats and finishing times"),
        ("meals/notice.rs", "the public notice has no signed-in caller"),
        ("meals/complaints.rs", "a complaint from the public has no signed-in caller"),
        ("org/seed.rs", "the first start seeds the tree before any user exists"),
    ];
    let reads_clock = |line: &str| {
        let code = line.split("//").next().unwrap_or("");
        ["clock::now()", "clock::today()", "clock::instant()"].iter().any(|c| code.contains(c))
            || [" now()", "(now()", " today()", "(today()", "!now()", "-now()"].iter().any(|c| code.contains(c))
    };
    let mut found = Vec::new();
    for area in AREAS.iter().chain(&["auth", "audit"]) {
        let mut files = Vec::new();
        sources(&src().join(area), &mut files);
        for file in files {
            let shown = file.strip_prefix(src()).unwrap_or(&file).display().to_string();
            if OWN_CLOCK.iter().any(|(f, _)| shown.starts_with(f)) {
                continue;
            }
            let text = std::fs::read_to_string(&file).expect("read");
            for (i, line) in text.lines().enumerate() {
                if line.starts_with("#[cfg(test)]") {
                    break;
                }
                let t = line.trim_start();
                let defines = t.contains("fn now(") || t.contains("fn today(");
                if reads_clock(line) && !defines {
                    found.push(format!("{shown}:{}: {t}", i + 1));
                }
            }
        }
    }
    assert!(found.is_empty(), "reads the system clock instead of its caller's:\n{}", found.join("\n"));
}
