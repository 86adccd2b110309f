//! Contract §8: `GET /api/v1/openapi.json`, and the route-coverage check
//! that keeps it true.
//!
//! The routes are read from the code that registers them: every
//! `.route(...)`, `web::resource(...)` and `web::scope(...)` in `src/`
//! (production items; `#[cfg(test)]` ones aside) is parsed with `syn`, and
//! scope prefixes are applied the way actix applies them. Every such route
//! with a literal path must be an operation of the served document with the
//! same method, and every operation of the document must be answered by a
//! route of the running server (not by its fallback 404/405). Adding a
//! route without documenting it in `src/http/openapi.rs` fails here.

use std::collections::BTreeSet;
use std::path::Path;

use serde_json::Value;
use syn::visit::Visit;

use alerthub_test_support::*;

/// Registered routes that are not REST endpoints and so are not in the
/// document: the WebSocket handshake (docs/protocol.md) and the dashboard's
/// favicon (the dashboard's own files are registered from a table, with
/// non-literal paths).
const NOT_REST: [(&str, &str); 3] = [
    ("GET", "/ws/breach-alerts/{user_id}"),
    ("GET", "/ws/breach-alerts/{user_id}/"),
    ("GET", "/favicon.ico"),
];

const METHODS: [&str; 6] = ["get", "post", "put", "patch", "delete", "head"];

/// True for items compiled only in tests.
fn is_test_only(attrs: &[syn::Attribute]) -> bool {
    attrs.iter().any(|a| {
        a.path().is_ident("cfg")
            && a.parse_args::<syn::Meta>()
                .is_ok_and(|m| m.path().is_ident("test"))
    })
}

fn str_lit(expr: &syn::Expr) -> Option<String> {
    match expr {
        syn::Expr::Lit(syn::ExprLit {
            lit: syn::Lit::Str(s),
            ..
        }) => Some(s.value()),
        _ => None,
    }
}

/// The call at the bottom of a method chain (`web::scope("/x")` in
/// `web::scope("/x").wrap(..).route(..)`), if it is a call of a path.
fn chain_base(mut expr: &syn::Expr) -> Option<(&syn::ExprCall, String)> {
    while let syn::Expr::MethodCall(m) = expr {
        expr = &m.receiver;
    }
    match expr {
        syn::Expr::Call(call) => match &*call.func {
            syn::Expr::Path(p) => {
                let name = p.path.segments.last()?.ident.to_string();
                Some((call, name))
            }
            _ => None,
        },
        _ => None,
    }
}

/// The HTTP method of a route expression (`web::post().to(h)`), found as
/// the `web::get`/`web::post`/… call in it.
#[derive(Default)]
struct MethodOf(Option<String>);

impl<'ast> Visit<'ast> for MethodOf {
    fn visit_expr_call(&mut self, call: &'ast syn::ExprCall) {
        if let syn::Expr::Path(p) = &*call.func
            && let Some(last) = p.path.segments.last()
            && METHODS.contains(&last.ident.to_string().as_str())
            && call.args.is_empty()
        {
            self.0.get_or_insert(last.ident.to_string().to_uppercase());
        }
        syn::visit::visit_expr_call(self, call);
    }
}

fn method_of(expr: &syn::Expr) -> Option<String> {
    let mut m = MethodOf::default();
    m.visit_expr(expr);
    m.0
}

/// Every (method, path) a file registers, with scope prefixes applied.
#[derive(Default)]
struct Routes {
    prefix: String,
    found: BTreeSet<(String, String)>,
}

impl<'ast> Visit<'ast> for Routes {
    fn visit_item(&mut self, item: &'ast syn::Item) {
        let attrs = match item {
            syn::Item::Mod(m) => &m.attrs,
            syn::Item::Fn(f) => &f.attrs,
            syn::Item::Impl(i) => &i.attrs,
            _ => return syn::visit::visit_item(self, item),
        };
        if !is_test_only(attrs) {
            syn::visit::visit_item(self, item);
        }
    }

    fn visit_expr_method_call(&mut self, call: &'ast syn::ExprMethodCall) {
        let base = chain_base(&call.receiver);
        let mut inner = self.prefix.clone();
        if let Some((scope, name)) = &base
            && name == "scope"
            && let Some(p) = scope.args.first().and_then(str_lit)
        {
            inner.push_str(&p);
        }
        if call.method == "route" {
            let args: Vec<&syn::Expr> = call.args.iter().collect();
            let mut paths = Vec::new();
            let mut route = None;
            if let [path, r] = args[..] {
                paths.extend(str_lit(path));
                route = Some(r);
            } else if let [r] = args[..] {
                route = Some(r);
                if let Some((resource, name)) = &base
                    && name == "resource"
                    && let Some(arg) = resource.args.first()
                {
                    match arg {
                        syn::Expr::Array(a) => paths.extend(a.elems.iter().filter_map(str_lit)),
                        other => paths.extend(str_lit(other)),
                    }
                }
            }
            if let Some(method) = route.and_then(method_of) {
                for p in paths {
                    self.found.insert((method.clone(), format!("{inner}{p}")));
                }
            }
        }
        let outer = std::mem::replace(&mut self.prefix, inner);
        for arg in &call.args {
            self.visit_expr(arg);
        }
        self.prefix = outer;
        self.visit_expr(&call.receiver);
    }
}

/// The routes `src/` registers, read from the source.
fn registered_routes() -> BTreeSet<(String, String)> {
    let mut routes = Routes::default();
    let mut stack = vec![Path::new(env!("CARGO_MANIFEST_DIR")).join("src")];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).unwrap();
                let file =
                    syn::parse_file(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                routes.visit_file(&file);
            }
        }
    }
    routes.found
}

/// Every (method, path) of the document.
fn documented(doc: &Value) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            if METHODS.contains(&method.as_str()) {
                out.insert((method.to_uppercase(), path.clone()));
            }
        }
    }
    out
}

async fn fetch_document(app: &TestApp) -> Value {
    let mut response = app
        .http
        .get(app.url("/api/v1/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let content_type = response.headers().get("content-type").unwrap();
    assert_eq!(content_type.to_str().unwrap(), "application/json");
    let bytes = response.body().limit(1 << 20).await.unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

#[actix_web::test]
async fn every_registered_route_is_documented_and_every_documented_one_is_served() {
    let app = spawn_app().await;
    let doc = fetch_document(&app).await;
    let documented = documented(&doc);

    let mut registered = registered_routes();
    // The scan must see the routes it is meant to check.
    for known in [("POST", "/api/v1/alerts"), ("GET", "/health")] {
        assert!(
            registered.contains(&(known.0.into(), known.1.into())),
            "the route scan missed {known:?}: {registered:?}"
        );
    }
    for (method, path) in NOT_REST {
        assert!(
            registered.remove(&(method.into(), path.into())),
            "{method} {path} is no longer registered: update NOT_REST"
        );
    }
    let undocumented: Vec<_> = registered.difference(&documented).collect();
    assert!(
        undocumented.is_empty(),
        "registered but not in openapi.json (add them to paths(...) in src/http/openapi.rs): {undocumented:?}"
    );
    let unregistered: Vec<_> = documented.difference(&registered).collect();
    assert!(
        unregistered.is_empty(),
        "in openapi.json but not registered: {unregistered:?}"
    );

    // And the running server answers each documented operation from a
    // route of its own, not from the fallback.
    for (method, path) in &documented {
        let concrete = path
            .replace("{alert_id}", "1")
            .replace("{user_id}", "u1")
            .replace("{id}", "1");
        assert!(!concrete.contains('{'), "fill in the parameter of {path}");
        let request = app.http.request(
            awc::http::Method::from_bytes(method.as_bytes()).unwrap(),
            app.url(&concrete),
        );
        let (status, body) = app.send(request, None).await;
        let fallback = status == 405 || body["error"]["message"] == "no such endpoint";
        assert!(!fallback, "{method} {path}: {status} {body}");
    }
}

#[actix_web::test]
async fn a_documented_path_with_another_method_is_405_with_allow() {
    let app = spawn_app().await;
    for (method, path, allow) in [
        ("DELETE", "/api/v1/alerts", "GET, POST"),
        ("GET", "/api/v1/alerts/7/read", "POST"),
        ("PUT", "/health", "GET"),
        ("POST", "/api/v1/openapi.json", "GET"),
    ] {
        let mut response = app
            .http
            .request(
                awc::http::Method::from_bytes(method.as_bytes()).unwrap(),
                app.url(path),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 405, "{method} {path}");
        let got = response.headers().get("allow").unwrap().to_str().unwrap();
        assert_eq!(got, allow, "{method} {path}");
        let body: Value = serde_json::from_slice(&response.body().await.unwrap()).unwrap();
        assert_error(&(405, body), 405, "method_not_allowed");
    }
    let unknown = app
        .send(app.http.delete(app.url("/api/v1/nothing-here")), None)
        .await;
    assert_error(&unknown, 404, "not_found");
}

#[actix_web::test]
async fn the_document_is_openapi_3_1_with_the_contracts_security_and_errors() {
    let app = spawn_app().await;
    let doc = fetch_document(&app).await;
    assert_eq!(doc["openapi"], "3.1.0");
    let schemes = doc["components"]["securitySchemes"].as_object().unwrap();
    assert_eq!(schemes["service_key"]["scheme"], "bearer");
    assert_eq!(schemes["user_jwt"]["bearerFormat"], "JWT");
    assert_eq!(schemes["user_token"]["in"], "header");
    assert_eq!(schemes["user_token"]["name"], "Authorization");

    let responses = &doc["components"]["responses"];
    let mut statuses_seen = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            for (status, answer) in op["responses"].as_object().unwrap() {
                statuses_seen.insert(status.clone());
                let answer = match answer["$ref"].as_str() {
                    Some(r) => &responses[r.trim_start_matches("#/components/responses/")],
                    None => answer,
                };
                let code: u16 = status.parse().unwrap();
                if code == 429 || code == 503 {
                    assert_eq!(
                        answer["headers"]["Retry-After"]["required"], true,
                        "{method} {path} {status}: no required Retry-After"
                    );
                }
                if code >= 400 && path.starts_with("/api/") {
                    assert_eq!(
                        answer["content"]["application/json"]["schema"]["$ref"],
                        "#/components/schemas/ErrorBody",
                        "{method} {path} {status}"
                    );
                }
            }
            let secured = op.get("security").is_some();
            let open = [
                "/health",
                "/ready",
                "/metrics",
                "/api/v1/openapi.json",
                "/api/v1/push/vapid-public-key",
            ];
            assert_eq!(secured, !open.contains(&path.as_str()), "{method} {path}");
        }
    }
    for status in [
        "200", "201", "400", "401", "403", "404", "413", "422", "429", "503",
    ] {
        assert!(
            statuses_seen.contains(status),
            "no operation documents {status}"
        );
    }

    // The alert schema lists exactly the fields a stored alert has.
    let (status, body) = app.trigger(alert_body("doc1", "B")).await;
    assert_eq!(status, 201, "{body}");
    let served: BTreeSet<&String> = body["alert"].as_object().unwrap().keys().collect();
    let schema = &doc["components"]["schemas"]["Alert"];
    let documented: BTreeSet<&String> = schema["properties"].as_object().unwrap().keys().collect();
    assert_eq!(served, documented);
    let required: BTreeSet<&str> = schema["required"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(required.len(), served.len());
}
