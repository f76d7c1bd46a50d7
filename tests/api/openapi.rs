//! The OpenAPI document at `/api/v1/openapi.json` and the docs page at `/docs`.
//!
//! The document must describe exactly the v1 routes the server registers. actix-web
//! cannot list its routes, so the registered ones are read from the `.route(...)` calls
//! in `src/http/v1/*.rs` and in every module whose `configure` the v1 scope calls, and
//! compared both ways with [`V1_ROUTES`] and the document: a route added without
//! documentation (or documentation of a route that is gone) fails here. The live server
//! is also asked each route, to show that it exists and that the ones documented as
//! protected really turn a request without credentials away.

use std::collections::BTreeSet;

use serde_json::Value;

use questpath_test_support::{TestApp, spawn_app};

/// What a route wants as credentials.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Auth {
    Public,
    /// `Authorization: Bearer <access token>`: the `bearer` scheme.
    Bearer,
    /// A one-time websocket ticket in the query: the `ticket` scheme.
    Ticket,
}

use Auth::{Bearer, Public, Ticket};

/// Every v1 operation: method, path, and the credentials it needs.
const V1_ROUTES: &[(&str, &str, Auth)] = &[
    ("GET", "/api/v1/openapi.json", Public),
    ("POST", "/api/v1/auth/register", Public),
    ("POST", "/api/v1/auth/login", Public),
    ("POST", "/api/v1/auth/refresh", Public),
    ("POST", "/api/v1/auth/logout", Public),
    ("POST", "/api/v1/auth/logout-all", Bearer),
    ("POST", "/api/v1/auth/google", Public),
    ("GET", "/api/v1/auth/providers", Public),
    ("POST", "/api/v1/ws/ticket", Bearer),
    ("GET", "/api/v1/ws", Ticket),
    ("GET", "/api/v1/me", Bearer),
    ("PATCH", "/api/v1/me", Bearer),
    ("DELETE", "/api/v1/me", Bearer),
    ("GET", "/api/v1/me/export", Bearer),
    ("GET", "/api/v1/me/stats", Bearer),
    ("POST", "/api/v1/goals", Bearer),
    ("GET", "/api/v1/goals", Bearer),
    ("GET", "/api/v1/goals/{goal_id}", Bearer),
    ("DELETE", "/api/v1/goals/{goal_id}", Bearer),
    ("GET", "/api/v1/levels/{level_id}", Bearer),
    ("PUT", "/api/v1/levels/{level_id}/topics/{index}", Bearer),
    ("GET", "/api/v1/jobs/{job_id}", Bearer),
    ("GET", "/api/v1/leaderboards/{board}", Bearer),
    ("GET", "/api/v1/leagues/current", Bearer),
    ("GET", "/api/v1/leagues/history", Bearer),
    ("POST", "/api/v1/rooms", Bearer),
    ("GET", "/api/v1/rooms", Bearer),
    ("POST", "/api/v1/rooms/{code}/guests", Public),
    ("GET", "/api/v1/rooms/{room_id}/results", Bearer),
    ("GET", "/api/v1/rooms/{room_id}/results.csv", Bearer),
    ("GET", "/api/v1/rooms/{code}/qr.svg", Public),
    ("GET", "/api/v1/quizzes", Bearer),
    ("POST", "/api/v1/quizzes", Bearer),
    ("POST", "/api/v1/quizzes/import", Bearer),
    ("GET", "/api/v1/quizzes/{quiz_id}", Bearer),
    ("PUT", "/api/v1/quizzes/{quiz_id}", Bearer),
    ("DELETE", "/api/v1/quizzes/{quiz_id}", Bearer),
    ("GET", "/api/v1/quizzes/{quiz_id}/export.json", Bearer),
    ("GET", "/api/v1/quizzes/{quiz_id}/export.csv", Bearer),
    ("GET", "/api/v1/catalog", Bearer),
    // Notifications.
    ("GET", "/api/v1/notifications", Bearer),
    ("POST", "/api/v1/notifications/read-all", Bearer),
    (
        "POST",
        "/api/v1/notifications/{notification_id}/read",
        Bearer,
    ),
    ("POST", "/api/v1/auth/verify-email", Public),
    ("POST", "/api/v1/auth/password-reset", Public),
    ("POST", "/api/v1/auth/password-reset/confirm", Public),
    ("POST", "/api/v1/me/email/verification", Bearer),
    ("GET", "/api/v1/me/email", Bearer),
    ("PATCH", "/api/v1/me/email", Bearer),
    ("POST", "/api/v1/email/unsubscribe", Public),
    ("GET", "/api/v1/email/unsubscribe", Public),
];

fn expected() -> BTreeSet<(String, String)> {
    V1_ROUTES
        .iter()
        .map(|(m, p, _)| (m.to_string(), p.to_string()))
        .collect()
}

async fn document(app: &TestApp) -> Value {
    let response = app.get("/api/v1/openapi.json").await;
    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"].to_str().unwrap();
    assert!(
        content_type.starts_with("application/json"),
        "{content_type}"
    );
    let text = response.text().await.unwrap();
    serde_json::from_str(&text).expect("the document is JSON")
}

/// `(METHOD, path)` of every operation in the document.
fn documented(doc: &Value) -> BTreeSet<(String, String)> {
    let mut ops = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in [
            "get", "put", "post", "delete", "options", "head", "patch", "trace",
        ] {
            if item.get(method).is_some() {
                ops.insert((method.to_ascii_uppercase(), path.clone()));
            }
        }
    }
    ops
}

/// `(METHOD, path)` of every `.route("...", web::method()...)` under the `/api/v1`
/// scope: in `src/http/v1/*.rs` and in the modules whose `configure` the scope calls
/// (`.configure(crate::realtime::connection::configure)`), plus the document's own
/// route (registered in `src/http/openapi.rs`).
fn registered_in_source() -> BTreeSet<(String, String)> {
    let src = concat!(env!("CARGO_MANIFEST_DIR"), "/src");
    let v1 = format!("{src}/http/v1");
    let mut files: BTreeSet<std::path::PathBuf> = std::fs::read_dir(&v1)
        .expect("src/http/v1")
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "rs"))
        .collect();
    let scope = std::fs::read_to_string(format!("{v1}/mod.rs")).unwrap();
    for module in configured_modules(&scope) {
        let relative = match module.strip_prefix("crate::") {
            Some(absolute) => absolute.replace("::", "/"),
            None => format!("http/v1/{}", module.replace("::", "/")),
        };
        let file = [
            format!("{src}/{relative}.rs"),
            format!("{src}/{relative}/mod.rs"),
        ]
        .into_iter()
        .map(std::path::PathBuf::from)
        .find(|path| path.exists())
        .unwrap_or_else(|| panic!("the v1 scope configures {module}: no source file"));
        files.insert(file);
    }
    let mut routes = BTreeSet::new();
    for file in files {
        let source = std::fs::read_to_string(&file).unwrap();
        for (method, route) in route_calls(&source) {
            routes.insert((method, format!("/api/v1{route}")));
        }
    }
    routes.insert(("GET".into(), "/api/v1/openapi.json".into()));
    routes
}

/// The modules of `.configure(<module>::configure)` calls.
fn configured_modules(source: &str) -> Vec<String> {
    let mut modules = Vec::new();
    let mut rest = source;
    while let Some(at) = rest.find(".configure(") {
        rest = &rest[at + ".configure(".len()..];
        let end = rest.find(')').unwrap_or(rest.len());
        let call: String = rest[..end].split_whitespace().collect();
        if let Some(module) = call.strip_suffix("::configure") {
            modules.push(module.to_string());
        }
    }
    modules
}

/// Reads `.route(\n "<path>",\n web::<method>()` calls, however rustfmt wrapped them.
fn route_calls(source: &str) -> Vec<(String, String)> {
    let mut calls = Vec::new();
    let mut rest = source;
    while let Some(at) = rest.find(".route(") {
        rest = &rest[at + ".route(".len()..];
        let Some(args) = rest.trim_start().strip_prefix('"') else {
            continue;
        };
        let Some(end) = args.find('"') else { break };
        let path = &args[..end];
        let after = args[end + 1..]
            .trim_start()
            .trim_start_matches(',')
            .trim_start();
        let Some(after) = after.strip_prefix("web::") else {
            panic!("route {path:?}: expected web::<method>() after the path");
        };
        let method: String = after
            .chars()
            .take_while(|c| c.is_ascii_alphabetic())
            .collect();
        calls.push((method.to_ascii_uppercase(), path.to_string()));
    }
    calls
}

#[actix_web::test]
async fn document_is_openapi_3_1_json() {
    let app = spawn_app().await;
    let doc = document(&app).await;

    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3.1"),
        "{}",
        doc["openapi"]
    );
    assert_eq!(doc["info"]["title"], "QuestPath API");
    assert_eq!(doc["info"]["version"], env!("CARGO_PKG_VERSION"));
}

#[test]
fn every_registered_v1_route_is_in_the_list() {
    let registered = registered_in_source();
    let listed = expected();
    assert!(
        registered.len() > 10,
        "the source scan found too few routes: {registered:?}"
    );
    let undocumented: Vec<_> = registered.difference(&listed).collect();
    let gone: Vec<_> = listed.difference(&registered).collect();
    assert!(
        undocumented.is_empty(),
        "routes registered but missing from V1_ROUTES (document them with #[utoipa::path] \
         and list them in ApiDoc): {undocumented:?}"
    );
    assert!(
        gone.is_empty(),
        "V1_ROUTES lists routes that are not registered: {gone:?}"
    );
}

#[actix_web::test]
async fn document_lists_exactly_the_v1_routes() {
    let app = spawn_app().await;
    let doc = document(&app).await;

    let documented = documented(&doc);
    let listed = expected();
    let undocumented: Vec<_> = listed.difference(&documented).collect();
    let extra: Vec<_> = documented.difference(&listed).collect();
    assert!(
        undocumented.is_empty(),
        "not in the document: {undocumented:?}"
    );
    assert!(extra.is_empty(), "documented but not a v1 route: {extra:?}");
}

#[actix_web::test]
async fn every_operation_has_responses_and_errors_are_problem_details() {
    let app = spawn_app().await;
    let doc = document(&app).await;
    let components = &doc["components"]["responses"];

    for (method, path, _) in V1_ROUTES {
        let op = &doc["paths"][path][method.to_ascii_lowercase()];
        let responses = op["responses"].as_object().unwrap_or_else(|| {
            panic!("{method} {path}: no responses");
        });
        assert!(
            // 101: the websocket handshake; 303: the unsubscribe link opened in a browser.
            responses
                .keys()
                .any(|status| status.starts_with('2') || status == "101" || status == "303"),
            "{method} {path}: no success response"
        );
        // Rate limits apply to the whole /api/v1 scope; the document is served outside it.
        if *path != "/api/v1/openapi.json" {
            assert!(
                responses.contains_key("429"),
                "{method} {path}: rate limits apply, 429 must be documented"
            );
        }
        assert!(
            responses.contains_key("400"),
            "{method} {path}: a bad API-Version header is a 400 everywhere"
        );
        for (status, response) in responses {
            if !(status.starts_with('4') || status.starts_with('5')) {
                continue;
            }
            let response = match response["$ref"].as_str() {
                Some(reference) => {
                    let name = reference.rsplit('/').next().unwrap();
                    &components[name]
                }
                None => response,
            };
            assert_eq!(
                response["content"]["application/problem+json"]["schema"]["$ref"],
                "#/components/schemas/ProblemDetails",
                "{method} {path} {status}: errors are problem+json"
            );
        }
    }
}

#[actix_web::test]
async fn protected_routes_declare_their_security_scheme() {
    let app = spawn_app().await;
    let doc = document(&app).await;

    let bearer = &doc["components"]["securitySchemes"]["bearer"];
    assert_eq!(bearer["type"], "http");
    assert_eq!(bearer["scheme"], "bearer");
    assert_eq!(bearer["bearerFormat"], "JWT");
    let ticket = &doc["components"]["securitySchemes"]["ticket"];
    assert_eq!(ticket["type"], "apiKey");
    assert_eq!(ticket["in"], "query");
    assert_eq!(ticket["name"], "ticket");

    for (method, path, auth) in V1_ROUTES {
        let op = &doc["paths"][path][method.to_ascii_lowercase()];
        let security = op.get("security").cloned().unwrap_or(Value::Null);
        let expected = match auth {
            Public => Value::Null,
            Bearer => serde_json::json!([{"bearer": []}]),
            Ticket => serde_json::json!([{"ticket": []}]),
        };
        assert_eq!(security, expected, "{method} {path} is {auth:?}");
        if *auth != Public {
            assert!(
                op["responses"].get("401").is_some(),
                "{method} {path}: 401 not documented"
            );
        }
    }
}

/// Each listed route exists on the live server (no router 404/405), the protected ones
/// turn a request without credentials away, and only the bearer ones with a bearer
/// challenge.
#[actix_web::test]
async fn the_server_answers_every_listed_route_as_documented() {
    let app = spawn_app().await;
    let id = uuid::Uuid::new_v4().to_string();

    for (method, path, auth) in V1_ROUTES {
        let url = path
            .replace("{goal_id}", &id)
            .replace("{level_id}", &id)
            .replace("{job_id}", &id)
            .replace("{quiz_id}", &id)
            .replace("{code}", "K7XQ2M")
            .replace("{board}", "alltime")
            .replace("{index}", "0");
        let response = app
            .client
            .request(method.parse().unwrap(), app.url(&url))
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        assert!(
            status != 404 && status != 405,
            "{method} {path}: the server has no such route ({status})"
        );
        match auth {
            Bearer => {
                assert_eq!(status, 401, "{method} {path} without a token");
                assert_eq!(response.headers()["www-authenticate"], "Bearer");
            }
            Ticket => assert_eq!(status, 401, "{method} {path} without a ticket"),
            Public => {
                // Public routes may refuse (refresh without a cookie is 401) but never
                // ask for a bearer token.
                assert!(
                    !response.headers().contains_key("www-authenticate"),
                    "{method} {path} is documented as public but asks for a token"
                );
            }
        }
    }
}

/// `src="..."` and `href="..."` values of an HTML page.
fn asset_urls(html: &str) -> Vec<String> {
    let mut urls = Vec::new();
    for attribute in ["src=\"", "href=\""] {
        let mut rest = html;
        while let Some(at) = rest.find(attribute) {
            rest = &rest[at + attribute.len()..];
            if let Some(end) = rest.find('"') {
                urls.push(rest[..end].to_string());
            }
        }
    }
    urls
}

#[actix_web::test]
async fn docs_page_is_same_origin_only_and_its_assets_load() {
    let app = spawn_app().await;

    let response = app.get("/docs").await; // redirected to /docs/
    assert_eq!(response.status(), 200);
    assert_eq!(response.url().path(), "/docs/");
    let content_type = response.headers()["content-type"].to_str().unwrap();
    assert!(content_type.starts_with("text/html"), "{content_type}");
    let csp = response.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    for directive in [
        "default-src 'self'",
        "script-src 'self'",
        "frame-ancestors 'none'",
    ] {
        assert!(csp.contains(directive), "CSP lacks {directive}: {csp}");
    }
    assert!(!csp.contains("unsafe-eval"), "{csp}");

    let html = response.text().await.unwrap();
    let urls = asset_urls(&html);
    assert!(
        urls.iter().any(|u| u.ends_with(".js")) && urls.iter().any(|u| u.ends_with(".css")),
        "no scripts or styles found in {html}"
    );
    let base = reqwest::Url::parse(&app.url("/docs/")).unwrap();
    for url in &urls {
        let absolute = base.join(url).unwrap();
        assert_eq!(absolute.origin(), base.origin(), "{url} is not same-origin");
        let asset = app.client.get(absolute.clone()).send().await.unwrap();
        assert_eq!(asset.status(), 200, "{absolute}");
        assert!(
            !asset.bytes().await.unwrap().is_empty(),
            "{absolute} is empty"
        );
    }

    // The initializer points Swagger UI at our document and switches off the online
    // validator badge (an image from another host).
    let initializer = app
        .get("/docs/swagger-initializer.js")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        initializer.contains("/api/v1/openapi.json"),
        "{initializer}"
    );
    assert!(
        initializer.contains("\"validatorUrl\": \"none\""),
        "{initializer}"
    );
    assert!(!initializer.contains("petstore"), "{initializer}");
}
