//! Packages from a collection point (单机版数据采集点) to its county's network instance: what a
//! point sends of its schools' work since its last package, how the file is sealed so that a lost
//! USB stick leaks no child's identity, and how a child changed on both sides is merged field by
//! field — what only one side changed is taken, what both changed differently waits for a person.
//!
//! A point and its county share a pairing key the county issues when it registers the point: the
//! package is sealed with an AEAD under a key derived from it, so it is unreadable without the key,
//! and a package altered, cut short, or sealed by anyone else does not open.

use std::collections::BTreeMap;

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use chrono::NaiveDate;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::error_code::ErrorCode;

/// The package format this code writes and reads.
pub const FORMAT: u32 = 1;

/// The key a county and one of its points share (32 bytes, shown as 64 hex digits once).
pub struct PairingKey([u8; 32]);

impl PairingKey {
    pub fn generate() -> Self {
        Self(rand::random())
    }

    pub fn from_hex(text: &str) -> Option<Self> {
        let bytes = hex::decode(text.trim()).ok()?;
        Some(Self(<[u8; 32]>::try_from(bytes).ok()?))
    }

    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// The AEAD key: derived, so the pairing key itself never seals anything.
    fn cipher(&self) -> XChaCha20Poly1305 {
        let mut m = <Hmac<Sha256> as Mac>::new_from_slice(&self.0).unwrap_or_else(|_| unreachable!("any length"));
        m.update(b"mealroll collect package\0");
        XChaCha20Poly1305::new(&m.finalize().into_bytes())
    }

    /// Seals a body: compressed, then encrypted with the header as associated data, so the
    /// header cannot be moved onto another body.
    pub fn seal(&self, body: &Body) -> Sealed {
        let json = serde_json::to_vec(body).unwrap_or_default();
        let mut z = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::fast());
        let compressed = std::io::Write::write_all(&mut z, &json).and_then(|_| z.finish()).unwrap_or_default();
        let nonce: [u8; 24] = rand::random();
        let header = Header { format: FORMAT, county: body.county.clone(), point: body.point.clone(), seq: body.seq };
        let sealed = self
            .cipher()
            .encrypt(&XNonce::from(nonce), Payload { msg: &compressed, aad: &header.aad() })
            .unwrap_or_default();
        Sealed { header, nonce: hex::encode(nonce), sealed: base64_encode(&sealed) }
    }

    /// Opens a sealed package: the body, or why not. The body must repeat the header.
    pub fn open(&self, s: &Sealed) -> Result<Body, Refusal> {
        let nonce: [u8; 24] = hex::decode(&s.nonce).ok().and_then(|n| n.try_into().ok()).ok_or(Refusal::Seal)?;
        let sealed = base64_decode(&s.sealed).ok_or_else(|| Refusal::Malformed("密文不是有效的 base64".into()))?;
        let compressed = self
            .cipher()
            .decrypt(&XNonce::from(nonce), Payload { msg: &sealed, aad: &s.header.aad() })
            .map_err(|_| Refusal::Seal)?;
        let mut json = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::DeflateDecoder::new(&compressed[..]), &mut json)
            .map_err(|e| Refusal::Malformed(e.to_string()))?;
        let body: Body = serde_json::from_slice(&json).map_err(|e| Refusal::Malformed(e.to_string()))?;
        if body.county != s.header.county || body.point != s.header.point || body.seq != s.header.seq {
            return Err(Refusal::Malformed("包头与内容不一致".into()));
        }
        Ok(body)
    }
}

fn base64_encode(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

pub fn base64_decode(text: &str) -> Option<Vec<u8>> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.decode(text).ok()
}

/// What is readable of a package without the key: whose it is and its number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Header {
    pub format: u32,
    pub county: String,
    pub point: String,
    pub seq: u64,
}

impl Header {
    fn aad(&self) -> Vec<u8> {
        format!("mealroll-collect\0{}\0{}\0{}\0{}", self.format, self.county, self.point, self.seq).into_bytes()
    }
}

/// A package as it travels.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "CollectPackage")]
pub struct Sealed {
    #[serde(flatten)]
    pub header: Header,
    /// 24 random bytes, hex.
    pub nonce: String,
    /// The compressed body, encrypted and authenticated (XChaCha20-Poly1305), base64.
    pub sealed: String,
}

impl Sealed {
    /// Reads a package file far enough to know whose it is; the body waits for the key.
    pub fn parse(bytes: &[u8]) -> Result<Self, Refusal> {
        let s: Sealed = serde_json::from_slice(bytes).map_err(|e| Refusal::Malformed(e.to_string()))?;
        if s.header.format != FORMAT {
            return Err(Refusal::Malformed(format!("格式版本 {}，本系统读取版本 {FORMAT}", s.header.format)));
        }
        Ok(s)
    }

    /// The package's identity: the same file taken twice is the same package.
    pub fn digest(&self) -> String {
        hex::encode(Sha256::digest(format!("{}\0{}", self.nonce, self.sealed)))
    }
}

/// A field's change as the point's history has it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FieldChange {
    pub field: String,
    pub old: Option<String>,
    pub new: Option<String>,
    pub reason: String,
    pub actor: String,
    /// RFC 3339.
    pub at: String,
}

/// A child registered or changed at the point.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Child {
    /// The child's id at the point: the same child in every package from it.
    pub point_id: i64,
    pub school: String,
    /// The 学籍号 at the point (a child new there gets the county's own number).
    pub student_no: String,
    /// The record now.
    pub record: BTreeMap<String, String>,
    /// The record as it stood at the point's last package (or its pairing): what the county had
    /// from it. None for a child new since.
    pub base: Option<BTreeMap<String, String>>,
    /// The first day at school, for a child new since.
    pub enrolled_on: Option<NaiveDate>,
    /// A photo changed since, as JPEG in base64.
    pub photo: Option<String>,
    pub history: Vec<FieldChange>,
}

/// A school's term dates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Term {
    pub school: String,
    pub school_year: i32,
    pub term: i32,
    pub start: NaiveDate,
    pub end: NaiveDate,
}

/// A school's meal days of a month (供餐日历), as people write them (`1-5,8,9-12`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Calendar {
    pub school: String,
    /// YYYY-MM.
    pub month: String,
    pub days: String,
}

/// One class's meals of a day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MealDay {
    pub school: String,
    pub class_no: String,
    pub day: NaiveDate,
    pub ate: i32,
    pub absent: Vec<Absent>,
    pub recorded_by: String,
}

/// A child named absent: its id at the point, and its 学籍号 there (which the county knows for a
/// child the point had from it, and which changed in no package).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Absent {
    pub point_id: i64,
    pub student_no: String,
}

/// A status change asked for at the point (休学, 复学, 转班, 退学…): the network's own chain
/// decides it, so it arrives as a task for the county.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StatusChange {
    pub child: Absent,
    pub kind: String,
    pub effective_date: NaiveDate,
    pub reason: String,
    pub requested_by: String,
}

/// What a point sends: its schools' work since its last package.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Body {
    pub format: u32,
    pub county: String,
    pub point: String,
    /// 1, 2, 3… per point: the county takes each once and in order.
    pub seq: u64,
    pub created_at: String,
    /// The instant the package covers from (RFC 3339; the pairing for the first).
    pub since: String,
    pub schools: Vec<String>,
    pub children: Vec<Child>,
    pub terms: Vec<Term>,
    pub calendars: Vec<Calendar>,
    pub meal_days: Vec<MealDay>,
    pub status_changes: Vec<StatusChange>,
}

impl Body {
    /// A school the body speaks for that is not among `allowed` (the point's registered schools).
    pub fn foreign_school<'a>(&'a self, allowed: &[String]) -> Option<&'a str> {
        let named = self.schools.iter().chain(self.children.iter().map(|c| &c.school));
        let named = named.chain(self.terms.iter().map(|t| &t.school)).chain(self.calendars.iter().map(|c| &c.school));
        let named = named.chain(self.meal_days.iter().map(|m| &m.school));
        named.map(String::as_str).find(|s| !allowed.iter().any(|a| a == s))
    }
}

/// Why a package is refused; nothing of it is applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Not a package of this format (cut short, not JSON, unknown fields).
    Malformed(String),
    /// It does not open under the point's pairing key: altered, or sealed by someone else.
    Seal,
    /// No point of that name is registered in the county.
    Point(String),
    /// Not the next package of the point.
    Sequence { expected: u64, got: u64 },
    /// Work of a school that is not the point's.
    School(String),
}

impl Refusal {
    pub fn code(&self) -> ErrorCode {
        match self {
            Refusal::Malformed(_) => ErrorCode::CollectMalformed,
            Refusal::Seal => ErrorCode::CollectSeal,
            Refusal::Point(_) => ErrorCode::CollectPoint,
            Refusal::Sequence { .. } => ErrorCode::CollectSequence,
            Refusal::School(_) => ErrorCode::CollectSchool,
        }
    }

    pub fn message(&self) -> String {
        match self {
            Refusal::Malformed(why) => format!("采集包格式有误或不完整：{why}"),
            Refusal::Seal => "采集包无法解封：内容被改动，或不是用本县发给该采集点的配对密钥封装的".into(),
            Refusal::Point(p) => format!("采集点“{p}”未在本县登记"),
            Refusal::Sequence { expected, got } => {
                format!("采集包序号为 {got}，应为 {expected}：重放或次序颠倒的包不予接收")
            }
            Refusal::School(s) => format!("采集包含学校 {s} 的数据，该校不属于这个采集点"),
        }
    }
}

/// A field both sides changed, each differently.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflict {
    pub field: String,
    pub base: Option<String>,
    /// The point's value.
    pub theirs: Option<String>,
    /// The network's value.
    pub ours: Option<String>,
}

/// A record merged: what the network's record becomes, and the fields left for a person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Merge {
    pub record: BTreeMap<String, String>,
    /// The fields the point's change was taken for.
    pub taken: Vec<String>,
    pub conflicts: Vec<Conflict>,
}

/// Three-way merge of one child's record: `base` what both sides had, `theirs` the point's
/// record, `ours` the network's. A field only the point changed is taken; a field only the
/// network changed, or both changed alike, stays; a field both changed differently is a
/// conflict and keeps the network's value until someone decides. Without a base (a child the
/// point registered that the county already holds), every differing field is a conflict.
pub fn merge(
    base: Option<&BTreeMap<String, String>>,
    theirs: &BTreeMap<String, String>,
    ours: &BTreeMap<String, String>,
) -> Merge {
    let mut record = ours.clone();
    let (mut taken, mut conflicts) = (Vec::new(), Vec::new());
    let fields: std::collections::BTreeSet<&String> = theirs.keys().chain(ours.keys()).collect();
    for f in fields {
        let (t, o) = (theirs.get(f), ours.get(f));
        if t == o {
            continue;
        }
        let b = base.map(|b| b.get(f));
        match b {
            Some(b) if b == o => {
                match t {
                    Some(v) => record.insert(f.clone(), v.clone()),
                    None => record.remove(f),
                };
                taken.push(f.clone());
            }
            // The point did not touch it: the network's change stands.
            Some(b) if b == t => {}
            _ => conflicts.push(Conflict {
                field: f.clone(),
                base: b.flatten().cloned(),
                theirs: t.cloned(),
                ours: o.cloned(),
            }),
        }
    }
    Merge { record, taken, conflicts }
}

/// The record as it stood before `changes` (the point's history since its last package, in
/// order): each field changed back to the old value of its first change.
pub fn base_of(now: &BTreeMap<String, String>, changes: &[FieldChange]) -> BTreeMap<String, String> {
    let mut base = now.clone();
    let mut seen = std::collections::BTreeSet::new();
    for c in changes {
        if !seen.insert(c.field.as_str()) {
            continue;
        }
        match &c.old {
            Some(v) => base.insert(c.field.clone(), v.clone()),
            None => base.remove(&c.field),
        };
    }
    base
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    fn body() -> Body {
        Body {
            format: FORMAT,
            county: "520102".into(),
            point: "乌当采集点".into(),
            seq: 3,
            created_at: "2026-12-08T08:00:00+08:00".into(),
            since: "2026-12-01T08:00:00+08:00".into(),
            schools: vec!["5201020001".into()],
            children: vec![],
            terms: vec![],
            calendars: vec![],
            meal_days: vec![],
            status_changes: vec![],
        }
    }

    #[test]
    fn a_sealed_package_opens_only_under_its_key_and_hides_its_contents() {
        let key = PairingKey::generate();
        let mut b = body();
        b.children.push(Child {
            point_id: 7,
            school: "5201020001".into(),
            student_no: "G520102201801010011".into(),
            record: map(&[("id_no", "520102201801010011"), ("name", "吴思琪")]),
            base: None,
            enrolled_on: None,
            photo: None,
            history: vec![],
        });
        let s = key.seal(&b);
        let text = serde_json::to_string(&s).unwrap();
        assert!(!text.contains("520102201801010011") && !text.contains("吴思琪"), "{text}");
        let back = Sealed::parse(text.as_bytes()).unwrap();
        assert_eq!(key.open(&back).unwrap(), b);
        assert_eq!(PairingKey::generate().open(&back), Err(Refusal::Seal));
        // The header cannot be moved onto another body, nor the body altered.
        let mut moved = back.clone();
        moved.header.seq = 4;
        assert_eq!(key.open(&moved), Err(Refusal::Seal));
        let mut cut = back.clone();
        cut.sealed.truncate(cut.sealed.len() - 8);
        assert!(key.open(&cut).is_err());
        assert!(matches!(Sealed::parse(&text.as_bytes()[..text.len() / 2]), Err(Refusal::Malformed(_))));
    }

    #[test]
    fn a_key_reads_back_from_its_hex_and_nothing_else() {
        let k = PairingKey::generate();
        assert_eq!(PairingKey::from_hex(&k.to_hex()).unwrap().0, k.0);
        assert!(PairingKey::from_hex("abcd").is_none());
        assert!(PairingKey::from_hex(&"zz".repeat(32)).is_none());
    }

    #[test]
    fn a_school_not_the_points_is_named() {
        let mut b = body();
        assert_eq!(b.foreign_school(&["5201020001".into()]), None);
        b.meal_days.push(MealDay {
            school: "5201030009".into(),
            class_no: "1".into(),
            day: NaiveDate::from_ymd_opt(2026, 12, 1).unwrap(),
            ate: 1,
            absent: vec![],
            recorded_by: "x".into(),
        });
        assert_eq!(b.foreign_school(&["5201020001".into()]), Some("5201030009"));
    }

    #[test]
    fn only_one_sides_change_is_taken_and_both_sides_changes_wait() {
        let base = map(&[("name", "吴思琪"), ("guardian_phone", "13800000001"), ("attendance", "走读")]);
        // The point changed the phone and the name; the network changed the name otherwise and
        // the attendance.
        let theirs = map(&[("name", "吴思绮"), ("guardian_phone", "13800000002"), ("attendance", "走读")]);
        let ours = map(&[("name", "吴丝琪"), ("guardian_phone", "13800000001"), ("attendance", "住校")]);
        let m = merge(Some(&base), &theirs, &ours);
        assert_eq!(m.taken, vec!["guardian_phone".to_string()]);
        assert_eq!(m.record.get("guardian_phone").unwrap(), "13800000002");
        assert_eq!(m.record.get("attendance").unwrap(), "住校");
        assert_eq!(m.record.get("name").unwrap(), "吴丝琪", "a conflict keeps the network's value");
        assert_eq!(
            m.conflicts,
            vec![Conflict {
                field: "name".into(),
                base: Some("吴思琪".into()),
                theirs: Some("吴思绮".into()),
                ours: Some("吴丝琪".into()),
            }]
        );
    }

    #[test]
    fn the_same_change_on_both_sides_is_no_conflict_and_a_removed_field_is_taken() {
        let base = map(&[("name", "甲"), ("migrant", "是")]);
        let theirs = map(&[("name", "乙")]);
        let ours = map(&[("name", "乙"), ("migrant", "是")]);
        let m = merge(Some(&base), &theirs, &ours);
        assert!(m.conflicts.is_empty());
        assert_eq!(m.taken, vec!["migrant".to_string()]);
        assert_eq!(m.record, map(&[("name", "乙")]));
    }

    #[test]
    fn without_a_base_every_difference_waits() {
        let m = merge(None, &map(&[("name", "甲"), ("sex", "男")]), &map(&[("name", "乙"), ("sex", "男")]));
        assert!(m.taken.is_empty());
        assert_eq!(m.conflicts.len(), 1);
        assert_eq!(m.conflicts[0].base, None);
    }

    #[test]
    fn the_base_is_each_fields_value_before_its_first_change() {
        let now = map(&[("name", "丙"), ("guardian_phone", "139")]);
        let change = |f: &str, old: Option<&str>, new: &str| FieldChange {
            field: f.into(),
            old: old.map(Into::into),
            new: Some(new.into()),
            reason: "更正".into(),
            actor: "clerk".into(),
            at: "2026-12-02T08:00:00+08:00".into(),
        };
        let changes =
            [change("name", Some("甲"), "乙"), change("name", Some("乙"), "丙"), change("guardian_phone", None, "139")];
        assert_eq!(base_of(&now, &changes), map(&[("name", "甲")]));
    }
}
