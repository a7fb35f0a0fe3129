//! `IdCardNo` against python-stdnum 2.2's verdicts (tests/data/, from shared/data/, see DATA.md §3).
//! We agree on format, length and checksum everywhere. Where we deliberately differ, the reason is
//! checked row by row:
//! - future birth dates: stdnum accepts 2099; a registry of living children must not;
//! - a region code created *after* the birth year: stdnum rejects (code must exist in the birth
//!   year); we accept, because a child is often registered (and given an ID) after the county was
//!   created — the rule of SPEC §2 is "never a code abolished before the birth year";
//! - a region code abolished in the birth year itself: the list has years only, so the child may
//!   have been registered before the abolition that year; we accept, stdnum may reject;
//! - a region code our history file (MCA data, DATA.md §1) shows abolished before the birth year,
//!   where stdnum's own (Wikipedia-derived) table still lists it: we follow the MCA history; such
//!   rows are printed and counted, and must stay few;
//! - rows where stdnum 2.2 crashes with KeyError (a bug in its data) carry no verdict.

use chrono::NaiveDate;
use mealroll::domain::id_card::{IdCardNo, IdError};

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 23).expect("date")
}

fn rows(file: &str) -> Vec<(String, String, String)> {
    let mut rdr = csv::Reader::from_path(format!("{}/tests/data/{file}", env!("CARGO_MANIFEST_DIR"))).expect("csv");
    let headers = rdr.headers().expect("headers").clone();
    let col = |name: &str| headers.iter().position(|h| h == name).expect(name);
    let (n, v, e) = (col("number"), col("stdnum_verdict"), col("stdnum_error"));
    rdr.records().map(|r| r.expect("row")).map(|r| (r[n].to_owned(), r[v].to_owned(), r[e].to_owned())).collect()
}

/// Whether our "valid" on a stdnum InvalidComponent is the late-registration rule.
fn created_after_birth(number: &str) -> bool {
    let Ok(year) = number.trim()[6..10].parse::<i32>() else { return false };
    let spans = IdCardNo::region_spans(&number.trim()[..6]);
    // A span (re)opened after the birth year, none covering it.
    spans.iter().any(|(start, _)| *start > year)
        && !spans.iter().any(|(s, e)| *s <= year && e.is_none_or(|e| e >= year))
}

/// Whether our "valid" on a stdnum InvalidComponent is the abolished-in-the-birth-year rule.
fn abolished_in_birth_year(number: &str) -> bool {
    let Ok(year) = number.trim()[6..10].parse::<i32>() else { return false };
    IdCardNo::region_spans(&number.trim()[..6]).iter().any(|(s, e)| *s <= year && *e == Some(year))
}

struct Tally {
    rows: usize,
    late: usize,
    same_year: usize,
    retired: Vec<String>,
}

fn check(file: &str) -> Tally {
    let mut late = 0;
    let mut same_year = 0;
    let mut retired = Vec::new();
    let mut n = 0;
    for (number, verdict, error) in rows(file) {
        n += 1;
        let ours = IdCardNo::parse_on(&number, today());
        match (verdict.as_str(), error.as_str()) {
            ("valid", _) => match &ours {
                Ok(_) => {}
                Err(IdError::FutureDate) => {}
                Err(IdError::RegionRetired { .. }) => retired.push(number.clone()),
                Err(e) => panic!("{file}: {number}: stdnum valid, we say {e}"),
            },
            ("invalid", "InvalidChecksum") => {
                assert!(matches!(ours, Err(IdError::Checksum { .. })), "{file}: {number}: {ours:?}")
            }
            ("invalid", "InvalidFormat") => assert!(matches!(ours, Err(IdError::Chars)), "{file}: {number}: {ours:?}"),
            ("invalid", "InvalidLength") => {
                assert!(matches!(ours, Err(IdError::Length(_))), "{file}: {number}: {ours:?}")
            }
            ("invalid", "InvalidComponent") => match &ours {
                Err(IdError::Date | IdError::Region(_) | IdError::RegionRetired { .. }) => {}
                Ok(_) if created_after_birth(&number) => late += 1,
                Ok(_) if abolished_in_birth_year(&number) => same_year += 1,
                other => panic!("{file}: {number}: stdnum InvalidComponent, we say {other:?}"),
            },
            ("oracle_error", _) => {}
            other => panic!("unknown verdict {other:?}"),
        }
    }
    Tally { rows: n, late, same_year, retired }
}

#[test]
fn agrees_with_the_stdnum_vectors() {
    let t = check("cn_ric_vectors.csv");
    assert_eq!(t.rows, 27);
    // 653228 born 2020 (和康县 created 2024) is accepted on purpose.
    assert!(t.late >= 1, "the late-registration rows are accepted on purpose");
    assert!(t.retired.is_empty(), "{:?}", t.retired);
}

#[test]
fn agrees_with_the_differential_corpus() {
    let t = check("cn_ric_oracle_verdicts.csv");
    assert_eq!(t.rows, 2600);
    eprintln!("accepted on the late-registration rule where stdnum rejects: {}", t.late);
    eprintln!("accepted as abolished only in the birth year, where stdnum rejects: {}", t.same_year);
    eprintln!("refused as abolished before birth per the MCA history, stdnum accepts: {:?}", t.retired);
    assert!(t.retired.len() <= 20, "too many history disagreements: {}", t.retired.len());
}
