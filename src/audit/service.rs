use crate::domain::chain::{ChainHasher, ChainKey, GENESIS, Seal};
use chrono::{NaiveDateTime, Timelike};
use diesel::prelude::*;
use serde::Serialize;

use crate::db::schema::audit_log;
use crate::db::{DbConn, lock_chain};
use crate::error::AppResult;

/// Who did it, from where.
#[derive(Debug, Clone, Serialize)]
pub struct Actor {
    pub user_id: Option<i64>,
    pub name: String,
    /// The actor's org path, so an audit administrator sees the rows of their own subtree.
    pub org_path: String,
    pub ip: String,
}

impl Actor {
    /// The command line, run by whoever holds the machine: recorded at the level of the
    /// deployment ([`instance_path`]), where its audit administrator reads it.
    pub fn cli(instance_path: &str) -> Self {
        Self { user_id: None, name: "命令行".into(), org_path: instance_path.to_owned(), ip: "local".into() }
    }

    /// Someone not (yet) logged in (a failed login under a name nobody has, a refused token):
    /// also at the deployment's level, since no org can be told.
    pub fn anonymous(ip: &str, instance_path: &str) -> Self {
        Self { user_id: None, name: "匿名".into(), org_path: instance_path.to_owned(), ip: ip.into() }
    }
}

/// The level this deployment serves: the deepest org whose subtree holds every account (a
/// county's instance: the county; a province's: the province). Rows without an org of their
/// own (the command line, logins under unknown names) are kept there, so the audit
/// administrator of that level and those above see them. With no accounts yet, the root.
pub fn instance_path(conn: &mut DbConn) -> AppResult<String> {
    use crate::db::schema::{orgs, users};
    use diesel::dsl::{max, min};
    let (lo, hi): (Option<String>, Option<String>) =
        users::table.inner_join(orgs::table).select((min(orgs::path), max(orgs::path))).first(conn)?;
    let common = match (lo, hi) {
        (Some(lo), Some(hi)) => common_path(&lo, &hi),
        _ => String::new(),
    };
    if common.len() > 1 {
        return Ok(common);
    }
    let root: Option<String> =
        orgs::table.filter(orgs::parent_id.is_null()).select(orgs::path).first(conn).optional()?;
    Ok(root.unwrap_or_else(|| "/".into()))
}

/// The longest run of whole path segments two org paths share (`/a/b/c/` and `/a/b/d/` → `/a/b/`).
fn common_path(a: &str, b: &str) -> String {
    let mut out = String::from("/");
    for (x, y) in a.trim_matches('/').split('/').zip(b.trim_matches('/').split('/')) {
        if x != y || x.is_empty() {
            break;
        }
        out.push_str(x);
        out.push('/');
    }
    out
}

/// What happened to which object.
#[derive(Debug, Clone)]
pub struct Entry {
    pub action: &'static str,
    pub object_type: &'static str,
    pub object_id: String,
    pub result: &'static str,
    pub before: Option<serde_json::Value>,
    pub after: Option<serde_json::Value>,
}

impl Entry {
    pub fn new(action: &'static str, object_type: &'static str, object_id: impl ToString) -> Self {
        Self { action, object_type, object_id: object_id.to_string(), result: "ok", before: None, after: None }
    }

    pub fn result(mut self, result: &'static str) -> Self {
        self.result = result;
        self
    }

    pub fn before<T: Serialize>(mut self, v: &T) -> Self {
        self.before = serde_json::to_value(v).ok();
        self
    }

    pub fn after<T: Serialize>(mut self, v: &T) -> Self {
        self.after = serde_json::to_value(v).ok();
        self
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Serialize, serde::Deserialize, schemars::JsonSchema)]
#[diesel(table_name = audit_log)]
pub struct AuditRow {
    pub id: i64,
    pub at: NaiveDateTime,
    pub actor_user_id: Option<i64>,
    pub actor: String,
    pub org_path: String,
    pub ip: String,
    pub action: String,
    pub object_type: String,
    pub object_id: String,
    pub result: String,
    pub before_json: Option<String>,
    pub after_json: Option<String>,
    pub prev_hash: String,
    pub hash: String,
}

impl AuditRow {
    /// The action in words, for people reading the log.
    pub fn action_label(&self) -> &'static str {
        action_label(&self.action)
    }
}

/// The audited actions by their Chinese names, in the order a person looks for them; one name
/// may cover several codes. The one list the log's labels and its 操作 filter read.
pub const ACTIONS: &[(&[&str], &str)] = &[
    (&["login.ok"], "登录成功"),
    (&["login.failed"], "登录失败"),
    (&["login.refused_locked"], "锁定期间尝试登录"),
    (&["login.refused_inactive"], "停用账号尝试登录"),
    (&["login.refused_no_totp"], "未绑定动态口令"),
    (&["logout"], "退出登录"),
    (&["user.locked"], "账号锁定"),
    (&["user.sealed_dormant"], "长期未用账号封存"),
    (&["user.create"], "新建用户"),
    (&["user.action"], "账号管理操作"),
    (&["user.password_changed"], "修改密码"),
    (&["access.denied"], "越权访问被拒"),
    (&["csrf.rejected"], "表单校验失败（CSRF）"),
    (&["org.create"], "新增机构"),
    (&["school.create"], "新建学校"),
    (&["school.update"], "修改学校"),
    (&["campus.create"], "新增校区"),
    (&["teacher.create"], "新增教师"),
    (&["teacher.update"], "修改教师"),
    (&["teacher.delete"], "删除教师"),
    (&["class.create"], "新建班级"),
    (&["class.update"], "修改班级"),
    (&["class.delete"], "删除班级"),
    (&["demo.password_reset"], "演示账号重置密码"),
    (&["student.create"], "新生注册"),
    (&["student.update"], "修改学生信息"),
    (&["student.import"], "导入学籍模板"),
    (&["student.export"], "导出学籍"),
    (&["student.confirm"], "确认入库"),
    (&["student.problem_kept"], "问题学籍核实保留"),
    (&["student.problem_deleted"], "问题学籍删除"),
    (&["student.problem_merged"], "问题学籍合并"),
    (&["key_lock.set"], "设置关键信息锁定日期"),
    (&["change.submit"], "提交关键信息变更申请"),
    (&["change.approve"], "同意关键信息变更"),
    (&["change.reject"], "驳回关键信息变更"),
    (&["photo.upload"], "上传学生照片"),
    (&["student.print_forms"], "打印学生信息核对表"),
    (&["student.unmask"], "查看完整证件号码"),
    (&["status_change.request"], "提交学籍异动"),
    (&["status_change.apply"], "学籍异动生效"),
    (&["term.set"], "设置学期"),
    (&["term.close"], "学期结束"),
    (&["promotion.apply"], "升级"),
    (&["promotion.confirm"], "确认升级"),
    (&["promotion.undo"], "撤销升级"),
    (&["programme.join"], "纳入营养改善计划"),
    (&["programme.leave"], "退出营养改善计划"),
    (&["programme.calendar"], "设置供餐日历"),
    (&["programme.standard", "programme.standard_end"], "设置补助标准"),
    (&["programme.meal_model"], "设置供餐模式"),
    (&["programme.supplier"], "登记供应商"),
    (&["programme.plan"], "实施方案"),
    (&["roster.build"], "生成受益名册"),
    (&["roster.step"], "名册审核"),
    (&["roster.discard"], "作废名册"),
    (&["roster.scan"], "上传花名册签字扫描件"),
    (&["roster.review_rule"], "设置花名册审核备案须两人办理"),
    (&["roster.print", "roster.print_all"], "打印受益名册"),
    (&["entitlement.compute", "entitlement.recompute", "entitlement.adjust"], "计算应补金额"),
    (&["entitlement.close"], "应补金额结账"),
    (&["entitlement.rule"], "设置计补规则"),
    (&["yibu.compute", "yibu.adjust"], "计算一补"),
    (&["yibu.close"], "一补结账"),
    (&["meals.record"], "报送供餐人次"),
    (&["meals.day"], "报送就餐日报"),
    (&["canteen.menu"], "公布每周食谱"),
    (&["canteen.accompany"], "记录陪餐"),
    (&["purchase.record"], "录入采购与票据"),
    (&["stock.use"], "食堂出库"),
    (&["stock.correct"], "更正出库"),
    (&["complaint.receive"], "收到举报"),
    (&["complaint.answer"], "答复举报"),
    (&["notice.hotline"], "设置举报电话"),
    (&["meals.deadline"], "设置就餐日报截止时间"),
    (&["meals.correction.request"], "申请更正已结账月份就餐日报"),
    (&["meals.correction.approve"], "同意更正就餐日报"),
    (&["meals.correction.refuse"], "不同意更正就餐日报"),
    (&["ledger.post"], "记账"),
    (&["ledger.request"], "提交记账待审"),
    (&["ledger.reverse"], "冲销"),
    (&["ledger.import"], "导入台账"),
    (&["ledger.close"], "台账结账"),
    (&["ledger.threshold"], "设置复核限额"),
    (&["report.submit"], "报送报表"),
    (&["report.decide"], "审核报表"),
    (&["report.export"], "导出报表"),
    (&["anomaly.flag"], "处理预警"),
    (&["anomaly.refresh"], "预警扫描"),
    (&["anomaly.setting"], "设置预警规则"),
    (&["inspection.plan"], "抽取核查样本"),
    (&["inspection.visit"], "记录现场核查"),
    (&["inspection.visit_sheet"], "打印现场核查表"),
    (&["finding.record"], "记录督查问题"),
    (&["finding.step"], "督查问题整改流转"),
    (&["finding.link"], "督查问题关联更正"),
    (&["backup.create"], "备份数据库"),
    (&["backup.restore_test"], "恢复测试"),
    (&["keys.rotate"], "轮换字段加密密钥"),
    (&["keys.retire"], "停用字段加密密钥"),
    (&["audit.archive"], "归档审计记录"),
    (&["ledger.approve"], "审批入账"),
    (&["ledger.reject"], "退回记账"),
    (&["ledger.disbursement_form"], "导出资金拨付审批表"),
    (&["status_change.approve"], "同意学籍异动"),
    (&["status_change.refuse"], "驳回学籍异动"),
    (&["transfer.lookup_failed"], "转学查询未找到学生"),
    (&["transfer_restriction.add"], "设置转学限制"),
    (&["transfer_restriction.remove"], "解除转学限制"),
    (&["login.refused_ip"], "来源地址不在允许范围被拒"),
    (&["login.ip_blocked"], "来源地址被封禁"),
    (&["user.granted"], "授予角色"),
    (&["user.disable_requested"], "申请停用账号"),
    (&["user.disable_confirmed"], "确认停用账号"),
    (&["user.request_refused"], "驳回账号申请"),
    (&["user.totp_enrolled"], "绑定动态口令"),
    (&["audit.export"], "导出审计日志"),
];

/// Chinese names of the audited actions; unknown codes read as "其他".
pub fn action_label(action: &str) -> &'static str {
    ACTIONS.iter().find(|(codes, _)| codes.contains(&action)).map_or("其他", |(_, label)| label)
}

/// The codes an action's Chinese name covers (none for a name not in the list).
pub fn action_codes(label: &str) -> Vec<&'static str> {
    ACTIONS.iter().filter(|(_, l)| *l == label.trim()).flat_map(|(codes, _)| codes.iter().copied()).collect()
}

/// Appends one row in a transaction of its own: for events that change nothing else
/// (a refused request, a failed check).
pub fn record_alone(conn: &mut DbConn, actor: &Actor, entry: Entry) -> AppResult<()> {
    crate::db::write_tx(conn, |conn| record(conn, actor, entry))
}

/// Appends one row. Call inside the transaction of the change it records.
pub fn record(conn: &mut DbConn, actor: &Actor, entry: Entry) -> AppResult<()> {
    let key = super::chain::key()?;
    lock_chain(conn, "audit_log")?;
    let prev: Option<String> =
        audit_log::table.select(audit_log::hash).order(audit_log::id.desc()).first(conn).optional()?;
    let prev_hash = prev.unwrap_or_else(|| GENESIS.to_owned());
    // Microseconds: what both backends store, so the hash recomputes exactly.
    let now = crate::clock::now();
    let at = now.with_nanosecond(now.nanosecond() / 1000 * 1000).unwrap_or(now);
    let before_json = entry.before.as_ref().map(|v| v.to_string());
    let after_json = entry.after.as_ref().map(|v| v.to_string());
    let hash = chain_hash(
        Seal::Keyed(key),
        &HashInput {
            prev_hash: &prev_hash,
            at,
            actor_user_id: actor.user_id,
            actor: &actor.name,
            org_path: &actor.org_path,
            ip: &actor.ip,
            action: entry.action,
            object_type: entry.object_type,
            object_id: &entry.object_id,
            result: entry.result,
            before_json: before_json.as_deref(),
            after_json: after_json.as_deref(),
        },
    );
    diesel::insert_into(audit_log::table)
        .values((
            audit_log::at.eq(at),
            audit_log::actor_user_id.eq(actor.user_id),
            audit_log::actor.eq(&actor.name),
            audit_log::org_path.eq(&actor.org_path),
            audit_log::ip.eq(&actor.ip),
            audit_log::action.eq(entry.action),
            audit_log::object_type.eq(entry.object_type),
            audit_log::object_id.eq(&entry.object_id),
            audit_log::result.eq(entry.result),
            audit_log::before_json.eq(before_json),
            audit_log::after_json.eq(after_json),
            audit_log::prev_hash.eq(&prev_hash),
            audit_log::hash.eq(&hash),
        ))
        .execute(conn)?;
    Ok(())
}

struct HashInput<'a> {
    prev_hash: &'a str,
    at: NaiveDateTime,
    actor_user_id: Option<i64>,
    actor: &'a str,
    org_path: &'a str,
    ip: &'a str,
    action: &'a str,
    object_type: &'a str,
    object_id: &'a str,
    result: &'a str,
    before_json: Option<&'a str>,
    after_json: Option<&'a str>,
}

fn chain_hash(seal: Seal<'_>, i: &HashInput<'_>) -> String {
    ChainHasher::new(seal)
        .put(i.prev_hash)
        .put(&i.at.format("%Y-%m-%dT%H:%M:%S%.6f").to_string())
        .put(&i.actor_user_id.map(|v| v.to_string()).unwrap_or_default())
        .put(i.actor)
        .put(i.org_path)
        .put(i.ip)
        .put(i.action)
        .put(i.object_type)
        .put(i.object_id)
        .put(i.result)
        .put_opt(i.before_json)
        .put_opt(i.after_json)
        .finish()
}

/// The outcome of walking the chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verification {
    pub rows: u64,
    /// The first row whose content or link does not match, with the reason.
    pub first_broken: Option<(i64, String)>,
    /// The head recorded in the anchor file that the chain was held against, if there was one.
    pub anchored_to: Option<i64>,
}

/// Recomputes every row's hash in order, checks each link to its predecessor and, given the
/// anchor's record of the heads, that the chain still reaches the anchored head unchanged.
pub fn verify(conn: &mut DbConn, anchor: Option<&super::chain::Heads>) -> AppResult<Verification> {
    verify_from(conn, None, anchor)
}

/// As [`verify`], from the row after `start` (a row already verified, with its hash) onwards.
pub fn verify_from(
    conn: &mut DbConn,
    start: Option<(i64, &str)>,
    anchor: Option<&super::chain::Heads>,
) -> AppResult<Verification> {
    let key = super::chain::key()?;
    let keyed_from = super::chain::keyed_from(conn, super::chain::Chain::Audit)?;
    let broken = |rows, id, why: String| Verification { rows, first_broken: Some((id, why)), anchored_to: None };
    if let Some(a) = anchor
        && let Some(why) = a.audit_start_differs(keyed_from)
    {
        return Ok(broken(0, keyed_from, why));
    }
    let (mut last_id, prev) = match start {
        Some((id, hash)) => {
            let stored: Option<String> = audit_log::table.find(id).select(audit_log::hash).first(conn).optional()?;
            if stored.is_none() {
                let last: Option<i64> = audit_log::table.select(diesel::dsl::max(audit_log::id)).first(conn)?;
                let last = last.unwrap_or(0);
                if last < id {
                    return Ok(broken(0, last + 1, truncated(id, last)));
                }
            }
            if stored.as_deref() != Some(hash) {
                return Ok(broken(0, id, "与上次核验时的记录不同（记录被删除或链被重算）".into()));
            }
            (id, hash.to_owned())
        }
        // From the start of what the database still holds: after the last archive, if any.
        None => match super::archive::chain_start(conn)? {
            Some((to_id, hash)) => (to_id, hash),
            None => (0, GENESIS.to_owned()),
        },
    };
    let mut link = Link { key, keyed_from, prev };
    let mut rows = 0u64;
    loop {
        let page: Vec<AuditRow> = audit_log::table
            .filter(audit_log::id.gt(last_id))
            .order(audit_log::id.asc())
            .limit(2000)
            .select(AuditRow::as_select())
            .load(conn)?;
        if page.is_empty() {
            break;
        }
        for r in page {
            rows += 1;
            if let Err(why) = link.next(&r) {
                return Ok(broken(rows, r.id, why.into()));
            }
            if let Some(a) = anchor
                && r.id == a.audit.last_id
                && r.hash != a.audit.hash
            {
                return Ok(broken(rows, r.id, "与锚点文件记载的哈希不符（链被重算，或其后记录被删除后重写）".into()));
            }
            last_id = r.id;
        }
    }
    if let Some(a) = anchor
        && last_id < a.audit.last_id
    {
        return Ok(broken(rows, last_id + 1, truncated(a.audit.last_id, last_id)));
    }
    Ok(Verification { rows, first_broken: None, anchored_to: anchor.map(|a| a.audit.last_id) })
}

/// One step along the chain: each row must link to the one before and reseal to its hash.
pub(super) struct Link<'k> {
    pub key: &'k ChainKey,
    pub keyed_from: i64,
    /// The hash the next row must link to.
    pub prev: String,
}

impl Link<'_> {
    pub fn next(&mut self, r: &AuditRow) -> Result<(), &'static str> {
        if r.prev_hash != self.prev {
            return Err("与上一条记录的链接断开（有记录被删除或插入）");
        }
        let expect = chain_hash(
            Seal::for_row(r.id, self.keyed_from, self.key),
            &HashInput {
                prev_hash: &r.prev_hash,
                at: r.at,
                actor_user_id: r.actor_user_id,
                actor: &r.actor,
                org_path: &r.org_path,
                ip: &r.ip,
                action: &r.action,
                object_type: &r.object_type,
                object_id: &r.object_id,
                result: &r.result,
                before_json: r.before_json.as_deref(),
                after_json: r.after_json.as_deref(),
            },
        );
        if expect != r.hash {
            return Err(if r.id >= self.keyed_from {
                "记录内容与其密钥哈希不符（记录被改动，或链被不持有密钥者重算）"
            } else {
                "记录内容与其哈希不符（记录被改动）"
            });
        }
        self.prev = r.hash.clone();
        Ok(())
    }
}

fn truncated(anchored: i64, last: i64) -> String {
    format!("锚点文件记载链尾为记录 #{anchored}，数据库只到 #{last}（末尾 {} 条记录被删除）", anchored - last)
}

/// Keeps user text from acting as LIKE wildcards.
pub fn escape_like(s: &str) -> String {
    s.chars().filter(|c| *c != '%' && *c != '_' && *c != '\\').collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(actor: &str) -> HashInput<'_> {
        HashInput {
            prev_hash: GENESIS,
            at: chrono::NaiveDate::from_ymd_opt(2026, 9, 15)
                .and_then(|d| d.and_hms_micro_opt(8, 0, 0, 123_456))
                .unwrap_or_default(),
            actor_user_id: Some(1),
            actor,
            org_path: "/000000/",
            ip: "127.0.0.1",
            action: "class.update",
            object_type: "class",
            object_id: "7",
            result: "ok",
            before_json: None,
            after_json: Some("{}"),
        }
    }

    #[test]
    fn hash_changes_with_any_field() {
        let key = crate::domain::chain::ChainKey::new([7; 32]);
        let hash = |actor| chain_hash(Seal::Keyed(&key), &input(actor));
        assert_ne!(hash("a"), hash("b"));
        assert_eq!(hash("a"), hash("a"));
    }
}
