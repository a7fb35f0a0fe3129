//! A student's status timeline: consecutive spells, each a state at a school (and class) from a
//! day up to, not including, the next spell's first day. From enrolment on, every day falls in
//! exactly one spell, so a child is always at one school or in a named state, never lost and
//! never double. The database keeps the same spells (`student_spells`); this is the rule.

use chrono::NaiveDate;

use super::status::State;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spell {
    pub state: State,
    pub school_id: i64,
    pub class_id: Option<i64>,
    pub from: NaiveDate,
    /// The first day no longer in this spell; `None` while it is the current one.
    pub to: Option<NaiveDate>,
}

impl Spell {
    pub fn covers(&self, day: NaiveDate) -> bool {
        self.from <= day && self.to.is_none_or(|t| day < t)
    }
}

/// The spells of one student, oldest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Timeline(Vec<Spell>);

impl Timeline {
    pub fn new(spells: Vec<Spell>) -> Self {
        let mut spells = spells;
        spells.sort_by_key(|s| s.from);
        Self(spells)
    }

    pub fn spells(&self) -> &[Spell] {
        &self.0
    }

    pub fn at(&self, day: NaiveDate) -> Option<&Spell> {
        self.0.iter().find(|s| s.covers(day))
    }

    pub fn current(&self) -> Option<&Spell> {
        self.0.last().filter(|s| s.to.is_none())
    }

    pub fn enrolled_on(&self) -> Option<NaiveDate> {
        self.0.first().map(|s| s.from)
    }

    /// Whether a new state may begin on `on`: after enrolment and after the current spell began
    /// (a change rewrites only the open end of the timeline, never a spell already closed).
    pub fn can_switch(&self, on: NaiveDate) -> Result<(), String> {
        let cur = self.current().ok_or("该学生没有当前学籍状态")?;
        if let Some(e) = self.enrolled_on().filter(|e| on < *e) {
            return Err(format!("生效日期{on}早于入学日期{e}"));
        }
        if on <= cur.from {
            return Err(format!("生效日期{on}须晚于当前状态“{}”的开始日期{}", cur.state.label(), cur.from));
        }
        Ok(())
    }

    /// Ends the current spell the day before `on` and opens `next` from `on`.
    pub fn switch(&mut self, on: NaiveDate, state: State, school_id: i64, class_id: Option<i64>) -> Result<(), String> {
        self.can_switch(on)?;
        if let Some(cur) = self.0.last_mut() {
            cur.to = Some(on);
        }
        self.0.push(Spell { state, school_id, class_id, from: on, to: None });
        Ok(())
    }

    /// Takes back the current spell and reopens the one before it (a refused transfer).
    pub fn undo_last(&mut self) -> Result<(), String> {
        if self.0.len() < 2 {
            return Err("没有可撤回的状态".into());
        }
        self.0.pop();
        if let Some(prev) = self.0.last_mut() {
            prev.to = None;
        }
        Ok(())
    }

    /// The invariant: spells follow each other without gap or overlap, none is empty, and only
    /// the last is open.
    pub fn check(&self) -> Result<(), String> {
        for (i, s) in self.0.iter().enumerate() {
            match s.to {
                Some(t) if t <= s.from => return Err(format!("第{}段状态为空或倒置（{}至{t}）", i + 1, s.from)),
                None if i + 1 != self.0.len() => return Err(format!("第{}段状态未结束却有后续状态", i + 1)),
                _ => {}
            }
            if let Some(next) = self.0.get(i + 1)
                && s.to != Some(next.from)
            {
                return Err(format!("第{}段与第{}段之间有间隔或重叠", i + 1, i + 2));
            }
        }
        if !self.0.is_empty() && self.current().is_none() {
            return Err("最后一段状态须是当前状态".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Days;
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("date")
    }

    fn enrolled(on: &str) -> Timeline {
        Timeline::new(vec![Spell { state: State::AtSchool, school_id: 1, class_id: Some(1), from: d(on), to: None }])
    }

    #[test]
    fn a_switch_closes_the_current_spell_the_day_before() {
        let mut t = enrolled("2026-09-01");
        t.switch(d("2026-10-12"), State::Suspended, 1, Some(1)).expect("ok");
        assert_eq!(t.at(d("2026-10-11")).map(|s| s.state), Some(State::AtSchool));
        assert_eq!(t.at(d("2026-10-12")).map(|s| s.state), Some(State::Suspended));
        assert_eq!(t.at(d("2026-08-31")), None);
        assert!(t.check().is_ok());
        assert!(t.switch(d("2026-10-12"), State::AtSchool, 1, Some(1)).is_err());
        assert!(t.switch(d("2026-08-01"), State::AtSchool, 1, Some(1)).unwrap_err().contains("入学日期"));
        t.undo_last().expect("ok");
        assert_eq!(t, enrolled("2026-09-01"));
    }

    #[test]
    fn check_finds_gaps_overlaps_and_two_open_spells() {
        let s = |from: &str, to: Option<&str>| Spell {
            state: State::AtSchool,
            school_id: 1,
            class_id: None,
            from: d(from),
            to: to.map(d),
        };
        assert!(Timeline::new(vec![s("2026-09-01", Some("2026-10-01")), s("2026-10-02", None)]).check().is_err());
        assert!(Timeline::new(vec![s("2026-09-01", Some("2026-10-03")), s("2026-10-02", None)]).check().is_err());
        assert!(Timeline::new(vec![s("2026-09-01", None), s("2026-10-02", None)]).check().is_err());
        assert!(Timeline::new(vec![s("2026-09-01", Some("2026-09-01")), s("2026-09-01", None)]).check().is_err());
        assert!(Timeline::new(vec![s("2026-09-01", Some("2026-10-02")), s("2026-10-02", None)]).check().is_ok());
    }

    /// Random sequences of switches and take-backs, valid or not: whatever is accepted, every
    /// day from enrolment on is in exactly one spell, and refused steps change nothing.
    #[test]
    fn property_every_day_in_exactly_one_spell() {
        let states = crate::domain::status::ALL_STATES;
        for seed in 0..300u64 {
            let mut rng = StdRng::seed_from_u64(seed);
            let start = d("2025-09-01");
            let mut t = enrolled("2025-09-01");
            for _ in 0..rng.random_range(1..25) {
                let before = t.clone();
                let ok = if rng.random_bool(0.15) {
                    t.undo_last().is_ok()
                } else {
                    let on = start + Days::new(rng.random_range(0..400));
                    let state = states[rng.random_range(0..states.len())];
                    t.switch(on, state, rng.random_range(1..4), None).is_ok()
                };
                if !ok {
                    assert_eq!(t, before, "seed {seed}: a refused step changed the timeline");
                }
                t.check().unwrap_or_else(|e| panic!("seed {seed}: {e}"));
                for k in 0..420 {
                    let day = start + Days::new(k);
                    let n = t.spells().iter().filter(|s| s.covers(day)).count();
                    assert_eq!(n, 1, "seed {seed}: {day} is in {n} spells");
                }
            }
        }
    }
}
