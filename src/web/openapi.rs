//! The OpenAPI 3.1 document of `/api/v1`, built from the routes as the areas declare them and
//! the schemas their handlers' types give (`api_doc`).

use serde_json::{Value, json};

use super::api_doc::Schemas;
use super::api_routes::Operation;

/// The error answers every operation may give, besides what its own type says.
fn errors(authenticated: bool) -> Vec<(&'static str, &'static str)> {
    let mut e = vec![
        ("400", "未知或拼错的参数、字段（逐个列出，不会被忽略）"),
        ("404", "不存在或不在管辖范围内"),
        ("422", "输入有误（逐字段说明）"),
    ];
    if authenticated {
        e.push(("401", "未登录或令牌失效"));
        e.push(("403", "无权限"));
    }
    e
}

/// The document of the operations the areas declared (`ApiRoutes`), in their order.
pub fn build(operations: &[Operation]) -> Value {
    let mut schemas = Schemas::default();
    let mut paths = serde_json::Map::new();
    for Operation { method, path, summary, tag, describe } in operations {
        let doc = describe(&mut schemas);
        let names = path.split('/').filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')));
        let mut params: Vec<Value> = names
            .enumerate()
            .map(|(i, name)| {
                let schema = doc
                    .path
                    .iter()
                    .find(|(n, _)| n.as_deref() == Some(name))
                    .or_else(|| doc.path.get(i).filter(|(n, _)| n.is_none()))
                    .map(|(_, s)| s.clone())
                    .unwrap_or_else(|| json!({"type": "string"}));
                json!({"name": name, "in": "path", "required": true, "schema": schema})
            })
            .collect();
        params.extend(doc.query);
        let mut responses = doc.responses;
        for (status, description) in errors(doc.authenticated) {
            responses.entry(status).or_insert_with(|| {
                json!({"description": description,
                       "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}})
            });
        }
        let mut op = json!({ "summary": summary, "tags": [tag], "parameters": params, "responses": responses });
        if let Some(body) = doc.body {
            op["requestBody"] = body;
        }
        if !doc.authenticated {
            op["security"] = json!([]);
        }
        paths
            .entry(format!("/api/v1{path}"))
            .or_insert_with(|| json!({}))
            .as_object_mut()
            .map(|o| o.insert(method.as_str().to_lowercase(), op));
    }
    // The error answer is the type every refusal serialises, its codes listed.
    schemas.response::<crate::error::ErrorBody<'static>>();
    let components = schemas.components();
    json!({
        "openapi": "3.1.0",
        "info": {"title": "mealroll API", "version": env!("CARGO_PKG_VERSION"),
                 "description": "营养改善计划实名制管理系统接口。所有接口与网页使用相同的权限范围与审计规则。"},
        "security": [{"bearer": []}],
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},
            "schemas": components,
        },
        "paths": paths,
    })
}
