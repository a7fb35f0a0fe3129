//! What an API operation reads and answers, as the OpenAPI document shows it, taken from the
//! handler's own types: each extractor says what it reads (`ApiInput`), the return type says what
//! comes back (`ApiOutput`). The schemas are derived (`schemars::JsonSchema`) from the same types
//! serde reads and writes, so the document cannot drift from the code.

use actix_multipart::Multipart;
use actix_web::{HttpRequest, HttpResponse, Responder, body::BoxBody, http::StatusCode, web};
use schemars::JsonSchema;
use schemars::generate::{SchemaGenerator, SchemaSettings};
use serde::Serialize;
use serde_json::{Map, Value, json};

use super::strict::{ApiJson, ApiQuery};
use super::upload::ApiBody;
use crate::error::AppResult;

/// The two schema generators of one document. Requests are read as serde reads them (aliases,
/// defaults) and shown inline where they are used; responses as serde writes them, each named type
/// once under `components.schemas`.
pub struct Schemas {
    requests: SchemaGenerator,
    responses: SchemaGenerator,
}

impl Default for Schemas {
    fn default() -> Self {
        let requests = SchemaSettings::draft2020_12()
            .for_deserialize()
            .with(|s| {
                s.inline_subschemas = true;
                s.meta_schema = None;
            })
            .into_generator();
        let responses = SchemaSettings::draft2020_12()
            .for_serialize()
            .with(|s| {
                s.definitions_path = "/components/schemas".into();
                s.meta_schema = None;
            })
            .into_generator();
        Self { requests, responses }
    }
}

impl Schemas {
    /// `T` as a request reads it, inline.
    pub fn request<T: JsonSchema>(&mut self) -> Value {
        self.requests.root_schema_for::<T>().to_value()
    }

    /// `T` as a response writes it: a reference to its entry under `components.schemas`.
    pub fn response<T: JsonSchema>(&mut self) -> Value {
        self.responses.subschema_for::<T>().to_value()
    }

    /// Every named response type met so far.
    pub fn components(mut self) -> Map<String, Value> {
        self.responses.take_definitions(true)
    }
}

/// One operation's description as its handler's types give it.
#[derive(Debug, Default)]
pub struct OperationDoc {
    /// The path's parameters in order (a tuple's items), or by name (a struct's fields).
    pub path: Vec<(Option<String>, Value)>,
    /// OpenAPI parameter objects for the query string.
    pub query: Vec<Value>,
    /// The OpenAPI request body object.
    pub body: Option<Value>,
    /// Whether a bearer token is required.
    pub authenticated: bool,
    /// The OpenAPI response objects by status.
    pub responses: Map<String, Value>,
}

impl OperationDoc {
    pub fn respond(&mut self, status: u16, description: &str, content: Option<Value>) {
        let mut r = json!({ "description": description });
        if let Some(c) = content {
            r["content"] = c;
        }
        self.responses.insert(status.to_string(), r);
    }

    pub fn respond_json(&mut self, status: u16, description: &str, schema: Value) {
        self.respond(status, description, Some(json!({ "application/json": { "schema": schema } })));
    }
}

/// What an extractor adds to the description: parameters, a body, the need for a token, or
/// nothing (the app's state, the raw request).
pub trait ApiInput {
    fn describe(_schemas: &mut Schemas, _doc: &mut OperationDoc) {}
}

impl<T: ?Sized + 'static> ApiInput for web::Data<T> {}
impl ApiInput for HttpRequest {}

impl<T: JsonSchema> ApiInput for web::Path<T> {
    fn describe(schemas: &mut Schemas, doc: &mut OperationDoc) {
        let schema = schemas.request::<T>();
        if let Some(items) = schema.get("prefixItems").and_then(Value::as_array) {
            doc.path.extend(items.iter().map(|s| (None, s.clone())));
        } else if let Some(props) = schema.get("properties").and_then(Value::as_object) {
            doc.path.extend(props.iter().map(|(k, s)| (Some(k.clone()), s.clone())));
        } else {
            doc.path.push((None, schema));
        }
    }
}

impl<T: JsonSchema> ApiInput for ApiQuery<T> {
    fn describe(schemas: &mut Schemas, doc: &mut OperationDoc) {
        let schema = schemas.request::<T>();
        let required: Vec<&str> = schema
            .get("required")
            .and_then(Value::as_array)
            .map(|r| r.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let Some(props) = schema.get("properties").and_then(Value::as_object) else { return };
        for (name, prop) in props {
            let mut prop = prop.clone();
            let description = prop.as_object_mut().and_then(|o| o.remove("description"));
            let mut param = json!({
                "name": name,
                "in": "query",
                "required": required.contains(&name.as_str()),
                "schema": prop,
            });
            if let Some(d) = description {
                param["description"] = d;
            }
            doc.query.push(param);
        }
    }
}

impl<T: JsonSchema> ApiInput for ApiJson<T> {
    fn describe(schemas: &mut Schemas, doc: &mut OperationDoc) {
        let schema = schemas.request::<T>();
        doc.body = Some(json!({ "required": true, "content": { "application/json": { "schema": schema } } }));
    }
}

impl<const LIMIT: usize> ApiInput for ApiBody<LIMIT> {
    fn describe(_: &mut Schemas, doc: &mut OperationDoc) {
        doc.body = Some(json!({
            "required": true,
            "description": format!("文件本身（不超过{}MB）", LIMIT / (1024 * 1024)),
            "content": { "application/octet-stream": { "schema": { "type": "string", "format": "binary" } } },
        }));
    }
}

impl ApiInput for Multipart {
    fn describe(_: &mut Schemas, doc: &mut OperationDoc) {
        doc.body = Some(json!({
            "required": true,
            "content": { "multipart/form-data": { "schema": { "type": "object" } } },
        }));
    }
}

macro_rules! tuple_input {
    ($($t:ident),*) => {
        impl<$($t: ApiInput),*> ApiInput for ($($t,)*) {
            #[allow(unused_variables)]
            fn describe(schemas: &mut Schemas, doc: &mut OperationDoc) {
                $($t::describe(schemas, doc);)*
            }
        }
    };
}
tuple_input!();
tuple_input!(A);
tuple_input!(A, B);
tuple_input!(A, B, C);
tuple_input!(A, B, C, D);
tuple_input!(A, B, C, D, E);
tuple_input!(A, B, C, D, E, F);
tuple_input!(A, B, C, D, E, F, G);
tuple_input!(A, B, C, D, E, F, G, H);

/// What a handler's return type says comes back. `ApiRoutes` takes only handlers whose return
/// type has it, so an API handler that answers a bare `HttpResponse` does not compile.
pub trait ApiOutput {
    fn describe(schemas: &mut Schemas, doc: &mut OperationDoc);
}

impl<T: ApiOutput> ApiOutput for AppResult<T> {
    fn describe(schemas: &mut Schemas, doc: &mut OperationDoc) {
        T::describe(schemas, doc);
    }
}

/// What an answer's body is: written by serde, described by schemars. Handlers answer
/// `Reply<impl Body>`, so the document takes the schema from the value they actually return.
pub trait Body: Serialize + JsonSchema {}
impl<T: Serialize + JsonSchema> Body for T {}

/// The answer of an action that has nothing more to say than that it was done.
#[derive(Serialize, JsonSchema)]
pub struct Done {
    pub ok: bool,
}

impl Done {
    pub const OK: Done = Done { ok: true };
}

/// How a field that pages and the API share is documented when its Rust type is a raw JSON
/// value: a form sends text, JSON may send a number. The handler's own parser reads either and
/// names the field when it is wrong.
#[derive(JsonSchema)]
#[serde(untagged)]
#[allow(dead_code)]
pub enum NumberOrText {
    Number(i64),
    Text(String),
}

/// The same for a checkbox: JSON sends `true`, a form sends "on".
#[derive(JsonSchema)]
#[serde(untagged)]
#[allow(dead_code)]
pub enum BoolOrText {
    Bool(bool),
    Text(String),
}

/// The number given to what was just created.
#[derive(Serialize, JsonSchema)]
pub struct NewId {
    pub id: i64,
}

/// One page of a longer list, with the number of all that match.
#[derive(Serialize, JsonSchema)]
#[schemars(rename = "{T}Page")]
pub struct Page<T> {
    pub total: i64,
    pub items: Vec<T>,
}

/// 200 with `T` as JSON.
pub struct Reply<T>(pub T);

impl<T: Serialize> Responder for Reply<T> {
    type Body = BoxBody;
    fn respond_to(self, _: &HttpRequest) -> HttpResponse {
        HttpResponse::Ok().json(self.0)
    }
}

impl<T: JsonSchema> ApiOutput for Reply<T> {
    fn describe(schemas: &mut Schemas, doc: &mut OperationDoc) {
        doc.respond_json(200, "成功", schemas.response::<T>());
    }
}

/// 200 with `T` as JSON that no cache may keep: a record with its identifiers in full.
pub struct NoStore<T>(pub T);

impl<T: Serialize> Responder for NoStore<T> {
    type Body = BoxBody;
    fn respond_to(self, _: &HttpRequest) -> HttpResponse {
        HttpResponse::Ok().insert_header((actix_web::http::header::CACHE_CONTROL, "no-store")).json(self.0)
    }
}

impl<T: JsonSchema> ApiOutput for NoStore<T> {
    fn describe(schemas: &mut Schemas, doc: &mut OperationDoc) {
        doc.respond_json(200, "成功（含完整证件号码，不得缓存）", schemas.response::<T>());
    }
}

/// 201 with what was created as JSON; 200 with the earlier result when the request repeats one
/// already done (the same idempotency key, a roster already built).
pub struct Created<T> {
    pub body: T,
    pub repeated: bool,
}

impl<T> Created<T> {
    pub fn new(body: T) -> Self {
        Self { body, repeated: false }
    }

    pub fn repeated_if(repeated: bool, body: T) -> Self {
        Self { body, repeated }
    }
}

impl<T: Serialize> Responder for Created<T> {
    type Body = BoxBody;
    fn respond_to(self, _: &HttpRequest) -> HttpResponse {
        let status = if self.repeated { StatusCode::OK } else { StatusCode::CREATED };
        HttpResponse::build(status).json(self.body)
    }
}

impl<T: JsonSchema> ApiOutput for Created<T> {
    fn describe(schemas: &mut Schemas, doc: &mut OperationDoc) {
        let schema = schemas.response::<T>();
        doc.respond_json(201, "已创建", schema.clone());
        doc.respond_json(200, "重复的请求：返回先前的结果，未再次办理", schema);
    }
}

/// An import's report: 200 when every row passed, 422 when it lists rows refused (the same
/// report either way, each error with its sheet, row, column and rule).
pub struct Checked<T> {
    pub report: T,
    pub refused: bool,
}

impl<T: Serialize> Responder for Checked<T> {
    type Body = BoxBody;
    fn respond_to(self, _: &HttpRequest) -> HttpResponse {
        let status = if self.refused { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
        HttpResponse::build(status).json(self.report)
    }
}

impl<T: JsonSchema> ApiOutput for Checked<T> {
    fn describe(schemas: &mut Schemas, doc: &mut OperationDoc) {
        let schema = schemas.response::<T>();
        doc.respond_json(200, "全部通过", schema.clone());
        doc.respond_json(422, "有未通过的行：报告逐行说明（工作表、行、列、规则）", schema);
    }
}

/// 204, nothing to say.
pub struct NoContent;

impl Responder for NoContent {
    type Body = BoxBody;
    fn respond_to(self, _: &HttpRequest) -> HttpResponse {
        HttpResponse::NoContent().finish()
    }
}

impl ApiOutput for NoContent {
    fn describe(_: &mut Schemas, doc: &mut OperationDoc) {
        doc.respond(204, "已办理", None);
    }
}

/// A file (a workbook, a PDF, an image), its type in `Content-Type`.
pub struct FileReply(pub HttpResponse);

impl Responder for FileReply {
    type Body = BoxBody;
    fn respond_to(self, _: &HttpRequest) -> HttpResponse {
        self.0
    }
}

impl ApiOutput for FileReply {
    fn describe(_: &mut Schemas, doc: &mut OperationDoc) {
        doc.respond(
            200,
            "文件（xlsx、pdf、csv 或图片，见 Content-Type）",
            Some(json!({ "application/octet-stream": { "schema": { "type": "string", "format": "binary" } } })),
        );
    }
}

/// JSON by default, or the same content as a file when the query asks for one (`format=xlsx`).
pub enum ReplyOrFile<T> {
    Reply(T),
    File(HttpResponse),
}

impl<T: Serialize> Responder for ReplyOrFile<T> {
    type Body = BoxBody;
    fn respond_to(self, _: &HttpRequest) -> HttpResponse {
        match self {
            Self::Reply(body) => HttpResponse::Ok().json(body),
            Self::File(file) => file,
        }
    }
}

impl<T: JsonSchema> ApiOutput for ReplyOrFile<T> {
    fn describe(schemas: &mut Schemas, doc: &mut OperationDoc) {
        doc.respond(
            200,
            "JSON，或按 format 参数给出的文件（xlsx、pdf）",
            Some(json!({
                "application/json": { "schema": schemas.response::<T>() },
                "application/octet-stream": { "schema": { "type": "string", "format": "binary" } },
            })),
        );
    }
}
