//! An area's `/api/v1` routes, each declared once with what it does: the one declaration mounts
//! the route and writes its entry in the OpenAPI document, so a route cannot go undocumented.

use actix_web::http::Method;
use actix_web::{FromRequest, Handler, Responder, web};

use super::api_doc::{ApiInput, ApiOutput, OperationDoc, Schemas};

/// One operation as the OpenAPI document lists it; the path is relative to `/api/v1`.
#[derive(Clone, Debug)]
pub struct Operation {
    pub method: Method,
    pub path: &'static str,
    pub summary: &'static str,
    pub tag: &'static str,
    /// What the handler's extractors read and its return type answers.
    pub describe: fn(&mut Schemas) -> OperationDoc,
}

/// The description the handler's own types give.
fn describe<Args: ApiInput, Out: ApiOutput>(schemas: &mut Schemas) -> OperationDoc {
    let mut doc = OperationDoc::default();
    Args::describe(schemas, &mut doc);
    Out::describe(schemas, &mut doc);
    doc
}

/// Mounts routes on a scope, or (for the document) only lists them.
pub struct ApiRoutes<'a> {
    cfg: Option<&'a mut web::ServiceConfig>,
    tag: &'static str,
    operations: Vec<Operation>,
}

impl<'a> ApiRoutes<'a> {
    /// Routes that are mounted as they are declared.
    pub fn mount(cfg: &'a mut web::ServiceConfig) -> Self {
        Self { cfg: Some(cfg), tag: "", operations: Vec::new() }
    }

    /// Routes that are only listed (what the OpenAPI document is built from).
    pub fn listing() -> ApiRoutes<'static> {
        ApiRoutes { cfg: None, tag: "", operations: Vec::new() }
    }

    /// The document's group for the routes declared after this.
    pub fn tag(&mut self, tag: &'static str) -> &mut Self {
        self.tag = tag;
        self
    }

    pub fn get<F, Args>(&mut self, path: &'static str, handler: F, summary: &'static str) -> &mut Self
    where
        F: Handler<Args>,
        Args: FromRequest + ApiInput + 'static,
        F::Output: Responder + ApiOutput + 'static,
    {
        self.on(Method::GET, path, handler, summary)
    }

    pub fn post<F, Args>(&mut self, path: &'static str, handler: F, summary: &'static str) -> &mut Self
    where
        F: Handler<Args>,
        Args: FromRequest + ApiInput + 'static,
        F::Output: Responder + ApiOutput + 'static,
    {
        self.on(Method::POST, path, handler, summary)
    }

    pub fn put<F, Args>(&mut self, path: &'static str, handler: F, summary: &'static str) -> &mut Self
    where
        F: Handler<Args>,
        Args: FromRequest + ApiInput + 'static,
        F::Output: Responder + ApiOutput + 'static,
    {
        self.on(Method::PUT, path, handler, summary)
    }

    pub fn delete<F, Args>(&mut self, path: &'static str, handler: F, summary: &'static str) -> &mut Self
    where
        F: Handler<Args>,
        Args: FromRequest + ApiInput + 'static,
        F::Output: Responder + ApiOutput + 'static,
    {
        self.on(Method::DELETE, path, handler, summary)
    }

    /// Mounts (unless only listing) and lists one operation.
    fn on<F, Args>(&mut self, method: Method, path: &'static str, handler: F, summary: &'static str) -> &mut Self
    where
        F: Handler<Args>,
        Args: FromRequest + ApiInput + 'static,
        F::Output: Responder + ApiOutput + 'static,
    {
        if let Some(cfg) = self.cfg.as_deref_mut() {
            cfg.route(path, web::method(method.clone()).to(handler));
        }
        let describe = describe::<Args, F::Output>;
        self.operations.push(Operation { method, path, summary, tag: self.tag, describe });
        self
    }

    /// What was declared, in order.
    pub fn operations(self) -> Vec<Operation> {
        self.operations
    }
}
