//! Exchange packages between a province and the centre (跨省查重): what a province sends for a
//! period, how the centre checks it, and how it finds one child active — or paid — in two
//! provinces on the same days, without a name or an ID number ever leaving a province.
//!
//! A child is named by a keyed hash of its ID number under a national key the provinces share
//! (HMAC-SHA256, the pattern of USDA's National Accuracy Clearinghouse across states): the centre
//! can match two provinces' children without being able to read either. The package is signed
//! with the province's own Ed25519 key, so one province cannot speak for another, and carries a
//! fingerprint of the national key, so a package hashed under another key is refused instead of
//! silently matching nothing.

use chrono::NaiveDate;
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use hmac::{Hmac, Mac};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::error_code::ErrorCode;
use super::id_card::IdCardNo;

/// The package format this code writes and reads.
pub const FORMAT: u32 = 1;

/// The key every province hashes ID numbers under (kept outside the database, like the others).
pub struct NationalKey([u8; 32]);

impl NationalKey {
    pub fn new(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The key as the provinces configure it: at least 32 bytes in hex, folded to 32 (SHA-256),
    /// so any agreed length gives the same key everywhere.
    pub fn from_hex(text: &str) -> Option<Self> {
        let bytes = hex::decode(text.trim()).ok().filter(|b| b.len() >= 32)?;
        Some(Self(Sha256::digest(bytes).into()))
    }

    /// The keyed hash a child is known by at the centre.
    pub fn child_key(&self, id: &IdCardNo) -> String {
        hex::encode(self.mac(b"child\0", id.as_str().as_bytes()))
    }

    /// Names the key without revealing it: two packages hashed under different keys cannot be
    /// compared, and the centre says so.
    pub fn fingerprint(&self) -> String {
        hex::encode(&self.mac(b"fingerprint\0", b"")[..8])
    }

    fn mac(&self, domain: &[u8], data: &[u8]) -> [u8; 32] {
        let mut m = <Hmac<Sha256> as Mac>::new_from_slice(&self.0).unwrap_or_else(|_| unreachable!("any length"));
        m.update(domain);
        m.update(data);
        m.finalize().into_bytes().into()
    }
}

/// Days from `from` to `to`, both included.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Days {
    pub from: NaiveDate,
    pub to: NaiveDate,
}

impl Days {
    pub fn new(from: NaiveDate, to: NaiveDate) -> Option<Self> {
        (from <= to).then_some(Self { from, to })
    }

    pub fn count(&self) -> i64 {
        (self.to - self.from).num_days() + 1
    }

    /// The days of a spell `[from, until)` (open-ended when `None`, as spells are stored) that
    /// fall within `first..=last`.
    pub fn of_spell(from: NaiveDate, until: Option<NaiveDate>, first: NaiveDate, last: NaiveDate) -> Option<Days> {
        let to = until.and_then(|t| t.pred_opt()).map_or(last, |t| t.min(last));
        Days::new(from.max(first), to)
    }

    /// Days as ranges: each run of consecutive days one range (the days in order).
    pub fn runs(days: impl IntoIterator<Item = NaiveDate>) -> Vec<Days> {
        let mut out: Vec<Days> = Vec::new();
        for d in days {
            match out.last_mut() {
                Some(last) if last.to.succ_opt() == Some(d) => last.to = d,
                Some(last) if last.to >= d => {}
                _ => out.push(Days { from: d, to: d }),
            }
        }
        out
    }

    /// Every day of the ranges, in order.
    pub fn each(ranges: &[Days]) -> impl Iterator<Item = NaiveDate> + '_ {
        ranges.iter().flat_map(|r| r.from.iter_days().take_while(move |d| *d <= r.to))
    }

    fn and(&self, other: &Days) -> Option<Days> {
        Days::new(self.from.max(other.from), self.to.min(other.to))
    }
}

/// The days two lists of ranges have in common, as sorted ranges.
pub fn common_days(a: &[Days], b: &[Days]) -> Vec<Days> {
    union(a.iter().flat_map(|x| b.iter().filter_map(move |y| x.and(y))).collect())
}

/// The ranges sorted, joined where they overlap or run on into each other.
pub fn union(mut ranges: Vec<Days>) -> Vec<Days> {
    ranges.sort();
    let mut joined: Vec<Days> = Vec::new();
    for d in ranges {
        match joined.last_mut() {
            Some(last) if d.from <= last.to.succ_opt().unwrap_or(last.to) => last.to = last.to.max(d.to),
            _ => joined.push(d),
        }
    }
    joined
}

/// One child in a package: the keyed hash and the days active at a school and paid for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Child {
    pub key: String,
    pub active: Vec<Days>,
    pub paid: Vec<Days>,
}

/// A county's month in figures (money in fen).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CountyMonth {
    pub county: String,
    pub month: String,
    pub beneficiaries: i64,
    pub meals: i64,
    pub entitled_fen: i64,
    pub allocated_fen: i64,
    pub spent_fen: i64,
}

/// What a province says for a period; the signature covers exactly this.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Body {
    pub format: u32,
    pub province: String,
    pub period: String,
    /// 1, 2, 3… per province: the centre takes each once and in order.
    pub seq: u64,
    pub created_at: String,
    pub national_key: String,
    pub counties: Vec<CountyMonth>,
    pub children: Vec<Child>,
}

/// One of the province's own children the centre found in another province.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Match {
    pub key: String,
    pub other_province: String,
    /// Days active at a school in both provinces.
    pub active: Vec<Days>,
    /// Days paid for in both.
    pub paid: Vec<Days>,
}

/// What the centre sends back to a province: its children found elsewhere, the whole current
/// picture (a newer return replaces an older one).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReturnBody {
    pub format: u32,
    pub province: String,
    /// 1, 2, 3… per province, numbered by the centre.
    pub seq: u64,
    pub created_at: String,
    pub national_key: String,
    pub matches: Vec<Match>,
}

/// What every travelling body carries before its contents.
pub struct Envelope<'a> {
    pub format: u32,
    pub seq: u64,
    pub national_key: &'a str,
}

/// A body that travels signed and numbered.
pub trait Numbered: Serialize {
    fn envelope(&self) -> Envelope<'_>;

    /// A county the body speaks for that is not the sender's (none by default).
    fn foreign_county(&self) -> Option<&str> {
        None
    }

    /// The bytes signed: the body as this code serialises it (fields in declaration order,
    /// nothing but strings, integers and dates), so a reader re-serialising what it parsed
    /// gets the same bytes, and a field added or changed in transit breaks the signature.
    fn signed_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// The package's identity: the same body imported twice is the same package.
    fn digest(&self) -> String {
        hex::encode(Sha256::digest(self.signed_bytes()))
    }
}

impl Numbered for Body {
    fn envelope(&self) -> Envelope<'_> {
        Envelope { format: self.format, seq: self.seq, national_key: &self.national_key }
    }
    /// A county's division code starts with its province's two digits.
    fn foreign_county(&self) -> Option<&str> {
        let province = self.province.get(..2).unwrap_or(&self.province);
        self.counties.iter().map(|c| c.county.as_str()).find(|c| !c.starts_with(province))
    }
}

impl Numbered for ReturnBody {
    fn envelope(&self) -> Envelope<'_> {
        Envelope { format: self.format, seq: self.seq, national_key: &self.national_key }
    }
}

/// A body as it travels: the body, the signer's public key and the signature.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Signed<B> {
    pub body: B,
    pub signer: String,
    pub signature: String,
}

/// A province's package to the centre.
pub type Package = Signed<Body>;
/// The centre's package back to a province.
pub type Return = Signed<ReturnBody>;

/// Why a package is refused; nothing of it is applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Not a package of this format (cut short, not JSON, unknown fields).
    Malformed(String),
    /// The signature does not hold for the body, or the signer is not the sender's key.
    Signature,
    /// Hashed under another national key.
    NationalKey,
    /// Not the next package of the sender.
    Sequence { expected: u64, got: u64 },
    /// Figures of a county outside the sending province.
    County(String),
}

impl Refusal {
    pub fn code(&self) -> ErrorCode {
        match self {
            Refusal::Malformed(_) => ErrorCode::CentralMalformed,
            Refusal::Signature => ErrorCode::CentralSignature,
            Refusal::NationalKey => ErrorCode::CentralNationalKey,
            Refusal::Sequence { .. } => ErrorCode::CentralSequence,
            Refusal::County(_) => ErrorCode::CentralCounty,
        }
    }

    pub fn message(&self) -> String {
        match self {
            Refusal::Malformed(why) => format!("交换包格式有误或不完整：{why}"),
            Refusal::Signature => "交换包签名无效：内容被改动，或不是发送方登记的签名密钥所签".into(),
            Refusal::NationalKey => "交换包使用的全国统一密钥与本系统不一致，无法比对".into(),
            Refusal::Sequence { expected, got } => {
                format!("交换包序号为 {got}，应为 {expected}：重放或次序颠倒的包不予接收")
            }
            Refusal::County(c) => format!("交换包含县级行政区划 {c} 的数据，该县不属于发送省份"),
        }
    }
}

/// Signs a body with the sender's key.
pub fn sign<B: Numbered>(body: B, key: &SigningKey) -> Signed<B> {
    let signature = key.sign(&body.signed_bytes());
    Signed { signer: hex::encode(key.verifying_key().as_bytes()), signature: hex::encode(signature.to_bytes()), body }
}

/// Reads a package file: parsed whole or refused.
pub fn parse<B: Numbered + DeserializeOwned>(bytes: &[u8]) -> Result<Signed<B>, Refusal> {
    let p: Signed<B> = serde_json::from_slice(bytes).map_err(|e| Refusal::Malformed(e.to_string()))?;
    let format = p.body.envelope().format;
    if format != FORMAT {
        return Err(Refusal::Malformed(format!("格式版本 {format}，本系统读取版本 {FORMAT}")));
    }
    Ok(p)
}

/// A public key as registered or configured (64 hex digits).
pub fn verifying_key(hex_key: &str) -> Option<VerifyingKey> {
    let bytes = <[u8; 32]>::try_from(hex::decode(hex_key.trim()).ok()?).ok()?;
    VerifyingKey::from_bytes(&bytes).ok()
}

/// What the receiver does with a package after checking it against the sender's registered
/// key, its own national key and the last package it took from the sender.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Accept {
    /// The next package: take it.
    New,
    /// This very package was taken before: nothing to do (an import may be repeated).
    Again,
}

/// The last package taken from a sender: its number and digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Last {
    pub seq: u64,
    pub digest: String,
}

pub fn check<B: Numbered>(
    p: &Signed<B>,
    sender_key: &VerifyingKey,
    national: &NationalKey,
    last: Option<&Last>,
) -> Result<Accept, Refusal> {
    let signer = hex::decode(&p.signer).ok().and_then(|b| <[u8; 32]>::try_from(b).ok());
    if signer != Some(*sender_key.as_bytes()) {
        return Err(Refusal::Signature);
    }
    let signature = hex::decode(&p.signature)
        .ok()
        .and_then(|b| <[u8; 64]>::try_from(b).ok())
        .map(|b| Signature::from_bytes(&b))
        .ok_or(Refusal::Signature)?;
    sender_key.verify(&p.body.signed_bytes(), &signature).map_err(|_| Refusal::Signature)?;
    let Envelope { seq, national_key, .. } = p.body.envelope();
    if national_key != national.fingerprint() {
        return Err(Refusal::NationalKey);
    }
    if let Some(c) = p.body.foreign_county() {
        return Err(Refusal::County(c.to_owned()));
    }
    sequence(seq, &p.body.digest(), last).map_err(|(expected, got)| Refusal::Sequence { expected, got })
}

/// Whether a package numbered `seq` with `digest` is the next from its sender, the last one
/// again, or neither (the rule of every numbered package, central or local).
pub fn sequence(seq: u64, digest: &str, last: Option<&Last>) -> Result<Accept, (u64, u64)> {
    let expected = last.map_or(1, |l| l.seq + 1);
    match last {
        Some(l) if l.seq == seq && l.digest == digest => Ok(Accept::Again),
        _ if seq == expected => Ok(Accept::New),
        _ => Err((expected, seq)),
    }
}

/// One child found in two provinces on the same days.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DoubleClaim {
    pub key: String,
    /// The two provinces, in code order.
    pub provinces: (String, String),
    /// Days active at a school in both.
    pub active: Vec<Days>,
    /// Days paid for in both.
    pub paid: Vec<Days>,
}

/// Every child that two provinces' packages hold on common days (active or paid), each pair of
/// provinces once. A child held twice within one province is that province's own A01.
pub fn double_claims<'a>(provinces: &[(&'a str, &'a [Child])]) -> Vec<DoubleClaim> {
    use std::collections::BTreeMap;
    let mut by_key: BTreeMap<&str, Vec<(&str, &Child)>> = BTreeMap::new();
    for (province, children) in provinces {
        for c in *children {
            by_key.entry(c.key.as_str()).or_default().push((province, c));
        }
    }
    let mut out = Vec::new();
    for (key, held) in by_key {
        for (i, (pa, a)) in held.iter().enumerate() {
            for (pb, b) in &held[i + 1..] {
                if pa == pb {
                    continue;
                }
                let active = common_days(&a.active, &b.active);
                let paid = common_days(&a.paid, &b.paid);
                if active.is_empty() && paid.is_empty() {
                    continue;
                }
                let provinces =
                    if pa <= pb { (pa.to_string(), pb.to_string()) } else { (pb.to_string(), pa.to_string()) };
                out.push(DoubleClaim { key: key.to_owned(), provinces, active, paid });
            }
        }
    }
    out
}

/// What goes back to `province`: its side of every double claim it is part of.
pub fn matches_for(province: &str, claims: &[DoubleClaim]) -> Vec<Match> {
    claims
        .iter()
        .filter_map(|c| {
            let other = match (&c.provinces.0, &c.provinces.1) {
                (a, b) if a == province => b,
                (a, b) if b == province => a,
                _ => return None,
            };
            Some(Match {
                key: c.key.clone(),
                other_province: other.clone(),
                active: c.active.clone(),
                paid: c.paid.clone(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packages_are_taken_in_order_once() {
        let last = Last { seq: 2, digest: "d2".into() };
        assert_eq!(sequence(1, "d1", None), Ok(Accept::New));
        assert_eq!(sequence(2, "d1", None), Err((1, 2)));
        assert_eq!(sequence(3, "d3", Some(&last)), Ok(Accept::New));
        assert_eq!(sequence(2, "d2", Some(&last)), Ok(Accept::Again));
        // The same number with other contents is a replay, not the same package.
        assert_eq!(sequence(2, "dx", Some(&last)), Err((3, 2)));
        assert_eq!(sequence(4, "d4", Some(&last)), Err((3, 4)));
    }

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("date")
    }

    fn days(from: &str, to: &str) -> Days {
        Days::new(day(from), day(to)).expect("range")
    }

    fn national() -> NationalKey {
        NationalKey::new([7u8; 32])
    }

    fn province_key(seed: u8) -> SigningKey {
        SigningKey::from_bytes(&[seed; 32])
    }

    fn body(province: &str, seq: u64, children: Vec<Child>) -> Body {
        Body {
            format: FORMAT,
            province: province.into(),
            period: "2026-11".into(),
            seq,
            created_at: "2026-12-01T08:00:00+08:00".into(),
            national_key: national().fingerprint(),
            counties: vec![CountyMonth {
                county: format!("{province}2326"),
                month: "2026-11".into(),
                beneficiaries: 3,
                meals: 60,
                entitled_fen: 30_000,
                allocated_fen: 30_000,
                spent_fen: 29_500,
            }],
            children,
        }
    }

    fn child(key: &str, active: Vec<Days>, paid: Vec<Days>) -> Child {
        Child { key: key.into(), active, paid }
    }

    #[test]
    fn a_child_key_hides_the_number_and_depends_on_the_key() {
        let id = IdCardNo::parse("110105201501011239").expect("valid id");
        let k = national().child_key(&id);
        assert_eq!(k.len(), 64);
        assert!(!k.contains("110105"), "the hash shows no part of the number");
        assert_eq!(k, national().child_key(&id), "the same number, the same key");
        assert_ne!(k, NationalKey::new([8u8; 32]).child_key(&id), "another national key, another hash");
    }

    #[test]
    fn common_days_are_the_overlap_to_the_day_joined_where_they_run_on() {
        // A child leaves one school on the 15th and joins the other on the 15th: one day shared.
        assert_eq!(
            common_days(&[days("2026-09-01", "2026-11-15")], &[days("2026-11-15", "2026-12-31")]),
            vec![days("2026-11-15", "2026-11-15")]
        );
        // Leaves on the 14th, joins on the 15th: nothing shared.
        assert!(common_days(&[days("2026-09-01", "2026-11-14")], &[days("2026-11-15", "2026-12-31")]).is_empty());
        // Two spells on one side that run on into each other come out as one range.
        assert_eq!(
            common_days(
                &[days("2026-09-01", "2026-09-30"), days("2026-10-01", "2026-10-31")],
                &[days("2026-09-20", "2026-10-10")]
            ),
            vec![days("2026-09-20", "2026-10-10")]
        );
        assert_eq!(days("2026-09-20", "2026-10-10").count(), 21);
    }

    #[test]
    fn a_signed_package_is_taken_once_and_in_order() {
        let key = province_key(1);
        let p = sign(body("52", 1, vec![]), &key);
        let bytes = serde_json::to_vec(&p).expect("json");
        let read = parse::<Body>(&bytes).expect("parses");
        let vk = key.verifying_key();
        assert_eq!(check(&read, &vk, &national(), None), Ok(Accept::New));
        let last = Last { seq: 1, digest: read.body.digest() };
        assert_eq!(check(&read, &vk, &national(), Some(&last)), Ok(Accept::Again), "the same package again");
        let second = sign(body("52", 2, vec![]), &key);
        assert_eq!(check(&second, &vk, &national(), Some(&last)), Ok(Accept::New));
        let third = sign(body("52", 3, vec![]), &key);
        assert_eq!(
            check(&third, &vk, &national(), Some(&last)),
            Err(Refusal::Sequence { expected: 2, got: 3 }),
            "a package skipped"
        );
        let other_first = sign(body("52", 1, vec![child("aa", vec![], vec![])]), &key);
        assert_eq!(
            check(&other_first, &vk, &national(), Some(&last)),
            Err(Refusal::Sequence { expected: 2, got: 1 }),
            "a different package under a number already taken (a replay or a rewrite)"
        );
    }

    #[test]
    fn a_changed_cut_or_foreign_package_is_refused() {
        let key = province_key(1);
        let vk = key.verifying_key();
        let mut p = sign(body("52", 1, vec![child("aa", vec![days("2026-11-01", "2026-11-30")], vec![])]), &key);
        let bytes = serde_json::to_vec(&p).expect("json");
        assert!(matches!(parse::<Body>(&bytes[..bytes.len() / 2]), Err(Refusal::Malformed(_))), "cut short");

        p.body.children[0].active[0].to = day("2026-11-29");
        assert_eq!(check(&p, &vk, &national(), None), Err(Refusal::Signature), "a day changed in transit");

        let other = sign(body("52", 1, vec![]), &province_key(2));
        assert_eq!(check(&other, &vk, &national(), None), Err(Refusal::Signature), "signed by another province");

        let mut foreign = body("52", 1, vec![]);
        foreign.national_key = NationalKey::new([9u8; 32]).fingerprint();
        assert_eq!(check(&sign(foreign, &key), &vk, &national(), None), Err(Refusal::NationalKey));

        let mut stray = body("52", 1, vec![]);
        stray.counties[0].county = "532301".into();
        assert_eq!(
            check(&sign(stray, &key), &vk, &national(), None),
            Err(Refusal::County("532301".into())),
            "a county of another province"
        );

        let mut text =
            String::from_utf8(serde_json::to_vec(&sign(body("52", 1, vec![]), &key)).expect("json")).expect("utf-8");
        text = text.replacen("\"seq\":1", "\"seq\":1,\"name\":\"张三\"", 1);
        assert!(
            matches!(parse::<Body>(text.as_bytes()), Err(Refusal::Malformed(_))),
            "a field the format does not have"
        );
        assert!(
            matches!(parse::<ReturnBody>(&bytes), Err(Refusal::Malformed(_))),
            "a province's package is not a return package"
        );
    }

    #[test]
    fn a_child_in_two_provinces_on_common_days_is_found_once_from_either_side() {
        let a = vec![
            child("k1", vec![days("2026-09-01", "2026-11-30")], vec![days("2026-09-01", "2026-11-30")]),
            child("k2", vec![days("2026-09-01", "2026-10-14")], vec![]),
            child("k3", vec![days("2026-09-01", "2026-11-30")], vec![]),
        ];
        let b = vec![
            // Joined the other province on 20 November while still on the first one's roll.
            child("k1", vec![days("2026-11-20", "2026-12-31")], vec![days("2026-11-20", "2026-11-30")]),
            // Left on the 14th, joined on the 15th: a transfer, not a double claim.
            child("k2", vec![days("2026-10-15", "2026-12-31")], vec![]),
            child("k4", vec![days("2026-09-01", "2026-11-30")], vec![]),
        ];
        let found = double_claims(&[("52", &a), ("53", &b)]);
        assert_eq!(
            found,
            vec![DoubleClaim {
                key: "k1".into(),
                provinces: ("52".into(), "53".into()),
                active: vec![days("2026-11-20", "2026-11-30")],
                paid: vec![days("2026-11-20", "2026-11-30")],
            }]
        );
        assert_eq!(double_claims(&[("53", &b), ("52", &a)]), found, "the same from the other side");
        assert!(double_claims(&[("52", &a), ("52", &a)]).is_empty(), "one province is not a pair");
    }

    #[test]
    fn a_spell_counts_to_the_day_before_it_ends_within_the_window() {
        let (first, last) = (day("2026-11-01"), day("2026-11-30"));
        // Left on the 15th: at school to the 14th.
        assert_eq!(
            Days::of_spell(day("2026-09-01"), Some(day("2026-11-15")), first, last),
            Some(days("2026-11-01", "2026-11-14"))
        );
        // Joined on the 20th and still there.
        assert_eq!(Days::of_spell(day("2026-11-20"), None, first, last), Some(days("2026-11-20", "2026-11-30")));
        // Ended on the first day of the window: no day in it.
        assert_eq!(Days::of_spell(day("2026-09-01"), Some(day("2026-11-01")), first, last), None);
    }

    #[test]
    fn days_run_together_where_they_follow_each_other() {
        let d = [day("2026-10-30"), day("2026-10-31"), day("2026-11-01"), day("2026-11-03"), day("2026-11-03")];
        let runs = Days::runs(d);
        assert_eq!(runs, vec![days("2026-10-30", "2026-11-01"), days("2026-11-03", "2026-11-03")]);
        assert_eq!(Days::each(&runs).count(), 4);
        assert!(Days::runs([]).is_empty());
    }

    #[test]
    fn each_province_gets_back_its_side_of_a_claim() {
        let claim = DoubleClaim {
            key: "k1".into(),
            provinces: ("52".into(), "53".into()),
            active: vec![days("2026-11-20", "2026-11-30")],
            paid: vec![],
        };
        let to_52 = matches_for("52", std::slice::from_ref(&claim));
        assert_eq!(to_52.len(), 1);
        assert_eq!(to_52[0].other_province, "53");
        assert_eq!(matches_for("53", std::slice::from_ref(&claim))[0].other_province, "52");
        assert!(matches_for("54", &[claim]).is_empty());
    }
}
