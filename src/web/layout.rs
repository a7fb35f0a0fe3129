//! What every page's shell needs: who is logged in, the navigation their roles allow,
//! the CSRF token for forms, and form error lookup.

use serde::Deserialize;

use crate::auth::{Caller, csrf};
use crate::domain::role::Permission;
use crate::error::{AppError, FieldError};
use crate::web::AppState;

pub struct NavItem {
    pub href: &'static str,
    pub label: &'static str,
    /// A count beside the label (首页: what waits for the person's decision).
    pub badge: Option<usize>,
}

pub struct Layout {
    pub title: String,
    pub user: String,
    pub org: String,
    pub roles: String,
    pub csrf: String,
    pub nav: Vec<NavItem>,
}

impl Layout {
    pub fn new(caller: &Caller, state: &AppState, title: impl Into<String>) -> Self {
        let mut nav = vec![NavItem {
            href: "/",
            label: "首页",
            badge: caller.session_id.as_deref().and_then(super::menu::count).filter(|n| *n > 0),
        }];
        if caller.may(Permission::ViewOrgs) {
            nav.push(NavItem { href: "/orgs", label: "组织机构", badge: None });
            nav.push(NavItem { href: "/schools", label: "学校", badge: None });
        }
        if caller.may(Permission::ViewStudents) {
            nav.push(NavItem { href: "/students", label: "学生学籍", badge: None });
        }
        if caller.may(Permission::ConfirmStudents) {
            nav.push(NavItem { href: "/students?review=problem", label: "问题学籍", badge: None });
        }
        if caller.may(Permission::ViewStudents) {
            nav.push(NavItem { href: "/change-requests", label: "关键信息变更", badge: None });
            nav.push(NavItem { href: "/status-changes", label: "学籍异动", badge: None });
        }
        if caller.may_at_county(Permission::ConfigureRegistry).is_ok() {
            nav.push(NavItem { href: "/promotions", label: "升级毕业", badge: None });
        }
        if caller.may(Permission::ViewStudents) {
            nav.push(NavItem { href: "/rosters", label: "受益花名册", badge: None });
            nav.push(NavItem { href: "/programme", label: "营养计划", badge: None });
        }
        if caller.may_at_county(Permission::ViewStudents).is_ok() {
            nav.push(NavItem { href: "/entitlements", label: "补助核算", badge: None });
            nav.push(NavItem { href: "/yibu", label: "一补核算", badge: None });
        }
        if caller.may(Permission::ViewLedger) {
            nav.push(NavItem { href: "/ledger", label: "资金台账", badge: None });
            nav.push(NavItem { href: "/reconciliation", label: "资金对账", badge: None });
            nav.push(NavItem { href: "/purchases", label: "采购库存", badge: None });
        }
        if caller.may(Permission::RecordMeals) && caller.org_kind == crate::domain::role::OrgKind::School {
            nav.push(NavItem { href: "/meals", label: "就餐日报", badge: None });
        } else if caller.may(Permission::ConfigureProgramme) {
            nav.push(NavItem { href: "/meals/board", label: "就餐日报", badge: None });
        }
        if caller.org_kind.is_county_or_above()
            && (caller.may(Permission::ApproveMeals) || caller.may(Permission::Inspect))
        {
            nav.push(NavItem { href: "/complaints", label: "举报受理", badge: None });
        }
        if caller.may(Permission::ViewAnomalies) {
            nav.push(NavItem { href: "/inspections", label: "督查预警", badge: None });
        } else if caller.may(Permission::ViewFindings) {
            nav.push(NavItem { href: "/inspections/findings", label: "督查问题", badge: None });
        }
        if caller.may(Permission::ExchangeCentral)
            && matches!(
                caller.org_kind,
                crate::domain::role::OrgKind::Province | crate::domain::role::OrgKind::Ministry
            )
        {
            nav.push(NavItem { href: "/central", label: "全国比对", badge: None });
        }
        if caller.org_kind == crate::domain::role::OrgKind::County && caller.may(Permission::ConfirmStudents) {
            nav.push(NavItem { href: "/collect", label: "采集点", badge: None });
        }
        if caller.may(Permission::ViewReports) {
            nav.push(NavItem { href: "/dashboard", label: "数据看板", badge: None });
            nav.push(NavItem { href: "/reports", label: "统计报表", badge: None });
        }
        if caller.may(Permission::ManageUsers)
            || caller.may(Permission::ManageSecurity)
            || caller.may(Permission::ViewAudit)
        {
            nav.push(NavItem { href: "/users", label: "用户管理", badge: None });
        }
        if caller.may(Permission::ViewAudit) {
            nav.push(NavItem { href: "/audit", label: "审计日志", badge: None });
        }
        nav.push(NavItem { href: "/password", label: "修改密码", badge: None });
        Self {
            title: title.into(),
            user: caller.display_name.clone(),
            org: caller.org_name.clone(),
            roles: caller.roles.labels(),
            csrf: csrf::token_for(&state.keys.csrf, caller.session_id.as_deref().unwrap_or("")),
            nav,
        }
    }
}

/// A filter's fields as its list's address carries them: trimmed, the blank ones left out.
pub fn filled<'a>(fields: impl IntoIterator<Item = (&'static str, &'a str)>) -> Vec<(&'static str, String)> {
    fields.into_iter().map(|(k, v)| (k, v.trim().to_owned())).filter(|(_, v)| !v.is_empty()).collect()
}

/// A one-line notice after a redirect (`?ok=saved`, with `&n=3` where a count says how many).
/// Only fixed wordings: the address never carries text that the page would show.
#[derive(Debug, Default, Deserialize)]
pub struct Flash {
    #[serde(default)]
    pub ok: Option<String>,
    #[serde(default)]
    pub n: Option<u32>,
}

impl Flash {
    pub fn message(&self) -> String {
        let n = self.n.unwrap_or(0);
        // The ledger's answers name the request they were about (`n` is its number).
        let request = |what: &str| if n > 0 { format!("第 {n} 号记账{what}") } else { what.to_owned() };
        let fixed = match self.ok.as_deref() {
            Some("confirmed") if n == 0 => "所选学生此前均已确认入库，未重复办理",
            Some("confirmed") => return format!("已确认 {n} 名学生入库，已分配正式学籍号并自入校日期起计发补助"),
            Some("posted") => return request("已入账"),
            Some("approved") => return request("已审批入账"),
            Some("pending") => return request("已提交：金额超过审批额度，等待本单位第二人审批"),
            Some("rejected") => return request("已退回"),
            Some("replayed") if n > 0 => return format!("重复提交：第 {n} 号记账此前已提交，未再次记账"),
            Some("replayed") => "重复提交：这笔此前已提交，未再次记账",
            Some("saved") => "已保存",
            Some("central_exported") => return format!("已生成第 {n} 号交换包，请在下表下载后报送中心"),
            Some("central_received") => {
                return format!("已接收中心返回包：{n} 名本省学生在外省有学籍，已列入下表和异常预警（A01）");
            }
            Some("central_imported") => return format!("已接收交换包：该省与外省重复 {n} 人"),
            Some("central_again") => "该交换包此前已接收，未作改动",
            Some("central_registered") => "已登记该省的签名公钥",
            Some("collect_made") => return format!("已生成第 {n} 号采集包，请在下表下载后交县级接收"),
            Some("collect_paired") => "本机已与县级配对，可以生成采集包",
            Some("collect_imported") => return format!("已接收采集包：{n} 项须人工处理，见下表"),
            Some("collect_again") => "该采集包此前已接收，未作改动",
            Some("collect_decided") => "已处理该事项",
            Some("school_created") => "学校已建立",
            Some("school_saved") => "学校信息已保存",
            Some("campus_created") => "校区已添加",
            Some("class_created") => "班级已建立",
            Some("class_saved") => "班级信息已保存",
            Some("class_deleted") => "班级已删除",
            Some("teacher_created") => "教师已添加",
            Some("teacher_saved") => "教师信息已保存",
            Some("teacher_deleted") => "教师已删除",
            Some("student_created") => "新生已登记，等待县级确认入库",
            Some("student_saved") => "学生信息已保存，修改已记入变更历史",
            Some("photo_saved") => "学生照片已上传",
            Some("problem_resolved") => "问题学籍已处理",
            Some("problem_deleted") => "问题学籍已删除",
            Some("two_person") => "已设置：本县花名册的审核与备案须由不同人员办理",
            Some("one_person") => "已设置：本县花名册的审核与备案可由同一人员办理",
            Some("created") => "已创建",
            Some("deleted") => "已删除",
            Some("submitted") => "申请已提交，等待学校审核",
            Some("decided") => "审核意见已提交",
            Some("requested") => "已提交，等待下一环节办理",
            Some("password") => "密码已修改，请用新密码重新登录",
            Some("correction") => "本月补助已结账：更正已提交县级审批，批准后生效",
            _ => "",
        };
        fixed.to_owned()
    }
}

/// Field errors of a re-shown form.
#[derive(Debug, Default)]
pub struct FormErrors {
    pub message: String,
    pub fields: Vec<FieldError>,
}

impl FormErrors {
    pub fn none() -> Self {
        Self::default()
    }

    pub fn from_error(e: &AppError) -> Self {
        Self { message: e.message.clone(), fields: e.fields.clone() }
    }

    /// The message for one field, or "".
    pub fn get(&self, field: &str) -> &str {
        self.fields.iter().find(|f| f.field == field).map(|f| f.message.as_str()).unwrap_or("")
    }

    pub fn any(&self) -> bool {
        !self.message.is_empty()
    }
}

/// A list's links to the pages beside it, its filters kept (`{{ ui::pager(pager) }}`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pager {
    pub page: i64,
    /// Known when the list is counted; an open-ended list (the audit log) has a next page
    /// while a page comes back full.
    pub pages: Option<i64>,
    has_next: bool,
    /// The list's address with its filters, without `page`.
    href: String,
    /// The list's path and its filters, for the page-jump form.
    pub path: String,
    pub filters: Vec<(String, String)>,
}

impl Pager {
    /// A counted list of `total` rows.
    pub fn counted(path: &str, filters: &[(&str, &str)], page: i64, total: i64, page_size: i64) -> Self {
        let pages = ((total + page_size - 1) / page_size).max(1);
        Self { pages: Some(pages), has_next: page < pages, ..Self::at(path, filters, page) }
    }

    /// A list read a page at a time without a count: `shown` rows came back.
    pub fn open_ended(path: &str, filters: &[(&str, &str)], page: i64, shown: usize, page_size: i64) -> Self {
        let full = i64::try_from(shown).is_ok_and(|n| n == page_size);
        Self { has_next: full, ..Self::at(path, filters, page) }
    }

    fn at(path: &str, filters: &[(&str, &str)], page: i64) -> Self {
        Self {
            page,
            pages: None,
            has_next: false,
            href: Self::href(path, filters),
            path: path.to_owned(),
            filters: filters
                .iter()
                .filter(|(_, v)| !v.is_empty())
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        }
    }

    /// Whether a page number can be typed: a counted list of more than one page.
    pub fn jumps(&self) -> bool {
        self.pages.is_some_and(|p| p > 1)
    }

    fn href(path: &str, filters: &[(&str, &str)]) -> String {
        let query = serde_urlencoded::to_string(filters).unwrap_or_default();
        if query.is_empty() { format!("{path}?") } else { format!("{path}?{query}&") }
    }

    /// "第 2 / 3 页", or "第 2 页" when uncounted. A page past the end (an old link, a list
    /// that shrank) says so rather than "第 5 / 3 页".
    pub fn position(&self) -> String {
        match self.pages {
            Some(pages) if self.page > pages => format!("第 {} 页超出范围（共 {pages} 页）", self.page),
            Some(pages) => format!("第 {} / {pages} 页", self.page),
            None => format!("第 {} 页", self.page),
        }
    }

    pub fn has_next(&self) -> bool {
        self.has_next
    }

    /// The page before; from past the end, the last page.
    pub fn previous(&self) -> Option<String> {
        let before = self.pages.map_or(self.page - 1, |pages| (self.page - 1).min(pages));
        (before >= 1).then(|| format!("{}page={before}", self.href))
    }

    pub fn next(&self) -> Option<String> {
        self.has_next.then(|| format!("{}page={}", self.href, self.page + 1))
    }
}

#[cfg(test)]
mod pager_tests {
    use super::Pager;

    #[test]
    fn a_page_past_the_end_says_so_and_leads_back_to_the_last_page() {
        let p = Pager::counted("/students", &[("q", "")], 5, 45, 20);
        assert_eq!(p.position(), "第 5 页超出范围（共 3 页）");
        assert_eq!((p.previous().as_deref(), p.next()), (Some("/students?q=&page=3"), None));
        let empty = Pager::counted("/students", &[], 2, 0, 20);
        assert_eq!(
            (empty.position().as_str(), empty.previous().as_deref()),
            ("第 2 页超出范围（共 1 页）", Some("/students?page=1"))
        );
    }

    #[test]
    fn a_counted_list_links_its_neighbours_with_its_filters_encoded() {
        let p = Pager::counted("/schools", &[("q", "一小&二小"), ("under", "")], 2, 45, 20);
        assert_eq!(p.pages, Some(3));
        assert_eq!(p.previous().as_deref(), Some("/schools?q=%E4%B8%80%E5%B0%8F%26%E4%BA%8C%E5%B0%8F&under=&page=1"));
        assert!(p.next().is_some_and(|h| h.ends_with("&page=3")));
        let last = Pager::counted("/schools", &[], 3, 45, 20);
        assert_eq!((last.next(), last.previous().as_deref()), (None, Some("/schools?page=2")));
        assert_eq!(Pager::counted("/schools", &[], 1, 0, 20).pages, Some(1), "an empty list is one page");
    }

    #[test]
    fn an_open_ended_list_goes_on_while_a_page_comes_back_full() {
        assert!(Pager::open_ended("/audit", &[], 1, 50, 50).next().is_some());
        assert!(Pager::open_ended("/audit", &[], 2, 49, 50).next().is_none());
        assert_eq!(Pager::open_ended("/audit", &[], 1, 0, 50).previous(), None);
    }
}
