//! The OpenAPI document, generated — never written by hand: paths, methods, parameters, access
//! (security and the permission each route needs) come from the route table (`routes`, which
//! serves it at `/api/openapi.json`); request and reply bodies from their Rust types
//! (`utoipa::ToSchema`). The route table's tests fail when a route has no operation, a
//! body-taking route no body, or a schema is missing.

use serde_json::{Map, Value, json};
use utoipa::ToSchema;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{Ref, Schema};

use crate::auth::{Access, Where};
use crate::error::ErrorReply;

/// Named schemas gathered while the document is built.
pub type Components = Vec<(String, RefOr<Schema>)>;
/// Adds a type's schema (and those it uses) to the components; answers a reference to it.
pub type SchemaFn = fn(&mut Components) -> RefOr<Schema>;

pub fn schema<T: ToSchema>(components: &mut Components) -> RefOr<Schema> {
    <T as ToSchema>::schemas(components);
    components.push((T::name().into_owned(), T::schema()));
    RefOr::Ref(Ref::from_schema_name(T::name()))
}

/// A list of `T`.
pub fn list<T: ToSchema>(components: &mut Components) -> RefOr<Schema> {
    let item = schema::<T>(components);
    RefOr::T(Schema::Array(utoipa::openapi::schema::ArrayBuilder::new().items(item).build()))
}

/// What a route carries in.
#[derive(Clone, Copy)]
pub enum Body {
    /// Nothing (a GET, or an action named by its path).
    None,
    /// JSON of this type.
    Json(SchemaFn),
    /// A file (CSV, XLS or XLSX), up to the upload limit.
    File,
}

/// A route's documentation: what it does, what it takes, what it answers.
#[derive(Clone, Copy)]
pub struct Doc {
    pub summary: &'static str,
    pub body: Body,
    pub reply: Option<SchemaFn>,
}

pub const fn doc(summary: &'static str) -> Doc {
    Doc { summary, body: Body::None, reply: None }
}

impl Doc {
    pub const fn body(mut self, schema: SchemaFn) -> Doc {
        self.body = Body::Json(schema);
        self
    }
    pub const fn file(mut self) -> Doc {
        self.body = Body::File;
        self
    }
    pub const fn reply(mut self, schema: SchemaFn) -> Doc {
        self.reply = Some(schema);
        self
    }
}

fn access_text(access: Access) -> String {
    match access {
        Access::Public => "Public.".into(),
        Access::SignedIn => "Any signed-in caller (401 without a session).".into(),
        Access::Owner => "A signed-in owner, about their own houses (another house is 404; staff are refused with 403).".into(),
        Access::Allowed(permission, place) => {
            let needs = permission.map_or_else(|| "a signed-in staff member".to_string(), |p| format!("the permission `{p}`"));
            let place = match place {
                Where::Community => "in a community of the caller's company and scope (404 outside it)",
                Where::Company => "within the caller's own company (another company's objects are 404)",
            };
            format!("Needs {needs} {place}; 403 without the permission, 401 without a session; owners are refused (403).")
        }
    }
}

fn tag_of(path: &str) -> String {
    let rest = path.trim_start_matches("/api/v1/").trim_start_matches('/');
    let mut parts = rest.split('/').filter(|s| !s.starts_with('{'));
    let first = parts.next().unwrap_or("api");
    match first {
        "communities" => parts.next().unwrap_or("communities").to_string(),
        other => other.to_string(),
    }
}

fn to_value(schema: RefOr<Schema>) -> Value {
    serde_json::to_value(schema).unwrap_or(Value::Null)
}

/// One route as the document needs it (the route table hands these over; this module does
/// not know the table).
pub struct Entry<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub access: Access,
    pub doc: Doc,
}

/// The document for these routes.
pub fn document<'a>(routes: impl IntoIterator<Item = Entry<'a>>) -> Value {
    let mut components = Components::new();
    let error = to_value(schema::<ErrorReply>(&mut components));
    let mut paths = Map::new();
    for route in routes {
        let parameters: Vec<Value> = route
            .path
            .split('/')
            .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}))
            .collect();
        let reply = match route.doc.reply {
            Some(f) => json!({"description": "OK", "content": {"application/json": {"schema": to_value(f(&mut components))}}}),
            None => json!({"description": "OK"}),
        };
        let mut operation = json!({
            "summary": route.doc.summary,
            "description": access_text(route.access),
            "tags": [tag_of(route.path)],
            "operationId": format!("{} {}", route.method, route.path),
            "parameters": parameters,
            "responses": {
                "200": reply,
                "4XX": {"description": "Refused: a sentence in Chinese and English, and a code.", "content": {"application/json": {"schema": error}}},
            },
        });
        match route.doc.body {
            Body::None => {}
            Body::Json(f) => {
                operation["requestBody"] = json!({"required": true, "content": {"application/json": {"schema": to_value(f(&mut components))}}});
            }
            Body::File => {
                operation["requestBody"] = json!({"required": true, "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}});
            }
        }
        operation["security"] = if matches!(route.access, Access::Public) { json!([]) } else { json!([{"bearer": []}, {"cookie": []}]) };
        let item = paths.entry(route.path.to_string()).or_insert_with(|| json!({}));
        item[route.method.to_ascii_lowercase()] = operation;
    }
    let schemas: Map<String, Value> = components.into_iter().map(|(name, s)| (name, to_value(s))).collect();
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Hutong 胡同",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Residential community operations: devices, the control-room wall, billing and collection. Errors: `{\"error\": {\"code\", \"message\"}}`, the message in Chinese and English. Amounts are decimal strings with at most two places (a JSON number or a third decimal is refused). Bounds (refused with a sentence past them): one amount — a bill, a payment, an edit, an imported row — at most 100000000.00 yuan; an area at most 1000000 m²; a unit, fixed or tier price at most 1000000; a floor coefficient or vacant share at most 1000; a meter reading at most 10^12; days between reminders at most 3660.",
        },
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "description": "The token `POST /api/v1/auth/login` answers."},
                "cookie": {"type": "apiKey", "in": "cookie", "name": crate::auth::COOKIE},
            },
        },
    })
}
