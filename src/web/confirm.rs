//! A confirmation step before an act that cannot be undone (报送, 签章, 审核, 备案, 结账, 删除).
//! The page's form posts once without `confirmed`; the answer names what will happen and posts
//! the same fields again with `confirmed=1`. No script: the same step in every browser and for
//! every such act. The API, whose callers have decided already, has no such step.

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use askama::Template;

use super::{Layout, PageError, html_page};

#[derive(Template)]
#[template(path = "confirm.html")]
struct ConfirmPage<'a> {
    layout: Layout,
    what: &'a str,
    consequence: &'a str,
    action: &'a str,
    fields: &'a [(&'a str, &'a str)],
    button: &'a str,
    back: &'a str,
}

/// What the confirmation asks: the act, what follows from it, and where it is posted again.
pub struct Ask<'a> {
    /// The act, named with its object ("报送望谟县王母小学2026-1校级常规统计报表").
    pub what: &'a str,
    /// What cannot be undone afterwards.
    pub consequence: &'a str,
    /// The form's own address, posted again.
    pub action: &'a str,
    /// The form's fields, posted again as they came (the CSRF token is the page's own).
    pub fields: &'a [(&'a str, &'a str)],
    /// The confirming button's words ("确认报送").
    pub button: &'a str,
    /// Where 返回 leads, nothing done.
    pub back: &'a str,
}

/// Whether a form came back confirmed.
pub fn confirmed(field: &str) -> bool {
    field == "1"
}

/// The confirmation page.
pub fn page(layout: Layout, ask: &Ask) -> Result<HttpResponse, PageError> {
    html_page(
        StatusCode::OK,
        ConfirmPage {
            layout,
            what: ask.what,
            consequence: ask.consequence,
            action: ask.action,
            fields: ask.fields,
            button: ask.button,
            back: ask.back,
        },
    )
}
