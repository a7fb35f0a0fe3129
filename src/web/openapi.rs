//! The OpenAPI 3.1 document of `/api/v1`.

use actix_web::HttpResponse;
use serde_json::{Value, json};

/// (method, path, summary, tag) of every `/api/v1` operation.
pub const OPERATIONS: &[(&str, &str, &str, &str)] = &[
    ("post", "/auth/token", "登录，取得令牌 {username, password, totp}", "auth"),
    ("post", "/auth/logout", "注销当前令牌", "auth"),
    ("get", "/me", "当前用户", "auth"),
    ("get", "/orgs/{code}", "机构及其下级", "org"),
    ("get", "/schools", "学校列表 (?q=&under=&page=)", "org"),
    ("post", "/schools", "新建学校", "org"),
    ("get", "/schools/{code}", "学校详情", "org"),
    ("put", "/schools/{code}", "修改学校", "org"),
    ("get", "/schools/{code}/campuses", "校区列表", "org"),
    ("post", "/schools/{code}/campuses", "新增校区", "org"),
    ("get", "/schools/{code}/classes", "班级列表", "org"),
    ("post", "/schools/{code}/classes", "新建班级", "org"),
    ("get", "/schools/{code}/teachers", "教师列表", "org"),
    ("post", "/schools/{code}/teachers", "新增教师", "org"),
    ("get", "/classes/{id}", "班级详情", "org"),
    ("put", "/classes/{id}", "修改班级", "org"),
    ("delete", "/classes/{id}", "删除班级", "org"),
    ("get", "/teachers/{id}", "教师详情", "org"),
    ("put", "/teachers/{id}", "修改教师", "org"),
    ("delete", "/teachers/{id}", "删除教师", "org"),
    (
        "get",
        "/students",
        "学生列表 (?q=姓名/身份证号/学籍号&school=&class_id=&review=pending|confirmed|problem&page=)",
        "registry",
    ),
    ("post", "/schools/{code}/students", "新生注册 {字段键: 值}", "registry"),
    ("get", "/students/{id}", "学生详情", "registry"),
    ("put", "/students/{id}", "修改学生 {record, reason, version}", "registry"),
    ("get", "/students/{id}/history", "字段变更历史", "registry"),
    (
        "post",
        "/students/{id}/change-requests",
        "关键信息变更申请 {changes: {字段键: 新值}, reason, evidence: {filename, content_base64}}",
        "registry",
    ),
    ("get", "/change-requests", "变更申请列表 (?status=submitted|school_approved|approved|rejected)", "registry"),
    ("get", "/change-requests/{id}", "变更申请详情", "registry"),
    ("post", "/change-requests/{id}/decision", "学校审核 / 县级审批 {approve, note}", "registry"),
    ("get", "/change-requests/{id}/evidence", "下载证明材料", "registry"),
    ("get", "/students/{id}/photo", "学生照片（JPG）", "registry"),
    ("put", "/students/{id}/photo", "上传学生照片（请求体为JPG）", "registry"),
    ("post", "/photos", "批量上传照片（请求体为ZIP），逐个文件返回结果", "registry"),
    ("get", "/classes/{id}/student-forms.pdf", "打印本班学生基本信息核对表（PDF，每生一页，监护人签字）", "registry"),
    ("get", "/key-locks", "关键信息锁定日期", "registry"),
    ("put", "/key-locks", "设置本单位锁定日期 {school_year, lock_date, extra_fields}", "registry"),
    ("post", "/students/confirm", "县级确认入库 {ids}", "registry"),
    ("post", "/students/import", "导入学籍模板（请求体为文件内容；?school=&dry_run=&partial=&filename=）", "registry"),
    ("get", "/schools/{code}/template.xlsx", "下载空白学籍模板", "registry"),
    ("get", "/schools/{code}/students.xlsx", "按模板格式导出本校（?class_id=）学生", "registry"),
    ("post", "/students/{id}/resolve", "处理问题学籍 {decision: keep|delete|merge, note}", "registry"),
    ("get", "/students/{id}/duplicate", "问题学籍与之重复的在校学生（逐项对照）", "registry"),
    ("get", "/students/{id}/merges", "并入本生的重复学籍及其来源", "registry"),
    ("post", "/students/search", "按姓名、身份证件号或学籍号查询学生（条件在请求体中，号码不进网址）", "registry"),
    ("post", "/students/{id}/unmask", "查看完整证件号码、学籍号和电话（须有权限并填写事由，记入审计）", "registry"),
    (
        "get",
        "/students/{id}/confirm-preview",
        "确认入库将计发的补助（入校日期、补录天数、逐月供餐日与金额）",
        "registry",
    ),
    (
        "post",
        "/students/{id}/status-changes",
        "办理学籍异动 {kind: 11|12|29|31|51|99, effective_date, reason, to_class_no, evidence: {filename, content_base64}}",
        "status",
    ),
    ("get", "/students/{id}/timeline", "学籍状态时间线 {spells, changes}", "status"),
    (
        "post",
        "/transfers",
        "转入学校提出转学申请 {student_no, name, to_class_no, effective_date, reason, evidence}",
        "status",
    ),
    ("get", "/status-changes", "学籍异动列表 (?show=mine|open|in_transit|overdue|all)", "status"),
    ("get", "/status-changes/{id}", "学籍异动详情及审批环节", "status"),
    ("post", "/status-changes/{id}/decision", "办理当前环节 {approve, note}（逾期可由上级代办）", "status"),
    ("get", "/status-changes/{id}/evidence", "下载异动证明材料", "status"),
    ("get", "/workflows", "审批流程配置（类别 × 范围 × 环节）", "status"),
    ("get", "/schools/{code}/eligible", "某日在校、可享受补助的学生 (?date=YYYY-MM-DD)", "status"),
    ("get", "/terms", "学期日期与转学限制", "status"),
    ("put", "/terms", "设置本单位学期日期 {term: YYYY-1|YYYY-2, start_date, end_date}", "status"),
    ("post", "/terms/close", "关闭学期 {term}", "status"),
    ("post", "/transfer-restrictions", "新增不办理转学的年级 {grade, term?, note}", "status"),
    ("delete", "/transfer-restrictions/{id}", "删除转学限制", "status"),
    ("get", "/promotions", "升级毕业任务列表", "status"),
    (
        "post",
        "/promotions",
        "升级毕业：预览或执行 {org, school_year, graduation_date?, repeaters: [{student_no, class_no}], dry_run}",
        "status",
    ),
    ("post", "/promotions/{id}", "确认或撤销升级毕业任务 {action: confirm|undo}", "status"),
    ("get", "/programme", "计划类型、计划学校、补助标准、中央分担、供餐企业", "programme"),
    (
        "put",
        "/programme/plans",
        "设置县计划类型 {county, school_year, plan_type: national|local_award|local_no_award|other}",
        "programme",
    ),
    ("post", "/programme/schools", "学校纳入计划 {school, from_date, to_date?, seat_included?, note?}", "programme"),
    ("post", "/programme/schools/{id}/leave", "学校退出计划 {to_date}", "programme"),
    ("post", "/programme/standards", "添加补助标准 {kind, org?, from_date, to_date?, amount: 元, note?}", "programme"),
    ("post", "/programme/standards/{id}/end", "为标准设置结束日期 {to_date}", "programme"),
    ("post", "/programme/suppliers", "添加供餐企业 {name, credit_code, contact?, phone?}", "programme"),
    ("get", "/schools/{code}/meal-models", "学校供餐模式", "programme"),
    (
        "post",
        "/schools/{code}/meal-models",
        "添加供餐模式 {model: canteen|enterprise|family, from_date, to_date?, supplier_id?, class_ids?}",
        "programme",
    ),
    ("get", "/calendars/{code}", "供餐日历 (?term=YYYY-1|YYYY-2)", "programme"),
    ("put", "/calendars/{code}/{month}", "设置某月供餐日 {days: \"1-5,8\"}", "programme"),
    (
        "post",
        "/calendars/{code}/import",
        "导入供餐日历（请求体为文件；?filename=；列：月份、供餐天数、供餐日期）",
        "programme",
    ),
    (
        "post",
        "/rosters",
        "生成受益学生花名册 {school, term, snapshot_date?, after_archive?}（内容未变时返回原版本；本学期已有备案版本时须 after_archive: true，否则 422 roster.archived；差异与最近备案版本比较）",
        "roster",
    ),
    ("get", "/rosters", "?term= 计划学校报送情况；?term=&school= 某校各版本", "roster"),
    ("get", "/rosters/{id}", "花名册及名单（校验内容哈希）", "roster"),
    ("delete", "/rosters/{id}", "删除草稿（已签章的不能删除）", "roster"),
    ("post", "/rosters/{id}/step", "办理 {step: sign|review|archive|return, note?}；备案须已上传签字扫描件", "roster"),
    ("post", "/rosters/{id}/scan", "上传监护人签字扫描件（multipart，字段 scan，PDF或JPG，可多个）", "roster"),
    ("get", "/rosters/{id}/scan", "最新扫描件：页数、打印页数、逐页对照", "roster"),
    ("get", "/rosters/{id}/scan/{file}", "扫描件文件或页面图片", "roster"),
    ("get", "/rosters/{id}/{file}", "打印：roster.pdf、roster.xlsx、public.pdf（公示版）、public.xlsx", "roster"),
    ("get", "/entitlements", "各校某月膳食补助 (?month=YYYY-MM)", "ledger"),
    ("post", "/entitlements/compute", "计算膳食补助 {org: 学校或县, month, close?}", "ledger"),
    ("put", "/entitlements/rule", "设置本县计算规则 {rule: day|month}", "ledger"),
    ("get", "/schools/{code}/entitlements/{month}", "某校某月补助及逐生明细", "ledger"),
    ("post", "/yibu/compute", "计算一补（按学期）{org: 学校或县, term: YYYY-1|YYYY-2, close?}", "ledger"),
    ("get", "/schools/{code}/yibu/{term}", "某校某学期一补及逐生明细", "ledger"),
    ("get", "/ledger/accounts", "资金账户及余额", "ledger"),
    ("get", "/ledger/accounts/{code}/entries", "账户分录（含余额、哈希）", "ledger"),
    ("get", "/ledger/requests", "记账请求 (?status=pending|posted|rejected)", "ledger"),
    (
        "post",
        "/ledger/requests",
        "记账 {kind: receipt|allocation|expenditure, fund, from, to, for_school, amount, date, category, voucher_no, memo}；Idempotency-Key 头防重复提交",
        "ledger",
    ),
    ("post", "/ledger/requests/{id}/approve", "第二人审批入账", "ledger"),
    ("post", "/ledger/requests/{id}/reject", "退回 {reason}", "ledger"),
    ("post", "/ledger/requests/{id}/reverse", "冲销 {reason}", "ledger"),
    ("get", "/ledger/verify", "核验全部账户的哈希链", "ledger"),
    ("post", "/ledger/close", "本单位某月结账 {month}", "ledger"),
    ("put", "/ledger/threshold", "设置需第二人审批的金额 {amount}", "ledger"),
    ("post", "/ledger/import", "导入支出明细（请求体为xlsx/xls/csv，?filename=）", "ledger"),
    ("post", "/meals/import", "导入就餐人次（请求体为文件，?filename=）", "ledger"),
    ("put", "/schools/{code}/meals/{month}", "上报某校某月供餐天数和就餐人次 {days_served, meals}", "ledger"),
    (
        "get",
        "/anomalies",
        "异常预警扫描 (?org=县或学校&period=YYYY-MM|YYYY-1|YYYY&rules=A01,A03)：{org, period, rules, not_run, flags:[{rule, severity, school, student_no, month, amount, message}]}",
        "inspection",
    ),
    (
        "get",
        "/anomaly-flags",
        "本学期存储的预警及处理状态 (?org=&term=YYYY-1&all=1)；数据变动后先自动重新扫描",
        "inspection",
    ),
    ("post", "/anomaly-flags/refresh", "立即重新扫描某县某学期 {org, term}", "inspection"),
    ("get", "/anomaly-flags/{id}", "一条预警及其处理记录", "inspection"),
    ("post", "/anomaly-flags/{id}", "处理预警 {action: explain|accept|reject|dismiss, note}", "inspection"),
    ("get", "/anomaly-rules", "规则阈值、级别及调整记录 (?org=)", "inspection"),
    (
        "post",
        "/anomaly-rules",
        "调整规则 {rule, threshold?, severity?, note}（县、省营养办；级别仅省级）",
        "inspection",
    ),
    ("get", "/risk", "学校风险排序及理由 (?org=&term=)", "inspection"),
    (
        "get",
        "/inspection-sample",
        "抽取抽查样本，不保存 (?org=县&term=&schools=&students=&seed=&method=random|risk|mixed&risk_share=60)：{seed, method, schools:[{school, risk, students}], data_hash}",
        "inspection",
    ),
    (
        "post",
        "/inspection-plans",
        "抽取并保存抽查计划 {org, term, schools, students, seed, method, risk_share}",
        "inspection",
    ),
    ("get", "/inspection-plans/{id}", "抽查计划及各校抽中学生", "inspection"),
    (
        "post",
        "/inspection-visits/{id}",
        "记录现场核查 {visited_on, meals_school?, meals_counted?, note?, children:[{seq, present, in_class, eats_here, guardian_confirms}]}；就餐人数差异达10%自动记为问题",
        "inspection",
    ),
    ("get", "/findings", "督查问题及县学期汇总 (?org=&term=)：{findings, summary}", "inspection"),
    (
        "post",
        "/findings",
        "记录问题 {school, term, rule?, severity?, description, amount?, flag_id?, visit_id?, evidence:[{filename, base64}]}（督查；须附证据）",
        "inspection",
    ),
    ("get", "/findings/{id}", "一个问题及处理记录", "inspection"),
    ("post", "/findings/{id}/step", "问题处理 {step: rectify|answer|verify|return, text, deadline?}", "inspection"),
    ("post", "/findings/{id}/link", "关联追回入账或学籍更正 {kind: ledger|change|status, target}", "inspection"),
    (
        "get",
        "/inspection-plans/{id}/visits/{visit}/report.pdf",
        "一次现场核查的报告（PDF，学籍号部分隐藏）",
        "inspection",
    ),
    ("get", "/audit-trail", "督查人员查看辖区内的操作记录 ?school=&action=&actor=&page=（号码部分隐藏）", "inspection"),
    (
        "post",
        "/findings/{id}/recover",
        "从学校账户追回问题金额并关联 {amount?, date, voucher_no, memo, fund?, key?}",
        "inspection",
    ),
    ("get", "/schools/{code}/meal-days/{day}", "学校一天的就餐日报：各班在籍受益人数与已报就餐人数", "meals"),
    (
        "post",
        "/schools/{code}/meal-days/{day}",
        "报送就餐日报 {classes: [{class: 班级号, ate, absent?: [学籍号]}], reason?}；已结账月份返回202，待县级审批",
        "meals",
    ),
    ("get", "/meal-days", "县（或上级）当日各校就餐日报报送进度 ?org=&day=", "meals"),
    (
        "post",
        "/meal-days/import",
        "导入就餐日报（请求体为文件，?filename=；列：学校标识码、日期、班级号、就餐人数、缺勤学生、更正原因）",
        "meals",
    ),
    ("get", "/schools/{code}/canteen/{day}", "学校某日所在一周的食谱与陪餐记录", "meals"),
    (
        "put",
        "/schools/{code}/menus/{day}",
        "公布某日所在一周的食谱 {monday, tuesday, wednesday, thursday, friday}",
        "meals",
    ),
    ("post", "/schools/{code}/accompany", "记录陪餐 {day, person, post, served, remarks}", "meals"),
    ("put", "/meal-settings", "设置本县就餐日报每日截止时间 {deadline: \"HH:MM\"}", "meals"),
    ("get", "/meal-corrections", "已结账月份就餐日报更正申请 ?org=", "meals"),
    ("post", "/meal-corrections/{id}", "审批更正 {decision: approve|refuse, note}", "meals"),
    ("get", "/reconciliation", "资金对账 (?org=县或学校&month=YYYY-MM|YYYY-1|YYYY&fund=meal|yibu)", "ledger"),
    (
        "get",
        "/reports/{name}",
        "统计报表 (name: school-regular|county-regular; ?org=&period=&date=&format=json|xlsx|pdf)",
        "reports",
    ),
    (
        "post",
        "/reports/{name}/submissions",
        "报送本单位报表（冻结快照、哈希、与上一版的差异）{org, period, date?}",
        "reports",
    ),
    ("get", "/report-submissions", "报送情况 (?report=&period=)：应报单位、最新版本、状态、是否逾期", "reports"),
    ("get", "/report-submissions/{id}", "某次报送及其冻结的报表内容", "reports"),
    (
        "post",
        "/report-submissions/{id}/decision",
        "上级审核 {decision: approve|approve_with_reservations|reject, note}",
        "reports",
    ),
    ("get", "/reports/{name}/drill", "报表某数字所统计的明细 (?org=&period=&date=&school=&column=)", "reports"),
    ("get", "/reconciliation/{org}/{month}/{file}", "资金拨付审批表 disbursement.pdf|disbursement.xlsx", "ledger"),
    ("get", "/users", "用户列表", "users"),
    ("post", "/users", "新建用户 {username, display_name, org_code, roles}", "users"),
    ("get", "/users/{id}", "用户详情", "users"),
    ("post", "/users/{id}/action", "账号操作 {action: reset_password|disable|enable|unlock|reset_totp}", "users"),
    ("get", "/account-requests", "待另一名管理员确认的账号事项（授权新账号、停用管理员账号）", "auth"),
    ("get", "/audit", "审计日志 (?action=&actor=&page=)", "audit"),
];

pub fn build() -> Value {
    let mut paths = serde_json::Map::new();
    for (method, path, summary, tag) in OPERATIONS {
        let params: Vec<Value> = path
            .split('/')
            .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}))
            .collect();
        let mut op = json!({
            "summary": summary,
            "tags": [tag],
            "parameters": params,
            "responses": {
                "200": {"description": "成功"},
                "401": {"description": "未登录或令牌失效", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
                "403": {"description": "无权限"},
                "404": {"description": "不存在或不在管辖范围内"},
                "422": {"description": "输入有误（逐字段说明）"}
            }
        });
        if *path == "/auth/token" {
            op["security"] = json!([]);
        }
        paths
            .entry(format!("/api/v1{path}"))
            .or_insert_with(|| json!({}))
            .as_object_mut()
            .map(|o| o.insert((*method).to_owned(), op));
    }
    json!({
        "openapi": "3.1.0",
        "info": {"title": "mealroll API", "version": env!("CARGO_PKG_VERSION"),
                 "description": "营养改善计划实名制管理系统接口。所有接口与网页使用相同的权限范围与审计规则。"},
        "security": [{"bearer": []}],
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},
            "schemas": {"Error": {"type": "object", "required": ["error", "message"], "properties": {
                "error": {"type": "string", "description": "稳定的错误代码"},
                "message": {"type": "string", "description": "中文说明"},
                "fields": {"type": "array", "items": {"type": "object", "properties": {
                    "field": {"type": "string"}, "code": {"type": "string"}, "message": {"type": "string"}}}}}}}
        },
        "paths": paths,
    })
}

pub async fn document() -> HttpResponse {
    HttpResponse::Ok().json(build())
}
