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
        let mut nav = vec![NavItem { href: "/", label: "首页" }];
        if caller.may(Permission::ViewOrgs) {
            nav.push(NavItem { href: "/orgs", label: "组织机构" });
            nav.push(NavItem { href: "/schools", label: "学校" });
        }
        if caller.may(Permission::ViewStudents) {
            nav.push(NavItem { href: "/students", label: "学生学籍" });
        }
        if caller.may(Permission::ConfirmStudents) {
            nav.push(NavItem { href: "/students?review=problem", label: "问题学籍" });
        }
        if caller.may(Permission::ViewStudents) {
            nav.push(NavItem { href: "/change-requests", label: "关键信息变更" });
            nav.push(NavItem { href: "/status-changes", label: "学籍异动" });
        }
        if caller.may_at_county(Permission::ConfigureRegistry).is_ok() {
            nav.push(NavItem { href: "/promotions", label: "升级毕业" });
        }
        if caller.may(Permission::ViewStudents) {
            nav.push(NavItem { href: "/rosters", label: "受益花名册" });
            nav.push(NavItem { href: "/programme", label: "营养计划" });
        }
        if caller.may_at_county(Permission::ViewStudents).is_ok() {
            nav.push(NavItem { href: "/entitlements", label: "补助核算" });
            nav.push(NavItem { href: "/yibu", label: "一补核算" });
        }
        if caller.may(Permission::ViewLedger) {
            nav.push(NavItem { href: "/ledger", label: "资金台账" });
            nav.push(NavItem { href: "/reconciliation", label: "资金对账" });
            nav.push(NavItem { href: "/purchases", label: "采购库存" });
        }
        if caller.may(Permission::RecordMeals) && caller.org_kind == crate::domain::role::OrgKind::School {
            nav.push(NavItem { href: "/meals", label: "就餐日报" });
        } else if caller.may(Permission::ConfigureProgramme) {
            nav.push(NavItem { href: "/meals/board", label: "就餐日报" });
        }
        if caller.org_kind.is_county_or_above()
            && (caller.may(Permission::ApproveMeals) || caller.may(Permission::Inspect))
        {
            nav.push(NavItem { href: "/complaints", label: "举报受理" });
        }
        if caller.may(Permission::ViewAnomalies) {
            nav.push(NavItem { href: "/inspections", label: "督查预警" });
        } else if caller.may(Permission::ViewFindings) {
            nav.push(NavItem { href: "/inspections/findings", label: "督查问题" });
        }
        if caller.may(Permission::ViewReports) {
            nav.push(NavItem { href: "/dashboard", label: "数据看板" });
            nav.push(NavItem { href: "/reports", label: "统计报表" });
        }
        if caller.may(Permission::ManageUsers)
            || caller.may(Permission::ManageSecurity)
            || caller.may(Permission::ViewAudit)
        {
            nav.push(NavItem { href: "/users", label: "用户管理" });
        }
        if caller.may(Permission::ViewAudit) {
            nav.push(NavItem { href: "/audit", label: "审计日志" });
        }
        nav.push(NavItem { href: "/password", label: "修改密码" });
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

/// A one-line notice after a redirect (`?ok=saved`).
#[derive(Debug, Default, Deserialize)]
pub struct Flash {
    #[serde(default)]
    pub ok: Option<String>,
}

impl Flash {
    pub fn message(&self) -> &'static str {
        match self.ok.as_deref() {
            Some("saved") => "已保存",
            Some("created") => "已创建",
            Some("deleted") => "已删除",
            Some("submitted") => "申请已提交，等待学校审核",
            Some("decided") => "审核意见已提交",
            Some("requested") => "已提交，等待下一环节办理",
            Some("password") => "密码已修改，请用新密码重新登录",
            Some("posted") => "已入账",
            Some("pending") => "已提交，金额超过审批额度，等待本单位第二人审批",
            Some("replayed") => "重复提交：这笔此前已提交，未再次记账",
            Some("rejected") => "已退回",
            Some("correction") => "本月补助已结账：更正已提交县级审批，批准后生效",
            _ => "",
        }
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
}

impl Pager {
    /// A counted list of `total` rows.
    pub fn counted(path: &str, filters: &[(&str, &str)], page: i64, total: i64, page_size: i64) -> Self {
        let pages = ((total + page_size - 1) / page_size).max(1);
        Self { page, pages: Some(pages), has_next: page < pages, href: Self::href(path, filters) }
    }

    /// A list read a page at a time without a count: `shown` rows came back.
    pub fn open_ended(path: &str, filters: &[(&str, &str)], page: i64, shown: usize, page_size: i64) -> Self {
        let full = i64::try_from(shown).is_ok_and(|n| n == page_size);
        Self { page, pages: None, has_next: full, href: Self::href(path, filters) }
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
