-- School years and terms (学年学期): dates set by a province, overridden by a county; the
-- nearest org's row holds for a school. A closed term takes no more backdated changes.
CREATE TABLE school_terms (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    org_id BIGINT NOT NULL REFERENCES orgs(id),
    school_year INTEGER NOT NULL,
    term INTEGER NOT NULL,
    start_date DATE NOT NULL,
    end_date DATE NOT NULL,
    closed_at TIMESTAMP,
    closed_by TEXT,
    set_by TEXT NOT NULL,
    set_at TIMESTAMP NOT NULL,
    UNIQUE (org_id, school_year, term)
);

-- Grades (and optionally one term) in which an org's schools take no transfer (DOMAIN §5.1).
CREATE TABLE transfer_restrictions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    org_id BIGINT NOT NULL REFERENCES orgs(id),
    grade INTEGER NOT NULL,
    term INTEGER,
    note TEXT NOT NULL,
    set_by TEXT NOT NULL,
    set_at TIMESTAMP NOT NULL
);
CREATE INDEX transfer_restrictions_org ON transfer_restrictions(org_id);

-- The approval chains (DOMAIN §5.3) as data: one row per step, side × level × role.
CREATE TABLE workflow_steps (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    route TEXT NOT NULL,
    step_no INTEGER NOT NULL,
    side TEXT NOT NULL,
    level TEXT NOT NULL,
    role TEXT NOT NULL,
    label TEXT NOT NULL,
    UNIQUE (kind, route, step_no)
);

-- A status change (学籍异动) of one student. At most one is open per student.
CREATE TABLE status_changes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    student_id BIGINT NOT NULL REFERENCES students(id),
    kind TEXT NOT NULL,
    route TEXT NOT NULL,
    from_school_id BIGINT NOT NULL REFERENCES orgs(id),
    to_school_id BIGINT REFERENCES orgs(id),
    to_class_id BIGINT REFERENCES classes(id),
    effective_date DATE NOT NULL,
    reason TEXT NOT NULL,
    evidence_id BIGINT REFERENCES attachments(id),
    status TEXT NOT NULL,
    step_no INTEGER NOT NULL,
    requested_by TEXT NOT NULL,
    requested_at TIMESTAMP NOT NULL,
    closed_at TIMESTAMP
);
CREATE UNIQUE INDEX status_changes_one_open ON status_changes(student_id) WHERE status = 'open';
CREATE INDEX status_changes_from ON status_changes(from_school_id, status);
CREATE INDEX status_changes_to ON status_changes(to_school_id, status);

-- The chain of one change, copied from workflow_steps with the acting org resolved, so a later
-- change of configuration does not move a change already under way.
CREATE TABLE status_change_steps (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    change_id BIGINT NOT NULL REFERENCES status_changes(id),
    step_no INTEGER NOT NULL,
    label TEXT NOT NULL,
    org_id BIGINT NOT NULL REFERENCES orgs(id),
    role TEXT NOT NULL,
    started DATE,
    due DATE,
    decision TEXT,
    note TEXT,
    decided_by TEXT,
    decided_at TIMESTAMP,
    escalated BOOLEAN NOT NULL DEFAULT 0,
    UNIQUE (change_id, step_no)
);
CREATE INDEX status_change_steps_waiting ON status_change_steps(org_id, decision);

-- A class that graduated in a school year keeps its row (history) but takes no more promotion.
ALTER TABLE classes ADD COLUMN graduated_year INTEGER;

-- Year-end promotion and graduation: the plan as applied (JSON), reversible until confirmed.
CREATE TABLE promotions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    org_id BIGINT NOT NULL REFERENCES orgs(id),
    school_year INTEGER NOT NULL,
    graduation_date DATE NOT NULL,
    status TEXT NOT NULL,
    plan TEXT NOT NULL,
    applied_by TEXT NOT NULL,
    applied_at TIMESTAMP NOT NULL,
    closed_by TEXT,
    closed_at TIMESTAMP
);
CREATE INDEX promotions_year ON promotions(school_year, status);

-- The status timeline: consecutive spells per student (domain::timeline). Only the last is open.
CREATE TABLE student_spells (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    student_id BIGINT NOT NULL REFERENCES students(id),
    state TEXT NOT NULL,
    school_id BIGINT NOT NULL REFERENCES orgs(id),
    class_id BIGINT REFERENCES classes(id),
    from_date DATE NOT NULL,
    to_date DATE,
    cause TEXT NOT NULL,
    change_id BIGINT REFERENCES status_changes(id),
    promotion_id BIGINT REFERENCES promotions(id)
);
CREATE UNIQUE INDEX student_spells_open ON student_spells(student_id) WHERE to_date IS NULL;
CREATE INDEX student_spells_student ON student_spells(student_id, from_date);
CREATE INDEX student_spells_school ON student_spells(school_id, state, from_date);

-- Every student already on the roll starts at school on the first day of the entry month.
INSERT INTO student_spells (student_id, state, school_id, class_id, from_date, to_date, cause)
SELECT id, 'at_school', school_id, class_id,
       COALESCE(date(substr(json_extract(record, '$.entry_ym'), 1, 4) || '-' ||
                     substr(json_extract(record, '$.entry_ym'), 5, 2) || '-01'), date(created_at)),
       NULL, 'enrol'
FROM students;

-- The national chains (DOMAIN §5.3). Step 1 is whoever submits; the change takes effect when the
-- last step approves. A province changes its chains here, not in code.
INSERT INTO workflow_steps (kind, route, step_no, side, level, role, label) VALUES
('11', 'local', 1, 'from', 'school', 'registrar', '学校提交休学申请'),
('11', 'local', 2, 'from', 'school', 'principal', '学校审核'),
('11', 'local', 3, 'from', 'county', 'nutrition_office', '县级教育行政部门复核'),
('12', 'local', 1, 'from', 'school', 'registrar', '学校提交复学申请'),
('12', 'local', 2, 'from', 'county', 'nutrition_office', '县级教育行政部门审批'),
('21', 'in_county', 1, 'to', 'school', 'registrar', '转入学校提交转学申请'),
('21', 'in_county', 2, 'from', 'school', 'principal', '转出学校审核'),
('21', 'in_county', 3, 'from', 'county', 'nutrition_office', '县级教育行政部门审批'),
('21', 'cross_county', 1, 'to', 'school', 'registrar', '转入学校提交转学申请'),
('21', 'cross_county', 2, 'to', 'county', 'nutrition_office', '转入地县级审核'),
('21', 'cross_county', 3, 'from', 'school', 'principal', '转出学校审核'),
('21', 'cross_county', 4, 'from', 'county', 'nutrition_office', '转出地县级审批'),
('21', 'cross_province', 1, 'to', 'school', 'registrar', '转入学校提交转学申请'),
('21', 'cross_province', 2, 'to', 'county', 'nutrition_office', '转入地县级审核'),
('21', 'cross_province', 3, 'to', 'province', 'nutrition_office', '转入地省级审核'),
('21', 'cross_province', 4, 'from', 'school', 'principal', '转出学校审核'),
('21', 'cross_province', 5, 'from', 'county', 'nutrition_office', '转出地县级审批'),
('29', 'local', 1, 'from', 'school', 'registrar', '学校提交转班'),
('29', 'local', 2, 'from', 'school', 'principal', '学校审核'),
('31', 'local', 1, 'from', 'school', 'registrar', '学校提交退学申请'),
('31', 'local', 2, 'from', 'school', 'principal', '学校审核'),
('31', 'local', 3, 'from', 'county', 'nutrition_office', '县级教育行政部门审批'),
('42', 'local', 1, 'from', 'school', 'registrar', '学校提交'),
('42', 'local', 2, 'from', 'school', 'principal', '学校审核'),
('42', 'local', 3, 'from', 'county', 'nutrition_office', '县级教育行政部门审批'),
('51', 'local', 1, 'from', 'school', 'registrar', '学校登记死亡注销'),
('51', 'local', 2, 'from', 'county', 'nutrition_office', '县级教育行政部门确认'),
('99', 'local', 1, 'from', 'school', 'registrar', '学校提交'),
('99', 'local', 2, 'from', 'school', 'principal', '学校审核'),
('99', 'local', 3, 'from', 'county', 'nutrition_office', '县级教育行政部门审批');
