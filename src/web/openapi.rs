//! The OpenAPI 3.1 document of `/api/v1`, built from the routes as the areas declare them.

use serde_json::{Value, json};

use super::api_routes::Operation;

/// The document of the operations the areas declared (`ApiRoutes`), in their order.
pub fn build(operations: &[Operation]) -> Value {
    let mut paths = serde_json::Map::new();
    for Operation { method, path, summary, tag } in operations {
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
        if *path == "/auth/token" || *path == "/openapi.json" {
            op["security"] = json!([]);
        }
        paths
            .entry(format!("/api/v1{path}"))
            .or_insert_with(|| json!({}))
            .as_object_mut()
            .map(|o| o.insert(method.as_str().to_lowercase(), op));
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
