//! Small HTTP servers standing in for outside services in tests (Google's key set, an
//! LLM API): the routes the test gives, on a free loopback port, in this process.

use actix_web::dev::ServerHandle;
use actix_web::{App, HttpServer, web};

/// A running stub server.
pub struct StubServer {
    pub port: u16,
    handle: ServerHandle,
}

impl StubServer {
    /// Serves `routes` (shared state goes in through `ServiceConfig::app_data`) with one
    /// worker, on the current actix runtime.
    pub fn start(routes: impl Fn(&mut web::ServiceConfig) + Send + Clone + 'static) -> StubServer {
        let server = HttpServer::new(move || App::new().configure(routes.clone()))
            .workers(1)
            .shutdown_timeout(1)
            .bind(("127.0.0.1", 0))
            .expect("bind stub server");
        let port = server.addrs()[0].port();
        let server = server.run();
        let handle = server.handle();
        actix_web::rt::spawn(server);
        StubServer { port, handle }
    }

    /// `http://127.0.0.1:{port}{path}`
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{}", self.port, path)
    }

    /// Stops the server and waits until it has.
    pub async fn stop(self) {
        self.handle.stop(false).await;
    }
}
